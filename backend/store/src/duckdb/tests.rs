use super::*;
use crate::conformance::{self, Dataset, PROJECT};
use crate::query::{funnel, retention, sessions, timeline, trends};

#[test]
fn migrations_are_recorded_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.duckdb");
    drop(DuckStore::open(&path).unwrap());
    let store = DuckStore::open(&path).unwrap();
    assert_eq!(store.applied_migrations().unwrap(), vec![1]);
}

#[test]
fn redelivered_events_are_stored_once() {
    let store = DuckStore::open_in_memory().unwrap();
    let e = EventRow::track("p", "m1", "A", "a1", "", 1000);
    assert_eq!(store.insert_events(&[e.clone(), e.clone()]).unwrap(), 1);
    assert_eq!(store.insert_events(&[e]).unwrap(), 0);
}

#[test]
fn identity_versions_only_move_forward() {
    let store = DuckStore::open_in_memory().unwrap();
    let id = |user: &str, version| IdentityRow {
        project_id: "p".into(),
        anonymous_id: "a".into(),
        user_id: user.into(),
        version,
    };
    store.upsert_identities(&[id("u2", 2)]).unwrap();
    store.upsert_identities(&[id("u1", 1)]).unwrap();
    assert_eq!(store.identities().unwrap(), vec![id("u2", 2)]);
}

#[test]
fn anonymous_events_are_attributed_after_identify() {
    let store = DuckStore::open_in_memory().unwrap();
    store
        .insert_events(&[
            EventRow::track("p", "m1", "View", "a1", "", 1000),
            EventRow::track("p", "m2", "Buy", "a1", "u1", 2000),
        ])
        .unwrap();
    let p = trends::RawTrendsParams {
        from: 0.into(),
        to: 3_600_000.into(),
        interval: "hour".into(),
        ..Default::default()
    }
    .validate("p")
    .unwrap();
    let before: i64 = trends::run(&store, &p)
        .unwrap()
        .series
        .iter()
        .map(|s| s.persons)
        .sum();
    assert_eq!(before, 2); // a1 and u1 look like two people
    store
        .upsert_identities(&[IdentityRow {
            project_id: "p".into(),
            anonymous_id: "a1".into(),
            user_id: "u1".into(),
            version: 1,
        }])
        .unwrap();
    let f = funnel::RawFunnelParams {
        steps: vec!["View".into(), "Buy".into()],
        from: 0.into(),
        to: 3_600_000.into(),
        ..Default::default()
    }
    .validate("p")
    .unwrap();
    assert_eq!(funnel::run(&store, &f).unwrap().total[1].count, 1);
    let t = timeline::RawTimelineParams {
        person: "a1".into(),
        limit: None,
    }
    .validate("p")
    .unwrap();
    assert_eq!(timeline::run(&store, &t).unwrap().events.len(), 2);
}

#[test]
fn dead_letters_list_show_and_replay() {
    let store = DuckStore::open_in_memory().unwrap();
    let dl = DeadLetterRow {
        id: "dl-1".into(),
        project_id: "p".into(),
        received_ms: 5,
        cause: "invalid".into(),
        reason: "event: required".into(),
        payload: "{}".into(),
        replayed_ms: 0,
    };
    store
        .insert_dead_letters(&[dl.clone(), dl.clone()])
        .unwrap();
    assert_eq!(store.dead_letters(10, false).unwrap(), vec![dl.clone()]);
    store.mark_replayed("dl-1", 9).unwrap();
    assert!(store.dead_letters(10, false).unwrap().is_empty());
    assert_eq!(store.dead_letter("dl-1").unwrap().unwrap().replayed_ms, 9);
}

