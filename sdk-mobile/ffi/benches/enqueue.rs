//! Enqueue latency with persistence on: `Analytics::track` as an app calls it (JSON parsing, the engine,
//! the SQLite write), and the process's memory as the queue fills to its bound and stays there (each
//! further event evicts the oldest, and the eviction is counted).
//!
//! `cargo bench -p footfall-mobile --bench enqueue` prints p50/p99/p99.9/max per phase and the RSS, for
//! the default write batching (one transaction per 200 events or 50 ms) and for a commit per event.
//! Uploads are off (network marked unavailable) so only the enqueue path is measured.

use std::time::{Duration, Instant};

use footfall_mobile::{Analytics, AnalyticsConfig};

const QUEUE_BOUND: u32 = 10_000;
const WARMUP: usize = 1_000;
const AT_BOUND: usize = 40_000;

fn main() {
    let defaults = AnalyticsConfig::new("k", "http://x", "x");
    run(
        &format!(
            "write batches of {} events / {} ms (default)",
            defaults.write_batch_events, defaults.write_batch_delay_ms
        ),
        defaults.write_batch_events,
    );
    run("a commit per event (write_batch_events = 1)", 1);
}

fn run(label: &str, write_batch_events: u32) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join("bench.sqlite");
    let config = AnalyticsConfig {
        max_queue_events: QUEUE_BOUND,
        write_batch_events,
        ..AnalyticsConfig::new("wk_bench", "http://127.0.0.1:9", db.to_string_lossy())
    };
    let analytics = Analytics::new(config).expect("the SDK opens");
    analytics.set_network_available(false);
    let rss_start = rss_kib();

    let mut n = 0usize;
    let mut warmup = Vec::with_capacity(WARMUP);
    for _ in 0..WARMUP {
        track(&analytics, &mut n, &mut warmup);
    }
    let mut filling = Vec::with_capacity(QUEUE_BOUND as usize);
    while n < QUEUE_BOUND as usize {
        track(&analytics, &mut n, &mut filling);
    }
    let rss_full = rss_kib();
    let mut at_bound = Vec::with_capacity(AT_BOUND);
    for _ in 0..AT_BOUND {
        track(&analytics, &mut n, &mut at_bound);
    }
    let rss_end = rss_kib();

    println!("\nAnalytics::track, SQLite WAL synchronous=NORMAL, {label}");
    report("filling the queue", &mut filling);
    report("at the bound (evicting)", &mut at_bound);
    let stats = analytics.stats();
    println!(
        "  queue: {} events, {} KiB (bound {QUEUE_BOUND} events); dropped as queue_full: {}",
        stats.queued_events,
        stats.queued_bytes / 1024,
        stats.dropped_queue_full
    );
    analytics.shutdown();
    let file_kib = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len() / 1024);
    println!(
        "  database file {} KiB + WAL {} KiB",
        file_kib(&db),
        file_kib(&dir.path().join("bench.sqlite-wal"))
    );
    match (rss_start, rss_full, rss_end) {
        (Some(a), Some(b), Some(c)) => println!(
            "  RSS: {a} KiB at start, {b} KiB with the queue full, {c} KiB after {AT_BOUND} more events"
        ),
        _ => println!("  RSS: not available on this OS"),
    }
}

/// Tracks one typical event, timing the call.
fn track(analytics: &Analytics, n: &mut usize, samples: &mut Vec<Duration>) {
    let properties = format!(r#"{{"sku":"SKU-{n}","price":12.5,"currency":"EUR","i":{n}}}"#);
    let start = Instant::now();
    analytics
        .track("Product Viewed".to_owned(), Some(properties))
        .expect("track succeeds");
    samples.push(start.elapsed());
    *n += 1;
}

fn report(phase: &str, samples: &mut [Duration]) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "  {phase:>24}: n={:>6}  p50={:>6.1}µs  p99={:>6.1}µs  p99.9={:>7.1}µs  max={:>8.1}µs",
        samples.len(),
        micros(at(0.50)),
        micros(at(0.99)),
        micros(at(0.999)),
        micros(samples[samples.len() - 1]),
    );
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The resident set size, from /proc on Linux and Android.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
