//! The in-memory copy of the queue and values that the engine reads and writes synchronously, and the
//! journal of what changed since the page last wrote it to IndexedDB.
//!
//! The journal records *which* events and values changed, not how: the ops taken from it carry each
//! changed item's current state (or delete it if it is gone), so any number of appends, attempts and
//! acknowledgements of one event between two commits cost one write.
//!
//! Plain vectors stand in for deques, maps and sets, because the WebAssembly module is smaller without
//! them: the queue is a vector whose acknowledged head is skipped and compacted now and then, there are
//! half a dozen named values, and the dirty seqs need no order (each op writes an item's current state,
//! so a repeated one is only a repeated write).

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use footfall_core::json::write_int;
use footfall_core::{NewEvent, StoredEvent};

use super::codec;

/// A change to write to the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
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

impl Op {
    /// The op as `js/io.js` reads it: a digit for the kind (0 put event, 1 delete event, 2 set value,
    /// 3 clear value, 4 high-water mark), the seq or key, then `,` and the text for a put. Keys are the
    /// engine's names, which have no comma, so the first comma ends them.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let (kind, text) = match self {
            Op::PutEvent(seq, text) => {
                out.push('0');
                write_int(&mut out, *seq as i64);
                (None, Some(text))
            }
            Op::DeleteEvent(seq) => {
                out.push('1');
                write_int(&mut out, *seq as i64);
                (None, None)
            }
            Op::PutValue(key, value) => (Some(('2', key)), Some(value)),
            Op::DeleteValue(key) => (Some(('3', key)), None),
            Op::LastSeq(seq) => {
                out.push('4');
                write_int(&mut out, *seq as i64);
                (None, None)
            }
        };
        if let Some((digit, key)) = kind {
            out.push(digit);
            out.push_str(key);
        }
        if let Some(text) = text {
            out.push(',');
            out.push_str(text);
        }
        out
    }
}

#[derive(Debug, Default)]
pub(crate) struct Mirror {
    /// The queue in seq order; the first `head` entries are acknowledged and emptied.
    events: Vec<StoredEvent>,
    head: usize,
    bytes: u64,
    last_seq: u64,
    values: Vec<(String, String)>,
    dirty_events: Vec<u64>,
    dirty_values: Vec<String>,
    last_seq_dirty: bool,
    /// Ops taken from the journal and not yet handed out by [`Mirror::take_op`], last first.
    pending: Vec<Op>,
}

impl Mirror {
    /// Adds an event read from the backend at load; call [`Mirror::loaded`] once all are in.
    pub(crate) fn load_event(&mut self, seq: u64, text: &str) -> bool {
        let Some(r) = codec::decode(text) else {
            return false;
        };
        self.bytes += r.payload.len() as u64;
        let event = StoredEvent {
            seq,
            message_id: r.message_id,
            created_at: r.created_at,
            attempts: r.attempts,
            payload: r.payload,
        };
        // `js/io.js` hands events over in seq order; anything else is put in its place.
        match self.events.last() {
            Some(last) if last.seq >= seq => {
                let at = self.events.partition_point(|e| e.seq < seq);
                self.events.insert(at, event);
            }
            _ => self.events.push(event),
        }
        true
    }

    /// Ends loading: continues above `last_seq`, the persisted high-water mark.
    pub(crate) fn loaded(&mut self, last_seq: u64) {
        self.last_seq = self.events.last().map_or(last_seq, |e| e.seq.max(last_seq));
    }

    fn live(&self) -> &[StoredEvent] {
        self.events.get(self.head..).unwrap_or_default()
    }

    pub(crate) fn is_dirty(&self) -> bool {
        self.last_seq_dirty
            || !self.dirty_events.is_empty()
            || !self.dirty_values.is_empty()
            || !self.pending.is_empty()
    }

    /// The next change to write, each item at its current state; `None` once the journal is empty.
    pub(crate) fn take_op(&mut self) -> Option<Op> {
        if self.pending.is_empty() {
            self.pending = self.take_ops();
            self.pending.reverse();
        }
        self.pending.pop()
    }

    /// Every change since the last call, each item at its current state, and clears the journal.
    pub(crate) fn take_ops(&mut self) -> Vec<Op> {
        let dirty = core::mem::take(&mut self.dirty_events);
        let mut ops = Vec::with_capacity(dirty.len() + self.dirty_values.len() + 1);
        for seq in dirty {
            ops.push(match self.index_of(seq).and_then(|i| self.live().get(i)) {
                Some(e) => Op::PutEvent(
                    seq,
                    codec::encode(e.attempts, e.created_at, &e.message_id, &e.payload),
                ),
                None => Op::DeleteEvent(seq),
            });
        }
        for key in core::mem::take(&mut self.dirty_values) {
            ops.push(match self.load(&key) {
                Some(value) => Op::PutValue(key, value),
                None => Op::DeleteValue(key),
            });
        }
        if core::mem::take(&mut self.last_seq_dirty) {
            ops.push(Op::LastSeq(self.last_seq));
        }
        ops
    }

    /// A value another tab wrote (or the backend held at load): taken as is, without journaling it.
    pub(crate) fn set_shared_value(&mut self, key: &str, value: Option<&str>) {
        let at = self.values.iter().position(|(k, _)| k == key);
        match (at, value) {
            (Some(i), Some(v)) => v.clone_into(&mut self.values[i].1),
            (None, Some(v)) => self.values.push((key.to_owned(), v.to_owned())),
            (Some(i), None) => {
                self.values.swap_remove(i);
            }
            (None, None) => {}
        }
    }

    /// The index of `seq` among the live events.
    fn index_of(&self, seq: u64) -> Option<usize> {
        // Sorted by seq; acknowledgements are almost always at the head.
        self.live().binary_search_by_key(&seq, |e| e.seq).ok()
    }

