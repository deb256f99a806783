//! The collector on the Kafka sink, against the real broker: accepted events reach the events topic and
//! invalid ones the dead-letter topic, keyed by write key and user.
#![cfg(feature = "kafka-integration-tests")]

mod kafka_common;

use std::collections::HashSet;
use std::time::Duration;

use kafka_common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_events_and_dead_letters_reach_their_topics() {
    let (events, dead) = (unique("events"), unique("dead"));
    let spill = tempfile::tempdir().unwrap();
    let (addr, stop) = start(&events, &dead, spill.path()).await;
    let mut batch: Vec<serde_json::Value> = (0..10)
        .map(|i| serde_json::json!({"type": "track", "event": "Viewed", "userId": "u-1", "messageId": format!("m-{i}")}))
        .collect();
    batch.push(serde_json::json!({"type": "track", "userId": "u-1", "messageId": "bad-1"}));
    let (status, ok) = post_batch(
        &http(),
        addr,
        serde_json::json!({"batch": batch}).to_string(),
    )
    .await
    .expect("the collector answers");
    assert_eq!(status, 200);
    assert_eq!(ok.len(), 10, "ten good events are acknowledged");

    let want: HashSet<String> = ok.iter().cloned().collect();
    let read = read_ids(&events, &want, Duration::from_secs(60)).await;
    let expected: Vec<String> = (0..10).map(|i| format!("m-{i}")).collect();
    assert_eq!(
        read, expected,
        "one user's events arrive once each, in order"
    );

    let letters = read_ids(
        &dead,
        &HashSet::from(["bad-1".to_owned()]),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(
        letters,
        ["bad-1"],
        "the invalid event is a dead letter, not lost"
    );
    stop.send(()).unwrap();
}

/// The value of the first sample of `metric` whose labels include every one of `labels`.
fn sample(metrics: &str, metric: &str, labels: &[&str]) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let named = series.strip_prefix(metric)?;
        let matches = named.starts_with('{') && labels.iter().all(|l| named.contains(l));
        matches.then(|| value.parse().ok()).flatten()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_librdkafkas_view_of_the_broker() {
    let (events, dead) = (unique("stats-events"), unique("stats-dead"));
    let spill = tempfile::tempdir().unwrap();
    let (addr, stop) = start(&events, &dead, spill.path()).await;
    let client = http();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    // Keep producing until a 200 ms statistics window has timed a produce request.
    let (metrics, round_trip) = loop {
        let body = serde_json::json!({"batch": [
            {"type": "track", "event": "Viewed", "userId": "u-1"}
        ]});
        let (status, _) = post_batch(&client, addr, body.to_string())
            .await
            .expect("the collector answers");
        assert_eq!(status, 200);
        let metrics = scrape(&client, addr).await;
        let max = sample(
            &metrics,
            "footfall_collector_kafka_broker_round_trip_seconds",
            &[r#"stat="max""#],
        );
        if let Some(max) = max.filter(|&max| max > 0.0) {
            break (metrics, max);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no timed broker round trip on /metrics in 20 s:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        round_trip < 5.0,
        "a local broker's round trip of {round_trip} s"
    );
    assert_eq!(
        sample(&metrics, "footfall_collector_kafka_broker_up", &["broker="]),
        Some(1.0),
        "{metrics}"
    );
    for metric in [
        "footfall_collector_kafka_broker_queue_wait_seconds",
        "footfall_collector_kafka_broker_send_wait_seconds",
    ] {
        for stat in ["avg", "p99", "max"] {
            let label = format!(r#"stat="{stat}""#);
            assert!(
                sample(&metrics, metric, &[&label]).is_some(),
                "{metric} {stat} missing:\n{metrics}"
            );
        }
    }
    assert!(
        metrics.contains("footfall_collector_kafka_producer_queued_records "),
        "{metrics}"
    );
    stop.send(()).unwrap();
}
