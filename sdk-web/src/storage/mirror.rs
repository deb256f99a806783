//! The in-memory copy of the queue and values that the engine reads and writes synchronously, and the
//! journal of what changed since the last write-behind commit.
//!
//! The journal records *which* events and values changed, not how: a commit writes each changed item's
//! current state (or deletes it if it is gone), so any number of appends, attempts and acknowledgements
//! of one event between two commits cost one write.

use std::collections::{BTreeSet, HashMap, VecDeque};

use footfall_core::{NewEvent, StoredEvent};

use super::codec;

/// A change to write to the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    /// Write this event (its seq, its encoded record).
    PutEvent(u64, String),
    /// Delete this event.
    DeleteEvent(u64),
    /// Set a named value.
    PutValue(String, String),
    /// Clear a named value.
    DeleteValue(String),
    /// The highest seq ever handed out, so seqs are never reused after a restart.
    LastSeq(u64),
}

#[derive(Debug, Default)]
pub(crate) struct Mirror {
    events: VecDeque<StoredEvent>,
    bytes: u64,
    last_seq: u64,
    values: HashMap<String, String>,
    dirty_events: BTreeSet<u64>,
    dirty_values: BTreeSet<String>,
    last_seq_dirty: bool,
}

impl Mirror {
    /// A mirror of what the backend holds: `events` in any order, `last_seq` the persisted high-water
    /// mark.
    pub(crate) fn restore(
        mut events: Vec<StoredEvent>,
        values: HashMap<String, String>,
        last_seq: u64,
    ) -> Self {
        events.sort_by_key(|e| e.seq);
        let last_seq = events.last().map_or(last_seq, |e| e.seq.max(last_seq));
        Mirror {
            bytes: events.iter().map(StoredEvent::bytes).sum(),
            events: events.into(),
            last_seq,
            values,
            ..Mirror::default()
        }
    }

    pub(crate) fn is_dirty(&self) -> bool {
        self.last_seq_dirty || !self.dirty_events.is_empty() || !self.dirty_values.is_empty()
    }

    /// The changes since the last call, each item at its current state, and clears the journal.
    pub(crate) fn take_ops(&mut self) -> Vec<Op> {
        let mut ops = Vec::with_capacity(self.dirty_events.len() + self.dirty_values.len() + 1);
        for seq in std::mem::take(&mut self.dirty_events) {
            ops.push(match self.index_of(seq) {
                Some(i) => {
                    let e = &self.events[i];
                    Op::PutEvent(
                        seq,
                        codec::encode(e.attempts, e.created_at, &e.message_id, &e.payload),
                    )
                }
                None => Op::DeleteEvent(seq),
            });
        }
        for key in std::mem::take(&mut self.dirty_values) {
            ops.push(match self.values.get(&key) {
                Some(value) => Op::PutValue(key, value.clone()),
                None => Op::DeleteValue(key),
            });
        }
        if std::mem::take(&mut self.last_seq_dirty) {
            ops.push(Op::LastSeq(self.last_seq));
        }
        ops
    }

    /// A value another tab wrote: taken as is, without journaling it back.
    pub(crate) fn set_shared_value(&mut self, key: &str, value: Option<&str>) {
        match value {
            Some(v) => self.values.insert(key.to_owned(), v.to_owned()),
            None => self.values.remove(key),
        };
    }

    fn index_of(&self, seq: u64) -> Option<usize> {
        // Sorted by seq; acknowledgements are almost always at the head.
        self.events.binary_search_by_key(&seq, |e| e.seq).ok()
    }

    pub(crate) fn append(&mut self, event: NewEvent<'_>) -> u64 {
        self.last_seq += 1;
        let seq = self.last_seq;
        self.bytes += event.payload.len() as u64;
        self.events.push_back(StoredEvent {
            seq,
            message_id: event.message_id.to_owned(),
            created_at: event.created_at,
            attempts: 0,
            payload: event.payload.to_owned(),
        });
        self.dirty_events.insert(seq);
        self.last_seq_dirty = true;
        seq
    }

    pub(crate) fn read_batch(&self, max_events: usize, max_bytes: usize) -> Vec<StoredEvent> {
        let mut batch = Vec::new();
        let mut bytes = 0usize;
        for event in self.events.iter().take(max_events) {
            if !batch.is_empty() && bytes + event.payload.len() > max_bytes {
                break;
            }
            bytes += event.payload.len();
            batch.push(event.clone());
        }
        batch
    }

    pub(crate) fn acknowledge(&mut self, seqs: &[u64]) {
        for &seq in seqs {
            if let Some(i) = self.index_of(seq) {
                if let Some(e) = self.events.remove(i) {
                    self.bytes -= e.bytes();
                    self.dirty_events.insert(seq);
                }
            }
        }
    }

    pub(crate) fn record_attempt(&mut self, seqs: &[u64]) {
        for &seq in seqs {
            if let Some(i) = self.index_of(seq) {
                self.events[i].attempts += 1;
                self.dirty_events.insert(seq);
            }
        }
    }

    pub(crate) fn count(&self) -> u64 {
        self.events.len() as u64
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    pub(crate) fn load(&self, key: &str) -> Option<String> {
        self.values.get(key).cloned()
    }

    pub(crate) fn store(&mut self, key: &str, value: Option<&str>) {
        if self.values.get(key).map(String::as_str) == value {
            return;
        }
        self.set_shared_value(key, value);
        self.dirty_values.insert(key.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event<'a>(id: &'a str, payload: &'a str) -> NewEvent<'a> {
        NewEvent {
            message_id: id,
            created_at: 7,
            payload,
        }
    }

    #[test]
    fn many_changes_to_one_event_between_commits_are_one_write() {
        let mut m = Mirror::default();
        let a = m.append(event("m-1", "{}"));
        m.record_attempt(&[a]);
        m.record_attempt(&[a]);
        assert_eq!(
            m.take_ops(),
            [
                Op::PutEvent(a, codec::encode(2, 7, "m-1", "{}")),
                Op::LastSeq(a)
            ]
        );
        assert!(!m.is_dirty());
        m.acknowledge(&[a]);
        m.acknowledge(&[a + 5]);
        assert_eq!(m.take_ops(), [Op::DeleteEvent(a)]);
    }

    #[test]
    fn values_are_journaled_only_when_they_change_and_shared_ones_never() {
        let mut m = Mirror::default();
        m.store("user_id", Some("u-1"));
        m.store("user_id", Some("u-1"));
        m.store("traits", None);
        assert_eq!(m.take_ops(), [Op::PutValue("user_id".into(), "u-1".into())]);
        m.set_shared_value("session", Some("{}"));
        assert!(!m.is_dirty());
        assert_eq!(m.load("session").as_deref(), Some("{}"));
        m.store("user_id", None);
        assert_eq!(m.take_ops(), [Op::DeleteValue("user_id".into())]);
    }

    #[test]
    fn a_restored_mirror_continues_above_the_high_water_mark() {
        let e = StoredEvent {
            seq: 4,
            message_id: "m".into(),
            created_at: 0,
            attempts: 1,
            payload: "ab".into(),
        };
        let mut m = Mirror::restore(vec![e], HashMap::new(), 9);
        assert_eq!((m.count(), m.bytes()), (1, 2));
        assert_eq!(m.append(event("n", "c")), 10);
        let m = Mirror::restore(Vec::new(), HashMap::new(), 3);
        assert_eq!(m.last_seq, 3);
    }
}
