//! The conformance suite on a real ClickHouse (18.16 from Debian in CI): the same generated
//! dataset loaded into DuckDB and ClickHouse gives identical rows to every query.

use footfall_store::conformance::{run_all, Dataset};
use footfall_store::{ClickHouseStore, DuckStore, Store};

fn url() -> String {
    std::env::var("CLICKHOUSE_URL").unwrap_or_else(|_| "http://127.0.0.1:18123".into())
}

#[test]
#[ignore = "needs the ClickHouse of scripts/infra/clickhouse.sh: run by scripts/test.d/40-backend.sh"]
fn duckdb_and_clickhouse_give_identical_answers() {
    let ch = ClickHouseStore::open(&url(), "footfall_conformance_rust").unwrap();
    for t in ["events", "identities", "sessions", "dead_letters"] {
        ch.execute(&format!("TRUNCATE TABLE {t}")).unwrap();
    }
    let duck = DuckStore::open_in_memory().unwrap();
    let data = Dataset::generate(60, 7);
    data.load(&duck).unwrap();
    data.load(&ch).unwrap();
    // Load the events a second time: redelivery must not change any answer.
    ch.insert_events(&data.events).unwrap();
    let expected = run_all(&duck).unwrap();
    let got = run_all(&ch).unwrap();
    for ((name, want), (_, have)) in expected.iter().zip(&got) {
        let want: Vec<Vec<String>> = want
            .iter()
            .map(|r| r.iter().map(ToString::to_string).collect())
            .collect();
        let have: Vec<Vec<String>> = have
            .iter()
            .map(|r| r.iter().map(ToString::to_string).collect())
            .collect();
        assert_eq!(want, have, "{name}");
    }
    // The full answers (funnel, retention...) match too.
    use footfall_store::query::funnel;
    let p = funnel::RawFunnelParams {
        steps: vec![
            "Product Viewed".into(),
            "Product Added".into(),
            "Order Completed".into(),
        ],
        from: footfall_store::conformance::BASE_MS.into(),
        to: (footfall_store::conformance::BASE_MS + 14 * 86_400_000).into(),
        window_seconds: Some(3600),
        breakdown: Some("plan".into()),
    }
    .validate("shop")
    .unwrap();
    assert_eq!(
        funnel::run(&duck, &p).unwrap(),
        funnel::run(&ch, &p).unwrap()
    );
}

#[test]
#[ignore = "needs the ClickHouse of scripts/infra/clickhouse.sh: run by scripts/test.d/40-backend.sh"]
fn dead_letters_round_trip_on_clickhouse() {
    let ch = ClickHouseStore::open(&url(), "footfall_dead_letters_rust").unwrap();
    ch.execute("TRUNCATE TABLE dead_letters").unwrap();
    let dl = footfall_store::DeadLetterRow {
        id: "dl-1".into(),
        project_id: "p".into(),
        received_ms: 5,
        cause: "invalid".into(),
        reason: "a\tb 'q'".into(),
        payload: "{\"x\":\"\\n\"}".into(),
        replayed_ms: 0,
    };
    ch.insert_dead_letters(std::slice::from_ref(&dl)).unwrap();
    assert_eq!(ch.dead_letter("dl-1").unwrap(), Some(dl));
    ch.mark_replayed("dl-1", 9).unwrap();
    assert!(ch.dead_letters(10, false).unwrap().is_empty());
}

