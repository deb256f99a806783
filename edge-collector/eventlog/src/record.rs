//! The values that go into and come out of the log.

/// One event as the log stores it.
///
/// The log never looks inside either field: `key` is the ordering key the
/// collector chose (write key + user id), `payload` the event's JSON bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Record {
    /// The ordering key: records with the same key are read in append order.
    pub key: Vec<u8>,
    /// The event itself, normally JSON.
    pub payload: Vec<u8>,
}

impl Record {
    /// Builds a record from anything that converts into bytes.
    pub fn new(key: impl Into<Vec<u8>>, payload: impl Into<Vec<u8>>) -> Record {
        Record {
            key: key.into(),
            payload: payload.into(),
        }
    }
}

/// Proof that an append is durable: its records hold the offsets
/// `first_offset..=last_offset`, written and `fdatasync`ed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AppendReceipt {
    /// Offset of the first record of the append.
    pub first_offset: u64,
    /// Offset of the last record of the append.
    pub last_offset: u64,
}

impl AppendReceipt {
    /// How many records the append held.
    pub fn len(&self) -> u64 {
        self.last_offset - self.first_offset + 1
    }

    /// Always false: empty appends are rejected. Present for API symmetry.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The offsets of the append, in order.
    pub fn offsets(&self) -> std::ops::RangeInclusive<u64> {
        self.first_offset..=self.last_offset
    }
}

/// A record read back from the log, with the metadata the log added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The record's offset.
    pub offset: u64,
    /// Wall-clock time of the commit that wrote it, in milliseconds since
    /// the Unix epoch (the time the collector made it durable).
    pub timestamp_ms: u64,
    /// The record as appended.
    pub record: Record,
}
