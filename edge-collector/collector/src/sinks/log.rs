//! The embedded durable log (`footfall-eventlog`): accepted events to one log directory, dead letters
//! to another.
//!
//! Both appends of a request are queued before either is awaited, so they share the writers' group
//! commits; `send` returns `Ok` only once both are fdatasynced. Errors map to [`SinkError`]:
//! disk budget exceeded or disk full → [`SinkError::Full`]; a poisoned, closed or corrupt log →
//! [`SinkError::Fatal`] (and `/ready` turns 503); anything else → [`SinkError::Retriable`].

use std::path::Path;
use std::sync::OnceLock;

use footfall_eventlog::{ErrorKind, EventLog, LogConfig};

use super::{BoxFuture, EventSink, Record, SinkError};

/// Two event logs: events and dead letters.
#[derive(Debug)]
pub struct LogSink {
    events: EventLog,
    dead_letters: EventLog,
    /// The first error that broke a log for good; the sink is not ready from then on.
    broken: OnceLock<String>,
}

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
        })
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
            events.and(dead_letters).map_err(|e| self.map_error(&e))
        })
    }

    fn readiness(&self) -> Result<(), String> {
        match self.broken.get() {
            None => Ok(()),
            Some(error) => Err(format!(
                "the event log failed and needs an operator: {error}"
            )),
        }
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
        let sink =
            LogSink::open(&dir.path().join("events"), &dir.path().join("dead"), config).unwrap();
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
    }
}
