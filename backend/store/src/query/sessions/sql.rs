//! The session-stats SQL builder.

use super::SessionParams;
use crate::sql::SqlBuilder;
use crate::{Dialect, Sql};

/// Builds the session-stats query.
pub fn build(p: &SessionParams, dialect: Dialect) -> Sql {
    let mut b = SqlBuilder::new(dialect);
    match dialect {
        Dialect::DuckDb => {
            b.push(
                "SELECT CAST(count(*) AS BIGINT), CAST(coalesce(sum(end_ms - start_ms), 0) AS BIGINT), \
                 CAST(coalesce(sum(CASE WHEN event_count = 1 THEN 1 ELSE 0 END), 0) AS BIGINT) \
                 FROM sessions WHERE project_id = ",
            )
            .bind(p.project.clone());
            b.push(" AND event_count > 0 AND start_ms >= ")
                .bind(p.from_ms);
            b.push(" AND start_ms < ").bind(p.to_ms);
        }
        Dialect::ClickHouse => {
            // Per person and start day, the rows of the latest version, if at least as new as
            // the person's latest whole-history mark (see `crate::clickhouse`).
            b.push(
                "SELECT toInt64(count()), toInt64(sum(e - s)), toInt64(sum(if(c = 1, 1, 0))) FROM \
                 (SELECT person_id, session_id, argMax(day, version) AS d, argMax(start_ms, version) AS s, \
                 argMax(end_ms, version) AS e, argMax(event_count, version) AS c, max(version) AS v \
                 FROM sessions WHERE project_id = ",
            )
            .bind(p.project.clone());
            // Current ClickHouse wants the joined subqueries named; 18.16 takes the names too.
            b.push(" GROUP BY person_id, session_id) AS latest ANY LEFT JOIN (SELECT person_id, max(version) AS whole FROM sessions WHERE project_id = ")
                .bind(p.project.clone());
            b.push(" AND day = -1 GROUP BY person_id) AS wholes USING person_id WHERE (person_id, d, v) IN (SELECT person_id, day, max(version) FROM sessions WHERE project_id = ")
                .bind(p.project.clone());
            b.push(" AND day >= 0 GROUP BY person_id, day) AND v >= whole AND c > 0 AND s >= ")
                .bind(p.from_ms);
            b.push(" AND s < ").bind(p.to_ms);
        }
    }
    b.finish()
}
