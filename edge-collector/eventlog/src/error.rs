//! The crate's single error type: an [`ErrorKind`] to branch on, plus the
//! path, offset and OS cause that an operator needs to act on it.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A specialised `Result` for event-log operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, coarsely enough for a caller to choose a reaction
/// (retry later, answer 503, stop and page someone).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An operating-system I/O call failed; [`std::error::Error::source`]
    /// holds the `io::Error`.
    Io,
    /// Bytes on disk that were once acknowledged do not decode: a bad CRC,
    /// a bad segment header, an offset gap. The error names the segment
    /// file and the offset. Never raised for an unacknowledged torn tail,
    /// which is truncated on open instead.
    Corrupt,
    /// A read asked for an offset the log does not hold: either deleted by
    /// retention (`requested < earliest`) or not yet written
    /// (`requested > high_watermark`).
    OffsetOutOfRange {
        /// The offset that was asked for.
        requested: u64,
        /// The oldest offset still on disk.
        earliest: u64,
        /// One past the newest committed offset.
        high_watermark: u64,
    },
    /// The append would push the log past `max_disk_bytes` and retention
    /// could not free enough space (for example because a consumer has not
    /// read the oldest segment). Retryable: answer 503 with `Retry-After`.
    DiskBudgetExceeded,
    /// The filesystem itself is full (`ENOSPC`). Retryable like
    /// [`ErrorKind::DiskBudgetExceeded`]; the partial write was rolled back.
    DiskFull,
    /// Another `EventLog` (in this or another process) already owns the
    /// directory.
    Locked,
    /// A [`LogConfig`](crate::LogConfig) setting is out of range.
    InvalidConfig,
    /// The call itself was malformed: an empty batch, a record too large,
    /// an unusable consumer group name.
    InvalidInput,
    /// The log's writer has shut down (every [`EventLog`](crate::EventLog)
    /// handle was dropped).
    Closed,
    /// An earlier `fsync` failed, so what is on disk is unknown; the log
    /// refuses further appends until it is reopened (which re-runs recovery).
    Poisoned,
}

/// An event-log error: a kind, a human description, and where it happened.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    detail: String,
    path: Option<PathBuf>,
    offset: Option<u64>,
    // Arc so one OS failure can be handed to every append in a commit group.
    source: Option<Arc<io::Error>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, detail: impl Into<String>) -> Error {
        Error {
            kind,
            detail: detail.into(),
            path: None,
            offset: None,
            source: None,
        }
    }

    /// An I/O failure while doing `what` on `path`. `ENOSPC` becomes
    /// [`ErrorKind::DiskFull`] so callers can treat it as back-pressure.
    pub(crate) fn io(what: impl Into<String>, path: &Path, err: io::Error) -> Error {
        let kind = if err.kind() == io::ErrorKind::StorageFull {
            ErrorKind::DiskFull
        } else {
            ErrorKind::Io
        };
        Error::new(kind, what)
            .with_path(path)
            .with_source(Arc::new(err))
    }

    pub(crate) fn corrupt(detail: impl Into<String>, path: &Path, offset: u64) -> Error {
        Error::new(ErrorKind::Corrupt, detail)
            .with_path(path)
            .with_offset(offset)
    }

    pub(crate) fn with_path(mut self, path: &Path) -> Error {
        self.path = Some(path.to_path_buf());
        self
    }

    pub(crate) fn with_offset(mut self, offset: u64) -> Error {
        self.offset = Some(offset);
        self
    }

    pub(crate) fn with_source(mut self, source: Arc<io::Error>) -> Error {
        self.source = Some(source);
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The file or directory involved, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The log offset involved, if any.
    pub fn offset(&self) -> Option<u64> {
        self.offset
    }

    /// Whether retrying the same call later may succeed without operator
    /// action: true for disk-budget and disk-full back-pressure.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::DiskBudgetExceeded | ErrorKind::DiskFull
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)?;
        match (&self.path, self.offset) {
            (Some(path), Some(offset)) => write!(f, " (file {}, offset {offset})", path.display())?,
            (Some(path), None) => write!(f, " (file {})", path.display())?,
            (None, Some(offset)) => write!(f, " (offset {offset})")?,
            (None, None) => {}
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_path_offset_and_cause() {
        let err = Error::corrupt("CRC mismatch", Path::new("/data/00.log"), 42)
            .with_source(Arc::new(io::Error::other("boom")));
        assert_eq!(
            err.to_string(),
            "CRC mismatch (file /data/00.log, offset 42): boom"
        );
        assert_eq!(err.kind(), &ErrorKind::Corrupt);
        assert_eq!(err.offset(), Some(42));
    }

    #[test]
    fn storage_full_is_a_retryable_disk_full() {
        let err = Error::io(
            "writing",
            Path::new("/x"),
            io::Error::from(io::ErrorKind::StorageFull),
        );
        assert_eq!(err.kind(), &ErrorKind::DiskFull);
        assert!(err.is_retryable());
    }
}
