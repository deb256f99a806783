//! Crash safety: a child process appends as fast as it can and prints each
//! acknowledged append; the test `kill -9`s it mid-flight, several times in
//! a row on the same directory, and then checks that every acknowledged
//! record is present with its exact payload and that offsets were never
//! handed out twice.
//!
//! The child is this same test binary re-run with `CHILD_DIR` set, so that
//! only `crash_child_appends_until_killed` does anything in it.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use common::{read_to_end, record, rotating_config};
use footfall_eventlog::EventLog;

const CHILD_DIR: &str = "FOOTFALL_EVENTLOG_CRASH_CHILD_DIR";
const CHILD_ROUND: &str = "FOOTFALL_EVENTLOG_CRASH_CHILD_ROUND";
const APPENDERS: u64 = 4;

/// One acknowledged append, as the child printed it.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Ack {
    producer: String,
    first_seq: u64,
    first_offset: u64,
    last_offset: u64,
}

impl Ack {
    fn parse(line: &str) -> Option<Ack> {
        let mut fields = line.strip_prefix("ACK ")?.split(' ');
        Some(Ack {
            producer: fields.next()?.to_owned(),
            first_seq: fields.next()?.parse().ok()?,
            first_offset: fields.next()?.parse().ok()?,
            last_offset: fields.next()?.trim_end().parse().ok()?,
        })
    }
}

/// The child: appends from several threads until killed. Does nothing in
/// a normal test run.
#[test]
fn crash_child_appends_until_killed() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let round = std::env::var(CHILD_ROUND).expect("round");
    let log = EventLog::open(&dir, rotating_config()).expect("child opens the log");
    let stats = log.stats();
    println!(
        "READY {} {}",
        stats.high_watermark, stats.recovered_truncated_bytes
    );
    let threads: Vec<_> = (0..APPENDERS)
        .map(|t| {
            let log = log.clone();
            let producer = format!("r{round}t{t}");
            thread::spawn(move || {
                let mut seq = 0u64;
                loop {
                    // Sizes vary so commit groups and frames end anywhere.
                    let len = 1 + (seq * 31 + t) % 64;
                    let batch = (seq..seq + len).map(|s| record(&producer, s)).collect();
                    let receipt = log.append_blocking(batch).expect("append");
                    // println! holds the stdout lock for the whole line.
                    println!(
                        "ACK {producer} {seq} {} {}",
                        receipt.first_offset, receipt.last_offset
                    );
                    seq += len;
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

/// Runs one child on `dir` until it has acknowledged at least `acks`
/// appends, kills it with SIGKILL, and returns what it reported on opening
/// (high watermark, torn bytes truncated) and every complete ACK line.
fn run_and_kill(dir: &std::path::Path, round: u32, acks: usize) -> ((u64, u64), Vec<Ack>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child_appends_until_killed",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir)
        .env(CHILD_ROUND, round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    let pump = thread::spawn(move || {
        let mut stdout = BufReader::new(stdout);
        loop {
            let mut line = String::new();
            match stdout.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                // A line cut by the kill has no newline: it was never an ack.
                Ok(_) if line.ends_with('\n') => {
                    if lines_tx.send(line).is_err() {
                        return;
                    }
                }
                Ok(_) => return,
            }
        }
    });

    let deadline = Instant::now() + common::PATIENCE;
    let mut ready = None;
    let mut acked = Vec::new();
    while acked.len() < acks {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines.recv_timeout(left).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("child stalled in round {round} after {} acks", acked.len())
        });
        // libtest prints "test <name> ... " without a newline before the
        // child's own output, so the READY line has that prefix.
        if let Some((_, fields)) = line.split_once("READY ") {
            let mut fields = fields.split_whitespace().map(|f| f.parse::<u64>().unwrap());
            ready = Some((fields.next().unwrap(), fields.next().unwrap()));
        } else if let Some(ack) = Ack::parse(&line) {
            acked.push(ack);
        }
    }
    child.kill().unwrap(); // SIGKILL: no destructors, no flush, mid-write.
    child.wait().unwrap();
    pump.join().unwrap();
    // Acks printed before the kill landed may still be in the pipe.
    acked.extend(lines.try_iter().filter_map(|line| Ack::parse(&line)));
    (ready.expect("READY line"), acked)
}

#[test]
fn acknowledged_appends_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut all_acks = Vec::new();
    let mut previous_end = 0;
    let mut truncated = 0;
    for round in 0..5u32 {
        let ((start, torn), acks) = run_and_kill(dir.path(), round, 150 + 70 * round as usize);
        truncated += torn;
        assert!(
            start >= previous_end,
            "round {round} starts at {start}, below acknowledged offset {previous_end}"
        );
        previous_end = acks
            .iter()
            .map(|a| a.last_offset + 1)
            .max()
            .unwrap_or(start);
        all_acks.extend(acks);
    }

    let log = EventLog::open(dir.path(), rotating_config()).unwrap();
    let records = read_to_end(&mut log.reader(), 0);
    for (i, (offset, _)) in records.iter().enumerate() {
        assert_eq!(*offset, i as u64);
    }
    let mut offsets_acked = HashSet::new();
    for ack in &all_acks {
        for (i, offset) in (ack.first_offset..=ack.last_offset).enumerate() {
            assert!(
                offsets_acked.insert(offset),
                "offset {offset} acknowledged twice"
            );
            let Some((_, got)) = records.get(offset as usize) else {
                panic!("acknowledged offset {offset} ({ack:?}) is missing");
            };
            assert_eq!(
                got,
                &record(&ack.producer, ack.first_seq + i as u64),
                "offset {offset}"
            );
        }
    }
    let stats = log.stats();
    eprintln!(
        "{} acks over 5 kills; log holds {} records in {} segments; {} torn bytes truncated",
        all_acks.len(),
        records.len(),
        stats.segments,
        truncated + stats.recovered_truncated_bytes
    );
    // The log is still fully usable.
    let receipt = log.append_blocking(vec![record("after", 0)]).unwrap();
    assert_eq!(receipt.first_offset, records.len() as u64);
}
