use super::*;
use crate::Dialect;

fn params() -> SessionParams {
    RawSessionParams {
        from: 0.into(),
        to: 86_400_000.into(),
    }
    .validate("shop")
    .unwrap()
}

#[test]
fn duckdb_reads_current_sessions() {
    let sql = build(&params(), Dialect::DuckDb);
    assert!(sql.text.ends_with("FROM sessions WHERE project_id = ? AND event_count > 0 AND start_ms >= ? AND start_ms < ?"), "{}", sql.text);
    assert_eq!(sql.params.len(), 3);
}

#[test]
fn clickhouse_keeps_the_latest_version_per_person_and_day_since_the_last_whole_recompute() {
    let sql = build(&params(), Dialect::ClickHouse);
    assert!(sql.text.contains("ANY LEFT JOIN (SELECT person_id, max(version) AS whole FROM sessions WHERE project_id = 'shop' AND day = -1 GROUP BY person_id) AS wholes USING person_id"), "{}", sql.text);
    assert!(sql.text.contains("WHERE (person_id, d, v) IN (SELECT person_id, day, max(version) FROM sessions WHERE project_id = 'shop' AND day >= 0 GROUP BY person_id, day) AND v >= whole AND c > 0"), "{}", sql.text);
}

#[test]
fn text_times_are_accepted() {
    let p = RawSessionParams {
        from: crate::query::TimeArg::Text("2026-11-01T00:00:00Z".into()),
        to: crate::query::TimeArg::Text("nope".into()),
    }
    .validate("shop")
    .unwrap_err();
    assert_eq!(
        p.to_string(),
        "invalid parameter to: \"nope\" is not Unix milliseconds or an RFC 3339 time"
    );
}
