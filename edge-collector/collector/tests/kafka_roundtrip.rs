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
