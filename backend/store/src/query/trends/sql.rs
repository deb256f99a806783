//! The trends SQL builder.

use super::TrendsParams;
use crate::sql::{bucket_expr, SqlBuilder};
use crate::{Dialect, Sql};

/// Builds the trends query.
pub fn build(p: &TrendsParams, dialect: Dialect) -> Sql {
    let mut b = SqlBuilder::new(dialect);
    b.push("SELECT e.event AS event, ");
    bucket_expr(
        &mut b,
        "e.ts_ms",
        p.interval.width_ms(),
        p.interval.offset_ms(),
    );
    b.push(" AS bucket, ");
    match &p.breakdown {
        Some(prop) => b.json_string_property(prop),
        None => b.push("''"),
    };
    b.push(" AS breakdown, ");
    b.count_events();
    b.push(" AS events, ");
    b.count_persons();
    b.push(" AS persons ");
    let mut columns = vec!["event", "ts_ms", "message_id"];
    if p.breakdown.is_some() {
        columns.push("properties");
    }
    b.from_resolved_events(&p.project, &columns, |b| {
        b.push(" AND ts_ms >= ").bind(p.from_ms);
        b.push(" AND ts_ms < ").bind(p.to_ms);
        if !p.events.is_empty() {
            b.push(" AND event IN ").bind_list(p.events.iter().cloned());
        }
    });
    b.push(" GROUP BY event, bucket, breakdown ORDER BY event, bucket, breakdown");
    b.finish()
}
