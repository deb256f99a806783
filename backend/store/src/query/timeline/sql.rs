//! The timeline SQL builder.

use super::TimelineParams;
use crate::sql::SqlBuilder;
use crate::{Dialect, Sql};

/// Builds the timeline query.
pub fn build(p: &TimelineParams, dialect: Dialect) -> Sql {
    let mut b = SqlBuilder::new(dialect);
    b.push(
        "SELECT e.ts_ms AS ts_ms, e.message_id AS message_id, e.type AS type, e.event AS event, \
         e.anonymous_id AS anonymous_id, e.user_id AS user_id, e.session_id AS session_id, \
         e.properties AS properties ",
    );
    b.from_resolved_events(
        &p.project,
        &[
            "ts_ms",
            "message_id",
            "type",
            "event",
            "anonymous_id",
            "user_id",
            "session_id",
            "properties",
        ],
        |_| {},
    );
    b.push(" WHERE e.person_id = ").bind(p.person.clone());
    b.push(" OR e.person_id IN (SELECT user_id FROM identities WHERE project_id = ")
        .bind(p.project.clone());
    b.push(" AND anonymous_id = ").bind(p.person.clone());
    b.push(") ORDER BY ts_ms, message_id");
    if dialect == Dialect::ClickHouse {
        b.push(" LIMIT 1 BY message_id");
    }
    b.push(" LIMIT ").bind(p.limit as i64);
    b.finish()
}
