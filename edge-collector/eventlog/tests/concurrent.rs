//! Many appenders at once, from plain threads and from tokio tasks: every
//! acknowledged record is readable exactly once, in offset order, and each
//! producer's records keep their order.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::thread;

use common::{parse, read_to_end, record, rotating_config};
use footfall_eventlog::{AppendReceipt, EventLog, Record};

/// Checks the whole log against the receipts each producer collected.
fn assert_exactly_once_in_order(log: &EventLog, acked: &[(String, u64, AppendReceipt)]) {
    let total: u64 = acked.iter().map(|(_, _, r)| r.len()).sum();
    assert_eq!(
        log.high_watermark(),
        total,
        "no record was lost or invented"
    );

    let records = read_to_end(&mut log.reader(), 0);
    assert_eq!(records.len() as u64, total);
    for (i, (offset, _)) in records.iter().enumerate() {
        assert_eq!(*offset, i as u64, "offsets are dense and in order");
    }
    for (producer, first_seq, receipt) in acked {
        for (i, offset) in receipt.offsets().enumerate() {
            let got = &records[offset as usize].1;
            assert_eq!(
                got,
                &record(producer, first_seq + i as u64),
                "offset {offset}"
            );
        }
    }
    // Per producer, sequence numbers appear once each and in append order.
    let mut last_seq: HashMap<String, u64> = HashMap::new();
    for (_, rec) in &records {
        let (producer, seq) = parse(rec);
        let expected = last_seq.get(&producer).map_or(0, |s| s + 1);
        assert_eq!(seq, expected, "producer {producer}");
        last_seq.insert(producer, seq);
    }
}

fn batch(producer: &str, first_seq: u64, len: u64) -> Vec<Record> {
    (first_seq..first_seq + len)
        .map(|seq| record(producer, seq))
        .collect()
}

#[test]
fn concurrent_thread_appenders_every_ack_is_readable_exactly_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), rotating_config()).unwrap();
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let log = log.clone();
            thread::spawn(move || {
                let producer = format!("thread-{t}");
                let mut seq = 0;
                let mut acked = Vec::new();
                for i in 0..60u64 {
                    let len = 1 + (i * 13 + t) % 50;
                    let receipt = log.append_blocking(batch(&producer, seq, len)).unwrap();
                    assert_eq!(receipt.len(), len);
                    acked.push((producer.clone(), seq, receipt));
                    seq += len;
                }
                acked
            })
        })
        .collect();
    let acked: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();

    assert_exactly_once_in_order(&log, &acked);
    let stats = log.stats();
    assert!(stats.segments_created_total > 1, "the test spans rotations");
    eprintln!(
        "threads: {} appends in {} commit groups ({:.1} appends/fsync)",
        stats.appends_total,
        stats.commit_groups_total,
        stats.appends_total as f64 / stats.commit_groups_total as f64
    );
}

#[test]
fn concurrent_async_appenders_with_a_live_tail_reader() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), rotating_config()).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    const TASKS: u64 = 64;
    const APPENDS: u64 = 20;
    const PER_APPEND: u64 = 50;
    let total = TASKS * APPENDS * PER_APPEND;

    // The backend's shape: wake on commit, read what is new, repeat.
    let tail = {
        let log = log.clone();
        thread::spawn(move || {
            let mut reader = log.reader();
            let subscription = log.subscribe();
            drop(log); // The tail must not keep the writer alive.
            let mut seen = Vec::new();
            while (seen.len() as u64) < total {
                let next = seen.len() as u64;
                subscription
                    .wait_for_blocking(next, common::PATIENCE)
                    .unwrap()
                    .expect("new records within the patience window");
                for (offset, record) in read_to_end(&mut reader, next) {
                    assert_eq!(offset, seen.len() as u64);
                    seen.push(record);
                }
            }
            seen
        })
    };

    let log = Arc::new(log);
    let acked = runtime.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    let producer = format!("task-{t}");
                    let mut acked = Vec::new();
                    for i in 0..APPENDS {
                        let seq = i * PER_APPEND;
                        let receipt = log.append(batch(&producer, seq, PER_APPEND)).await.unwrap();
                        acked.push((producer.clone(), seq, receipt));
                    }
                    acked
                })
            })
            .collect();
        let mut acked = Vec::new();
        for task in tasks {
            acked.extend(task.await.unwrap());
        }
        acked
    });

    assert_exactly_once_in_order(&log, &acked);
    let tailed = tail.join().unwrap();
    assert_eq!(
        tailed,
        read_to_end(&mut log.reader(), 0)
            .into_iter()
            .map(|(_, r)| r)
            .collect::<Vec<_>>()
    );
    let stats = log.stats();
    eprintln!(
        "tasks: {} appends in {} commit groups (largest {})",
        stats.appends_total, stats.commit_groups_total, stats.max_commit_group_appends
    );
    assert!(
        stats.commit_groups_total < stats.appends_total,
        "64 concurrent appenders must share fsyncs: {stats:?}"
    );
}
