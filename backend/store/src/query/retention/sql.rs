//! The retention SQL builder.

use super::RetentionParams;
use crate::sql::{bucket_expr, SqlBuilder};
use crate::{Dialect, Sql};

/// Builds the person-period query.
pub fn build(p: &RetentionParams, dialect: Dialect) -> Sql {
    let (w, o) = (p.interval.width_ms(), p.interval.offset_ms());
    let mut b = SqlBuilder::new(dialect);
    b.push("SELECT e.person_id AS person_id, ");
    bucket_expr(&mut b, "e.ts_ms", w, o);
    b.push(" AS period, ");
    b.open_int64().push("max(CASE WHEN e.event = ");
    b.bind(p.cohort_event.clone());
    b.push(" THEN 1 ELSE 0 END)")
        .close_int64()
        .push(" AS did_cohort, ");
    b.open_int64().push("max(CASE WHEN e.event = ");
    b.bind(p.return_event.clone());
    b.push(" THEN 1 ELSE 0 END)")
        .close_int64()
        .push(" AS did_return ");
    b.from_resolved_events(&p.project, &["event", "ts_ms"], |b| {
        b.push(" AND ts_ms >= ").bind(p.interval.bucket(p.from_ms));
        b.push(" AND ts_ms < ")
            .bind(p.to_ms + (p.periods as i64 + 1) * w);
        b.push(" AND event IN ")
            .bind_list([p.cohort_event.clone(), p.return_event.clone()]);
    });
    b.push(" GROUP BY person_id, period ORDER BY person_id, period");
    b.finish()
}
