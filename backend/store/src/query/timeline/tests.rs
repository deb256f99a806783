use super::*;
use crate::Dialect;

fn params() -> TimelineParams {
    RawTimelineParams {
        person: "anon' OR 1=1 --".into(),
        limit: Some(5),
    }
    .validate("shop")
    .unwrap()
}

#[test]
fn person_is_never_in_duckdb_text() {
    let sql = build(&params(), Dialect::DuckDb);
    assert!(!sql.text.contains("OR 1=1"));
    assert!(
        sql.text.ends_with("ORDER BY ts_ms, message_id LIMIT ?"),
        "{}",
        sql.text
    );
}

#[test]
fn clickhouse_keeps_one_row_per_message() {
    let sql = build(&params(), Dialect::ClickHouse);
    assert!(
        sql.text.contains(r"e.person_id = 'anon\' OR 1=1 --'"),
        "{}",
        sql.text
    );
    assert!(
        sql.text
            .ends_with("ORDER BY ts_ms, message_id LIMIT 1 BY message_id LIMIT 5"),
        "{}",
        sql.text
    );
}

#[test]
fn limit_is_bounded() {
    let err = RawTimelineParams {
        person: "u".into(),
        limit: Some(0),
    }
    .validate("shop")
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid parameter limit: between 1 and 10000"
    );
}
