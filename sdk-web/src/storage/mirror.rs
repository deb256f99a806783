//! The in-memory copy of the queue and values that the engine reads and writes synchronously, and the
//! journal of what changed since the page last wrote it to IndexedDB.
//!
//! Events are stored in chunks: events appended one after another share a record, up to
//! [`CHUNK_EVENTS`] events or [`CHUNK_BYTES`] of payload, so a burst of a thousand events is sixteen
//! IndexedDB writes instead of a thousand (each write costs the page about 0.1 ms of main thread), and
//! an upload's acknowledgements mostly delete whole chunks. The journal records *which* chunks and
//! values changed, not how: the ops taken from it carry each changed chunk's current events (or delete
//! it once it is empty), so any number of appends, attempts and acknowledgements between two commits
//! cost one write per chunk touched.
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

/// The most events in one chunk: an upload's batch, so that acknowledging one deletes about one chunk.
pub(crate) const CHUNK_EVENTS: usize = 64;
/// The most payload bytes in one chunk, so that rewriting a chunk whose events changed stays cheap.
pub(crate) const CHUNK_BYTES: usize = 32 * 1024;

/// A change to write to the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Write this record of events (its key, its encoded chunk).
    PutEvent(u64, String),
    /// Delete this record of events.
    DeleteEvent(u64),
    /// Set a named value.
    PutValue(String, String),
    /// Clear a named value.
    DeleteValue(String),
    /// The highest seq ever handed out, so seqs are never reused after a restart.
    LastSeq(u64),
}

impl Op {
    /// The op as `js/io.js` reads it: a digit for the kind (0 put events, 1 delete events, 2 set value,
    /// 3 clear value, 4 high-water mark), the record's key or the value's name, then `,` and the text
    /// for a put. Keys are the
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
    /// The key of the record (chunk) that holds each entry of `events`, index for index.
    chunks: Vec<u64>,
    head: usize,
    bytes: u64,
    last_seq: u64,
    /// The chunk appends go to, with its event count and payload bytes, until it is full.
    open: Option<(u64, usize, usize)>,
    /// The highest record key seen, so that a new chunk never takes the key of a stored one.
    max_key: u64,
    values: Vec<(String, String)>,
    dirty_chunks: Vec<u64>,
    dirty_values: Vec<String>,
    last_seq_dirty: bool,
    /// Ops taken from the journal and not yet handed out by [`Mirror::take_op`], last first.
    pending: Vec<Op>,
}

impl Mirror {
    /// Adds the events of a record read from the backend (its key and text) at load; call
    /// [`Mirror::loaded`] once all are in. False if the record is damaged (its readable events are
    /// kept, and the record is rewritten without the rest).
    pub(crate) fn load_record(&mut self, key: u64, text: &str) -> bool {
        self.max_key = self.max_key.max(key);
        let mut loaded = 0;
        let whole = codec::decode_record(key, text, |seq, r| {
            loaded += 1;
            self.bytes += r.payload.len() as u64;
            let event = StoredEvent {
                seq,
                message_id: r.message_id,
                created_at: r.created_at,
                attempts: r.attempts,
                payload: r.payload,
            };
            // `js/io.js` hands records over in key order; anything else is put in its place.
            match self.events.last() {
                Some(last) if last.seq > seq => {
                    let at = self.events.partition_point(|e| e.seq <= seq);
                    self.events.insert(at, event);
                    self.chunks.insert(at, key);
                }
                _ => {
                    self.events.push(event);
                    self.chunks.push(key);
                }
            }
        });
        if !whole {
            self.mark(key);
        }
        whole || loaded > 0
    }

    /// Ends loading: continues above `last_seq`, the persisted high-water mark. Two adopted queues
    /// (of tabs that are gone) may have used the same seq; the later event is given a new one, at
    /// the tail, and its chunk is rewritten.
    pub(crate) fn loaded(&mut self, last_seq: u64) {
        self.last_seq = self.events.last().map_or(last_seq, |e| e.seq.max(last_seq));
        let mut i = 1;
        while i < self.events.len() {
            if self.events[i].seq != self.events[i - 1].seq {
                i += 1;
                continue;
            }
            let mut event = self.events.remove(i);
            let chunk = self.chunks.remove(i);
            self.last_seq += 1;
            event.seq = self.last_seq;
            self.events.push(event);
            self.chunks.push(chunk);
            self.mark(chunk);
            self.last_seq_dirty = true;
        }
    }

