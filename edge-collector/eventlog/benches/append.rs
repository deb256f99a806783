//! Append throughput in events/s: 50-record appends of ~300-byte events
//! from 1, 8 and 64 concurrent tokio tasks on a 2-worker runtime (the
//! collector's shape: one append per HTTP batch, durable before the 200).
//!
//! Run: `cargo bench -p footfall-eventlog --bench append`. The log lives in
//! `$FOOTFALL_EVENTLOG_BENCH_DIR` if set, else the system temp dir; it must
//! be a real disk (not tmpfs) for fsync cost to be measured.

// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use footfall_eventlog::{EventLog, LogConfig, Record};

const RECORDS_PER_APPEND: usize = 50;
const PAYLOAD_BYTES: usize = 300;

fn batch() -> Vec<Record> {
    (0..RECORDS_PER_APPEND)
        .map(|i| {
            let mut payload = format!(
                r#"{{"type":"track","event":"Order Completed","userId":"user-{i}","properties":{{"revenue":42.5,"pad":""#
            );
            payload.push_str(&"x".repeat(PAYLOAD_BYTES - payload.len() - 3));
            payload.push_str(r#""}}"#);
            debug_assert_eq!(payload.len(), PAYLOAD_BYTES);
            Record::new(format!("wk_bench:user-{i}"), payload)
        })
        .collect()
}

fn append_throughput(c: &mut Criterion) {
    let dir = match std::env::var_os("FOOTFALL_EVENTLOG_BENCH_DIR") {
        Some(base) => tempfile::tempdir_in(base),
        None => tempfile::tempdir(),
    }
    .expect("bench directory");
    let mut config = LogConfig::default();
    // Keep the disk bounded however long criterion runs.
    config.max_bytes = Some(1 << 30);
    config.protect_unconsumed = false;
    let log = EventLog::open(dir.path(), config).expect("open log");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let batch = Arc::new(batch());

    let mut group = c.benchmark_group("append_50x300B");
    group.throughput(Throughput::Elements(RECORDS_PER_APPEND as u64));
    for concurrency in [1u64, 8, 64] {
        let before = log.stats();
        group.bench_with_input(
            BenchmarkId::new("concurrent_appenders", concurrency),
            &concurrency,
            |b, &concurrency| {
                b.iter_custom(|iters| {
                    runtime.block_on(async {
                        let started = Instant::now();
                        let tasks: Vec<_> = (0..concurrency)
                            .map(|task| {
                                let (log, batch) = (log.clone(), Arc::clone(&batch));
                                let appends =
                                    iters / concurrency + u64::from(task < iters % concurrency);
                                tokio::spawn(async move {
                                    for _ in 0..appends {
                                        log.append(batch.as_ref().clone()).await.expect("append");
                                    }
                                })
                            })
                            .collect();
                        for task in tasks {
                            task.await.expect("appender task");
                        }
                        started.elapsed()
                    })
                })
            },
        );
        let after = log.stats();
        let appends = after.appends_total - before.appends_total;
        let fsyncs = after.fsyncs_total - before.fsyncs_total;
        eprintln!(
            "  concurrency {concurrency}: {appends} appends, {fsyncs} fsyncs, \
             {:.1} appends/fsync, mean fsync {:.2} ms",
            appends as f64 / fsyncs.max(1) as f64,
            (after.fsync_micros_total - before.fsync_micros_total) as f64
                / fsyncs.max(1) as f64
                / 1000.0,
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10);
    targets = append_throughput
}
criterion_main!(benches);
