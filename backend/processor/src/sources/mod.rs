//! Where the processor reads from, and the loop that drives it.
//!
//! A [`Source`] hands out batches and is told to commit a batch only once it is stored; until
//! then it hands the same records out again. [`run`] retries a failed batch with exponential
//! backoff (the store is down: nothing is lost, the source simply waits), and stops when
//! `shutdown` is set.

pub mod embedded;
#[cfg(feature = "kafka")]
pub mod kafka;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::processor::{BatchReport, Processor, SourceRecord};
use crate::Result;

/// A source of records with explicit commits.
pub trait Source: Send {
    /// Up to `max` records after the last committed ones, waiting at most `timeout` for some.
    fn poll(&mut self, max: usize, timeout: Duration) -> Result<Vec<SourceRecord>>;
    /// Commits a batch returned by the last `poll`.
    fn commit(&mut self, batch: &[SourceRecord]) -> Result<()>;
    /// Records written to the log but not yet committed by this source's group, when known.
    fn lag(&mut self) -> Option<u64> {
        None
    }
}

/// Loop settings.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Records per batch.
    pub batch_size: usize,
    /// How long a poll waits for records.
    pub poll_timeout: Duration,
    /// First backoff after a failure.
    pub backoff_initial: Duration,
    /// Longest backoff.
    pub backoff_max: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            batch_size: 5000,
            poll_timeout: Duration::from_millis(200),
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
        }
    }
}

/// Runs until `shutdown` is set, locking the processor only while a batch is processed (so
/// replays can share it); `on_batch` sees every stored batch (metrics, freshness).
pub fn run(
    processor: &Mutex<Processor>,
    source: &mut dyn Source,
    options: &RunOptions,
    shutdown: &AtomicBool,
    mut on_batch: impl FnMut(&BatchReport),
) {
    let mut backoff = options.backoff_initial;
    while !shutdown.load(Ordering::Relaxed) {
        let outcome = source
            .poll(options.batch_size, options.poll_timeout)
            .and_then(|batch| {
                if batch.is_empty() {
                    return Ok(None);
                }
                let report = processor
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .process(&batch)?;
                source.commit(&batch)?;
                Ok(Some(report))
            });
        match outcome {
            Ok(report) => {
                backoff = options.backoff_initial;
                if let Some(lag) = source.lag() {
                    metrics::gauge!("footfall_processor_lag_records").set(lag as f64);
                }
                if let Some(report) = report {
                    record_metrics(&report);
                    tracing::debug!(
                        records = report.records,
                        stored = report.stored,
                        duplicates = report.duplicates,
                        "batch stored"
                    );
                    on_batch(&report);
                }
            }
            Err(e) => {
                metrics::counter!("footfall_processor_batch_failures_total").increment(1);
                tracing::warn!(error = %e, backoff_ms = backoff.as_millis() as u64, "batch failed; retrying after backoff");
                let until = Instant::now() + backoff;
                while Instant::now() < until && !shutdown.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                backoff = (backoff * 2).min(options.backoff_max);
            }
        }
    }
}

/// The processor's Prometheus metrics (`footfall_processor_*`), per stored batch.
fn record_metrics(report: &BatchReport) {
    let count = |name: &'static str, n: usize| metrics::counter!(name).increment(n as u64);
    count("footfall_processor_records_total", report.records);
    count("footfall_processor_events_stored_total", report.stored);
    count(
        "footfall_processor_duplicates_dropped_total",
        report.duplicates,
    );
    count("footfall_processor_dead_letters_total", report.dead_letters);
    count(
        "footfall_processor_identity_conflicts_total",
        report.conflicts,
    );
    count(
        "footfall_processor_sessions_recomputed_total",
        report.sessions_recomputed,
    );
    count(
        "footfall_processor_session_events_read_total",
        report.session_events_read,
    );
    if let Some(ms) = report.max_event_ms {
        metrics::gauge!("footfall_processor_watermark_event_time_seconds").set(ms as f64 / 1000.0);
    }
}
