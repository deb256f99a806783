//! Helpers for the integration tests: the broker from
//! `scripts/infra/kafka.sh`, unique topics, and reading topics back.
#![allow(dead_code)] // Each test binary uses a subset.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[allow(unused_imports)] // Each test binary uses a subset.
pub use footfall_kafka::dev_broker::{bootstrap, kafka_sh, stop_broker};
use footfall_kafka::{KafkaConfig, KafkaSource, KafkaSourceConfig, SourceRecord};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::ClientConfig;

/// A topic name no earlier run used.
pub fn unique(name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("ff-test-{name}-{}-{nanos}", std::process::id())
}

/// Creates `topics` with `partitions` partitions each.
pub async fn create_topics(topics: &[&str], partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .create()
        .expect("admin client");
    let new: Vec<NewTopic> = topics
        .iter()
        .map(|t| NewTopic::new(t, partitions, TopicReplication::Fixed(1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results =
        tokio::time::timeout(Duration::from_secs(60), admin.create_topics(&new, &options))
            .await
            .expect(
                "creating topics timed out: is the broker running (scripts/infra/kafka.sh start)?",
            )
            .expect("create_topics request failed");
    for result in results {
        result.unwrap_or_else(|(topic, code)| panic!("creating topic {topic}: {code}"));
    }
}

/// An events topic and a dead-letter topic no earlier run used, created with `partitions` each.
pub async fn fresh_topics(name: &str, partitions: i32) -> (String, String) {
    let events = unique(&format!("{name}-events"));
    let dead = unique(&format!("{name}-dead"));
    create_topics(&[&events, &dead], partitions).await;
    (events, dead)
}

/// A delivery configuration for the test broker, spilling into `spill_dir`.
pub fn delivery_config(
    events: &str,
    dead_letters: &str,
    spill_dir: &std::path::Path,
) -> KafkaConfig {
    KafkaConfig {
        brokers: vec![bootstrap()],
        events_topic: events.to_owned(),
        dead_letter_topic: dead_letters.to_owned(),
        client_id: "footfall-kafka-tests".to_owned(),
        spill_dir: spill_dir.to_path_buf(),
        ..KafkaConfig::default()
    }
}

/// A source on `topics` in a fresh consumer group.
pub fn source(topics: &[&str], group: &str) -> KafkaSource {
    KafkaSource::new(&KafkaSourceConfig {
        brokers: vec![bootstrap()],
        group_id: group.to_owned(),
        topics: topics.iter().map(|t| t.to_string()).collect(),
        client_id: "footfall-kafka-tests".to_owned(),
        ..KafkaSourceConfig::default()
    })
    .expect("creating the source")
}

/// Reads from `source` until `done(records so far)` or `timeout`, committing
/// each batch.
pub async fn consume_until(
    source: &KafkaSource,
    timeout: Duration,
    mut done: impl FnMut(&[SourceRecord]) -> bool,
) -> Vec<SourceRecord> {
    let deadline = Instant::now() + timeout;
    let mut all = Vec::new();
    while !done(&all) && Instant::now() < deadline {
        let batch = source
            .next_batch_within(1_000, Duration::from_millis(100), Duration::from_secs(1))
            .await
            .expect("consuming");
        source.commit(&batch).await.expect("committing offsets");
        all.extend(batch);
    }
    all
}

/// The `seq` field of a test record's JSON payload.
pub fn seq_of(payload: &[u8]) -> u64 {
    let body: serde_json::Value = serde_json::from_slice(payload).expect("a JSON payload");
    body["seq"].as_u64().expect("a numeric seq field")
}
