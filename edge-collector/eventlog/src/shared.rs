//! State shared between the writer thread, the [`EventLog`](crate::EventLog)
//! handles and in-process readers: the committed high-water mark and the
//! ways to wait for it to move.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::config::LogConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::stats::{LogStats, Stats};

pub(crate) struct Shared {
    pub(crate) dir: PathBuf,
    pub(crate) config: LogConfig,
    /// One past the last durable record. Only the writer stores it, after
    /// the fdatasync; readers never look past it.
    committed: AtomicU64,
    /// Oldest offset on disk; raised before a segment file is unlinked.
    pub(crate) earliest: AtomicU64,
    pub(crate) stats: Stats,
    /// For blocking waiters (plain threads).
    progress: Mutex<Progress>,
    progress_changed: Condvar,
    /// For async waiters; the writer thread owns the sender, so receivers
    /// learn that the log closed when it exits.
    pub(crate) watch: watch::Receiver<u64>,
}

struct Progress {
    committed: u64,
    closed: bool,
}

impl Shared {
    pub(crate) fn new(
        dir: PathBuf,
        config: LogConfig,
        committed: u64,
        earliest: u64,
        watch: watch::Receiver<u64>,
    ) -> Shared {
        Shared {
            dir,
            config,
            committed: AtomicU64::new(committed),
            earliest: AtomicU64::new(earliest),
            stats: Stats::default(),
            progress: Mutex::new(Progress {
                committed,
                closed: false,
            }),
            progress_changed: Condvar::new(),
            watch,
        }
    }

    pub(crate) fn committed(&self) -> u64 {
        self.committed.load(Ordering::Acquire)
    }

    pub(crate) fn earliest(&self) -> u64 {
        self.earliest.load(Ordering::Acquire)
    }

    pub(crate) fn stats(&self) -> LogStats {
        self.stats.snapshot(self.earliest(), self.committed())
    }

    /// Makes records below `next_offset` visible and wakes blocking waiters.
    pub(crate) fn publish(&self, next_offset: u64) {
        self.committed.store(next_offset, Ordering::Release);
        self.lock_progress().committed = next_offset;
        self.progress_changed.notify_all();
    }

    /// Tells blocking waiters that no more records will come.
    pub(crate) fn close(&self) {
        self.lock_progress().closed = true;
        self.progress_changed.notify_all();
    }

    /// Blocks until the record at `offset` is committed (returns the high
    /// watermark), or `timeout` passes (returns `None`).
    pub(crate) fn wait_past(&self, offset: u64, timeout: Duration) -> Result<Option<u64>> {
        let deadline = Instant::now().checked_add(timeout);
        let mut progress = self.lock_progress();
        loop {
            if progress.committed > offset {
                return Ok(Some(progress.committed));
            }
            if progress.closed {
                return Err(closed_error());
            }
            let wait = match deadline {
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left,
                    _ => return Ok(None),
                },
                // A timeout too large to represent: wait in long slices.
                None => Duration::from_secs(3600),
            };
            progress = self
                .progress_changed
                .wait_timeout(progress, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn lock_progress(&self) -> MutexGuard<'_, Progress> {
        // The guarded data is two plain values that are always consistent.
        self.progress.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(crate) fn closed_error() -> Error {
    Error::new(
        ErrorKind::Closed,
        "the event log's writer has shut down (every EventLog handle was dropped)",
    )
}
