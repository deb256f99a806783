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
