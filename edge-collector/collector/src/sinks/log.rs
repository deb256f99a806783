//! The embedded durable log (`footfall-eventlog`): accepted events to one log directory, dead letters
//! to another.
//!
//! Both appends of a request are queued before either is awaited, so they share the writers' group
//! commits; `send` returns `Ok` only once both are fdatasynced. Errors map to [`SinkError`]:
//! disk budget exceeded or disk full → [`SinkError::Full`]; a poisoned, closed or corrupt log →
//! [`SinkError::Fatal`] (and `/ready` turns 503); anything else → [`SinkError::Retriable`].
//!
//! A log over its disk budget also makes `/ready` 503, for [`FULL_UNREADY`] after each refused append
//! or until an append succeeds: space comes back when the log's consumers (possibly in another
//! process) read on and retention deletes what they read, which the sink cannot see, so it lets
//! traffic try again after a while instead of staying out of the load balancer for good.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use footfall_eventlog::{ErrorKind, EventLog, LogConfig};

use super::{BoxFuture, EventSink, Record, SinkError};

/// Two event logs: events and dead letters.
#[derive(Debug)]
pub struct LogSink {
    events: EventLog,
    dead_letters: EventLog,
    /// The first error that broke a log for good; the sink is not ready from then on.
    broken: OnceLock<String>,
    /// When an append was last refused for the disk budget, in milliseconds since `opened` (at least
    /// 1); 0 once an append succeeds again.
    full_at_ms: AtomicU64,
    opened: Instant,
    /// [`FULL_UNREADY`], shorter in tests.
    full_unready: Duration,
}

/// How long a refusal for the disk budget keeps the sink unready, unless an append succeeds first.
pub const FULL_UNREADY: Duration = Duration::from_secs(5);

impl LogSink {
    /// Opens (or creates) both logs. The directories must differ.
    pub fn open(
        events_dir: &Path,
        dead_letter_dir: &Path,
        config: LogConfig,
    ) -> Result<Self, SinkError> {
        let open = |dir: &Path| {
            EventLog::open(dir, config.clone()).map_err(|e| {
                SinkError::Fatal(format!(
                    "cannot open the event log in {}: {e}",
                    dir.display()
                ))
            })
        };
        Ok(Self {
            events: open(events_dir)?,
            dead_letters: open(dead_letter_dir)?,
            broken: OnceLock::new(),
            full_at_ms: AtomicU64::new(0),
            opened: Instant::now(),
            full_unready: FULL_UNREADY,
        })
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The events log (for readers and tests).
    pub fn events_log(&self) -> &EventLog {
        &self.events
    }

    /// The dead-letter log (for readers and tests).
    pub fn dead_letter_log(&self) -> &EventLog {
        &self.dead_letters
    }

    fn map_error(&self, error: &footfall_eventlog::Error) -> SinkError {
        match error.kind() {
            ErrorKind::DiskBudgetExceeded | ErrorKind::DiskFull => {
                self.full_at_ms
                    .store(self.elapsed_ms().max(1), Ordering::Relaxed);
                SinkError::Full(error.to_string())
            }
            ErrorKind::Poisoned | ErrorKind::Closed | ErrorKind::Corrupt | ErrorKind::Locked => {
                let _ = self.broken.set(error.to_string());
                SinkError::Fatal(error.to_string())
            }
            _ => SinkError::Retriable(error.to_string()),
        }
    }
}

fn to_log(records: Vec<Record>) -> Vec<footfall_eventlog::Record> {
    records
        .into_iter()
        .map(|r| footfall_eventlog::Record::new(r.key, r.payload))
        .collect()
}

impl EventSink for LogSink {
    fn send(
        &self,
        events: Vec<Record>,
        dead_letters: Vec<Record>,
    ) -> BoxFuture<'_, Result<(), SinkError>> {
        let events = (!events.is_empty()).then(|| self.events.append(to_log(events)));
        let dead_letters =
            (!dead_letters.is_empty()).then(|| self.dead_letters.append(to_log(dead_letters)));
        Box::pin(async move {
            let events = match events {
                Some(append) => append.await.map(|_| ()),
                None => Ok(()),
            };
            let dead_letters = match dead_letters {
                Some(append) => append.await.map(|_| ()),
                None => Ok(()),
            };
            let stored = events.and(dead_letters).map_err(|e| self.map_error(&e));
            if stored.is_ok() && self.full_at_ms.load(Ordering::Relaxed) != 0 {
                self.full_at_ms.store(0, Ordering::Relaxed);
            }
            stored
        })
    }

