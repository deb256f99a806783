use super::*;
use crate::{Column, Dialect};

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
    assert_eq!(counts(&f), vec![1, 0, 0]);
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
fn sql_reads_step_events_under_the_id_they_were_sent_under() {
    let sql = build(&params(60), Dialect::ClickHouse);
    // The filters sit on the scan (partition and key pruning), there is no identity join, and
    // ClickHouse sends every step event as it scans it: no grouping, no sorting.
    assert!(
        sql.text.ends_with(
            "FROM events WHERE project_id = 'shop' AND ts_ms >= 0 AND ts_ms < 86460000 \
             AND event IN ('Buy', 'Cart', 'View')"
        ),
        "{}",
        sql.text
    );
    assert!(!sql.text.contains("JOIN"), "{}", sql.text);
    assert!(
        sql.text.contains(
            "CASE WHEN event = 'View' THEN visitParamExtractString(properties, 'plan') ELSE '' END AS breakdown"
        ),
        "{}",
        sql.text
    );
    // Step codes are the indexes of the sorted distinct names, packed under the time and over
    // the anonymous bit, and the key is an Int64 whatever the literals' types, as the declared
    // RowBinary column says.
    assert!(
        sql.text.contains(
            "toInt64(((ts_ms - 0) * 16 + CASE event WHEN 'Buy' THEN 0 WHEN 'Cart' THEN 1 WHEN 'View' THEN 2 \
             ELSE 0 END) * 2 + CASE WHEN user_id = '' THEN 1 ELSE 0 END) AS step"
        ),
        "{}",
        sql.text
    );
    assert_eq!(
        sql.columns.as_deref(),
        Some(&[Column::Text, Column::Text, Column::Int][..])
    );
    let sql = build(&params(60), Dialect::DuckDb);
    assert!(
        sql.text.starts_with(
            "SELECT distinct_id, breakdown, string_agg(k::VARCHAR, ',') AS steps FROM (SELECT \
             CASE WHEN user_id <> '' THEN user_id ELSE anonymous_id END AS distinct_id, "
        ),
        "{}",
        sql.text
    );
    // DuckDB: the key is computed once, under a name (see `build`).
    assert!(
        sql.text.contains(" ELSE 0 END AS k FROM events"),
        "{}",
        sql.text
    );
    assert!(
        sql.text.ends_with("GROUP BY distinct_id, breakdown"),
        "{}",
        sql.text
    );
    assert_eq!(sql.columns, None, "DuckDB answers in its own types");
    assert!(!sql.text.contains("View"), "values are bound: {}", sql.text);
    let map = identity_map("shop", Dialect::ClickHouse);
    assert_eq!(
        map.text,
        "SELECT anonymous_id, user_id, toInt64(version) AS version FROM identities \
         WHERE project_id = 'shop'"
    );
    assert_eq!(
        map.columns.as_deref(),
        Some(&[Column::Text, Column::Text, Column::Int][..])
    );
}

/// Persons per step, in all.
fn counts(f: &Funnel) -> Vec<i64> {
    f.total.iter().map(|s| s.count).collect()
}

/// A step event as [`build`]'s query packs it.
fn pack(ts_ms: i64, code: i64, anonymous: bool) -> String {
    ((((ts_ms << STEP_BITS) | code) << 1) | i64::from(anonymous)).to_string()
}

/// The funnel from the rows of the [`identity_map`] and [`build`] queries, in the order given.
fn from_rows(
    p: &FunnelParams,
    identities: &[[&str; 2]],
    rows: &[[String; 3]],
) -> crate::Result<Funnel> {
    use crate::CellRef;
    let text = |s: &str| CellRef::Str(s.to_owned().into());
    let mut map = persons::IdentityRows::default();
    for [anonymous, user] in identities {
        map.row(&[text(anonymous), text(user), CellRef::Int(1)])?;
    }
    let mut persons = persons::PersonRows::new(p, map.finish());
    // Batches of two rows: a person's rows are spread over several batches.
    let mut batch = persons::RowBatch::new(persons.ids());
    for row in rows {
        let cells: Vec<CellRef> = row.iter().map(|c| text(c)).collect();
        batch.push(&cells)?;
        if batch.len() == 2 {
            persons.resolve(&mut batch);
        }
    }
    persons.resolve(&mut batch);
    Ok(persons.finish())
}

