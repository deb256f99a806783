//! The embedded log (`footfall-eventlog`): the events log and the dead-letter log, each read by
//! offset as consumer group `group`, whose offsets are committed only after the batch is stored.

use std::time::Duration;

use footfall_eventlog::LogReader;

use super::Source;
use crate::processor::{RecordKind, SourceRecord};
use crate::Result;

/// The default consumer group.
pub const DEFAULT_GROUP: &str = "backend";

/// Reads both logs.
pub struct EmbeddedSource {
    events: LogReader,
    dead_letters: Option<LogReader>,
    group: String,
    next_event: u64,
    next_dead: u64,
}

impl std::fmt::Debug for EmbeddedSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedSource")
            .field("group", &self.group)
            .field("next_event", &self.next_event)
            .field("next_dead", &self.next_dead)
            .finish()
    }
}

impl EmbeddedSource {
    /// Starts from the group's committed offsets (or the earliest records).
    pub fn new(
        mut events: LogReader,
        mut dead_letters: Option<LogReader>,
        group: &str,
    ) -> Result<Self> {
        events.set_poll_interval(Duration::from_millis(5));
        let next_event = match events.consumer_offset(group)? {
            Some(o) => o,
            None => events.earliest_offset()?,
        };
        let next_dead = match &mut dead_letters {
            Some(d) => match d.consumer_offset(group)? {
                Some(o) => o,
                None => d.earliest_offset()?,
            },
            None => 0,
        };
        Ok(Self {
            events,
            dead_letters,
            group: group.to_owned(),
            next_event,
            next_dead,
        })
    }

    /// Opens both log directories read-only (another process, or the same one, writes them).
    pub fn open(
        events_dir: &std::path::Path,
        dead_letter_dir: Option<&std::path::Path>,
        group: &str,
    ) -> Result<Self> {
        let events = LogReader::open(events_dir)?;
        let dead = dead_letter_dir.map(LogReader::open).transpose()?;
        Self::new(events, dead, group)
    }

    /// The next event offset to read.
    pub fn position(&self) -> u64 {
        self.next_event
    }
}

impl Source for EmbeddedSource {
    fn poll(&mut self, max: usize, timeout: Duration) -> Result<Vec<SourceRecord>> {
        let mut out: Vec<SourceRecord> = self
            .events
            .read(self.next_event, max, 16 << 20)?
            .into_iter()
            .map(|(offset, r)| SourceRecord::event(offset, r.payload))
            .collect();
        if let Some(d) = &mut self.dead_letters {
            if out.len() < max {
                out.extend(
                    d.read(self.next_dead, max - out.len(), 16 << 20)?
                        .into_iter()
                        .map(|(offset, r)| SourceRecord::dead_letter(offset, r.payload)),
                );
            }
        }
        if out.is_empty() {
            self.events.wait_for(self.next_event, timeout)?;
        }
        Ok(out)
    }

    fn commit(&mut self, batch: &[SourceRecord]) -> Result<()> {
        let last = |kind| {
            batch
                .iter()
                .filter(|r| r.kind == kind)
                .map(|r| r.offset)
                .max()
        };
        if let Some(o) = last(RecordKind::Event) {
            self.events.commit_consumer_offset(&self.group, o + 1)?;
            self.next_event = o + 1;
        }
        if let (Some(o), Some(d)) = (last(RecordKind::DeadLetter), &mut self.dead_letters) {
            d.commit_consumer_offset(&self.group, o + 1)?;
            self.next_dead = o + 1;
        }
        Ok(())
    }

