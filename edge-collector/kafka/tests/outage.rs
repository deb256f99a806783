//! The outage test: producers deliver continuously while the real broker is
//! stopped for 30 s and started again. No acknowledged record may be lost,
//! duplicates must be byte-identical, and per-key order must hold once
//! duplicates are ignored. During the outage a second delivery with a tiny
//! spill budget must refuse with `DiskBudgetExceeded`.
//!
//! Stops and starts the broker with `scripts/infra/kafka.sh`; run with
//! `--features kafka-integration-tests` and nothing else using the broker.
#![cfg(feature = "kafka-integration-tests")]

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use footfall_kafka::{
    DeliveryError, DeliveryMode, KafkaConfig, KafkaDelivery, Record, MIN_SPILL_MAX_BYTES,
};

const PRODUCERS: usize = 4;
const KEYS_PER_PRODUCER: usize = 4;
const BATCH: usize = 20;
const OUTAGE: Duration = Duration::from_secs(30);

/// What one producer had acknowledged: (key, seq, payload).
type Acked = Vec<(String, u64, Vec<u8>)>;

fn payload(key: &str, seq: u64) -> Vec<u8> {
    format!(
        r#"{{"messageId":"{key}/{seq}","seq":{seq},"pad":"{}"}}"#,
        "p".repeat(200)
    )
    .into_bytes()
}