/// Like [`from_rows`], with each row sent as ClickHouse sends it: a row per step event, its key
/// an integer cell. `order` reorders the event rows.
fn from_event_rows(
    p: &FunnelParams,
    identities: &[[&str; 2]],
    rows: &[[String; 3]],
    order: impl FnOnce(&mut Vec<[crate::CellRef<'static>; 3]>),
) -> crate::Result<Funnel> {
    use crate::CellRef;
    let text = |s: &str| CellRef::Str(s.to_owned().into());
    let mut events = Vec::new();
    for [id, breakdown, packed] in rows {
        for key in packed.split(',') {
            let key = CellRef::Int(key.parse().expect("a packed key"));
            events.push([text(id), text(breakdown), key]);
        }
    }
    order(&mut events);
    let mut map = persons::IdentityRows::default();
    for [anonymous, user] in identities {
        map.row(&[text(anonymous), text(user), CellRef::Int(1)])?;
    }
    let mut persons = persons::PersonRows::new(p, map.finish());
    let mut batch = persons::RowBatch::new(persons.ids());
    for event in &events {
        batch.push(event)?;
        if batch.len() == 3 {
            persons.resolve(&mut batch);
        }
    }
    persons.resolve(&mut batch);
    Ok(persons.finish())
}

fn row(id: &str, breakdown: &str, keys: &[String]) -> [String; 3] {
    [id.into(), breakdown.into(), keys.join(",")]
}

#[test]
fn packed_rows_give_the_same_funnel_as_step_events() {
    let p = params(3600);
    // Codes: Buy 0, Cart 1, View 2. Person a: View(pro) 1000, Cart 2000, Buy 5000; the View's
    // breakdown row is separate from the row of its other steps.
    let rows = vec![
        row("a", "", &[pack(5000, 0, false), pack(2000, 1, false)]),
        row("a", "pro", &[pack(1000, 2, false)]),
        row("b", "free", &[pack(1000, 2, true)]),
        row("b", "", &[pack(4000, 1, true)]),
    ];
    let packed = from_rows(&p, &[], &rows).unwrap();
    let events = vec![
        ev("a", 1000, "View", "pro"),
        ev("a", 2000, "Cart", ""),
        ev("a", 5000, "Buy", ""),
        ev("b", 1000, "View", "free"),
        ev("b", 4000, "Cart", ""),
    ];
    assert_eq!(packed, compute(&p, &events));
    assert_eq!(counts(&packed), vec![2, 2, 1]);
    // The query has no ORDER BY: a person's rows may come apart, and the answer is the same.
    let scattered = [&rows[0], &rows[2], &rows[1], &rows[3]].map(Clone::clone);
    assert_eq!(from_rows(&p, &[], &scattered).unwrap(), packed);
    let err = from_rows(&p, &[], &[row("a", "", &["x".into()])]).unwrap_err();
    assert!(
        err.to_string().contains("not a non-negative integer"),
        "{err}"
    );
    // A row per step event, with its breakdown value on the first step's row only.
    assert_eq!(from_event_rows(&p, &[], &rows, |_| ()).unwrap(), packed);
    let err = from_event_rows(&p, &[], &[row("a", "", &["-3".into()])], |_| ()).unwrap_err();
    assert!(
        err.to_string()
            .contains("a funnel step key is not a non-negative integer: -3"),
        "{err}"
    );
}

#[test]
fn anonymous_ids_are_resolved_to_the_users_they_map_to() {
    let mut p = params(3600);
    p.breakdown = None;
    // anon-1 browsed (View) before logging in as u; u added to cart and bought under the userId;
    // anon-2, also u's, bought again. anon-3 is mapped to nobody with events and only viewed.
    // "anon-9" is also spelled as a userId: its anonymous event is mapped to u, its userId event
    // is its own.
    let identities = [
        ["anon-1", "u"],
        ["anon-2", "u"],
        ["anon-3", "ghost"],
        ["anon-9", "u"],
    ];
    let rows = vec![
        row("u", "", &[pack(2000, 1, false), pack(3000, 0, false)]),
        row("anon-1", "", &[pack(1000, 2, true)]),
        row("anon-2", "", &[pack(3500, 0, true)]),
        row("anon-3", "", &[pack(1000, 2, true)]),
        row("anon-9", "", &[pack(500, 2, false), pack(9000, 1, true)]),
        row("solo", "", &[pack(100, 2, true), pack(200, 1, true)]),
    ];
    let got = from_rows(&p, &identities, &rows).unwrap();
    let events = vec![
        ev("anon-3", 1000, "View", ""),
        ev("anon-9", 500, "View", ""),
        ev("solo", 100, "View", ""),
        ev("solo", 200, "Cart", ""),
        ev("u", 1000, "View", ""),
        ev("u", 2000, "Cart", ""),
        ev("u", 3000, "Buy", ""),
        ev("u", 3500, "Buy", ""),
        ev("u", 9000, "Cart", ""),
    ];
    assert_eq!(got, compute(&p, &events));
    // u (with anon-1's View), anon-3, the userId anon-9 and solo entered; u and solo went on.
    assert_eq!(counts(&got), vec![4, 2, 1]);
    // Without the map, u has no View and never enters, and anon-9 keeps its Cart.
    let unmapped = from_rows(&p, &[], &rows).unwrap();
    assert_eq!(counts(&unmapped), vec![4, 2, 0]);
    // The rows' order changes nothing.
    let mut reversed = rows.clone();
    reversed.reverse();
    assert_eq!(from_rows(&p, &identities, &reversed).unwrap(), got);
    // Nor does a row per step event, as ClickHouse sends them, in any order: kept, reversed,
    // or with each id's events apart.
    assert_eq!(
        from_event_rows(&p, &identities, &rows, |_| ()).unwrap(),
        got
    );
    assert_eq!(
        from_event_rows(&p, &identities, &rows, |e| e.reverse()).unwrap(),
        got
    );
    let interleaved = |e: &mut Vec<_>| {
        let (odd, even): (Vec<_>, Vec<_>) = e.drain(..).enumerate().partition(|(i, _)| i % 2 == 1);
        e.extend(even.into_iter().chain(odd).map(|(_, cells)| cells));
    };
    assert_eq!(
        from_event_rows(&p, &identities, &rows, interleaved).unwrap(),
        got
    );
    assert_eq!(
        counts(&from_event_rows(&p, &[], &rows, |_| ()).unwrap()),
        vec![4, 2, 0]
    );
}

#[test]
fn a_mapped_persons_breakdown_is_that_of_the_first_step_event_of_its_chain() {
    let p = params(3600);
    let identities = [["anon-1", "u"]];
    let rows = vec![
        row("anon-1", "free", &[pack(1000, 2, true)]),
        row("u", "pro", &[pack(5000, 2, false)]),
        row("u", "", &[pack(1500, 1, false), pack(2000, 0, false)]),
    ];
    let got = from_rows(&p, &identities, &rows).unwrap();
    let events = vec![
        ev("u", 1000, "View", "free"),
        ev("u", 1500, "Cart", ""),
        ev("u", 2000, "Buy", ""),
        ev("u", 5000, "View", "pro"),
    ];
    assert_eq!(got, compute(&p, &events));
    assert_eq!(got.breakdowns.len(), 1);
    assert_eq!(got.breakdowns[0].breakdown, "free");
    assert_eq!(got.breakdowns[0].steps[2].count, 1);
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

#[test]
fn the_latest_identity_row_of_an_anonymous_id_wins_in_any_order() {
    use crate::CellRef;
    let mut p = params(3600);
    p.breakdown = None;
    let text = |s: &str| CellRef::Str(s.to_owned().into());
    // anon-1 was mapped to old (version 1), then to u (version 3); anon-2 to u, then to nobody.
    let rows = [
        ("anon-1", "u", 3),
        ("anon-2", "", 4),
        ("anon-1", "old", 1),
        ("anon-2", "u", 2),
    ];
    let events = vec![
        row("anon-1", "", &[pack(1000, 2, true)]),
        row("u", "", &[pack(2000, 1, false)]),
        row("anon-2", "", &[pack(3000, 0, true)]),
    ];
    for order in [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]] {
        let mut map = persons::IdentityRows::default();
        for i in order {
            let (anonymous, user, version) = rows[i];
            map.row(&[text(anonymous), text(user), CellRef::Int(version)])
                .unwrap();
        }
        let mut persons = persons::PersonRows::new(&p, map.finish());
        let mut batch = persons::RowBatch::new(persons.ids());
        for r in &events {
            let cells: Vec<CellRef> = r.iter().map(|c| text(c)).collect();
            batch.push(&cells).unwrap();
        }
        persons.resolve(&mut batch);
        // u: View (anon-1's) then Cart; anon-2 is its own person with only a Buy.
        assert_eq!(counts(&persons.finish()), vec![1, 1, 0], "order {order:?}");
    }
    let err = persons::IdentityRows::default()
        .row(&[text("a"), text("u")])
        .unwrap_err();
    assert!(err.to_string().contains("not 3"), "{err}");
}
