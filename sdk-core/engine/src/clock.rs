//! Wall-clock time, injected so that every timing rule can be tested with a fake clock.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicI64, Ordering};

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// A source of wall-clock time. Platforms implement it with their own clock (`Date.now()` on the web).
pub trait Clock {
    /// The current time.
    fn now(&self) -> Millis;
}

/// The operating system's clock (feature `std`). Not available on `wasm32-unknown-unknown`, where the
/// web SDK supplies its own.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[cfg(all(
    feature = "std",
    not(all(target_arch = "wasm32", target_os = "unknown"))
))]
impl Clock for SystemClock {
    fn now(&self) -> Millis {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
    }
}

/// A clock that moves only when told to. Clones share the same time.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock stopped at `now`.
    pub fn new(now: Millis) -> Self {
        ManualClock(Arc::new(AtomicI64::new(now)))
    }

    /// Moves the clock forward (or backward, with a negative step, as a real clock may).
    pub fn advance(&self, by: core::time::Duration) {
        self.0.fetch_add(duration_millis(by), Ordering::SeqCst);
    }

    /// Sets the clock.
    pub fn set(&self, now: Millis) {
        self.0.store(now, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}

pub(crate) fn duration_millis(d: core::time::Duration) -> Millis {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
