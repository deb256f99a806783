use super::*;
use crate::Dialect;

fn params(breakdown: Option<&str>) -> TrendsParams {
    RawTrendsParams {
        events: vec!["Order Completed".into(), "it's".into()],
        from: 0.into(),
        to: 86_400_000.into(),
        interval: "hour".into(),
        breakdown: breakdown.map(Into::into),
    }
    .validate("shop")
    .unwrap()
}

#[test]
fn duckdb_sql_binds_every_value() {
    let sql = build(&params(Some("plan")), Dialect::DuckDb);
    assert_eq!(
        sql.text,
        "SELECT e.event AS event, ((e.ts_ms // 3600000) * 3600000) AS bucket, \
         regexp_extract(properties, ?, 1) AS breakdown, \
         CAST(count(DISTINCT e.message_id) AS BIGINT) AS events, CAST(count(DISTINCT e.person_id) AS BIGINT) AS persons \
         FROM (SELECT ev.event, ev.ts_ms, ev.message_id, ev.properties, CASE WHEN ev.user_id <> '' THEN ev.user_id \
         WHEN idm.user_id IS NOT NULL THEN idm.user_id ELSE ev.anonymous_id END AS person_id \
         FROM (SELECT event, ts_ms, message_id, properties, anonymous_id, user_id FROM events \
         WHERE project_id = ? AND ts_ms >= ? AND ts_ms < ? AND event IN (?, ?)) AS ev \
         LEFT JOIN identities idm ON idm.project_id = ? AND idm.anonymous_id = ev.anonymous_id) AS e \
         GROUP BY event, bucket, breakdown ORDER BY event, bucket, breakdown"
    );
    assert_eq!(sql.params.len(), 7);
    assert!(!sql.text.contains("it's"));
}

#[test]
fn clickhouse_sql_escapes_literals() {
    let sql = build(&params(None), Dialect::ClickHouse);
    assert!(
        sql.text
            .contains("(intDiv(e.ts_ms, 3600000) * 3600000) AS bucket"),
        "{}",
        sql.text
    );
    assert!(
        sql.text
            .contains(r"AND event IN ('Order Completed', 'it\'s') AND user_id = '') AS ev"),
        "{}",
        sql.text
    );
    assert!(
        sql.text
            .contains("FROM events WHERE project_id = 'shop' AND ts_ms >= 0"),
        "{}",
        sql.text
    );
    assert!(sql.params.is_empty());
}

#[test]
fn weeks_are_monday_aligned_in_sql() {
    let mut p = params(None);
    p.interval = crate::query::Interval::Week;
    let sql = build(&p, Dialect::ClickHouse);
    assert!(
        sql.text
            .contains("(intDiv((e.ts_ms + 259200000), 604800000) * 604800000 - 259200000)"),
        "{}",
        sql.text
    );
}

#[test]
fn invalid_params_are_named() {
    let err = RawTrendsParams {
        from: 10.into(),
        to: 5.into(),
        interval: "day".into(),
        ..Default::default()
    }
    .validate("shop")
    .unwrap_err();
    assert_eq!(err.to_string(), "invalid parameter to: must be after from");
    let err = RawTrendsParams {
        from: 0.into(),
        to: 5.into(),
        interval: "day".into(),
        breakdown: Some(String::new()),
        ..Default::default()
    }
    .validate("shop")
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid parameter breakdown: must not be empty"
    );
}
