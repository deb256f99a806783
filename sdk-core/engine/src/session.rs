//! Sessions: a UUIDv7 that ends after an idle gap or a maximum length, both measured on the client clock.

use serde::{Deserialize, Serialize};

use crate::clock::Millis;

/// The current session, persisted so that a relaunch within the idle timeout continues it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Session {
    pub(crate) id: String,
    pub(crate) started_at: Millis,
    pub(crate) last_activity: Millis,
}

impl Session {
    pub(crate) fn new(id: String, now: Millis) -> Self {
        Session {
            id,
            started_at: now,
            last_activity: now,
        }
    }

    /// Whether an event at `now` belongs to a new session. A clock that went backwards does not end a
    /// session: the gap it reports is not idleness.
    pub(crate) fn has_ended(&self, now: Millis, idle_timeout: Millis, max_length: Millis) -> bool {
        now.saturating_sub(self.last_activity) >= idle_timeout
            || now.saturating_sub(self.started_at) >= max_length
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Millis = 30 * 60_000;
    const MAX: Millis = 24 * 3_600_000;

    #[test]
    fn ends_after_the_idle_timeout() {
        let s = Session::new("s".into(), 0);
        assert!(!s.has_ended(IDLE - 1, IDLE, MAX));
        assert!(s.has_ended(IDLE, IDLE, MAX));
    }

    #[test]
    fn ends_at_the_maximum_length_even_when_active() {
        let s = Session {
            id: "s".into(),
            started_at: 0,
            last_activity: MAX - 1,
        };
        assert!(!s.has_ended(MAX - 1, IDLE, MAX));
        assert!(s.has_ended(MAX, IDLE, MAX));
    }

    #[test]
    fn a_clock_going_backwards_keeps_the_session() {
        let s = Session::new("s".into(), 1_000_000);
        assert!(!s.has_ended(0, IDLE, MAX));
    }
}
