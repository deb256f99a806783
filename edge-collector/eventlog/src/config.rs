//! [`LogConfig`]: segment size, retention, disk budget and batching limits.

use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};
use crate::frame::MAX_BODY_LEN;

/// Default segment size: 64 MiB.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// Default cap on one append call: 16 MiB of encoded records.
pub const DEFAULT_MAX_APPEND_BYTES: u64 = 16 * 1024 * 1024;
/// Default soft cap on one commit group: 8 MiB.
pub const DEFAULT_MAX_COMMIT_BYTES: u64 = 8 * 1024 * 1024;
/// Default interval between time-based retention checks: 30 s.
pub const DEFAULT_RETENTION_CHECK_INTERVAL: Duration = Duration::from_secs(30);

/// How an [`EventLog`](crate::EventLog) sizes segments and what it keeps.
///
/// Start from [`LogConfig::default`] and set fields; [`EventLog::open`]
/// validates the result.
///
/// [`EventLog::open`]: crate::EventLog::open
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogConfig {
    /// A segment is closed and a new one started once it reaches this size.
    /// Retention deletes whole segments, so this is also its granularity.
    /// An append is never split across segments, so a segment can exceed
    /// this by up to one append. Default 64 MiB.
    pub segment_bytes: u64,
    /// Delete the oldest closed segments while all segments together are
    /// larger than this. `None` (default): no size-based retention.
    pub max_bytes: Option<u64>,
    /// Delete closed segments whose newest record is older than this.
    /// `None` (default): no time-based retention.
    pub max_age: Option<Duration>,
    /// Never delete a segment that a registered consumer group has not read
    /// to the end, whatever `max_bytes`, `max_age` or `max_disk_bytes` say.
    /// Default `true`: losing events must be an explicit choice.
    pub protect_unconsumed: bool,
    /// Hard ceiling on the bytes of all segments. An append that would cross
    /// it first makes retention delete the oldest deletable segments; if that
    /// is not enough the append fails with
    /// [`ErrorKind::DiskBudgetExceeded`]. `None` (default): no ceiling.
    pub max_disk_bytes: Option<u64>,
    /// Largest encoded size (records plus 28 bytes each) of one append call;
    /// larger appends fail with [`ErrorKind::InvalidInput`]. Default 16 MiB.
    pub max_append_bytes: u64,
    /// The writer stops adding queued appends to a commit group once it holds
    /// this many bytes, bounding the latency one fsync adds. Default 8 MiB.
    pub max_commit_bytes: u64,
    /// How often the writer applies time-based retention when idle.
    /// Size-based retention also runs whenever a segment is closed.
    /// Default 30 s.
    pub retention_check_interval: Duration,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            max_bytes: None,
            max_age: None,
            protect_unconsumed: true,
            max_disk_bytes: None,
            max_append_bytes: DEFAULT_MAX_APPEND_BYTES,
            max_commit_bytes: DEFAULT_MAX_COMMIT_BYTES,
            retention_check_interval: DEFAULT_RETENTION_CHECK_INTERVAL,
        }
    }
}

impl LogConfig {
    /// Checks that the settings make sense together.
    pub fn validate(&self) -> Result<()> {
        let invalid = |detail: String| Err(Error::new(ErrorKind::InvalidConfig, detail));
        if self.segment_bytes < 1024 {
            return invalid(format!(
                "segment_bytes = {} is below the 1024-byte minimum",
                self.segment_bytes
            ));
        }
        if self.max_append_bytes == 0 || self.max_append_bytes > MAX_BODY_LEN as u64 {
            return invalid(format!(
                "max_append_bytes = {} must be between 1 and {MAX_BODY_LEN}",
                self.max_append_bytes
            ));
        }
        if self.max_commit_bytes == 0 {
            return invalid("max_commit_bytes must be positive".to_owned());
        }
        if self.retention_check_interval.is_zero() {
            return invalid("retention_check_interval must be positive".to_owned());
        }
        if let Some(budget) = self.max_disk_bytes {
            if budget < 2 * self.segment_bytes {
                return invalid(format!(
                    "max_disk_bytes = {budget} is below two segments ({}): \
                     the active segment alone could exhaust it",
                    2 * self.segment_bytes
                ));
            }
        }
        if let (Some(max_bytes), Some(budget)) = (self.max_bytes, self.max_disk_bytes) {
            if max_bytes > budget {
                return invalid(format!(
                    "max_bytes = {max_bytes} exceeds max_disk_bytes = {budget}: \
                     the budget would reject appends before retention ran"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        LogConfig::default().validate().unwrap();
    }

    #[test]
    fn retention_above_the_disk_budget_is_rejected() {
        let config = LogConfig {
            segment_bytes: 1 << 20,
            max_bytes: Some(10 << 20),
            max_disk_bytes: Some(5 << 20),
            ..LogConfig::default()
        };
        let err = config.validate().unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidConfig);
        assert!(err.to_string().contains("max_disk_bytes"), "{err}");
    }

    #[test]
    fn a_disk_budget_below_two_segments_is_rejected() {
        let config = LogConfig {
            max_disk_bytes: Some(DEFAULT_SEGMENT_BYTES),
            ..LogConfig::default()
        };
        assert!(config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("two segments"));
    }

    #[test]
    fn tiny_segments_are_rejected() {
        let config = LogConfig {
            segment_bytes: 10,
            ..LogConfig::default()
        };
        assert_eq!(
            config.validate().unwrap_err().kind(),
            &ErrorKind::InvalidConfig
        );
    }
}
