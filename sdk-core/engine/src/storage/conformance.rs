//! The behaviour every [`Storage`] must have, as a suite that implementations run in their own tests.
//!
//! ```ignore
//! #[test]
//! fn sqlite_storage_conforms() {
//!     footfall_core::storage::conformance::run(|| SqliteStorage::open_in_memory().unwrap());
//!     let dir = tempfile::tempdir().unwrap();
//!     footfall_core::storage::conformance::run_restart(|| SqliteStorage::open(dir.path()).unwrap());
//! }
//! ```
//!
//! Each check panics with a message naming the broken rule.

use alloc::borrow::ToOwned;
use alloc::boxed::Box;
use alloc::format;
use alloc::vec::Vec;

use super::{NewEvent, Storage};

fn event(id: &str, payload: &str) -> NewEvent<'static> {
    // Leaked strings keep the suite's helpers simple; the suite runs once per test process.
    let id: &'static str = Box::leak(id.to_owned().into_boxed_str());
    let payload: &'static str = Box::leak(payload.to_owned().into_boxed_str());
    NewEvent {
        message_id: id,
        created_at: 1_700_000_000_000,
        payload,
    }
}

/// Runs every check that needs only a fresh, empty storage. `fresh` must return an empty storage each call.
pub fn run<S: Storage>(mut fresh: impl FnMut() -> S) {
    appends_in_order_with_increasing_seqs(fresh());
    counts_events_and_bytes(fresh());
    read_batch_respects_count_and_byte_limits(fresh());
    read_batch_always_returns_an_oversized_head(fresh());
    acknowledge_removes_only_named_events_and_ignores_unknown_ones(fresh());
    seqs_are_never_reused_after_the_queue_empties(fresh());
    attempts_are_counted_per_event(fresh());
    values_are_set_replaced_and_cleared(fresh());
    payloads_round_trip_exactly(fresh());
    owned_appends_and_evictions_keep_the_queue_rules(fresh());
}

fn owned_appends_and_evictions_keep_the_queue_rules<S: Storage>(mut s: S) {
    let a = s.append(event("m-1", "abc")).unwrap();
    let b = s
        .append_owned("m-2".to_owned(), 1_700_000_000_000, "de".to_owned())
        .unwrap();
    assert!(
        b > a,
        "append_owned must hand out increasing seqs like append"
    );
    assert_eq!((s.count(), s.bytes()), (2, 5));
    assert_eq!(
        s.evict_oldest().unwrap(),
        Some((a, "m-1".to_owned())),
        "evict_oldest must remove and return the head"
    );
    assert_eq!((s.count(), s.bytes()), (1, 2));
    let rest = s.read_batch(10, usize::MAX).unwrap();
    assert_eq!((rest[0].seq, rest[0].payload.as_str()), (b, "de"));
    assert_eq!(s.evict_oldest().unwrap().map(|(seq, _)| seq), Some(b));
    assert_eq!(
        s.evict_oldest().unwrap(),
        None,
        "an empty queue has nothing to evict"
    );
    assert!(s.append(event("m-3", "")).unwrap() > b);
}

/// Checks that the queue and values survive closing and reopening. `open` must return a storage over the
/// same underlying data each call (the same file, database or shared handle), empty on the first call.
pub fn run_restart<S: Storage>(mut open: impl FnMut() -> S) {
    let mut first = open();
    let a = first.append(event("m-1", "{\"a\":1}")).unwrap();
    let b = first.append(event("m-2", "{\"b\":2}")).unwrap();
    first.record_attempt(&[a]).unwrap();
    first.acknowledge(&[b]).unwrap();
    first.store("anonymous_id", Some("anon-1")).unwrap();
    drop(first);

    let mut second = open();
    assert_eq!(second.count(), 1, "queued events must survive a restart");
    assert_eq!(second.bytes(), 7, "queued bytes must survive a restart");
    let batch = second.read_batch(10, usize::MAX).unwrap();
    assert_eq!(batch[0].seq, a, "seqs must survive a restart");
    assert_eq!(
        batch[0].attempts, 1,
        "attempt counts must survive a restart"
    );
    assert_eq!(
        second.load("anonymous_id").unwrap().as_deref(),
        Some("anon-1")
    );
    let c = second.append(event("m-3", "{}")).unwrap();
    assert!(
        c > b,
        "a seq after a restart must exceed every earlier seq ({c} <= {b})"
    );
    second.acknowledge(&[a, c]).unwrap();
    second.store("anonymous_id", None).unwrap();
}

fn appends_in_order_with_increasing_seqs<S: Storage>(mut s: S) {
    let seqs: Vec<u64> = (0..5)
        .map(|i| {
            s.append(event(&format!("m-{i}"), &format!("{{\"i\":{i}}}")))
                .unwrap()
        })
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "seqs must increase: {seqs:?}"
    );
    let batch = s.read_batch(10, usize::MAX).unwrap();
    let ids: Vec<&str> = batch.iter().map(|e| e.message_id.as_str()).collect();
    assert_eq!(
        ids,
        ["m-0", "m-1", "m-2", "m-3", "m-4"],
        "read_batch must return oldest first"
    );
    assert_eq!(batch.iter().map(|e| e.seq).collect::<Vec<_>>(), seqs);
}