    fn lag(&mut self) -> Option<u64> {
        let events = self
            .events
            .high_watermark()
            .ok()?
            .saturating_sub(self.next_event);
        let dead = match &mut self.dead_letters {
            Some(d) => d
                .high_watermark()
                .map_or(0, |h| h.saturating_sub(self.next_dead)),
            None => 0,
        };
        Some(events + dead)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    use footfall_eventlog::{EventLog, LogConfig, Record};
    use footfall_store::{DuckStore, Store};

    use super::*;
    use crate::Processor;

    fn track(id: &str) -> String {
        format!(
            r#"{{"type":"track","event":"View","anonymousId":"a","messageId":"{id}","timestamp":"2026-11-23T10:00:00.000Z","receivedAt":"2026-11-23T10:00:00.000Z","context":{{"footfall":{{"projectId":"shop"}}}}}}"#
        )
    }

    /// A store that fails its first `n` event inserts (a store outage).
    struct Flaky {
        inner: DuckStore,
        failures: std::sync::atomic::AtomicUsize,
    }

    impl Store for Flaky {
        fn dialect(&self) -> footfall_store::Dialect {
            self.inner.dialect()
        }
        fn insert_events(
            &self,
            rows: &[footfall_store::EventRow],
        ) -> footfall_store::Result<usize> {
            if self.failures.load(std::sync::atomic::Ordering::SeqCst) > 0 {
                self.failures
                    .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                return Err(footfall_store::Error::Unavailable("down".into()));
            }
            self.inner.insert_events(rows)
        }
        fn upsert_identities(
            &self,
            rows: &[footfall_store::IdentityRow],
        ) -> footfall_store::Result<()> {
            self.inner.upsert_identities(rows)
        }
        fn identities(&self) -> footfall_store::Result<Vec<footfall_store::IdentityRow>> {
            self.inner.identities()
        }
        fn replace_sessions(
            &self,
            p: &str,
            version: i64,
            replaced: &[(String, footfall_store::SessionScope)],
            s: &[footfall_store::SessionRow],
        ) -> footfall_store::Result<()> {
            self.inner.replace_sessions(p, version, replaced, s)
        }
        fn insert_dead_letters(
            &self,
            rows: &[footfall_store::DeadLetterRow],
        ) -> footfall_store::Result<()> {
            self.inner.insert_dead_letters(rows)
        }
        fn dead_letters(
            &self,
            limit: usize,
            all: bool,
        ) -> footfall_store::Result<Vec<footfall_store::DeadLetterRow>> {
            self.inner.dead_letters(limit, all)
        }
        fn dead_letter(
            &self,
            id: &str,
        ) -> footfall_store::Result<Option<footfall_store::DeadLetterRow>> {
            self.inner.dead_letter(id)
        }
        fn mark_replayed(&self, id: &str, at: i64) -> footfall_store::Result<()> {
            self.inner.mark_replayed(id, at)
        }
        fn delete_events(&self, p: &str, f: i64, t: i64) -> footfall_store::Result<usize> {
            self.inner.delete_events(p, f, t)
        }
        fn apply(&self, statement: &footfall_store::Sql) -> footfall_store::Result<()> {
            self.inner.apply(statement)
        }
        fn select_each(
            &self,
            sql: &footfall_store::Sql,
            visit: &mut dyn FnMut(&[footfall_store::CellRef<'_>]) -> footfall_store::Result<()>,
        ) -> footfall_store::Result<()> {
            self.inner.select_each(sql, visit)
        }
    }

    #[test]
    fn commits_only_after_storing_and_survives_a_store_outage() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(dir.path(), LogConfig::default()).unwrap();
        log.append_blocking(
            (0..10)
                .map(|i| Record::new("k", track(&format!("m{}", i % 7))))
                .collect(),
        )
        .unwrap();
        let store = Arc::new(Flaky {
            inner: DuckStore::open_in_memory().unwrap(),
            failures: 3.into(),
        });
        let processor = std::sync::Mutex::new(Processor::new(store.clone()).unwrap());
        let mut source = EmbeddedSource::new(log.reader(), None, "backend").unwrap();
        let shutdown = Arc::new(AtomicBool::new(false));
        let options = crate::RunOptions {
            batch_size: 4,
            backoff_initial: Duration::from_millis(1),
            ..Default::default()
        };
        let stop = shutdown.clone();
        let mut stored = 0;
        crate::run(&processor, &mut source, &options, &shutdown, |r| {
            stored += r.stored;
            if r.records > 0 && source_done(&log) {
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        });
        assert_eq!(stored, 7);
        assert_eq!(log.consumer_offset("backend").unwrap(), Some(10));
    }

    fn source_done(log: &EventLog) -> bool {
        log.consumer_offset("backend").unwrap() == Some(log.high_watermark())
    }
}
