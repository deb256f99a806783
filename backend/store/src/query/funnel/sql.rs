//! The funnel SQL builder.

use super::{FunnelParams, STEP_BITS};
use crate::sql::SqlBuilder;
use crate::{Column, Dialect, Sql};

/// The distinct step event names, sorted: an event's step code is its index here.
pub(super) fn step_names(p: &FunnelParams) -> Vec<String> {
    let mut names = p.steps.clone();
    names.sort();
    names.dedup();
    names
}

/// Builds the step-event query. Each step event is packed as an integer
/// `((ts_ms - from_ms) << STEP_BITS | step code) << 1 | anonymous` (`anonymous` is 1 for an
/// event without a userId), beside its distinct id (the userId, else the anonymousId) and the
/// breakdown value. Only first-step events carry the breakdown value; every other event has `''`.
///
/// * DuckDB groups: a row per distinct id and breakdown value, its integers joined by commas.
/// * ClickHouse does not: a row per step event, in `RowBinary` ([`crate::Column`]), and
///   [`super::run`] gathers each person's events. Grouping a million ids took ClickHouse 18.16
///   2.3 CPU-seconds over 10 M events on this 2-core machine, and the query 1.2-1.5 s; sending
///   the 4.4 M step events as they are scanned takes it 0.85 CPU-seconds, and Rust gathers them
///   on the other core while they arrive.
///
/// There is no identity join: [`super::run`] resolves ids to persons in Rust with
/// [`identity_map`], which moves only the ids that have a mapping (or are mapped to). The join of
/// every anonymous step event to the identity map was a third of the grouped query on ClickHouse
/// 18.16 over 10 M events, and the id the event was sent under needs no lookup at all.
///
/// An integer may repeat: on ClickHouse for the copies of an event that 18.16 keeps until a
/// merge (so the query needs no `FINAL`), on both for two events of one step in the same
/// millisecond. Neither changes a chain, and the accumulator drops the repeats. Nothing is
/// sorted by the engines: the accumulator sorts each person's events.
pub fn build(p: &FunnelParams, dialect: Dialect) -> Sql {
    let names = step_names(p);
    let mut b = SqlBuilder::new(dialect);
    match dialect {
        Dialect::DuckDb => {
            // The key is computed once in an inner query and named: with its bound values written
            // out twice DuckDB 1.5 took twice as long over 10 M events. `string_agg` of the text
            // was 15 % faster than `array_to_string(list(…))`.
            b.push("SELECT distinct_id, breakdown, string_agg(k::VARCHAR, ',') AS steps FROM (");
            b.push("SELECT CASE WHEN user_id <> '' THEN user_id ELSE anonymous_id END AS distinct_id, ");
            breakdown(&mut b, p);
            key(&mut b, p, &names);
            b.push(" AS k ");
            step_events(&mut b, p, &names);
            b.push(") AS keyed GROUP BY distinct_id, breakdown");
        }
        Dialect::ClickHouse => {
            // `distinct_id` is stored (it is in the sorting key).
            b.push("SELECT distinct_id, ");
            breakdown(&mut b, p);
            b.open_int64();
            key(&mut b, p, &names);
            b.close_int64();
            b.push(" AS step ");
            step_events(&mut b, p, &names);
            b.answer_columns(&[Column::Text, Column::Text, Column::Int]);
        }
    }
    b.finish()
}

/// The project's identity rows, `(anonymousId, userId, version)`, which [`super::run`] resolves
/// the ids of [`build`]'s rows through, the latest version of each anonymousId winning.
///
/// Every stored version, not the latest per anonymousId: on ClickHouse 18.16 the `argMax …
/// GROUP BY anonymous_id` took 255 ms of CPU over 417 k identities, and the plain scan 55 ms
/// (DuckDB keeps one row per anonymousId anyway). Picking the latest in Rust costs a sort.
pub fn identity_map(project: &str, dialect: Dialect) -> Sql {
    let mut b = SqlBuilder::new(dialect);
    b.push("SELECT anonymous_id, user_id, ");
    b.int64("version");
    b.push(" AS version FROM identities WHERE project_id = ")
        .bind(project.to_owned());
    b.answer_columns(&[Column::Text, Column::Text, Column::Int]);
    b.finish()
}

/// `<first-step breakdown value or ''> AS breakdown, `
fn breakdown(b: &mut SqlBuilder, p: &FunnelParams) {
    match &p.breakdown {
        Some(prop) => {
            b.push("CASE WHEN event = ").bind(p.steps[0].clone());
            b.push(" THEN ");
            b.json_string_property(prop);
            b.push(" ELSE '' END");
        }
        None => {
            b.push("''");
        }
    }
    b.push(" AS breakdown, ");
}

/// The packed key of a step event.
fn key(b: &mut SqlBuilder, p: &FunnelParams, names: &[String]) {
    b.push("((ts_ms - ").bind(p.from_ms);
    b.push(&format!(") * {} + CASE event", 1 << STEP_BITS));
    for (code, name) in names.iter().enumerate() {
        b.push(" WHEN ").bind(name.clone());
        b.push(&format!(" THEN {code}"));
    }
    b.push(" ELSE 0 END) * 2 + CASE WHEN user_id = '' THEN 1 ELSE 0 END");
}

/// `FROM events WHERE …`: the project's events that can be in a chain.
fn step_events(b: &mut SqlBuilder, p: &FunnelParams, names: &[String]) {
    b.push("FROM events WHERE project_id = ")
        .bind(p.project.clone());
    b.push(" AND ts_ms >= ").bind(p.from_ms);
    b.push(" AND ts_ms < ").bind(p.to_ms + p.window_ms);
    b.push(" AND event IN ").bind_list(names.iter().cloned());
}