    fn live(&self) -> &[StoredEvent] {
        self.events.get(self.head..).unwrap_or_default()
    }

    pub(crate) fn is_dirty(&self) -> bool {
        self.last_seq_dirty
            || !self.dirty_chunks.is_empty()
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
        let dirty = core::mem::take(&mut self.dirty_chunks);
        let mut records: Vec<(u64, String)> = dirty.iter().map(|&k| (k, String::new())).collect();
        if !records.is_empty() {
            // One pass over the queue; a chunk's events come out in seq order.
            let live = self.events.iter().zip(&self.chunks).skip(self.head);
            for (e, chunk) in live {
                let Some((_, text)) = records.iter_mut().find(|(k, _)| k == chunk) else {
                    continue;
                };
                if text.is_empty() {
                    text.push('#');
                }
                codec::push_event(text, e.seq, e);
            }
        }
        let mut ops = Vec::with_capacity(records.len() + self.dirty_values.len() + 1);
        for (key, text) in records {
            ops.push(if text.is_empty() {
                Op::DeleteEvent(key)
            } else {
                Op::PutEvent(key, text)
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

    /// Notes that the record `chunk` must be written again.
    fn mark(&mut self, chunk: u64) {
        // A handful of chunks change between commits, so a scan beats a set.
        if !self.dirty_chunks.contains(&chunk) {
            self.dirty_chunks.push(chunk);
        }
    }

    fn mark_at(&mut self, index: usize) {
        if let Some(&chunk) = self.chunks.get(index) {
            self.mark(chunk);
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
        let len = payload.len();
        self.bytes += len as u64;
        let chunk = match self.open {
            Some((key, n, bytes)) if n < CHUNK_EVENTS && bytes + len <= CHUNK_BYTES => {
                self.open = Some((key, n + 1, bytes + len));
                key
            }
            _ => {
                let key = seq.max(self.max_key + 1);
                self.max_key = key;
                self.open = Some((key, 1, len));
                key
            }
        };
        self.events.push(StoredEvent {
            seq,
            message_id,
            created_at,
            attempts: 0,
            payload,
        });
        self.chunks.push(chunk);
        self.mark(chunk);
        self.last_seq_dirty = true;
        seq
    }

    /// Removes the oldest event, returning its seq and messageId, without copying anything.
    pub(crate) fn evict_oldest(&mut self) -> Option<(u64, String)> {
        let e = self.events.get_mut(self.head)?;
        let seq = e.seq;
        let message_id = core::mem::take(&mut e.message_id);
        self.bytes -= core::mem::take(&mut e.payload).len() as u64;
        self.mark_at(self.head);
        self.head += 1;
        self.compact();
        Some((seq, message_id))
    }

    /// Drops the skipped head once it outweighs the rest, so skipping costs O(1) per event overall.
    fn compact(&mut self) {
        if self.head > 64 && self.head * 2 > self.events.len() {
            self.events.drain(..self.head);
            self.chunks.drain(..self.head);
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
                let at = self.head + i;
                self.mark_at(at);
                self.bytes -= self.events.remove(at).bytes();
                self.chunks.remove(at);
            }
        }
    }

    pub(crate) fn record_attempt(&mut self, seqs: &[u64]) {
        for &seq in seqs {
            if let Some(i) = self.index_of(seq) {
                let at = self.head + i;
                if let Some(e) = self.events.get_mut(at) {
                    e.attempts += 1;
                }
                self.mark_at(at);
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

    /// The events of the records in `ops`, as (record key, seq, attempts).
    fn written(ops: &[Op]) -> Vec<(u64, u64, u32)> {
        let mut out = Vec::new();
        for op in ops {
            if let Op::PutEvent(key, text) = op {
                assert!(
                    codec::decode_record(*key, text, |seq, r| out.push((*key, seq, r.attempts)))
                );
            }
        }
        out
    }

    #[test]
    fn many_changes_to_one_event_between_commits_are_one_write() {
        let mut m = Mirror::default();
        let a = m.append(event("m-1", "{}"));
        m.record_attempt(&[a]);
        m.record_attempt(&[a]);
        let ops = m.take_ops();
        assert_eq!(written(&ops), [(a, a, 2)]);
        assert_eq!(ops.last(), Some(&Op::LastSeq(a)));
        assert!(!m.is_dirty());
        m.acknowledge(&[a]);
        m.acknowledge(&[a + 5]);
        assert_eq!(m.take_ops(), [Op::DeleteEvent(a)]);
    }

    #[test]
    fn a_burst_of_events_is_a_few_records_and_acknowledging_deletes_them() {
        let mut m = Mirror::default();
        let seqs: Vec<u64> = (0..1000).map(|_| m.append(event("m", "xy"))).collect();
        let ops = m.take_ops();
        assert_eq!(
            ops.len(),
            1000 / CHUNK_EVENTS + 1 + 1,
            "16 chunks and the high-water mark"
        );
        assert_eq!(written(&ops).len(), 1000);
        m.acknowledge(&seqs[..CHUNK_EVENTS]);
        assert_eq!(m.take_ops(), [Op::DeleteEvent(seqs[0])]);
        m.acknowledge(&seqs[CHUNK_EVENTS..CHUNK_EVENTS + 10]);
        m.record_attempt(&[seqs[CHUNK_EVENTS + 20]]);
        let ops = m.take_ops();
        assert_eq!(ops.len(), 1, "one chunk rewritten");
        let rest = written(&ops);
        assert_eq!(rest.len(), CHUNK_EVENTS - 10);
        assert_eq!(rest[10], (seqs[CHUNK_EVENTS], seqs[CHUNK_EVENTS + 20], 1));
    }

    #[test]
    fn chunks_close_at_their_byte_limit_and_keys_are_never_reused() {
        let mut m = Mirror::default();
        let big = "x".repeat(CHUNK_BYTES / 2 + 1);
        let a = m.append(event("a", &big));
        let b = m.append(event("b", &big));
        let keys: Vec<u64> = written(&m.take_ops()).iter().map(|w| w.0).collect();
        assert_eq!(
            keys,
            [a, b],
            "two chunks: the second event did not fit the first"
        );

        let mut m = Mirror::default();
        assert!(m.load_record(50, &codec::encode(0, 0, "old", "{}")));
        m.loaded(3);
        let c = m.append(event("c", "{}"));
        assert_eq!(c, 51);
        assert_eq!(written(&m.take_ops())[0].0, 51);
        let mut m = Mirror::default();
        let mut chunk = String::from("#");
        for seq in [2, 3] {
            let e = StoredEvent {
                seq,
                message_id: "m".into(),
                created_at: 0,
                attempts: 0,
                payload: "{}".into(),
            };
            codec::push_event(&mut chunk, seq, &e);
        }
        assert!(m.load_record(90, &chunk));
        m.loaded(3);
        assert_eq!(written(&m.take_ops()), [], "nothing changed");
        m.append(event("d", "{}"));
        assert_eq!(written(&m.take_ops())[0].0, 91, "above the highest key");
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
        assert!(m.load_record(4, &codec::encode(1, 0, "m", "ab")));
        assert!(m.load_record(6, &codec::encode(1, 0, "o", "")));
        assert!(m.load_record(2, &codec::encode(0, 0, "l", "c")));
        assert!(!m.load_record(3, "damaged"));
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
    fn colliding_seqs_of_adopted_queues_are_renumbered_and_rewritten() {
        let mut m = Mirror::default();
        let chunk = |seq| {
            let mut text = String::from("#");
            let e = StoredEvent {
                seq,
                message_id: alloc::format!("m-{seq}"),
                created_at: 0,
                attempts: 0,
                payload: "{}".into(),
            };
            codec::push_event(&mut text, seq, &e);
            text
        };
        assert!(m.load_record(5, &chunk(5)));
        assert!(
            m.load_record(8, &chunk(5)),
            "another dead tab's chunk, renumbered key, same seq"
        );
        m.loaded(8);
        let seqs: Vec<u64> = m.read_batch(10, usize::MAX).iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [5, 9]);
        let ops = m.take_ops();
        assert_eq!(written(&ops), [(8, 9, 0)]);
        assert!(ops.contains(&Op::LastSeq(9)));
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
        assert_eq!(
            written(&m.take_ops()).len(),
            48 - 8,
            "the chunks still holding events"
        );
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
        assert_eq!(texts, ["01,#1,0,7,3,2,m-1{}", "2user_id,u,1", "41"]);
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
