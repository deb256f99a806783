//! Readers outside the writer: a `LogReader` in another process tails the
//! log while it is written, and a separate `LogReader` in this process sees
//! exactly what the writer committed.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use common::{read_to_end, record, rotating_config};
use footfall_eventlog::{EventLog, LogReader};

const READER_DIR: &str = "FOOTFALL_EVENTLOG_READER_CHILD_DIR";
const READER_EXPECT: &str = "FOOTFALL_EVENTLOG_READER_CHILD_EXPECT";
const BATCHES: u64 = 40;
const PER_BATCH: u64 = 25;

/// The child: tails the log until it has seen the expected number of
/// records, printing each, then commits its consumer offset. Does nothing
/// in a normal test run.
#[test]
fn reader_child_tails_the_log() {
    let Some(dir) = std::env::var_os(READER_DIR) else {
        return;
    };
    let expect: u64 = std::env::var(READER_EXPECT).unwrap().parse().unwrap();
    let mut reader = LogReader::open(&dir).unwrap();
    reader.set_poll_interval(Duration::from_millis(2));
    let mut next = 0;
    while next < expect {
        reader
            .wait_for(next, common::PATIENCE)
            .unwrap()
            .expect("writer keeps writing");
        for (offset, record) in reader.read(next, 100, 1 << 20).unwrap() {
            let payload = String::from_utf8(record.payload).unwrap();
            println!("REC {offset} {payload}");
            next = offset + 1;
        }
    }
    reader
        .commit_consumer_offset("reader-process", next)
        .unwrap();
    println!("DONE {next}");
}

#[test]
fn a_reader_in_another_process_sees_every_committed_record_as_it_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), rotating_config()).unwrap();
    let total = BATCHES * PER_BATCH;
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "reader_child_tails_the_log",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(READER_DIR, dir.path())
        .env(READER_EXPECT, total.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let collector = thread::spawn(move || {
        stdout
            .lines()
            .map(Result::unwrap)
            // libtest prints "test <name> ... " before the child's first line.
            .filter_map(|line| {
                ["REC ", "DONE "]
                    .iter()
                    .find_map(|tag| line.find(tag).map(|at| line[at..].to_owned()))
            })
            .collect::<Vec<_>>()
    });

    // Write while the child is already tailing, with pauses so it catches
    // up and has to wait for new commits.
    for b in 0..BATCHES {
        let batch = (b * PER_BATCH..(b + 1) * PER_BATCH)
            .map(|seq| record("writer", seq))
            .collect();
        log.append_blocking(batch).unwrap();
        if b % 8 == 0 {
            thread::sleep(Duration::from_millis(20));
        }
    }

    assert!(child.wait().unwrap().success(), "reader child failed");
    let lines = collector.join().unwrap();
    let (done, recs) = lines.split_last().unwrap();
    assert_eq!(done, &format!("DONE {total}"));
    assert_eq!(recs.len() as u64, total);
    for (seq, line) in recs.iter().enumerate() {
        let expected = record("writer", seq as u64);
        let payload = String::from_utf8(expected.payload).unwrap();
        assert_eq!(line, &format!("REC {seq} {payload}"));
    }
    assert_eq!(log.consumer_offset("reader-process").unwrap(), Some(total));
}

#[test]
fn a_separate_reader_sees_exactly_what_the_writer_committed() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), rotating_config()).unwrap();
    let mut outside = LogReader::open(dir.path()).unwrap();
    let mut inside = log.reader();
    let mut seq = 0;
    for round in 0..30 {
        let len = 1 + round * 7 % 40;
        let receipt = log
            .append_blocking((seq..seq + len).map(|s| record("w", s)).collect())
            .unwrap();
        seq += len;
        // Acknowledged means visible, through either kind of reader.
        assert_eq!(outside.high_watermark().unwrap(), receipt.last_offset + 1);
        assert_eq!(
            outside
                .read(receipt.first_offset, usize::MAX, usize::MAX)
                .unwrap(),
            inside
                .read(receipt.first_offset, usize::MAX, usize::MAX)
                .unwrap()
        );
    }
    let all = read_to_end(&mut outside, 0);
    assert_eq!(all.len() as u64, seq);
    assert!(all
        .iter()
        .enumerate()
        .all(|(i, (_, r))| *r == record("w", i as u64)));
}
