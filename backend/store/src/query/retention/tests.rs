use super::*;
use crate::Dialect;

const DAY: i64 = 86_400_000;

fn params() -> RetentionParams {
    RawRetentionParams {
        cohort_event: "Signed Up".into(),
        return_event: "Order Completed".into(),
        from: 0.into(),
        to: (3 * DAY).into(),
        interval: Some("day".into()),
        periods: Some(2),
    }
    .validate("shop")
    .unwrap()
}

fn pp(person: &str, day: i64, cohort: bool, returned: bool) -> PersonPeriod {
    PersonPeriod {
        person: person.into(),
        period_ms: day * DAY,
        cohort,
        returned,
    }
}

#[test]
fn grid_counts_returns_per_period() {
    let rows = vec![
        pp("a", 0, true, false),
        pp("a", 1, false, true),
        pp("a", 2, false, true),
        pp("b", 0, true, true),
        pp("c", 1, true, false),
        pp("c", 3, false, true),
        pp("d", 2, false, true), // never in a cohort
    ];
    let r = compute(&params(), &rows);
    assert_eq!(r.cohorts.len(), 3);
    assert_eq!(
        (r.cohorts[0].size, r.cohorts[0].returned.clone()),
        (2, vec![1, 1, 1])
    );
    assert_eq!(
        (r.cohorts[1].size, r.cohorts[1].returned.clone()),
        (1, vec![0, 0, 1])
    );
    assert_eq!(r.cohorts[2].size, 0);
}

#[test]
fn sql_binds_both_events() {
    let sql = build(&params(), Dialect::DuckDb);
    assert!(sql.text.starts_with("SELECT e.person_id AS person_id, ((e.ts_ms // 86400000) * 86400000) AS period, CAST(max(CASE WHEN e.event = ? THEN 1 ELSE 0 END) AS BIGINT) AS did_cohort"), "{}", sql.text);
    let sql = build(&params(), Dialect::ClickHouse);
    assert!(
        sql.text.contains(
            "toInt64(max(CASE WHEN e.event = 'Order Completed' THEN 1 ELSE 0 END)) AS did_return"
        ),
        "{}",
        sql.text
    );
    assert!(
        sql.text.contains("AND ts_ms < 518400000 AND event IN"),
        "{}",
        sql.text
    );
}

#[test]
fn hourly_retention_is_refused() {
    let mut raw = RawRetentionParams {
        cohort_event: "a".into(),
        return_event: "b".into(),
        from: 0.into(),
        to: 1.into(),
        ..Default::default()
    };
    raw.interval = Some("hour".into());
    assert_eq!(
        raw.validate("shop").unwrap_err().to_string(),
        "invalid parameter interval: \"hour\" is not one of day, week"
    );
}
