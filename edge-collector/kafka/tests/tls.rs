//! Delivery over TLS, and over SASL_SSL with SCRAM: the collector's producer verifies the broker's
//! certificate (the dev broker's listeners, `scripts/infra/kafka.sh bootstrap-tls` and
//! `bootstrap-sasl`) and authenticates, and every record arrives. A producer that cannot verify the
//! broker, or whose password is wrong, delivers nothing to Kafka and spills instead.
//! Needs `scripts/infra/kafka.sh start`; run with `--features kafka-integration-tests`.
#![cfg(feature = "kafka-integration-tests")]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use footfall_kafka::{Delivered, KafkaConfig, KafkaDelivery, Record};

/// Delivers `records` as events. A broker that cannot be reached, verified or authenticated to is an
/// outage, so the records spill and the delivery still succeeds; only a hang or an error fails.
async fn deliver_within(delivery: &KafkaDelivery, records: Vec<Record>, secs: u64) -> Delivered {
    tokio::time::timeout(Duration::from_secs(secs), delivery.deliver(records, vec![]))
        .await
        .unwrap_or_else(|_| panic!("deliver hung for {secs} s"))
        .expect("delivery succeeds, directly or by spilling")
}

/// Records that are not acknowledged within `message_timeout_ms` spill.
fn tls_config(
    events: &str,
    dead: &str,
    spill: &std::path::Path,
    ca: &str,
    message_timeout_ms: u64,
) -> KafkaConfig {
    let mut config = KafkaConfig {
        brokers: vec![kafka_sh(&["bootstrap-tls"])],
        message_timeout_ms,
        ..delivery_config(events, dead, spill)
    };
    config
        .librdkafka_options
        .insert("security.protocol".into(), "ssl".into());
    config
        .librdkafka_options
        .insert("ssl.ca.location".into(), ca.into());
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_delivered_over_tls_come_back() {
    let ca = kafka_sh(&["tls-ca"]);
    let (events, dead) = fresh_topics("tls", 1).await;
    let spill = tempfile::tempdir().unwrap();
    // Generous: a broker the outage tests just restarted took over 3 s for its first TLS records.
    let config = tls_config(&events, &dead, spill.path(), &ca, 30_000);
    config.check().expect("librdkafka takes the TLS settings");
    let delivery = KafkaDelivery::new(&config).unwrap();

    let records: Vec<Record> = (0..100)
        .map(|i| Record::new(format!("wk:user-{}", i % 7), format!(r#"{{"seq":{i}}}"#)))
        .collect();
    let done = deliver_within(&delivery, records, 60).await;
    assert_eq!(done.direct, 100, "over TLS nothing should spill: {done:?}");
    assert_eq!(delivery.stats().spilled_total, 0);

    // Read back over the plaintext listener: the same broker, so the same records.
    let source = source(&[&events], &unique("tls-group"));
    let read = consume_until(&source, Duration::from_secs(60), |r| r.len() >= 100).await;
    let seqs: HashSet<u64> = read.iter().map(|r| seq_of(&r.payload)).collect();
    assert_eq!(seqs, (0..100).collect::<HashSet<u64>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_whose_certificate_cannot_be_verified_gets_nothing() {
    // A CA that did not sign the broker's certificate: the system's bundle, or failing that an
    // empty directory.
    let elsewhere = tempfile::tempdir().unwrap();
    let other_ca = ["/etc/ssl/certs/ca-certificates.crt"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(str::to_owned)
        .unwrap_or_else(|| elsewhere.path().to_str().unwrap().to_owned());
    let (events, dead) = fresh_topics("tls-unverified", 1).await;
    let spill = tempfile::tempdir().unwrap();
    let delivery =
        KafkaDelivery::new(&tls_config(&events, &dead, spill.path(), &other_ca, 3_000)).unwrap();
    let records = vec![Record::new("wk:user-1", r#"{"seq":1}"#)];
    let done = deliver_within(&delivery, records, 30).await;
    assert_eq!(done.direct, 0, "{done:?}");
    assert_eq!(done.spilled, 1, "{done:?}");
    let stats = delivery.stats();
    assert_eq!(stats.produced_total, 0);
    // Counted as what it is, so that a dashboard tells it from an outage.
    assert!(stats.connection_errors.tls > 0, "{stats:?}");
    assert_eq!(stats.connection_errors.authentication, 0, "{stats:?}");
}

/// The SASL_SSL listener's settings: SCRAM-SHA-512 as `password`, over TLS.
fn sasl_config(
    events: &str,
    dead: &str,
    spill: &std::path::Path,
    password: &str,
    message_timeout_ms: u64,
) -> KafkaConfig {
    let ca = kafka_sh(&["tls-ca"]);
    let mut config = tls_config(events, dead, spill, &ca, message_timeout_ms);
    config.brokers = vec![kafka_sh(&["bootstrap-sasl"])];
    for (key, value) in [
        ("security.protocol", "sasl_ssl"),
        ("sasl.mechanisms", "SCRAM-SHA-512"),
        ("sasl.username", "footfall"),
        ("sasl.password", password),
    ] {
        config.librdkafka_options.insert(key.into(), value.into());
    }
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_delivered_over_sasl_scram_come_back_and_a_wrong_password_gets_nothing() {
    let (events, dead) = fresh_topics("sasl", 1).await;
    let spill = tempfile::tempdir().unwrap();
    let delivery = KafkaDelivery::new(&sasl_config(
        &events,
        &dead,
        spill.path(),
        "footfall-dev",
        30_000,
    ))
    .unwrap();
    let records: Vec<Record> = (0..20)
        .map(|i| Record::new("wk:user-1", format!(r#"{{"seq":{i}}}"#)))
        .collect();
    let done = deliver_within(&delivery, records, 60).await;
    assert_eq!(done.direct, 20, "{done:?}");
    let source = source(&[&events], &unique("sasl-group"));
    let read = consume_until(&source, Duration::from_secs(60), |r| r.len() >= 20).await;
    let seqs: Vec<u64> = read.iter().map(|r| seq_of(&r.payload)).collect();
    assert_eq!(seqs, (0..20).collect::<Vec<u64>>(), "one key, so in order");

    let spill = tempfile::tempdir().unwrap();
    let refused = KafkaDelivery::new(&sasl_config(
        &events,
        &dead,
        spill.path(),
        "not-the-password",
        3_000,
    ))
    .unwrap();
    let records = vec![Record::new("wk:user-2", r#"{"seq":1}"#)];
    let done = deliver_within(&refused, records, 30).await;
    assert_eq!((done.direct, done.spilled), (0, 1), "{done:?}");
    let stats = refused.stats();
    assert_eq!(stats.produced_total, 0);
    assert!(stats.connection_errors.authentication > 0, "{stats:?}");
    assert_eq!(delivery.stats().connection_errors.authentication, 0);
}
