//! One batch from the log to the store.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use footfall_store::sql::SqlBuilder;
use footfall_store::{DeadLetterRow, EventRow, IdentityRow, Store};

use crate::dedup::DedupWindow;
use crate::identity::{IdentityMap, Link};
use crate::parse::{parse_dead_letter, parse_event, unparseable_event, ParsedEvent};
use crate::sessions::{self, Touch};
use crate::Result;

/// Versions per millisecond: room for a tag per processor (see [`Processor::next_version`]).
/// Versions written before the tag (plain milliseconds) are all smaller.
pub const VERSION_TAGS: i64 = 1024;

/// A tag for a new processor: different for each processor of a process, and random across
/// processes.
fn version_tag() -> i64 {
    use std::hash::{BuildHasher, Hasher};
    static NEXT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    static BASE: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let base = *BASE.get_or_init(|| {
        (std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
            % VERSION_TAGS as u64) as i64
    });
    (base + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)).rem_euclid(VERSION_TAGS)
}

/// The default dedup window: the last million messageIds.
pub const DEFAULT_DEDUP_WINDOW: usize = 1_000_000;

/// Which log a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// An accepted event.
    Event,
    /// A dead letter.
    DeadLetter,
}

/// A record read from a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRecord {
    /// Its offset in its log (or partition).
    pub offset: u64,
    /// Event or dead letter.
    pub kind: RecordKind,
    /// The payload.
    pub payload: Vec<u8>,
}

impl SourceRecord {
    /// An event record.
    pub fn event(offset: u64, payload: Vec<u8>) -> Self {
        Self {
            offset,
            kind: RecordKind::Event,
            payload,
        }
    }

    /// A dead-letter record.
    pub fn dead_letter(offset: u64, payload: Vec<u8>) -> Self {
        Self {
            offset,
            kind: RecordKind::DeadLetter,
            payload,
        }
    }
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Records read.
    pub records: usize,
    /// Events newly stored.
    pub stored: usize,
    /// Events dropped as repeats (window or store).
    pub duplicates: usize,
    /// Dead letters stored (from the collector, unparseable events, identity conflicts).
    pub dead_letters: usize,
    /// Identity merges refused.
    pub conflicts: usize,
    /// Persons whose sessions were recomputed.
    pub sessions_recomputed: usize,
    /// Stored events read back to recompute them.
    pub session_events_read: usize,
    /// The latest event time written, Unix ms (the watermark of this batch).
    pub max_event_ms: Option<i64>,
}

/// The processor: identity map and dedup window in memory, everything else in the store.
pub struct Processor {
    store: Arc<dyn Store>,
    identity: IdentityMap,
    dedup: DedupWindow,
    last_version: i64,
    /// The low bits of every version this processor takes (see [`Processor::next_version`]).
    version_tag: i64,
}

impl std::fmt::Debug for Processor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Processor")
            .field("identities", &self.identity.len())
            .field("window", &self.dedup.len())
            .finish()
    }
}

impl Processor {
    /// A processor over `store`, loading the identity map from it.
    pub fn new(store: Arc<dyn Store>) -> Result<Self> {
        Self::with_window(store, DEFAULT_DEDUP_WINDOW)
    }

