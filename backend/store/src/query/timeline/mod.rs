//! Person timeline: the ordered events of one person across devices and anonymous ids.
//!
//! The id asked for may be a userId or an anonymous id; an anonymous id that the identity map
//! sends to a user shows that user's whole timeline. SQL shape:
//!
//! ```text
//! SELECT ts_ms, message_id, type, event, anonymous_id, user_id, session_id, properties
//! FROM <events deduplicated, resolved to persons> AS e
//! WHERE person_id = id OR person_id IN (SELECT user_id FROM identities WHERE anonymous_id = id)
//! ORDER BY ts_ms, message_id [LIMIT 1 BY message_id on ClickHouse] LIMIT n
//! ```

mod params;
mod sql;
#[cfg(test)]
mod tests;

pub use params::{RawTimelineParams, TimelineParams};
pub use sql::build;

use serde::Serialize;

use crate::{Result, Store};

/// One event of a timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEvent {
    /// Event time, RFC 3339.
    pub timestamp: String,
    /// Event time, Unix ms.
    pub ts_ms: i64,
    /// The messageId.
    pub message_id: String,
    /// The message type.
    pub kind: String,
    /// The event name.
    pub event: String,
    /// The anonymousId it was sent with.
    pub anonymous_id: String,
    /// The userId it was sent with.
    pub user_id: String,
    /// The client's session id.
    pub session_id: String,
    /// Properties.
    pub properties: serde_json::Value,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timeline {
    /// The id asked for.
    pub person: String,
    /// Events by time.
    pub events: Vec<TimelineEvent>,
}

/// Runs the query.
pub fn run(store: &dyn Store, params: &TimelineParams) -> Result<Timeline> {
    let rows = store.select(&build(params, store.dialect()))?;
    let events = rows
        .into_iter()
        .map(|r| TimelineEvent {
            timestamp: super::format_rfc3339_ms(r[0].as_i64()),
            ts_ms: r[0].as_i64(),
            message_id: r[1].as_string(),
            kind: r[2].as_string(),
            event: r[3].as_string(),
            anonymous_id: r[4].as_string(),
            user_id: r[5].as_string(),
            session_id: r[6].as_string(),
            properties: serde_json::from_str(&r[7].as_string()).unwrap_or(serde_json::Value::Null),
        })
        .collect();
    Ok(Timeline {
        person: params.person.clone(),
        events,
    })
}
