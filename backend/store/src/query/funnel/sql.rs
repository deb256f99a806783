//! The funnel SQL builder.

use super::{FunnelParams, STEP_BITS};
use crate::sql::SqlBuilder;
use crate::{Dialect, Sql};

/// The distinct step event names, sorted: an event's step code is its index here.
pub(super) fn step_names(p: &FunnelParams) -> Vec<String> {
    let mut names = p.steps.clone();
    names.sort();
    names.dedup();
    names
}

/// Builds the per-person query: one row per person and breakdown value, with the person's step
/// events packed as sorted integers `(ts_ms - from_ms) << STEP_BITS | step code`, joined by commas.
/// An integer may repeat: on ClickHouse for the copies of an event that 18.16 keeps until a merge,
/// on both for two events of one step in the same millisecond. Neither changes a chain, and
/// `from_rows` drops the repeats. Only first-step events carry the breakdown value; every other
/// event is in the row whose value is `''`.
///
/// Packing keeps the answer to a few bytes per event and sorts each person's events by time (then
/// code) inside the engine, in the same way on both dialects, so the rows compare equal across
/// stores (as a set: the rows come in any order).
pub fn build(p: &FunnelParams, dialect: Dialect) -> Sql {
    let names = step_names(p);
    let mut b = SqlBuilder::new(dialect);
    match dialect {
        Dialect::DuckDb => {
            // No DISTINCT: DuckDB's primary key already keeps one copy of each event, and the
            // DISTINCT aggregate cost a third of the query. What it would remove (two events of
            // one step in the same millisecond) changes no chain; `from_rows` drops the repeat.
            // The key is computed once in an inner query and named: with its bound values written
            // out twice (`list(<key> ORDER BY <key>)`) DuckDB 1.5 took 1.6 s instead of 0.7 s over
            // 10 M events.
            b.push("SELECT person_id, breakdown, array_to_string(list(k ORDER BY k), ',') AS steps FROM (");
            person_breakdown(&mut b, p);
            key(&mut b, p, &names);
            b.push(" AS k ");
            resolved_step_events(&mut b, p, &names);
            b.push(") AS keyed");
        }
        Dialect::ClickHouse => {
            // groupArray, not groupUniqArray: the copies of an event that 18.16 keeps until a
            // merge pack to the same integer, which `from_rows` drops (15 % of the query). The
            // key stays inline: an inner query, as on DuckDB, cost 18.16 0.2 s more.
            person_breakdown(&mut b, p);
            b.push("arrayStringConcat(arrayMap(x -> toString(x), arraySort(groupArray(");
            key(&mut b, p, &names);
            b.push("))), ',') AS steps ");
            resolved_step_events(&mut b, p, &names);
        }
    }
    // No ORDER BY: sorting a million persons' rows was 40 % of the query on ClickHouse 18.16, and
    // `from_rows` needs a person's rows together only when there is a breakdown.
    b.push(" GROUP BY person_id, breakdown");
    b.finish()
}

/// `SELECT e.person_id AS person_id, <first-step breakdown value or ''> AS breakdown, `
fn person_breakdown(b: &mut SqlBuilder, p: &FunnelParams) {
    b.push("SELECT e.person_id AS person_id, ");
    match &p.breakdown {
        Some(prop) => {
            b.push("CASE WHEN e.event = ").bind(p.steps[0].clone());
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

/// The packed key of a step event: `(ts_ms - from_ms) << STEP_BITS | step code`.
fn key(b: &mut SqlBuilder, p: &FunnelParams, names: &[String]) {
    b.push("(e.ts_ms - ").bind(p.from_ms);
    b.push(&format!(") * {} + CASE e.event", 1 << STEP_BITS));
    for (code, name) in names.iter().enumerate() {
        b.push(" WHEN ").bind(name.clone());
        b.push(&format!(" THEN {code}"));
    }
    b.push(" ELSE 0 END");
}

/// `FROM (…) AS e`: the step events that can be in a chain, resolved to persons.
fn resolved_step_events(b: &mut SqlBuilder, p: &FunnelParams, names: &[String]) {
    let mut columns = vec!["event", "ts_ms"];
    if p.breakdown.is_some() {
        columns.push("properties");
    }
    b.from_resolved_events(&p.project, &columns, |b| {
        b.push(" AND ts_ms >= ").bind(p.from_ms);
        b.push(" AND ts_ms < ").bind(p.to_ms + p.window_ms);
        b.push(" AND event IN ").bind_list(names.iter().cloned());
    });
}
