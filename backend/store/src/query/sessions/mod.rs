//! Session stats: count, total and average duration and bounce rate of the sessions that start in
//! a range. Sessions are computed by the processor (client `sessionId`, else 30 minutes of
//! event-time inactivity) and recomputed when late or re-attributed events arrive: the start days
//! a batch's events can change, or a person's whole history after an identity link.
//!
//! SQL shape: DuckDB keeps exactly the current sessions (replaced per person and day):
//!
//! ```text
//! SELECT count(*), sum(end_ms - start_ms), sum(event_count = 1) FROM sessions
//! WHERE project_id = ? AND event_count > 0 AND start_ms >= ? AND start_ms < ?
//! ```
//!
//! ClickHouse appends versions: per person and start day it keeps the latest version
//! (`(person_id, d, v) IN (SELECT person_id, day, max(version) ...)`), only if it is at least as
//! new as the person's latest whole-history mark (`v >= whole`), and drops the mark rows
//! (`event_count = 0`). See [`crate::clickhouse`].

mod params;
mod sql;
#[cfg(test)]
mod tests;

pub use params::{RawSessionParams, SessionParams};
pub use sql::build;

use serde::Serialize;

use crate::{Result, Store};

/// The answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionStats {
    /// Sessions that start in the range.
    pub sessions: i64,
    /// Sum of their durations (last event − first event), ms.
    pub total_duration_ms: i64,
    /// Average duration, ms (0 without sessions).
    pub avg_duration_ms: i64,
    /// Sessions with exactly one event.
    pub bounces: i64,
    /// `bounces / sessions` (0 without sessions).
    pub bounce_rate: f64,
}

/// Runs the query.
pub fn run(store: &dyn Store, params: &SessionParams) -> Result<SessionStats> {
    let rows = store.select(&build(params, store.dialect()))?;
    let r = rows.first().cloned().unwrap_or_default();
    let get = |i: usize| r.get(i).map_or(0, crate::Cell::as_i64);
    let (sessions, total, bounces) = (get(0), get(1), get(2));
    Ok(SessionStats {
        sessions,
        total_duration_ms: total,
        avg_duration_ms: if sessions == 0 { 0 } else { total / sessions },
        bounces,
        bounce_rate: if sessions == 0 {
            0.0
        } else {
            bounces as f64 / sessions as f64
        },
    })
}