    fn mark_dirty(&mut self, seq: u64) {
        // Changes to one event usually come together; a repeat further back only repeats a write.
        if self.dirty_events.last() != Some(&seq) {
            self.dirty_events.push(seq);
        }
    }

    pub(crate) fn append(&mut self, event: NewEvent<'_>) -> u64 {
        self.append_owned(
            event.message_id.to_owned(),
            event.created_at,
            event.payload.to_owned(),
        )
    }

    pub(crate) fn append_owned(
        &mut self,
        message_id: String,
        created_at: i64,
        payload: String,
    ) -> u64 {
        self.last_seq += 1;
        let seq = self.last_seq;
        self.bytes += payload.len() as u64;
        self.events.push(StoredEvent {
            seq,
            message_id,
            created_at,
            attempts: 0,
            payload,
        });
        self.mark_dirty(seq);
        self.last_seq_dirty = true;
        seq
    }

    /// Removes the oldest event, returning its seq and messageId, without copying anything.
    pub(crate) fn evict_oldest(&mut self) -> Option<(u64, String)> {
        let e = self.events.get_mut(self.head)?;
        let seq = e.seq;
        let message_id = core::mem::take(&mut e.message_id);
        self.bytes -= core::mem::take(&mut e.payload).len() as u64;
        self.head += 1;
        self.mark_dirty(seq);
        self.compact();
        Some((seq, message_id))
    }

    /// Drops the skipped head once it outweighs the rest, so skipping costs O(1) per event overall.
    fn compact(&mut self) {
        if self.head > 64 && self.head * 2 > self.events.len() {
            self.events.drain(..self.head);
            self.head = 0;
        }
    }

    pub(crate) fn read_batch(&self, max_events: usize, max_bytes: usize) -> Vec<StoredEvent> {
        let mut batch = Vec::new();
        let mut bytes = 0usize;
        for event in self.live().iter().take(max_events) {
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
            let Some(i) = self.index_of(seq) else {
                continue;
            };
            if i == 0 {
                // The usual case, at the head: skip it, freeing its strings now.
                self.evict_oldest();
            } else {
                self.bytes -= self.events.remove(self.head + i).bytes();
                self.mark_dirty(seq);
            }
        }
    }

    pub(crate) fn record_attempt(&mut self, seqs: &[u64]) {
        for &seq in seqs {
            if let Some(i) = self.index_of(seq) {
                if let Some(e) = self.events.get_mut(self.head + i) {
                    e.attempts += 1;
                }
                self.mark_dirty(seq);
            }
        }
    }

    pub(crate) fn count(&self) -> u64 {
        self.live().len() as u64
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    pub(crate) fn load(&self, key: &str) -> Option<String> {
        self.values
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    pub(crate) fn store(&mut self, key: &str, value: Option<&str>) {
        let current = self
            .values
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str());
        if current == value {
            return;
        }
        self.set_shared_value(key, value);
        if !self.dirty_values.iter().any(|k| k == key) {
            self.dirty_values.push(key.to_owned());
        }
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
    fn a_loaded_mirror_is_ordered_and_continues_above_the_high_water_mark() {
        let mut m = Mirror::default();
        assert!(m.load_event(4, &codec::encode(1, 0, "m", "ab")));
        assert!(m.load_event(6, &codec::encode(1, 0, "o", "")));
        assert!(m.load_event(2, &codec::encode(0, 0, "l", "c")));
        assert!(!m.load_event(3, "damaged"));
        m.loaded(3);
        assert_eq!((m.count(), m.bytes()), (3, 3));
        let seqs: Vec<u64> = m.read_batch(10, usize::MAX).iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [2, 4, 6]);
        assert_eq!(m.append(event("n", "c")), 7);
        let mut m = Mirror::default();
        m.loaded(9);
        assert_eq!(m.append(event("n", "c")), 10);
    }

    #[test]
    fn acknowledging_the_head_and_the_middle_keeps_order_counts_and_bytes() {
        let mut m = Mirror::default();
        let seqs: Vec<u64> = (0..200).map(|_| m.append(event("m", "xy"))).collect();
        m.take_ops();
        m.acknowledge(&seqs[..150]);
        m.acknowledge(&[seqs[160], seqs[150], 9999]);
        m.record_attempt(&[seqs[151]]);
        assert_eq!((m.count(), m.bytes()), (48, 96));
        let batch = m.read_batch(2, usize::MAX);
        assert_eq!((batch[0].seq, batch[0].attempts), (seqs[151], 1));
        assert_eq!(batch[1].seq, seqs[152]);
        let ops = m.take_ops();
        assert_eq!(ops.len(), 153, "one op per changed event");
        assert!(ops.contains(&Op::DeleteEvent(seqs[160])));
        assert_eq!(m.append(event("n", "z")), 201);
        assert_eq!(m.evict_oldest(), Some((seqs[151], "m".to_owned())));
        assert_eq!((m.count(), m.bytes()), (48, 95));
    }

    #[test]
    fn ops_are_handed_out_one_at_a_time_as_text() {
        let mut m = Mirror::default();
        let a = m.append(event("m-1", "{}"));
        m.store("user_id", Some("u,1"));
        let texts: Vec<String> = core::iter::from_fn(|| m.take_op())
            .map(|op| op.to_text())
            .collect();
        assert_eq!(texts, ["01,0,7,3,m-1{}", "2user_id,u,1", "41"]);
        assert_eq!(a, 1);
        assert!(!m.is_dirty());
        m.acknowledge(&[a]);
        m.store("user_id", None);
        let texts: Vec<String> = core::iter::from_fn(|| m.take_op())
            .map(|op| op.to_text())
            .collect();
        assert_eq!(texts, ["11", "3user_id"]);
    }
}
