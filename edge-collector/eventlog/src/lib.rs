//! The embedded, durable, append-only event log that Footfall's edge
//! collector writes by default, and that the backend reads by offset, in the
//! same process or another one. No servers: a directory of files.
//!
//! # Overview
//!
//! - [`EventLog`] is the writer's handle. [`EventLog::append`] queues a batch
//!   of [`Record`]s and returns an [`AppendFuture`] that resolves to an
//!   [`AppendReceipt`] only once the records are written **and**
//!   fdatasynced; [`EventLog::append_blocking`] does the same for plain
//!   threads. One writer thread commits everything queued since its last
//!   fsync with a single fsync (group commit), so throughput grows with the
//!   number of concurrent appenders. No async runtime is required.
//! - Offsets are `u64`, dense, strictly increasing, never reused, and
//!   survive restarts. [`LogReader`] reads committed records by offset:
//!   [`EventLog::reader`] in-process (wakes on commit), [`LogReader::open`]
//!   from another process (read-only, follows the `COMMITTED` mark).
//!   [`EventLog::subscribe`] gives a [`Subscription`] to wait for new
//!   records without polling.
//! - [`LogConfig`] sets the segment size and retention: `max_bytes` and
//!   `max_age` delete the oldest whole segments, never ones a registered
//!   consumer group has not read when `protect_unconsumed` is set, and
//!   `max_disk_bytes` is a hard budget whose breach fails appends with
//!   [`ErrorKind::DiskBudgetExceeded`] (answer 503 + `Retry-After`).
//! - Consumer groups commit their position with
//!   [`EventLog::commit_consumer_offset`] (or the reader's twin); the offset
//!   is stored atomically in the log directory.
//! - [`Error`] names the problem, the file and the offset; [`LogStats`] is a
//!   plain snapshot of counters for export.
//!
//! # On disk
//!
//! ```text
//! <dir>/00000000000000000000.log   segments, named by base offset, rotated at segment_bytes
//! <dir>/00000000000000104857.log
//! <dir>/COMMITTED                  committed mark: one past the last fsynced offset
//! <dir>/LOCK                       flock held by the writer (contains its pid)
//! <dir>/consumers/<group>.offset   consumer-group offsets, decimal text
//! ```
//!
//! Each record is framed as `len | crc32 | offset | timestamp_ms | key_len |
//! key | payload`. On open, the writer verifies the newest segment: a torn
//! tail past the committed mark (a crash mid-write) is truncated, while a bad
//! frame below it (damage to acknowledged data) is an [`ErrorKind::Corrupt`]
//! error naming the segment and offset. Readers never see past the mark.
//!
//! The crate is for Unix (it uses `flock(2)` and directory fsync).
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use footfall_eventlog::{EventLog, LogConfig, Record};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let log = EventLog::open(dir.path(), LogConfig::default())?;
//!
//! // From a plain thread: returns once the batch is durable.
//! let receipt = log.append_blocking(vec![
//!     Record::new("wk_123:user-1", r#"{"type":"track","event":"Signed Up"}"#),
//!     Record::new("wk_123:user-2", r#"{"type":"page","name":"Home"}"#),
//! ])?;
//! assert_eq!((receipt.first_offset, receipt.last_offset), (0, 1));
//!
//! // From async code (any executor): the same, as a future.
//! let runtime = tokio::runtime::Runtime::new()?;
//! let receipt = runtime.block_on(log.append(vec![Record::new("wk_123:user-1", "{}")]))?;
//! assert_eq!(receipt.first_offset, 2);
//!
//! // The backend reads by offset and commits its position.
//! let mut reader = log.reader();
//! let records = reader.read(0, 100, 1 << 20)?;
//! assert_eq!(records.len(), 3);
//! assert_eq!(records[0].1.key, b"wk_123:user-1");
//! log.commit_consumer_offset("backend", 3)?;
//!
//! // ...and waits for more without polling.
//! assert_eq!(reader.wait_for(3, Duration::from_millis(10))?, None);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub use config::{
    LogConfig, DEFAULT_MAX_APPEND_BYTES, DEFAULT_MAX_COMMIT_BYTES,
    DEFAULT_RETENTION_CHECK_INTERVAL, DEFAULT_SEGMENT_BYTES,
};
pub use error::{Error, ErrorKind, Result};
pub use log::{AppendFuture, EventLog, Subscription};
pub use reader::{LogReader, DEFAULT_POLL_INTERVAL};
pub use record::{AppendReceipt, LogEntry, Record};
pub use stats::{LogStats, GROUP_SIZE_BUCKETS};
pub use writer::RetentionReport;

mod committed;
mod config;
mod consumer;
mod error;
mod frame;
mod log;
mod logdir;
mod reader;
mod record;
mod recovery;
mod retention;
mod segment;
mod shared;
mod stats;
#[cfg(test)]
mod testutil;
mod writer;
