//! The rows the processor writes, the same in both stores.
//!
//! Times are Unix milliseconds (UTC) in `Int64`/`BIGINT` columns, so that bucketing is the same
//! integer arithmetic on DuckDB and ClickHouse.

use serde::{Deserialize, Serialize};

/// One accepted event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRow {
    /// The project (from the write key).
    pub project_id: String,
    /// The client's messageId: the deduplication key.
    pub message_id: String,
    /// `track`, `page`, `screen`, `identify`, `alias` or `group`.
    pub kind: String,
    /// The event name: a track's `event`; `$page`/`$screen` (with the name in `properties.name`),
    /// `$identify`, `$alias`, `$group` for the others.
    pub event: String,
    /// The anonymousId, `""` if none.
    pub anonymous_id: String,
    /// The userId, `""` if none.
    pub user_id: String,
    /// Event time (the collector's skew-corrected `timestamp`), Unix ms.
    pub ts_ms: i64,
    /// When the collector accepted it, Unix ms.
    pub received_ms: i64,
    /// The client's session id (`context.sessionId`), `""` if none.
    pub session_id: String,
    /// `properties` (or `traits` for identify/group) as JSON text.
    pub properties: String,
}

/// What sessionizing needs of a stored event: who, when, and the client's session. Reading only
/// these (not the properties) keeps the processor's per-batch recomputation cheap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInputRow {
    /// The client's messageId (a stored copy is skipped by it).
    pub message_id: String,
    /// The anonymousId, `""` if none.
    pub anonymous_id: String,
    /// The userId, `""` if none.
    pub user_id: String,
    /// Event time, Unix ms.
    pub ts_ms: i64,
    /// The client's session id, `""` if none.
    pub session_id: String,
}

impl EventRow {
    /// A `track` event without properties (handy in tests and examples).
    pub fn track(
        project: &str,
        message_id: &str,
        event: &str,
        anonymous_id: &str,
        user_id: &str,
        ts_ms: i64,
    ) -> Self {
        Self {
            project_id: project.into(),
            message_id: message_id.into(),
            kind: "track".into(),
            event: event.into(),
            anonymous_id: anonymous_id.into(),
            user_id: user_id.into(),
            ts_ms,
            received_ms: ts_ms,
            session_id: String::new(),
            properties: "{}".into(),
        }
    }

    /// Sets `properties`.
    pub fn with_properties(mut self, properties: serde_json::Value) -> Self {
        self.properties = properties.to_string();
        self
    }

    /// Sets the client's session id.
    pub fn with_session(mut self, session_id: &str) -> Self {
        self.session_id = session_id.into();
        self
    }

    /// The id the event was sent under: the userId, else the anonymousId.
    pub fn distinct_id(&self) -> &str {
        if self.user_id.is_empty() {
            &self.anonymous_id
        } else {
            &self.user_id
        }
    }
}

/// One entry of the identity map: `anonymous_id` belongs to `user_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityRow {
    /// The project.
    pub project_id: String,
    /// The anonymous id (or an aliased previous id).
    pub anonymous_id: String,
    /// The user id it resolves to.
    pub user_id: String,
    /// A version that only grows (the log offset that set it); the highest wins.
    pub version: i64,
}

/// One session of one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRow {
    /// The project.
    pub project_id: String,
    /// The resolved person.
    pub person_id: String,
    /// The client's session id, or `"<person>:<start_ms>"` for an inferred session.
    pub session_id: String,
    /// First event time, Unix ms.
    pub start_ms: i64,
    /// Last event time, Unix ms.
    pub end_ms: i64,
    /// Distinct events in the session (at least 1).
    pub event_count: i64,
    /// The recomputation that wrote it (ms since epoch × 1024 plus the processor's tag, taken
    /// before it read anything); see [`SessionScope`] for which count.
    pub version: i64,
}

/// Which of a person's stored sessions a recomputation replaces (see
/// [`crate::Store::replace_sessions`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SessionScope {
    /// All of them: the person's whole history was read again (after an identity link moved
    /// events between persons).
    All,
    /// Those that start in these UTC days ([`crate::sessionize::day_of`]): the days a bounded
    /// recomputation read in full.
    Days(std::collections::BTreeSet<i64>),
}

/// Which of a person's events a bounded recomputation reads: those in any of `ranges`
/// (`[from_ms, to_ms)`), and every event of the client sessions in `session_ids`, whenever it
/// happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventWindow {
    /// Time ranges, `[from_ms, to_ms)`.
    pub ranges: Vec<(i64, i64)>,
    /// Client session ids.
    pub session_ids: Vec<String>,
}

/// A message the collector (or the processor) refused, with its raw payload and reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetterRow {
    /// A stable id (`dl-<log offset>` or `idc-<offset>` for identity conflicts).
    pub id: String,
    /// The project, `""` if unknown.
    pub project_id: String,
    /// When it was received, Unix ms.
    pub received_ms: i64,
    /// A short cause (`invalid`, `too_large`, `schema`, `identity_conflict`, ...).
    pub cause: String,
    /// A readable reason.
    pub reason: String,
    /// The message exactly as received.
    pub payload: String,
    /// When it was replayed successfully, 0 if never.
    pub replayed_ms: i64,
}
