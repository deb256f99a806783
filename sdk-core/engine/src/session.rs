//! Sessions: a UUIDv7 that ends after an idle gap or a maximum length, both measured on the client clock.

use alloc::string::String;

use crate::clock::Millis;
use crate::json::{self, Kind};

/// The current session, persisted so that a relaunch within the idle timeout continues it, as
/// `{"id":"…","started_at":…,"last_activity":…}` (the shape serde wrote in earlier versions).
#[derive(Debug, Clone, PartialEq, Eq)]
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

    pub(crate) fn to_json(&self) -> String {
        let mut out = String::with_capacity(80);
        out.push_str("{\"id\":");
        json::write_string(&mut out, &self.id);
        out.push_str(",\"started_at\":");
        json::write_int(&mut out, self.started_at);
        out.push_str(",\"last_activity\":");
        json::write_int(&mut out, self.last_activity);
        out.push('}');
        out
    }

    /// The session in `text`, or `None` if it is not one (damaged, or from another version).
    pub(crate) fn from_json(text: &str) -> Option<Session> {
        if json::check(text).ok()? != Kind::Object {
            return None;
        }
        let int = |key| json::get(text, key)?.parse::<Millis>().ok();
        Some(Session {
            id: json::string_value(json::get(text, "id")?)?,
            started_at: int("started_at")?,
            last_activity: int("last_activity")?,
        })
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
    use alloc::borrow::ToOwned;

    #[test]
    fn round_trips_through_the_stored_shape() {
        let s = Session {
            id: "0194f3a0-7c1e-7000-8000-000000000000".to_owned(),
            started_at: -5,
            last_activity: 1_795_000_000_000,
        };
        let text = s.to_json();
        assert_eq!(
            text,
            r#"{"id":"0194f3a0-7c1e-7000-8000-000000000000","started_at":-5,"last_activity":1795000000000}"#
        );
        assert_eq!(Session::from_json(&text), Some(s));
        assert_eq!(Session::from_json(r#"{"id":"s","started_at":1}"#), None);
        assert_eq!(
            Session::from_json(r#"{"id":1,"started_at":1,"last_activity":1}"#),
            None
        );
        assert_eq!(Session::from_json("not json"), None);
    }

    const IDLE: Millis = 30 * 60_000;
    const MAX: Millis = 24 * 3_600_000;

    #[test]
    fn ends_after_the_idle_timeout() {
        let s = Session::new("s".to_owned(), 0);
        assert!(!s.has_ended(IDLE - 1, IDLE, MAX));
        assert!(s.has_ended(IDLE, IDLE, MAX));
    }

    #[test]
    fn ends_at_the_maximum_length_even_when_active() {
        let s = Session {
            id: "s".to_owned(),
            started_at: 0,
            last_activity: MAX - 1,
        };
        assert!(!s.has_ended(MAX - 1, IDLE, MAX));
        assert!(s.has_ended(MAX, IDLE, MAX));
    }

    #[test]
    fn a_clock_going_backwards_keeps_the_session() {
        let s = Session::new("s".to_owned(), 1_000_000);
        assert!(!s.has_ended(0, IDLE, MAX));
    }
}