/// Delivers batches in a loop until `stop`; each producer owns its keys, so
/// its calls are the sequential order the keys must keep.
async fn produce(
    delivery: Arc<KafkaDelivery>,
    producer: usize,
    stop: Arc<AtomicBool>,
) -> (Acked, usize) {
    let keys: Vec<String> = (0..KEYS_PER_PRODUCER)
        .map(|k| format!("wk:p{producer}-user{k}"))
        .collect();
    let mut seqs = vec![0u64; keys.len()];
    let mut acked = Vec::new();
    let mut failures = 0;
    let mut turn = 0;
    while !stop.load(Ordering::SeqCst) {
        let mut batch = Vec::with_capacity(BATCH);
        let mut meta = Vec::with_capacity(BATCH);
        for _ in 0..BATCH {
            let k = turn % keys.len();
            turn += 1;
            let seq = seqs[k];
            seqs[k] += 1;
            batch.push(Record::new(keys[k].clone(), payload(&keys[k], seq)));
            meta.push((keys[k].clone(), seq, payload(&keys[k], seq)));
        }
        match tokio::time::timeout(Duration::from_secs(60), delivery.deliver(batch, Vec::new()))
            .await
        {
            Ok(Ok(_)) => acked.extend(meta),
            Ok(Err(error)) => {
                failures += 1;
                eprintln!("producer {producer}: delivery refused: {error}");
            }
            Err(_) => panic!("producer {producer}: deliver hung for 60 s"),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (acked, failures)
}

/// With the broker down, a delivery whose spill budget is tiny fills it and
/// then refuses with DiskBudgetExceeded and a Retry-After.
async fn disk_budget_is_enforced_while_kafka_is_down() {
    let spill = tempfile::tempdir().unwrap();
    let config = KafkaConfig {
        spill_max_bytes: MIN_SPILL_MAX_BYTES,
        message_timeout_ms: 2_000,
        ..delivery_config(
            &unique("budget-events"),
            &unique("budget-dead"),
            spill.path(),
        )
    };
    let delivery = KafkaDelivery::new(&config).unwrap();
    let record = Record::new("wk:budget", vec![b'x'; 1_000]);
    let mut outcome = None;
    for i in 0..200 {
        match tokio::time::timeout(
            Duration::from_secs(30),
            delivery.deliver(vec![record.clone()], Vec::new()),
        )
        .await
        .expect("deliver hung with Kafka down")
        {
            Ok(done) => assert_eq!(
                done.spilled, 1,
                "Kafka is down, so record {i} must be spilled"
            ),
            Err(error) => {
                outcome = Some((i, error));
                break;
            }
        }
    }
    let (accepted, error) =
        outcome.expect("200 KB never exhausted a 16 KiB spill budget with Kafka down");
    assert!(
        matches!(error, DeliveryError::DiskBudgetExceeded { .. }),
        "expected DiskBudgetExceeded after {accepted} records, got {error:?}"
    );
    assert_eq!(error.retry_after(), Some(config.retry_after()));
    let stats = delivery.stats();
    assert_eq!(stats.disk_budget_rejections_total, 1);
    assert_eq!(stats.mode, DeliveryMode::Spill);
    // The readiness probe stops sending clients to a collector that can only answer 503.
    assert!(
        delivery
            .refusal()
            .is_some_and(|why| why.contains("disk budget")),
        "{:?}",
        delivery.refusal()
    );
    eprintln!("disk budget: {accepted} records of 1 KB accepted, then {error}");
    delivery.shutdown(Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_30s_broker_outage_loses_no_acknowledged_record_and_keeps_key_order() {
    let (events, dead) = fresh_topics("outage", 4).await;
    let spill = tempfile::tempdir().unwrap();
    let config = KafkaConfig {
        message_timeout_ms: 3_000,
        ..delivery_config(&events, &dead, spill.path())
    };
    let delivery = Arc::new(KafkaDelivery::new(&config).unwrap());

    let stop = Arc::new(AtomicBool::new(false));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| tokio::spawn(produce(Arc::clone(&delivery), p, Arc::clone(&stop))))
        .collect();

    // Records are acknowledged once the fresh topics have leaders, which a busy broker can take
    // longer than a fixed pause to give.
    let deadline = Instant::now() + Duration::from_secs(60);
    while delivery.stats().produced_total == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = delivery.stats();
    assert!(
        before.produced_total > 0,
        "nothing produced in the 60 s before the outage: {before:?}"
    );
    assert_eq!(before.mode, DeliveryMode::Direct);

    let broker = stop_broker().await;
    let stopped_at = Instant::now();
    disk_budget_is_enforced_while_kafka_is_down().await;
    tokio::time::sleep(OUTAGE.saturating_sub(stopped_at.elapsed())).await;
    let during = delivery.stats();
    assert_eq!(
        during.mode,
        DeliveryMode::Spill,
        "still direct after a 30 s outage: {during:?}"
    );
    assert!(
        during.spilled_total > 0,
        "nothing spilled during the outage: {during:?}"
    );
    broker.start().await;
    let outage = stopped_at.elapsed();

    // While the producers keep going, the drainer must catch up and hand
    // back to direct delivery; then produce directly for a while.
    let restarted = Instant::now();
    while delivery.mode() != DeliveryMode::Direct {
        assert!(
            restarted.elapsed() < Duration::from_secs(120),
            "still spilling 120 s after the broker came back: {:?}",
            delivery.stats()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let back_to_direct = restarted.elapsed();
    let direct_before = delivery.stats().produced_total;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::SeqCst);
    let mut acked = Vec::new();
    let mut failures = 0;
    for producer in producers {
        let (a, f) = producer.await.expect("producer task");
        acked.extend(a);
        failures += f;
    }
    assert_eq!(
        failures, 0,
        "deliveries were refused with the default spill budget"
    );
    assert!(
        delivery.stats().produced_total > direct_before,
        "no direct delivery after the switch back"
    );

    // The drainer forwards the backlog and switches back to direct.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let stats = delivery.stats();
        if stats.mode == DeliveryMode::Direct && stats.spill_backlog == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "spill not drained within 180 s: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stats = delivery.stats();
    delivery.shutdown(Duration::from_secs(10)).await;

    let wanted: HashSet<(String, u64)> = acked.iter().map(|(k, s, _)| (k.clone(), *s)).collect();
    let consumer = source(&[&events], &unique("outage-group"));
    let mut missing = wanted.clone();
    let got = consume_until(&consumer, Duration::from_secs(180), |all| {
        for r in all.iter().rev().take(5_000) {
            missing.remove(&(
                String::from_utf8_lossy(&r.key).into_owned(),
                seq_of(&r.payload),
            ));
        }
        missing.is_empty()
    })
    .await;

    // Nothing acknowledged is missing; duplicates are identical.
    let mut by_id: HashMap<(String, u64), &[u8]> = HashMap::new();
    let mut per_key: HashMap<String, Vec<u64>> = HashMap::new();
    let mut duplicates = 0;
    for record in &got {
        let key = String::from_utf8(record.key.clone()).expect("utf-8 key");
        let seq = seq_of(&record.payload);
        match by_id.insert((key.clone(), seq), &record.payload) {
            Some(previous) => {
                duplicates += 1;
                assert_eq!(
                    previous,
                    record.payload.as_slice(),
                    "duplicate of {key}/{seq} differs"
                );
            }
            None => per_key.entry(key).or_default().push(seq),
        }
    }
    let lost: Vec<_> = wanted
        .iter()
        .filter(|id| !by_id.contains_key(*id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged records were lost, e.g. {:?}",
        lost.len(),
        wanted.len(),
        &lost[..lost.len().min(5)]
    );
    // Per key, first occurrences come in delivery order.
    for (key, seqs) in &per_key {
        let acked_seqs: Vec<u64> = seqs
            .iter()
            .copied()
            .filter(|s| wanted.contains(&(key.clone(), *s)))
            .collect();
        if let Some(w) = acked_seqs.windows(2).find(|w| w[0] >= w[1]) {
            panic!(
                "key {key}: seq {} arrived before {} (first occurrences)",
                w[0], w[1]
            );
        }
    }
    eprintln!(
        "outage {outage:?}, back to direct {back_to_direct:?} after the restart (under load): \
         {} acknowledged, {} read back ({duplicates} duplicates), \
         produced {} direct, spilled {}, drained {}, mode switches {}, produce errors {:?}",
        wanted.len(),
        got.len(),
        stats.produced_total,
        stats.spilled_total,
        stats.drained_total,
        stats.mode_switches_total,
        stats.produce_errors.iter().collect::<Vec<_>>()
    );
    assert!(stats.mode_switches_total >= 2, "{stats:?}");
}
