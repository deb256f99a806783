use super::*;
use crate::Dialect;

fn params(window_seconds: i64) -> FunnelParams {
    RawFunnelParams {
        steps: vec!["View".into(), "Cart".into(), "Buy".into()],
        from: 0.into(),
        to: 86_400_000.into(),
        window_seconds: Some(window_seconds),
        breakdown: Some("plan".into()),
    }
    .validate("shop")
    .unwrap()
}

fn ev(person: &str, ts_ms: i64, event: &str, breakdown: &str) -> StepEvent {
    StepEvent {
        person: person.into(),
        ts_ms,
        event: event.into(),
        breakdown: breakdown.into(),
    }
}

#[test]
fn counts_conversion_dropoff_and_median() {
    let p = params(3600);
    let events = vec![
        ev("a", 1000, "View", "pro"),
        ev("a", 2000, "Cart", "pro"),
        ev("a", 5000, "Buy", "pro"),
        ev("b", 1000, "View", "free"),
        ev("b", 4000, "Cart", "free"),
        ev("c", 1000, "View", "free"),
        ev("c", 999_999_999, "Cart", "free"), // outside the window
    ];
    let f = compute(&p, &events);
    let counts: Vec<i64> = f.total.iter().map(|s| s.count).collect();
    assert_eq!(counts, vec![3, 2, 1]);
    assert_eq!(f.total[1].dropoff, 1);
    assert_eq!(f.total[1].median_ms_from_previous, Some(1000));
    assert_eq!(f.total[2].median_ms_from_previous, Some(3000));
    assert!((f.total[2].conversion - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(f.breakdowns.len(), 2);
    assert_eq!(f.breakdowns[0].breakdown, "free");
    assert_eq!(f.breakdowns[0].steps[1].count, 1);
}

#[test]
fn steps_out_of_order_do_not_count() {
    let p = params(3600);
    let f = compute(
        &p,
        &[
            ev("a", 1000, "Cart", ""),
            ev("a", 2000, "View", ""),
            ev("a", 3000, "Buy", ""),
        ],
    );
    assert_eq!(
        f.total.iter().map(|s| s.count).collect::<Vec<_>>(),
        vec![1, 0, 0]
    );
}

#[test]
fn a_later_start_can_complete_the_funnel() {
    let p = params(10);
    let f = compute(
        &p,
        &[
            ev("a", 0, "View", ""),
            ev("a", 60_000, "View", ""),
            ev("a", 61_000, "Cart", ""),
            ev("a", 62_000, "Buy", ""),
        ],
    );
    assert_eq!(f.total[2].count, 1);
}

#[test]
fn sql_selects_only_step_events_before_the_join() {
    let sql = build(&params(60), Dialect::ClickHouse);
    // The filters sit on both events scans (partition and key pruning), not after the join,
    // and only the anonymous events are joined to the identity map.
    assert!(
        sql.text.contains(
            "FROM events WHERE project_id = 'shop' AND ts_ms >= 0 AND ts_ms < 86460000 \
             AND event IN ('Buy', 'Cart', 'View') AND user_id != '' UNION ALL"
        ),
        "{}",
        sql.text
    );
    assert!(
        sql.text.contains(
            "FROM events WHERE project_id = 'shop' AND ts_ms >= 0 AND ts_ms < 86460000 \
             AND event IN ('Buy', 'Cart', 'View') AND user_id = '') AS ev ANY LEFT JOIN"
        ),
        "{}",
        sql.text
    );
    assert!(
        sql.text.contains(
            "CASE WHEN e.event = 'View' THEN visitParamExtractString(properties, 'plan') ELSE '' END AS breakdown"
        ),
        "{}",
        sql.text
    );
    // Step codes are the indexes of the sorted distinct names, packed under the time.
    assert!(
        sql.text.contains(
            "arraySort(groupArray((e.ts_ms - 0) * 16 + CASE e.event WHEN 'Buy' THEN 0 WHEN 'Cart' THEN 1 WHEN 'View' THEN 2 ELSE 0 END))"
        ),
        "{}",
        sql.text
    );
    let sql = build(&params(60), Dialect::DuckDb);
    assert!(
        sql.text.contains("array_to_string(list(k ORDER BY k), ',') AS steps FROM (SELECT e.person_id AS person_id, "),
        "{}",
        sql.text
    );
    // DuckDB: the key is computed once, under a name (see `build`).
    assert!(sql.text.contains(" ELSE 0 END AS k FROM ("), "{}", sql.text);
    assert!(
        sql.text.ends_with("GROUP BY person_id, breakdown"),
        "{}",
        sql.text
    );
    assert!(!sql.text.contains("View"), "values are bound: {}", sql.text);
}

#[test]
fn packed_rows_give_the_same_funnel_as_step_events() {
    use crate::Cell;
    let p = params(3600);
    // Codes: Buy 0, Cart 1, View 2. Person a: View(pro) 1000, Cart 2000, Buy 5000; the View's
    // breakdown row is separate from the row of its other steps.
    let key = |ts: i64, code: i64| ((ts << 4) | code).to_string();
    let rows = vec![
        vec![
            Cell::from("a"),
            Cell::from(""),
            Cell::from(format!("{},{}", key(2000, 1), key(5000, 0))),
        ],
        vec![Cell::from("a"), Cell::from("pro"), Cell::from(key(1000, 2))],
        vec![
            Cell::from("b"),
            Cell::from("free"),
            Cell::from(key(1000, 2)),
        ],
        vec![Cell::from("b"), Cell::from(""), Cell::from(key(4000, 1))],
    ];
    let packed = from_rows(&p, &rows).unwrap();
    let events = vec![
        ev("a", 1000, "View", "pro"),
        ev("a", 2000, "Cart", ""),
        ev("a", 5000, "Buy", ""),
        ev("b", 1000, "View", "free"),
        ev("b", 4000, "Cart", ""),
    ];
    assert_eq!(packed, compute(&p, &events));
    assert_eq!(
        packed.total.iter().map(|s| s.count).collect::<Vec<_>>(),
        vec![2, 2, 1]
    );
    // The query has no ORDER BY: a person's rows may come apart, and the answer is the same.
    let scattered = vec![
        rows[0].clone(),
        rows[2].clone(),
        rows[1].clone(),
        rows[3].clone(),
    ];
    assert_eq!(from_rows(&p, &scattered).unwrap(), packed);
    let err = from_rows(
        &p,
        &[vec![Cell::from("a"), Cell::from(""), Cell::from("x")]],
    )
    .unwrap_err();
    assert!(err.to_string().contains("not an integer"), "{err}");
}

#[test]
fn too_few_steps_is_a_clear_error() {
    let err = RawFunnelParams {
        steps: vec!["View".into()],
        from: 0.into(),
        to: 1.into(),
        ..Default::default()
    }
    .validate("shop")
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid parameter steps: between 2 and 10 event names"
    );
}