fn counts_events_and_bytes<S: Storage>(mut s: S) {
    assert_eq!(
        (s.count(), s.bytes()),
        (0, 0),
        "a fresh storage must be empty"
    );
    let a = s.append(event("m-1", "12345")).unwrap();
    s.append(event("m-2", "123")).unwrap();
    assert_eq!(
        (s.count(), s.bytes()),
        (2, 8),
        "count and bytes after two appends"
    );
    s.acknowledge(&[a]).unwrap();
    assert_eq!(
        (s.count(), s.bytes()),
        (1, 3),
        "count and bytes after an acknowledgement"
    );
}

fn read_batch_respects_count_and_byte_limits<S: Storage>(mut s: S) {
    for i in 0..10 {
        s.append(event(&format!("m-{i}"), "0123456789")).unwrap();
    }
    assert_eq!(
        s.read_batch(3, usize::MAX).unwrap().len(),
        3,
        "max_events must bound a batch"
    );
    assert_eq!(
        s.read_batch(100, 35).unwrap().len(),
        3,
        "max_bytes must bound a batch"
    );
    assert_eq!(
        s.read_batch(100, 40).unwrap().len(),
        4,
        "a batch may fill max_bytes exactly"
    );
    assert_eq!(s.count(), 10, "read_batch must not remove events");
}

fn read_batch_always_returns_an_oversized_head<S: Storage>(mut s: S) {
    s.append(event("big", &"x".repeat(100))).unwrap();
    s.append(event("small", "y")).unwrap();
    let batch = s.read_batch(10, 10).unwrap();
    assert_eq!(batch.len(), 1, "an oversized head must come alone");
    assert_eq!(batch[0].message_id, "big");
}

fn acknowledge_removes_only_named_events_and_ignores_unknown_ones<S: Storage>(mut s: S) {
    let a = s.append(event("m-1", "a")).unwrap();
    let b = s.append(event("m-2", "b")).unwrap();
    let c = s.append(event("m-3", "c")).unwrap();
    s.acknowledge(&[b, c + 1000]).unwrap();
    let left: Vec<u64> = s
        .read_batch(10, usize::MAX)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(
        left,
        [a, c],
        "acknowledge must remove exactly the named events"
    );
    s.acknowledge(&[b]).unwrap();
    assert_eq!(s.count(), 2, "acknowledging twice must be harmless");
    s.record_attempt(&[b]).unwrap();
    assert_eq!(
        s.count(),
        2,
        "record_attempt on a removed event must be harmless"
    );
}

fn seqs_are_never_reused_after_the_queue_empties<S: Storage>(mut s: S) {
    let a = s.append(event("m-1", "a")).unwrap();
    s.acknowledge(&[a]).unwrap();
    let b = s.append(event("m-2", "b")).unwrap();
    assert!(b > a, "a seq must never be reused ({b} <= {a})");
}

fn attempts_are_counted_per_event<S: Storage>(mut s: S) {
    let a = s.append(event("m-1", "a")).unwrap();
    let b = s.append(event("m-2", "b")).unwrap();
    s.record_attempt(&[a]).unwrap();
    s.record_attempt(&[a, b]).unwrap();
    let batch = s.read_batch(10, usize::MAX).unwrap();
    assert_eq!(
        (batch[0].attempts, batch[1].attempts),
        (2, 1),
        "attempts per event"
    );
}

fn values_are_set_replaced_and_cleared<S: Storage>(mut s: S) {
    assert_eq!(
        s.load("user_id").unwrap(),
        None,
        "an unset value must read as None"
    );
    s.store("user_id", Some("u-1")).unwrap();
    s.store("user_id", Some("u-2")).unwrap();
    assert_eq!(
        s.load("user_id").unwrap().as_deref(),
        Some("u-2"),
        "a value must be replaceable"
    );
    s.store("user_id", None).unwrap();
    assert_eq!(
        s.load("user_id").unwrap(),
        None,
        "a cleared value must read as None"
    );
}

fn payloads_round_trip_exactly<S: Storage>(mut s: S) {
    let payload = r#"{"event":"Café ☕","properties":{"emoji":"🛒","quote":"\"","nul":"\u0000"}}"#;
    s.append(NewEvent {
        message_id: "m-ü",
        created_at: -5,
        payload,
    })
    .unwrap();
    let e = &s.read_batch(1, usize::MAX).unwrap()[0];
    assert_eq!(e.payload, payload, "payloads must round-trip byte for byte");
    assert_eq!(e.message_id, "m-ü");
    assert_eq!(e.created_at, -5);
    assert_eq!(e.attempts, 0);
}
