//! The `footfall` binary end to end on the embedded default: Segment-style batches into
//! `footfall serve`, then the query API, the CLI and a restart after `kill -9`.
#![allow(missing_docs)]

use std::process::Command;
use std::time::Duration;

use serde_json::json;

mod common;

use common::{counts, funnel_body, get_text, journey, now_ms, Serve, READ_KEY};

#[test]
fn a_segment_batch_is_counted_once_stitched_to_the_person_and_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let base = now_ms() / 1000 * 1000 - 600_000;
    let serve = Serve::start(dir.path());

    let (status, answer) = serve.send("/v1/batch", &journey(base));
    assert_eq!(status, 200, "{answer}");
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    assert_eq!(results[4]["status"], "drop", "{answer}");
    // The SDK did not see the answer and sends the same batch again.
    let (status, _) = serve.send("/v1/batch", &journey(base));
    assert_eq!(status, 200);

    // Anonymous steps before the login count for the person who bought.
    let funnel = serve.eventually("/v1/query/funnel", &funnel_body(base), |f| {
        counts(f).first() == Some(&1) && counts(f).last() == Some(&1)
    });
    assert_eq!(counts(&funnel), vec![1, 1, 1], "{funnel}");
    assert_eq!(funnel["total"][1]["median_ms_from_previous"], 60_000);

    let trends = json!({"events": ["Product Viewed", "Product Added", "Order Completed"],
        "from": base - 3_600_000, "to": base + 3_600_000, "interval": "hour"});
    let (_, t) = serve.query("POST", "/v1/query/trends", Some(&trends));
    let total: i64 = t["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["count"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 3, "the retried batch must not be counted twice: {t}");
    let persons: Vec<i64> = t["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["persons"].as_i64().unwrap())
        .collect();
    assert!(persons.iter().all(|p| *p == 1), "{t}");

    // One person's timeline, whichever id asks.
    for id in ["anon-1", "user-1"] {
        assert_eq!(
            serve.timeline_ids(id),
            ["m1", "m2", "m3", "m4"],
            "timeline of {id}"
        );
    }

    // The invalid message is a dead letter with its payload and reason, listed by the CLI too.
    let (_, dead) = serve.query("GET", "/v1/dead-letters", None);
    let dead = dead["dead_letters"].as_array().unwrap().clone();
    assert!(!dead.is_empty(), "no dead letter");
    assert!(
        dead[0]["payload"]
            .as_str()
            .unwrap()
            .contains("no event name"),
        "{dead:?}"
    );
    assert!(
        dead[0]["reason"].as_str().unwrap().contains("event"),
        "{dead:?}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_footfall"))
        .args([
            "dead-letters",
            "--url",
            &serve.api,
            "--read-key",
            READ_KEY,
            "list",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("no event name"));

    // Bad query parameters get a 400 that names the parameter.
    let (status, err) = serve.query(
        "POST",
        "/v1/query/funnel",
        Some(&json!({"steps": ["only one"], "from": 0, "to": 1})),
    );
    assert_eq!(status, 400);
    assert!(err.to_string().contains("steps"), "{err}");

    // The API's /metrics, scraped first, has the event log's figures too, read at the scrape.
    let api_metrics = get_text(&format!("{}/metrics", serve.api));
    assert!(
        api_metrics.contains(r#"footfall_collector_log_fsyncs_total{log="events"}"#),
        "{api_metrics}"
    );

    // The processor's progress is on /metrics beside the collector's.
    let metrics = get_text(&format!("{}/metrics", serve.collector));
    assert!(
        metrics.contains("footfall_processor_events_stored_total"),
        "{metrics}"
    );

    // kill -9 and start again on the same data: nothing lost, nothing counted twice.
    serve.kill9();
    let serve = Serve::start(dir.path());
    let (status, _) = serve.send("/v1/batch", &journey(base)); // a third, late retry
    assert_eq!(status, 200);
    let (_, t) = serve.query("POST", "/v1/query/trends", Some(&trends));
    let total: i64 = t["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["count"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 3, "{t}");
    std::thread::sleep(Duration::from_millis(500));
    let (_, funnel) = serve.query("POST", "/v1/query/funnel", Some(&funnel_body(base)));
    assert_eq!(counts(&funnel), vec![1, 1, 1], "{funnel}");
}

#[test]
fn the_demo_checks_that_every_event_was_stored_once() {
    let out = Command::new(env!("CARGO_BIN_EXE_footfall"))
        .args(["demo", "--visitors", "25", "--quiet"])
        .env("FOOTFALL_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Funnel"), "{stdout}");
    assert!(stdout.contains("Retention"), "{stdout}");
    assert!(stdout.contains("stored exactly once"), "{stdout}");
}

#[test]
fn sighup_reloads_the_write_keys_and_sigterm_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("footfall.toml");
    std::fs::write(&file, "[write_keys]\nwk_file = \"shop/server\"\n").unwrap();
    let mut serve = Serve::start_with(dir.path(), &["--config", file.to_str().unwrap()]);
    assert_eq!(serve.track_with("wk_file"), 200);
    assert_eq!(serve.track_with("wk_added"), 401);

    // A key added to the file works after SIGHUP; one removed from it is revoked.
    std::fs::write(&file, "[write_keys]\nwk_added = \"shop/ios\"\n").unwrap();
    serve.signal("HUP");
    let started = std::time::Instant::now();
    while serve.track_with("wk_added") != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "SIGHUP did not add the key"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(serve.track_with("wk_file"), 401);
    // The flag's key stays: flags keep their values from the start.
    assert_eq!(serve.track_with(common::WRITE_KEY), 200);

    // SIGTERM finishes what is in flight and exits cleanly, as Ctrl-C does.
    serve.signal("TERM");
    let status = serve.wait_for_exit(Duration::from_secs(30));
    assert!(
        status.success(),
        "footfall serve ended with {status} on SIGTERM"
    );
}

#[test]
fn the_collectors_own_config_file_sets_its_limits_and_keys_and_is_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("collector.toml");
    let collector_file = |rate: u32| {
        format!(
            "rate_limit_events_per_sec = {rate}\nrate_limit_burst = 2\n\
             [write_keys.wk_collector_file]\nprojectId = \"shop\"\nsourceId = \"server\"\n"
        )
    };
    std::fs::write(&file, collector_file(1)).unwrap();
    let serve = Serve::start_with(dir.path(), &["--collector-config", file.to_str().unwrap()]);
    // The file's key joins serve's own, and its rate limit applies to both.
    assert_eq!(serve.track_with("wk_collector_file"), 200);
    assert_eq!(serve.track_with(common::WRITE_KEY), 200);
    assert_eq!(serve.track_with(common::WRITE_KEY), 200);
    assert_eq!(serve.track_with(common::WRITE_KEY), 429);

    // Rate limiting off in the file, and SIGHUP: read again.
    std::fs::write(&file, collector_file(0)).unwrap();
    serve.signal("HUP");
    // Waits for the reload itself: the budget also refills at 1 event/s.
    let started = std::time::Instant::now();
    let applied = "footfall_collector_config_reloads_total{result=\"applied\"} 1";
    while !get_text(&format!("{}/metrics", serve.collector)).contains(applied) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "SIGHUP was not applied"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for _ in 0..10 {
        assert_eq!(serve.track_with(common::WRITE_KEY), 200);
    }
}

#[test]
fn sigterm_serves_both_ports_through_the_collectors_delay_and_a_second_one_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("collector.toml");
    // Longer than the test waits: only the second signal can end the process in time.
    std::fs::write(&file, "shutdown_delay_secs = 600\n").unwrap();
    let mut serve = Serve::start_with(dir.path(), &["--collector-config", file.to_str().unwrap()]);
    assert_eq!(serve.track_with(common::WRITE_KEY), 200);

    serve.signal("TERM");
    let ready = format!("{}/ready", serve.collector);
    let started = std::time::Instant::now();
    while !get_text(&ready).contains("shutting down") {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the collector stayed ready after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        serve.track_with(common::WRITE_KEY),
        200,
        "events are still taken during the delay"
    );
    let health = common::agent()
        .get(format!("{}/v1/health", serve.api))
        .call()
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(health, 200, "the query API closed before the collector");

    serve.signal("TERM");
    let status = serve.wait_for_exit(Duration::from_secs(30));
    assert_eq!(status.code(), Some(130), "{status}");
}