    /// Same, with a dedup window of `window` ids.
    pub fn with_window(store: Arc<dyn Store>, window: usize) -> Result<Self> {
        let mut identity = IdentityMap::new();
        for row in store.identities()? {
            identity.apply(&row);
        }
        let mut b = SqlBuilder::new(store.dialect());
        b.push("SELECT DISTINCT project_id, user_id FROM events WHERE user_id <> ''");
        for r in store.select(&b.finish())? {
            identity.note_user(&r[0].as_string(), &r[1].as_string());
        }
        // A restart must not open a gap: a client retry of an event stored just before it would
        // otherwise reach the store again, and on ClickHouse a retry whose skew-corrected time
        // differs is a second row until a query deduplicates it. Prime the window with the most
        // recently received ids.
        let mut dedup = DedupWindow::new(window);
        let mut b = SqlBuilder::new(store.dialect());
        b.push("SELECT project_id, message_id FROM events ORDER BY received_ms DESC LIMIT ")
            .bind(dedup.capacity() as i64);
        let mut recent = store.select(&b.finish())?;
        recent.reverse();
        for r in recent {
            dedup.insert(&r[0].as_string(), &r[1].as_string());
        }
        Ok(Self {
            store,
            identity,
            dedup,
            last_version: 0,
            version_tag: version_tag(),
        })
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The identity map.
    pub fn identity(&self) -> &IdentityMap {
        &self.identity
    }

    /// Processes one batch. Idempotent: after an error, process the same batch again; only after
    /// `Ok` may the source commit past it.
    pub fn process(&mut self, batch: &[SourceRecord]) -> Result<BatchReport> {
        let mut report = BatchReport {
            records: batch.len(),
            ..Default::default()
        };
        let mut events = Vec::new();
        let mut dead = Vec::new();
        for r in batch {
            match r.kind {
                RecordKind::DeadLetter => dead.push(parse_dead_letter(r.offset, &r.payload)),
                RecordKind::Event => match parse_event(&r.payload, None) {
                    Ok(p) => events.push((r.offset, p)),
                    Err(reason) => dead.push(unparseable_event(r.offset, &r.payload, reason)),
                },
            }
        }
        let mut seen = HashSet::new();
        events.retain(|(_, p)| {
            let fresh = !self.dedup.contains(&p.row.project_id, &p.row.message_id)
                && seen.insert((p.row.project_id.clone(), p.row.message_id.clone()));
            if !fresh {
                report.duplicates += 1;
            }
            fresh
        });
        let written = self.write(events, dead, true, &mut report)?;
        for (project, id) in written {
            self.dedup.insert(&project, &id);
        }
        Ok(report)
    }

    /// Writes parsed events (applying their identity links) and dead letters, then recomputes
    /// the sessions of every person touched. Returns the `(project, messageId)` written.
    pub(crate) fn write(
        &mut self,
        events: Vec<(u64, ParsedEvent)>,
        mut dead: Vec<DeadLetterRow>,
        dedup_counts: bool,
        report: &mut BatchReport,
    ) -> Result<Vec<(String, String)>> {
        let mut links: Vec<IdentityRow> = Vec::new();
        let mut touched: BTreeMap<(String, String), Touch> = BTreeMap::new();
        let mut rows: Vec<EventRow> = Vec::with_capacity(events.len());
        for (offset, p) in events {
            self.identity.note_user(&p.row.project_id, &p.row.user_id);
            if let Some((anon, user)) = &p.link {
                match self
                    .identity
                    .link(&p.row.project_id, anon, user, offset as i64 + 1)
                {
                    Link::Same => {}
                    Link::Linked(row) => {
                        self.identity.apply(&row);
                        // Events move from the anonymousId's person to the user's: both are
                        // recomputed from their whole histories.
                        touched.insert((row.project_id.clone(), anon.clone()), Touch::Whole);
                        touched.insert((row.project_id.clone(), user.clone()), Touch::Whole);
                        links.push(row);
                    }
                    Link::Conflict(reason) => {
                        report.conflicts += 1;
                        dead.push(DeadLetterRow {
                            id: format!("idc-{offset}"),
                            project_id: p.row.project_id.clone(),
                            received_ms: p.row.received_ms,
                            cause: "identity_conflict".into(),
                            reason,
                            payload: serde_json::to_string(&p.row).unwrap_or_default(),
                            replayed_ms: 0,
                        });
                    }
                }
            }
            rows.push(p.row);
        }
        for r in &rows {
            let person = self
                .identity
                .resolve(&r.project_id, &r.anonymous_id, &r.user_id)
                .to_owned();
            touched
                .entry((r.project_id.clone(), person))
                .or_insert_with(|| Touch::Events(Vec::new()))
                .add_event(r.ts_ms, &r.session_id);
            report.max_event_ms = Some(report.max_event_ms.map_or(r.ts_ms, |m| m.max(r.ts_ms)));
        }
        if !links.is_empty() {
            self.store.upsert_identities(&links)?;
        }
        let stored = self.store.insert_events(&rows)?;
        report.stored += stored;
        if dedup_counts {
            report.duplicates += rows.len() - stored.min(rows.len());
        }
        if !dead.is_empty() {
            self.store.insert_dead_letters(&dead)?;
            report.dead_letters += dead.len();
        }
        let version = self.next_version();
        let recomputed =
            sessions::recompute(self.store.as_ref(), &self.identity, version, &touched)?;
        report.sessions_recomputed += recomputed.persons;
        report.session_events_read += recomputed.events_read;
        Ok(rows
            .into_iter()
            .map(|r| (r.project_id, r.message_id))
            .collect())
    }

    /// A version for a recomputation, taken before it reads anything: the wall clock in ms
    /// times [`VERSION_TAGS`], plus this processor's tag, and always above the last one.
    ///
    /// Why the tag: ClickHouse keeps a person's day at its latest version, and two processors
    /// that recompute the same day in the same millisecond would otherwise write one version
    /// twice, and both of their sessions would count.
    pub(crate) fn next_version(&mut self) -> i64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        self.last_version =
            (now * VERSION_TAGS + self.version_tag).max(self.last_version + VERSION_TAGS);
        self.last_version
    }
}

#[cfg(test)]
mod tests;
