//! Deliver to the real broker and read everything back: keys, payloads,
//! per-key order, partition affinity and consumer-group commits.
//! Needs `scripts/infra/kafka.sh start`; run with
//! `--features kafka-integration-tests`.
#![cfg(feature = "kafka-integration-tests")]

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::*;
use footfall_kafka::{DeliveryMode, KafkaConfig, KafkaDelivery, Record};

const KEYS: usize = 10;
const BATCHES: usize = 20;
const BATCH: usize = 50;

fn payload(key: usize, seq: usize) -> String {
    format!(r#"{{"messageId":"k{key}-{seq}","userId":"user-{key}","seq":{seq}}}"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivered_records_come_back_with_keys_and_per_key_order() {
    let (events, dead) = fresh_topics("roundtrip", 4).await;
    let spill = tempfile::tempdir().unwrap();
    let delivery = KafkaDelivery::new(&delivery_config(&events, &dead, spill.path())).unwrap();

    let mut next_seq = [0usize; KEYS];
    let mut expected = Vec::new();
    for batch in 0..BATCHES {
        let records: Vec<Record> = (0..BATCH)
            .map(|i| {
                let key = (batch * BATCH + i) % KEYS;
                let seq = next_seq[key];
                next_seq[key] += 1;
                expected.push((format!("wk:user-{key}"), payload(key, seq)));
                Record::new(format!("wk:user-{key}"), payload(key, seq))
            })
            .collect();
        let dead_letters = vec![Record::new("wk:bad", format!("malformed-{batch}"))];
        let done = tokio::time::timeout(
            Duration::from_secs(30),
            delivery.deliver(records, dead_letters),
        )
        .await
        .expect("deliver hung for 30 s")
        .expect("deliver failed with the broker up");
        assert_eq!(
            done.direct,
            BATCH + 1,
            "with Kafka up nothing should spill: {done:?}"
        );
    }
    let stats = delivery.stats();
    assert_eq!(stats.mode, DeliveryMode::Direct);
    assert_eq!(stats.produced_total as usize, BATCHES * (BATCH + 1));
    assert_eq!(stats.spilled_total, 0);

    let group = unique("roundtrip-group");
    let consumer = source(&[&events, &dead], &group);
    let total = BATCHES * (BATCH + 1);
    let got = consume_until(&consumer, Duration::from_secs(60), |all| all.len() >= total).await;
    assert_eq!(got.len(), total, "expected exactly {total} records back");

    let mut partition_of: HashMap<&[u8], (String, i32)> = HashMap::new();
    let mut per_key: HashMap<String, Vec<String>> = HashMap::new();
    let mut seen = HashSet::new();
    let mut dead_back = Vec::new();
    for record in &got {
        assert!(
            seen.insert((record.topic.clone(), record.partition, record.offset)),
            "record read twice: {record:?}"
        );
        let placement = (record.topic.clone(), record.partition);
        let previous = partition_of.entry(&record.key).or_insert(placement.clone());
        assert_eq!(
            *previous, placement,
            "key {:?} spread over partitions",
            record.key
        );
        let key = String::from_utf8(record.key.clone()).unwrap();
        let body = String::from_utf8(record.payload.clone()).unwrap();
        if record.topic == dead {
            dead_back.push(body);
        } else {
            assert_eq!(record.topic, events);
            per_key.entry(key).or_default().push(body);
        }
    }
    let mut expected_per_key: HashMap<String, Vec<String>> = HashMap::new();
    for (key, body) in expected {
        expected_per_key.entry(key).or_default().push(body);
    }
    assert_eq!(per_key.len(), KEYS);
    for (key, bodies) in &expected_per_key {
        assert_eq!(
            per_key.get(key),
            Some(bodies),
            "records of {key} differ or are out of order"
        );
    }
    dead_back.sort();
    let mut dead_expected: Vec<_> = (0..BATCHES).map(|b| format!("malformed-{b}")).collect();
    dead_expected.sort();
    assert_eq!(dead_back, dead_expected);

    // Committed offsets are the group's resume point: a second member of
    // the group sees only what is delivered afterwards.
    drop(consumer);
    delivery
        .deliver(vec![Record::new("wk:user-0", "after-commit")], Vec::new())
        .await
        .unwrap();
    let consumer = source(&[&events, &dead], &group);
    let after = consume_until(&consumer, Duration::from_secs(60), |all| !all.is_empty()).await;
    let bodies: Vec<_> = after.iter().map(|r| r.payload.as_slice()).collect();
    assert_eq!(
        bodies,
        [b"after-commit".as_slice()],
        "committed records were read again"
    );
    delivery.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_producers_statistics_time_the_brokers_round_trips() {
    let (events, dead) = fresh_topics("stats", 1).await;
    let spill = tempfile::tempdir().unwrap();
    let config = KafkaConfig {
        statistics_interval_ms: 200,
        ..delivery_config(&events, &dead, spill.path())
    };
    let delivery = KafkaDelivery::new(&config).unwrap();
    assert_eq!(
        delivery.stats().producer,
        None,
        "no report before the first interval"
    );

    // Keep producing, so that every 200 ms window has requests to time.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let broker = loop {
        delivery
            .deliver(vec![Record::new("wk:user-1", "{}")], Vec::new())
            .await
            .expect("deliver failed with the broker up");
        let timed = delivery.stats().producer.and_then(|p| {
            p.brokers
                .into_iter()
                .find(|b| b.state == "UP" && b.round_trip.max_micros > 0)
        });
        if let Some(broker) = timed {
            break broker;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no statistics report with a timed broker in 15 s: {:?}",
            delivery.stats().producer
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(broker.node_id >= 0, "{broker:?}");
    // (librdkafka's p99 comes from a bucketed histogram and can exceed
    // the exact max by a bucket's width, so it is not compared.)
    let rtt = broker.round_trip;
    assert!(rtt.avg_micros <= rtt.max_micros, "{broker:?}");
    delivery.shutdown(Duration::from_secs(5)).await;
}

/// A batch still being gathered when the idle wait runs out is returned, not
/// dropped: a dropped batch has left the consumer, and committing later
/// offsets would skip it for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_gathered_past_the_idle_wait_is_not_lost() {
    let (events, dead) = fresh_topics("idle", 1).await;
    let spill = tempfile::tempdir().unwrap();
    let delivery = KafkaDelivery::new(&delivery_config(&events, &dead, spill.path())).unwrap();
    let records: Vec<Record> = (0..100)
        .map(|seq| Record::new("wk:user-1", payload(1, seq)))
        .collect();
    delivery.deliver(records, Vec::new()).await.unwrap();

    let consumer = source(&[&events], &unique("idle-group"));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut got = Vec::new();
    while got.len() < 100 && std::time::Instant::now() < deadline {
        // Gathering (up to 1 s after the first record) outlasts the idle
        // wait (300 ms) whenever the first record comes.
        let batch = consumer
            .next_batch_within(10_000, Duration::from_secs(1), Duration::from_millis(300))
            .await
            .expect("consuming");
        consumer.commit(&batch).await.unwrap();
        got.extend(batch);
    }
    let seqs: Vec<u64> = got.iter().map(|r| seq_of(&r.payload)).collect();
    assert_eq!(
        seqs,
        (0..100).collect::<Vec<_>>(),
        "every record, once, in order"
    );
    delivery.shutdown(Duration::from_secs(5)).await;
}
