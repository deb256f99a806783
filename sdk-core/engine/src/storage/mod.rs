//! Where queued events and client state live between calls, restarts and crashes.
//!
//! The engine sees storage only through the [`Storage`] trait: a FIFO queue of serialized events with
//! stable sequence numbers, plus a small key-value area for the anonymous id, the user id and the session.
//! Platforms implement it: `MemoryStorage` here (feature `std`), SQLite in the mobile SDK, IndexedDB in the web SDK.
//! Every implementation must pass the suite in `conformance` (feature `conformance`).
//!
//! Bounds are the engine's job, not the storage's: the engine evicts the oldest events and counts each
//! eviction, so every implementation gets the same drop accounting for free.

#[cfg(feature = "std")]
mod memory;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

#[cfg(feature = "std")]
pub use memory::MemoryStorage;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::clock::Millis;

/// An event to queue, serialized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewEvent<'a> {
    /// The event's messageId, kept beside the payload so results can be matched without parsing it.
    pub message_id: &'a str,
    /// When the event was created, for `max_event_age` and the flush interval.
    pub created_at: Millis,
    /// The message as JSON, exactly as it will be sent.
    pub payload: &'a str,
}

/// A queued event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Its position in the queue: assigned by [`Storage::append`], strictly increasing, never reused.
    pub seq: u64,
    /// The event's messageId.
    pub message_id: String,
    /// When the event was created.
    pub created_at: Millis,
    /// How many uploads of it have failed.
    pub attempts: u32,
    /// The message as JSON.
    pub payload: String,
}

impl StoredEvent {
    /// The bytes it counts against the queue's byte bound.
    pub fn bytes(&self) -> u64 {
        self.payload.len() as u64
    }
}

/// A failure of the platform's storage (disk full, database locked, quota exceeded, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageError {
    message: String,
}

impl StorageError {
    /// A storage error explained by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        StorageError {
            message: message.into(),
        }
    }
}

impl StorageError {
    /// What failed, as the platform said it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl core::error::Error for StorageError {}

/// A persistent FIFO queue of events plus a few named values.
///
/// Every method is synchronous and must be durable on return as far as the platform promises durability
/// (a write-behind cache, as in the web SDK, is allowed: the trade-off is the platform's). Unknown sequence
/// numbers are ignored by [`acknowledge`](Storage::acknowledge) and
/// [`record_attempt`](Storage::record_attempt), because a late or duplicated upload result may name events
/// that are already gone.
pub trait Storage {
    /// Adds an event at the tail and returns its sequence number, greater than any returned before by this
    /// storage, including before a restart.
    fn append(&mut self, event: NewEvent<'_>) -> Result<u64, StorageError>;

    /// The oldest events, in order: at most `max_events`, and no more than `max_bytes` of payload, except
    /// that the first event is returned whatever its size so an oversized event cannot block the queue.
    fn read_batch(
        &self,
        max_events: usize,
        max_bytes: usize,
    ) -> Result<Vec<StoredEvent>, StorageError>;

    /// Removes the events with these sequence numbers.
    fn acknowledge(&mut self, seqs: &[u64]) -> Result<(), StorageError>;

    /// Adds one to the failed-attempt count of these events.
    fn record_attempt(&mut self, seqs: &[u64]) -> Result<(), StorageError>;

    /// How many events are queued.
    fn count(&self) -> u64;

    /// The total payload bytes of the queued events.
    fn bytes(&self) -> u64;

    /// A named value, or `None` if it was never set or was cleared.
    fn load(&self, key: &str) -> Result<Option<String>, StorageError>;

    /// Sets (`Some`) or clears (`None`) a named value.
    fn store(&mut self, key: &str, value: Option<&str>) -> Result<(), StorageError>;

    /// [`append`](Storage::append) with the strings handed over, for a storage that keeps them in
    /// memory and can take them without copying (the web SDK's). The default appends a borrowed copy.
    fn append_owned(
        &mut self,
        message_id: String,
        created_at: crate::Millis,
        payload: String,
    ) -> Result<u64, StorageError> {
        self.append(NewEvent {
            message_id: &message_id,
            created_at,
            payload: &payload,
        })
    }

    /// Removes the oldest event and returns its seq and messageId, for eviction when the queue is
    /// full; `None` if the queue is empty. The default reads the event and acknowledges it; a storage
    /// may do it without reading the payload.
    fn evict_oldest(&mut self) -> Result<Option<(u64, String)>, StorageError> {
        let Some(oldest) = self.read_batch(1, usize::MAX)?.into_iter().next() else {
            return Ok(None);
        };
        self.acknowledge(&[oldest.seq])?;
        Ok(Some((oldest.seq, oldest.message_id)))
    }
}
