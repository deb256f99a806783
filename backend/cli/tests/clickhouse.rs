//! `footfall serve` storing in a real ClickHouse (18.16 from Debian in CI): the collector, the
//! processor and the query API of one process, with the embedded log between them.
#![allow(missing_docs)]

mod common;

use common::{agent, counts, funnel_body, journey, now_ms, Serve};

fn url() -> String {
    std::env::var("CLICKHOUSE_URL").unwrap_or_else(|_| "http://127.0.0.1:18123".into())
}

#[test]
#[ignore = "needs the ClickHouse of scripts/infra/clickhouse.sh: run by scripts/test.d/40-backend.sh"]
fn serve_on_clickhouse_counts_a_retried_batch_once_and_stitches_the_person() {
    let dir = tempfile::tempdir().unwrap();
    // A database of its own, new every run, so earlier runs' rows cannot satisfy the checks.
    let database = format!("footfall_serve_{}", now_ms());
    let url = url();
    let serve = Serve::start_with(
        dir.path(),
        &["--clickhouse-url", &url, "--clickhouse-database", &database],
    );
    let base = now_ms() / 1000 * 1000 - 600_000;
    for _ in 0..2 {
        let (status, answer) = serve.send("/v1/batch", &journey(base));
        assert_eq!(status, 200, "{answer}");
    }
    let funnel = serve.eventually("/v1/query/funnel", &funnel_body(base), |f| {
        counts(f).last() == Some(&1)
    });
    assert_eq!(counts(&funnel), vec![1, 1, 1], "{funnel}");
    // One person's timeline, whichever id asks: the anonymous events and the purchase, each once.
    for id in ["anon-1", "user-1"] {
        assert_eq!(
            serve.timeline_ids(id),
            ["m1", "m2", "m3", "m4"],
            "timeline of {id}"
        );
    }
    drop(serve);
    let mut dropped = agent()
        .post(format!("{url}/"))
        .send(format!("DROP DATABASE IF EXISTS {database}"))
        .unwrap();
    assert_eq!(
        dropped.status(),
        200,
        "{}",
        dropped.body_mut().read_to_string().unwrap_or_default()
    );
}