/// Sessions replaced per start day, and whole, read the same on both stores: a day's
/// replacement leaves the other days alone, an emptied day is empty, a whole replacement drops
/// every older day, and (ClickHouse, which keeps versions) a replacement older than the latest
/// whole one counts for nothing.
#[test]
#[ignore = "needs the ClickHouse of scripts/infra/clickhouse.sh: run by scripts/test.d/40-backend.sh"]
fn session_replacements_by_day_and_whole_read_the_same_on_both_stores() {
    use footfall_store::query::sessions;
    use footfall_store::sessionize::{day_of, DAY_MS};
    use footfall_store::{SessionRow, SessionScope};
    use std::collections::BTreeSet;

    let ch = ClickHouseStore::open(&url(), "footfall_session_scopes").unwrap();
    ch.execute("TRUNCATE TABLE sessions").unwrap();
    let duck = DuckStore::open_in_memory().unwrap();
    let day0 = footfall_store::conformance::BASE_MS;
    let session = |person: &str, start: i64, minutes: i64, events: i64, version: i64| SessionRow {
        project_id: "shop".into(),
        person_id: person.into(),
        session_id: format!("{person}:{start}"),
        start_ms: start,
        end_ms: start + minutes * 60_000,
        event_count: events,
        version,
    };
    let days = |ds: &[i64]| {
        SessionScope::Days(ds.iter().map(|d| day_of(day0) + d).collect::<BTreeSet<_>>())
    };
    let stats = |store: &dyn Store| {
        let p = sessions::RawSessionParams {
            from: day0.into(),
            to: (day0 + 10 * DAY_MS).into(),
        }
        .validate("shop")
        .unwrap();
        let s = sessions::run(store, &p).unwrap();
        (s.sessions, s.total_duration_ms, s.bounces)
    };
    // (version, what is replaced, the new sessions, the stats wanted after it)
    type Step = (
        i64,
        Vec<(String, SessionScope)>,
        Vec<SessionRow>,
        (i64, i64, i64),
    );
    let steps: Vec<Step> = vec![
        // Two days of p1, one of p2.
        (
            10,
            vec![
                ("p1".into(), SessionScope::All),
                ("p2".into(), SessionScope::All),
            ],
            vec![
                session("p1", day0 + 3_600_000, 10, 3, 10),
                session("p1", day0 + DAY_MS, 0, 1, 10),
                session("p2", day0, 5, 2, 10),
            ],
            (3, 15 * 60_000, 1),
        ),
        // p1's second day replaced: its first day and p2 stay.
        (
            20,
            vec![("p1".into(), days(&[1]))],
            vec![session("p1", day0 + DAY_MS, 20, 4, 20)],
            (3, 35 * 60_000, 0),
        ),
        // p1's first day emptied.
        (
            30,
            vec![("p1".into(), days(&[0]))],
            vec![],
            (2, 25 * 60_000, 0),
        ),
        // p1 replaced whole, by one session on day 3.
        (
            40,
            vec![("p1".into(), SessionScope::All)],
            vec![session("p1", day0 + 3 * DAY_MS, 1, 2, 40)],
            (2, 6 * 60_000, 0),
        ),
    ];
    for (version, replaced, rows, want) in steps {
        duck.replace_sessions("shop", version, &replaced, &rows)
            .unwrap();
        ch.replace_sessions("shop", version, &replaced, &rows)
            .unwrap();
        assert_eq!(stats(&duck), want, "DuckDB after version {version}");
        assert_eq!(stats(&ch), want, "ClickHouse after version {version}");
    }
    // A day's replacement computed before the whole one (version 35 < 40) lands late: ClickHouse
    // keeps the whole one's answer.
    ch.replace_sessions(
        "shop",
        35,
        &[("p1".into(), days(&[1]))],
        &[session("p1", day0 + DAY_MS, 30, 5, 35)],
    )
    .unwrap();
    assert_eq!(stats(&ch), (2, 6 * 60_000, 0));
}

/// Upgrading from migration 1, when only a person's latest version counted: migration 2 marks it
/// as the whole, so an older version's session on another day does not come back.
#[test]
#[ignore = "needs the ClickHouse of scripts/infra/clickhouse.sh: run by scripts/test.d/40-backend.sh"]
fn sessions_written_before_migration_2_read_as_before() {
    use footfall_store::clickhouse::migrations;
    use footfall_store::query::sessions;

    let db = "footfall_migration_2";
    let server = ClickHouseStore::open(&url(), "footfall_session_scopes").unwrap();
    server
        .execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .unwrap();
    for statement in &migrations(db)[0].statements {
        server.execute(statement).unwrap();
    }
    server
        .execute(&format!(
            "INSERT INTO {db}.schema_migrations VALUES (1, 'one', 0)"
        ))
        .unwrap();
    let day0 = footfall_store::conformance::BASE_MS;
    // Version 1: two sessions on two days; version 2 (the latest): one on the first day only.
    server
        .execute(&format!(
            "INSERT INTO {db}.sessions (project_id, person_id, session_id, start_ms, end_ms, event_count, version) VALUES \
             ('shop', 'p1', 'p1:a', {day0}, {}, 2, 1), ('shop', 'p1', 'p1:b', {}, {}, 1, 1), \
             ('shop', 'p1', 'p1:a', {day0}, {}, 3, 2)",
            day0 + 60_000,
            day0 + 86_400_000,
            day0 + 86_400_000,
            day0 + 120_000
        ))
        .unwrap();
    let ch = ClickHouseStore::open(&url(), db).unwrap();
    let p = sessions::RawSessionParams {
        from: day0.into(),
        to: (day0 + 10 * 86_400_000).into(),
    }
    .validate("shop")
    .unwrap();
    let s = sessions::run(&ch, &p).unwrap();
    assert_eq!(
        (s.sessions, s.total_duration_ms, s.bounces),
        (1, 120_000, 0)
    );
    // Opening again applies nothing twice.
    let again = ClickHouseStore::open(&url(), db).unwrap();
    assert_eq!(sessions::run(&again, &p).unwrap(), s);
    server.execute(&format!("DROP DATABASE {db}")).unwrap();
}