#[test]
fn conformance_dataset_answers_are_exact() {
    let store = DuckStore::open_in_memory().unwrap();
    let data = Dataset::generate(60, 7);
    data.load(&store).unwrap();
    let unique: std::collections::HashSet<&str> =
        data.events.iter().map(|e| e.message_id.as_str()).collect();
    let p = trends::RawTrendsParams {
        from: conformance::BASE_MS.into(),
        to: (conformance::BASE_MS + 14 * 86_400_000).into(),
        interval: "week".into(),
        ..Default::default()
    }
    .validate(PROJECT)
    .unwrap();
    let total: i64 = trends::run(&store, &p)
        .unwrap()
        .series
        .iter()
        .map(|s| s.count)
        .sum();
    assert_eq!(
        total as usize,
        unique.len(),
        "duplicates must not be counted"
    );
    // The late backlog lands in its own hour, two days back.
    let late = timeline::RawTimelineParams {
        person: "anon-late".into(),
        limit: None,
    }
    .validate(PROJECT)
    .unwrap();
    let late = timeline::run(&store, &late).unwrap();
    assert_eq!(late.events.len(), 5);
    assert_eq!(late.events[0].timestamp, "2026-11-04T05:00:00.000Z");
    let r = retention::RawRetentionParams {
        cohort_event: conformance::STEPS[0].into(),
        return_event: conformance::STEPS[0].into(),
        from: conformance::BASE_MS.into(),
        to: (conformance::BASE_MS + 14 * 86_400_000).into(),
        interval: Some("week".into()),
        periods: Some(1),
    }
    .validate(PROJECT)
    .unwrap();
    let r = retention::run(&store, &r).unwrap();
    assert_eq!(r.cohorts.len(), 2);
    assert_eq!(r.cohorts[0].size, r.cohorts[0].returned[0]);
    let s = sessions::RawSessionParams {
        from: conformance::BASE_MS.into(),
        to: (conformance::BASE_MS + 14 * 86_400_000).into(),
    }
    .validate(PROJECT)
    .unwrap();
    let s = sessions::run(&store, &s).unwrap();
    assert_eq!(s.sessions as usize, data.sessions.len());
    let rows = conformance::run_all(&store).unwrap();
    assert!(rows.iter().all(|(_, r)| !r.is_empty()));
    if let Ok(out) = std::env::var("FOOTFALL_CONFORMANCE_OUT") {
        let check = conformance::clickhouse_check("footfall_conformance", &data, &rows);
        std::fs::write(out, serde_json::to_vec_pretty(&check).unwrap()).unwrap();
    }
}

#[test]
fn streamed_rows_are_the_selected_rows() {
    let store = DuckStore::open_in_memory().unwrap();
    let mut b = SqlBuilder::new(Dialect::DuckDb);
    b.push("SELECT CAST(range AS BIGINT) AS n, 'row ' || CAST(range AS VARCHAR) AS s, CAST(NULL AS VARCHAR) AS z FROM range(3) WHERE range >= ")
        .bind(1);
    let sql = b.finish();
    let mut streamed = Vec::new();
    store
        .select_each(&sql, &mut |cells| {
            streamed.push(cells.iter().map(CellRef::to_cell).collect::<Vec<_>>());
            Ok(())
        })
        .unwrap();
    let selected = store.select(&sql).unwrap();
    assert_eq!(streamed, selected);
    assert_eq!(
        selected,
        vec![
            vec![
                Cell::Int(1),
                Cell::Str("row 1".into()),
                Cell::Str(String::new())
            ],
            vec![
                Cell::Int(2),
                Cell::Str("row 2".into()),
                Cell::Str(String::new())
            ],
        ]
    );
    // The visitor's error is the query's.
    let err = store
        .select_each(&sql, &mut |_| Err(Error::Shape("enough".into())))
        .unwrap_err();
    assert!(err.to_string().contains("enough"), "{err}");
}

#[test]
fn a_funnel_over_many_batches_counts_every_person_once() {
    // More rows than one batch between the funnel's reading and resolving threads, with half
    // the persons logging in after their first step.
    let store = DuckStore::open_in_memory().unwrap();
    let persons = 3 * funnel::BATCH_ROWS + 17;
    let mut events = Vec::new();
    let mut identities = Vec::new();
    for p in 0..persons {
        let anon = format!("a{p}");
        let user = if p % 2 == 0 {
            format!("u{p}")
        } else {
            String::new()
        };
        events.push(EventRow::track(
            "p",
            &format!("v{p}"),
            "View",
            &anon,
            "",
            1000,
        ));
        events.push(EventRow::track(
            "p",
            &format!("b{p}"),
            "Buy",
            &anon,
            &user,
            2000,
        ));
        if !user.is_empty() {
            identities.push(IdentityRow {
                project_id: "p".into(),
                anonymous_id: anon,
                user_id: user,
                version: 1,
            });
        }
    }
    store.insert_events(&events).unwrap();
    store.upsert_identities(&identities).unwrap();
    let f = funnel::RawFunnelParams {
        steps: vec!["View".into(), "Buy".into()],
        from: 0.into(),
        to: 3_600_000.into(),
        ..Default::default()
    }
    .validate("p")
    .unwrap();
    let answer = funnel::run(&store, &f).unwrap();
    let counts: Vec<i64> = answer.total.iter().map(|s| s.count).collect();
    assert_eq!(counts, vec![persons as i64, persons as i64]);

    // A map that cannot be read fails the funnel (it is not a funnel of unmapped ids).
    let mut drop_map = crate::sql::SqlBuilder::new(Dialect::DuckDb);
    drop_map.push("DROP TABLE identities");
    store.apply(&drop_map.finish()).unwrap();
    let err = funnel::run(&store, &f).unwrap_err().to_string();
    assert!(err.contains("identities"), "{err}");
}
