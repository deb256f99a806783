//! How a [`Client`](crate::Client) behaves: queue bounds, flush triggers, sessions and retry limits.
//!
//! Every field has a default chosen for a mobile or web app; [`Config::validate`] refuses values that would
//! make the engine misbehave (a zero-sized queue, a batch bigger than the collector accepts).

use alloc::borrow::ToOwned;
use alloc::string::String;
use core::time::Duration;

use footfall_protocol::limits::{BATCH_ENVELOPE_BYTES, MAX_BATCH_BYTES};

use crate::error::{Error, ErrorKind};

/// The smallest `max_batch_bytes`: room for one event of typical size and the envelope.
pub const MIN_BATCH_BYTES: usize = 16 * 1024;

/// The engine's settings. Build one with [`Config::new`] and adjust fields with struct update syntax.
///
/// ```
/// use std::time::Duration;
/// let config = footfall_core::Config {
///     flush_at: 50,
///     session_idle_timeout: Duration::from_secs(15 * 60),
///     ..footfall_core::Config::new("wk_live_123")
/// };
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The source's write key, sent in HTTP Basic auth.
    pub write_key: String,
    /// The `context.library` reported with every event.
    pub library_name: String,
    /// The version in `context.library`.
    pub library_version: String,
    /// Upload as soon as this many events are queued.
    pub flush_at: usize,
    /// Upload as soon as the oldest queued event has waited this long.
    pub flush_interval: Duration,
    /// The most events in one upload. A 413 answer halves it for the following uploads.
    pub max_batch_events: usize,
    /// The largest upload body in bytes; at most Segment's 500 KB, at least 16 KB. A single event larger
    /// than a batch is still sent, alone.
    pub max_batch_bytes: usize,
    /// The most events kept while waiting to upload. When full, the oldest is dropped and counted.
    pub max_queue_events: usize,
    /// The most bytes of events kept while waiting to upload. When full, the oldest is dropped and counted.
    pub max_queue_bytes: u64,
    /// A session ends after this long without an event.
    pub session_idle_timeout: Duration,
    /// A session ends after this long whatever happens.
    pub session_max_length: Duration,
    /// An event is dropped, and counted, after this many failed uploads.
    pub max_attempts: u32,
    /// An event is dropped, and counted, when it is older than this and still not delivered.
    pub max_event_age: Duration,
    /// The first retry waits up to this long (full jitter); each failure doubles it.
    pub backoff_base: Duration,
    /// Retries never wait longer than this.
    pub backoff_max: Duration,
    /// A `Retry-After` longer than this is shortened to it, so a misconfigured server cannot silence an
    /// app for days.
    pub max_retry_after: Duration,
    /// An upload with no outcome reported after this long is taken as failed, so a lost callback does not
    /// stall the queue.
    pub upload_timeout: Duration,
}

impl Config {
    /// The defaults, for the given write key.
    pub fn new(write_key: impl Into<String>) -> Self {
        Config {
            write_key: write_key.into(),
            library_name: "footfall-core".to_owned(),
            library_version: env!("CARGO_PKG_VERSION").to_owned(),
            flush_at: 20,
            flush_interval: Duration::from_secs(10),
            max_batch_events: 100,
            max_batch_bytes: MAX_BATCH_BYTES,
            max_queue_events: 10_000,
            max_queue_bytes: 10 * 1024 * 1024,
            session_idle_timeout: Duration::from_secs(30 * 60),
            session_max_length: Duration::from_secs(24 * 60 * 60),
            max_attempts: 10,
            max_event_age: Duration::from_secs(7 * 24 * 60 * 60),
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(5 * 60),
            max_retry_after: Duration::from_secs(60 * 60),
            upload_timeout: Duration::from_secs(60),
        }
    }

    /// Refuses settings the engine cannot honour, naming the field.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |field, reason| Err(ErrorKind::InvalidConfig { field, reason }.into());
        if self.write_key.trim().is_empty() {
            return invalid("write_key", "must not be empty");
        }
        if self.flush_at == 0 {
            return invalid("flush_at", "must be at least 1");
        }
        if self.max_batch_events == 0 {
            return invalid("max_batch_events", "must be at least 1");
        }
        // Browsers cap a beacon or keepalive fetch at 64 KiB, so the web SDK needs batches below that.
        if self.max_batch_bytes > MAX_BATCH_BYTES || self.max_batch_bytes < MIN_BATCH_BYTES {
            return invalid("max_batch_bytes", "must be between 16 KB and 500 KB");
        }
        if self.max_queue_events == 0 {
            return invalid("max_queue_events", "must be at least 1");
        }
        if self.max_queue_bytes < 64 * 1024 {
            return invalid(
                "max_queue_bytes",
                "must be at least 64 KB, two maximum-size messages",
            );
        }
        if self.max_attempts == 0 {
            return invalid("max_attempts", "must be at least 1");
        }
        if self.session_idle_timeout.is_zero() || self.session_max_length.is_zero() {
            return invalid(
                "session_idle_timeout",
                "and session_max_length must be positive",
            );
        }
        if self.backoff_base.is_zero() || self.backoff_max < self.backoff_base {
            return invalid("backoff_base", "must be positive and at most backoff_max");
        }
        if self.upload_timeout.is_zero() {
            return invalid("upload_timeout", "must be positive");
        }
        Ok(())
    }

    /// The payload bytes one batch may carry, leaving room for the envelope.
    pub(crate) fn batch_payload_bytes(&self) -> usize {
        self.max_batch_bytes - BATCH_ENVELOPE_BYTES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn defaults_are_valid_and_bad_values_name_their_field() {
        assert_eq!(Config::new("k").validate(), Ok(()));
        let err = Config {
            max_batch_bytes: 600 * 1024,
            ..Config::new("k")
        }
        .validate()
        .unwrap_err();
        assert!(err.to_string().contains("max_batch_bytes"), "{err}");
        let err = Config::new(" ").validate().unwrap_err();
        assert!(err.to_string().contains("write_key"), "{err}");
    }
}