    fn readiness(&self) -> Result<(), String> {
        if let Some(error) = self.broken.get() {
            return Err(format!(
                "the event log failed and needs an operator: {error}"
            ));
        }
        let full_at = self.full_at_ms.load(Ordering::Relaxed);
        let window = u64::try_from(self.full_unready.as_millis()).unwrap_or(u64::MAX);
        if full_at != 0 && self.elapsed_ms().saturating_sub(full_at) < window {
            return Err("the event log is over its disk budget: its consumers are behind, or the disk is full".into());
        }
        Ok(())
    }

    fn name(&self) -> &'static str {
        "log"
    }

    fn export_metrics(&self) {
        crate::metrics::event_log("events", &self.events.stats());
        crate::metrics::event_log("dead_letters", &self.dead_letters.stats());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_and_dead_letters_are_durable_in_their_own_logs() {
        let dir = tempfile::tempdir().unwrap();
        let sink = LogSink::open(
            &dir.path().join("events"),
            &dir.path().join("dead"),
            LogConfig::default(),
        )
        .unwrap();
        let record = |k: &str| Record {
            key: k.as_bytes().to_vec(),
            payload: b"{}".to_vec(),
        };
        sink.send(vec![record("wk:u1"), record("wk:u2")], vec![record("wk")])
            .await
            .unwrap();
        sink.send(vec![record("wk:u3")], vec![]).await.unwrap();
        assert_eq!(sink.events_log().high_watermark(), 3);
        assert_eq!(sink.dead_letter_log().high_watermark(), 1);
        let read = sink.events_log().reader().read(0, 10, 1 << 20).unwrap();
        assert_eq!(read[2].1.key, b"wk:u3");
        assert_eq!(sink.readiness(), Ok(()));
    }

    #[tokio::test]
    async fn a_full_disk_budget_is_sink_full() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = LogConfig::default();
        config.max_disk_bytes = Some(4096);
        config.segment_bytes = 1024;
        let mut sink =
            LogSink::open(&dir.path().join("events"), &dir.path().join("dead"), config).unwrap();
        sink.full_unready = Duration::from_millis(300);
        // A consumer that reads nothing keeps retention from freeing space.
        sink.events_log().register_consumer("backend").unwrap();
        let big = Record {
            key: b"k".to_vec(),
            payload: vec![b'x'; 3000],
        };
        let mut outcome = Ok(());
        for _ in 0..10 {
            outcome = sink.send(vec![big.clone()], vec![]).await;
            if outcome.is_err() {
                break;
            }
        }
        assert!(matches!(outcome, Err(SinkError::Full(_))), "{outcome:?}");
        let unready = sink.readiness().unwrap_err();
        assert!(unready.contains("disk budget"), "{unready}");
        // Ready again after the window, so that traffic can find out whether space came back.
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(sink.readiness(), Ok(()));
        assert!(sink.send(vec![big.clone()], vec![]).await.is_err());
        assert!(sink.readiness().is_err(), "refused again, unready again");

        // The consumer reads everything; retention can free space, and the next append succeeds.
        let end = sink.events_log().high_watermark();
        sink.events_log()
            .commit_consumer_offset("backend", end)
            .unwrap();
        let small = Record {
            key: b"k".to_vec(),
            payload: b"x".to_vec(),
        };
        sink.send(vec![small], vec![]).await.unwrap();
        assert_eq!(sink.readiness(), Ok(()));
    }
}
