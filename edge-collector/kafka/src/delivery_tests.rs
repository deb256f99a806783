//! Mode state machine, spill, drain and ordering tests against a fake
//! [`Transport`]; no broker needed.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use super::*;
use crate::transport::{ProduceErrorKind, SendFuture};

/// A record as sent: (topic, key, payload).
type Sent = (String, Vec<u8>, Vec<u8>);
type Reply = oneshot::Sender<Result<(), ProduceError>>;

/// A Kafka stand-in: up or down, optionally holding sends until released.
#[derive(Default)]
struct FakeKafka {
    up: AtomicBool,
    brokers_down: AtomicBool,
    /// While set, sends stay pending until `release` resolves them.
    hold: AtomicBool,
    held: Mutex<Vec<(Reply, Sent)>>,
    /// Acknowledged records, in acknowledgement order.
    acked: Mutex<Vec<Sent>>,
    attempts: AtomicUsize,
    reject_payload: Mutex<Option<Vec<u8>>>,
}

impl FakeKafka {
    fn new(up: bool) -> Arc<FakeKafka> {
        let fake = FakeKafka::default();
        fake.up.store(up, Ordering::SeqCst);
        Arc::new(fake)
    }

    fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
        if up {
            self.brokers_down.store(false, Ordering::SeqCst);
        }
    }

    fn payloads(&self, topic: &str) -> Vec<String> {
        self.acked
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _, _)| t == topic)
            .map(|(_, _, p)| String::from_utf8(p.clone()).unwrap())
            .collect()
    }

    /// Resolves held sends: acknowledged if `ok`, else timed out.
    fn release(&self, ok: bool) {
        for (tx, record) in self.held.lock().unwrap().drain(..) {
            let result = if ok {
                self.acked.lock().unwrap().push(record);
                Ok(())
            } else {
                Err(ProduceError::new(ProduceErrorKind::TimedOut, "held"))
            };
            let _ = tx.send(result);
        }
    }
}

impl Transport for FakeKafka {
    fn send(&self, topic: &str, key: &[u8], payload: &[u8]) -> SendFuture {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let record = (topic.to_owned(), key.to_vec(), payload.to_vec());
        if self.hold.load(Ordering::SeqCst) {
            let (tx, rx) = oneshot::channel();
            self.held.lock().unwrap().push((tx, record));
            return Box::pin(async move { rx.await.expect("held send released") });
        }
        let result = if self.reject_payload.lock().unwrap().as_deref() == Some(payload) {
            Err(ProduceError::new(ProduceErrorKind::Rejected, "too large"))
        } else if self.up.load(Ordering::SeqCst) {
            self.acked.lock().unwrap().push(record);
            Ok(())
        } else {
            Err(ProduceError::new(
                ProduceErrorKind::Unavailable,
                "broker down",
            ))
        };
        Box::pin(async move { result })
    }

    fn brokers_down(&self) -> bool {
        self.brokers_down.load(Ordering::SeqCst)
    }

    fn probe(
        &self,
        _topic: &str,
    ) -> Pin<Box<dyn Future<Output = Result<(), ProduceError>> + Send>> {
        let up = self.up.load(Ordering::SeqCst);
        if up {
            self.brokers_down.store(false, Ordering::SeqCst);
        }
        Box::pin(async move {
            if up {
                Ok(())
            } else {
                Err(ProduceError::new(ProduceErrorKind::Unavailable, "probe"))
            }
        })
    }

    fn flush(&self, _timeout: Duration) {}
}

fn config(dir: &std::path::Path) -> KafkaConfig {
    KafkaConfig {
        spill_dir: dir.to_path_buf(),
        events_topic: "ev".to_owned(),
        dead_letter_topic: "dl".to_owned(),
        ..KafkaConfig::default()
    }
}

fn records(key: &str, payloads: std::ops::Range<u32>) -> Vec<Record> {
    payloads
        .map(|i| Record::new(key, format!("{key}-{i}")))
        .collect()
}

async fn wait_for_mode(delivery: &KafkaDelivery, mode: DeliveryMode) {
    // A liveness bound, not a timing check: generous, since CI machines are busy.
    for _ in 0..6000 {
        if delivery.mode() == mode {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "delivery did not reach {mode:?} within 60 s: {:?}",
        delivery.stats()
    );
}

#[tokio::test]
async fn records_go_straight_to_kafka_while_it_is_up() {
    let dir = tempfile::tempdir().unwrap();
    let kafka = FakeKafka::new(true);
    let delivery = KafkaDelivery::with_transport(&config(dir.path()), kafka.clone()).unwrap();
    let done = delivery
        .deliver(records("u1", 0..3), records("bad", 0..1))
        .await
        .unwrap();
    assert_eq!(
        done,
        Delivered {
            direct: 4,
            spilled: 0
        }
    );
    assert_eq!(kafka.payloads("ev"), ["u1-0", "u1-1", "u1-2"]);
    assert_eq!(kafka.payloads("dl"), ["bad-0"]);
    let stats = delivery.stats();
    assert_eq!(stats.mode, DeliveryMode::Direct);
    assert_eq!(stats.produced_total, 4);
    assert_eq!(stats.spilled_total, 0);
    assert_eq!(
        delivery.deliver(Vec::new(), Vec::new()).await.unwrap(),
        Delivered::default()
    );
}

#[tokio::test]
async fn an_outage_spills_then_drains_in_order_and_returns_to_direct() {
    let dir = tempfile::tempdir().unwrap();
    let kafka = FakeKafka::new(false);
    let delivery = KafkaDelivery::with_transport(&config(dir.path()), kafka.clone()).unwrap();

    // The first failure spills and flips the mode; later calls spill directly.
    let first = delivery
        .deliver(records("u1", 0..2), Vec::new())
        .await
        .unwrap();
    assert_eq!(
        first,
        Delivered {
            direct: 0,
            spilled: 2
        }
    );
    assert_eq!(delivery.mode(), DeliveryMode::Spill);
    let attempts = kafka.attempts.load(Ordering::SeqCst);
    let second = delivery
        .deliver(records("u1", 2..4), records("dead", 0..1))
        .await
        .unwrap();
    assert_eq!(
        second,
        Delivered {
            direct: 0,
            spilled: 3
        }
    );
    assert_eq!(delivery.stats().spill_backlog, 5);

    kafka.set_up(true);
    // Delivered while the drain may still run: must land after the backlog.
    let third = delivery
        .deliver(records("u1", 4..6), Vec::new())
        .await
        .unwrap();
    assert_eq!(third.direct + third.spilled, 2);
    wait_for_mode(&delivery, DeliveryMode::Direct).await;
    assert!(kafka.attempts.load(Ordering::SeqCst) > attempts);
    assert_eq!(
        kafka.payloads("ev"),
        ["u1-0", "u1-1", "u1-2", "u1-3", "u1-4", "u1-5"]
    );
    assert_eq!(kafka.payloads("dl"), ["dead-0"]);
    // Keys come back without the spill tag.
    assert!(kafka
        .acked
        .lock()
        .unwrap()
        .iter()
        .all(|(_, k, _)| k == b"u1" || k == b"dead"));

    let stats = delivery.stats();
    assert_eq!(stats.spill_backlog, 0);
    assert_eq!(stats.drained_total, stats.spilled_total);
    assert_eq!(stats.mode_switches_total, 2);
    assert!(stats.produce_errors.get(ProduceErrorKind::Unavailable) >= 2);
    assert_eq!(
        delivery.inner.spill.consumer_offset(DRAIN_GROUP).unwrap(),
        Some(stats.spilled_total)
    );
}

#[tokio::test]
async fn all_brokers_down_spills_without_trying_kafka() {
    let dir = tempfile::tempdir().unwrap();
    let kafka = FakeKafka::new(false);
    kafka.brokers_down.store(true, Ordering::SeqCst);
    let delivery = KafkaDelivery::with_transport(&config(dir.path()), kafka.clone()).unwrap();
    let done = delivery
        .deliver(records("u", 0..3), Vec::new())
        .await
        .unwrap();
    assert_eq!(done.spilled, 3);
    assert_eq!(kafka.attempts.load(Ordering::SeqCst), 0);
    // The drainer probes instead of sending while brokers are down.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(kafka.attempts.load(Ordering::SeqCst), 0);
    kafka.set_up(true);
    wait_for_mode(&delivery, DeliveryMode::Direct).await;
    assert_eq!(kafka.payloads("ev"), ["u-0", "u-1", "u-2"]);
}

#[tokio::test]
async fn the_drainer_waits_for_direct_produces_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let kafka = FakeKafka::new(true);
    let delivery =
        Arc::new(KafkaDelivery::with_transport(&config(dir.path()), kafka.clone()).unwrap());
    kafka.hold.store(true, Ordering::SeqCst);
    let in_flight = {
        let delivery = Arc::clone(&delivery);
        tokio::spawn(async move { delivery.deliver(records("a", 0..1), Vec::new()).await })
    };
    for _ in 0..6000 {
        if delivery.stats().direct_in_flight == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(delivery.stats().direct_in_flight, 1);
    // The client reports an outage: new records spill...
    kafka.brokers_down.store(true, Ordering::SeqCst);
    kafka.hold.store(false, Ordering::SeqCst);
    let spilled = delivery
        .deliver(records("b", 0..1), Vec::new())
        .await
        .unwrap();
    assert_eq!(spilled.spilled, 1);
    // ...and stay spilled while the direct produce is unresolved.
    kafka.set_up(true);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(delivery.mode(), DeliveryMode::Spill);
    assert!(
        kafka.payloads("ev").is_empty(),
        "drained before the direct produce resolved"
    );
    // The held produce times out: it is spilled too, then both drain.
    kafka.release(false);
    let done = in_flight.await.unwrap().unwrap();
    assert_eq!(
        done,
        Delivered {
            direct: 0,
            spilled: 1
        }
    );
    wait_for_mode(&delivery, DeliveryMode::Direct).await;
    assert_eq!(kafka.payloads("ev"), ["b-0", "a-0"]);
}

#[tokio::test]
async fn a_full_spill_budget_refuses_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let kafka = FakeKafka::new(false);
    let config = KafkaConfig {
        spill_max_bytes: crate::MIN_SPILL_MAX_BYTES,
        retry_after_secs: 7,
        ..config(dir.path())
    };
    let delivery = KafkaDelivery::with_transport(&config, kafka.clone()).unwrap();
    assert_eq!(
        delivery.refusal(),
        None,
        "an outage alone is no reason to refuse"
    );
    let big = "x".repeat(1000);
    let mut refused = None;
    for i in 0..100 {
        match delivery
            .deliver(vec![Record::new("k", big.clone())], Vec::new())
            .await
        {
            Ok(done) => assert_eq!(done.spilled, 1),
            Err(error) => {
                refused = Some((i, error));
                break;
            }
        }
    }
    let (accepted, error) = refused.expect("a 16 KiB budget must fill with 100 KB");
    assert!(accepted >= 5, "refused too early, after {accepted} records");
    assert!(
        matches!(error, DeliveryError::DiskBudgetExceeded { .. }),
        "{error}"
    );
    assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(delivery.stats().disk_budget_rejections_total, 1);
    assert!(
        delivery
            .refusal()
            .is_some_and(|why| why.contains("disk budget")),
        "{:?}",
        delivery.refusal()
    );

    // Once Kafka is back the backlog drains and space is freed.
    kafka.set_up(true);
    wait_for_mode(&delivery, DeliveryMode::Direct).await;
    assert_eq!(kafka.payloads("ev").len(), accepted);
    assert_eq!(delivery.refusal(), None, "the drained backlog made room");
}

#[tokio::test]
async fn a_rejected_record_fails_the_delivery_but_not_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let kafka = FakeKafka::new(true);
    *kafka.reject_payload.lock().unwrap() = Some(b"u-1".to_vec());
    let delivery = KafkaDelivery::with_transport(&config(dir.path()), kafka.clone()).unwrap();
    let error = delivery
        .deliver(records("u", 0..3), Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(error, DeliveryError::Fatal { .. }), "{error}");
    assert_eq!(error.retry_after(), None);
    assert_eq!(kafka.payloads("ev"), ["u-0", "u-2"]);
    let stats = delivery.stats();
    assert_eq!(stats.rejected_total, 1);
    assert_eq!(stats.produce_errors.get(ProduceErrorKind::Rejected), 1);
    assert_eq!(stats.mode, DeliveryMode::Direct);
}

#[tokio::test]
async fn a_backlog_left_by_a_previous_run_is_drained_on_start() {
    let dir = tempfile::tempdir().unwrap();
    {
        let kafka = FakeKafka::new(false);
        let delivery = KafkaDelivery::with_transport(&config(dir.path()), kafka).unwrap();
        delivery
            .deliver(records("u", 0..4), Vec::new())
            .await
            .unwrap();
        delivery.shutdown(Duration::from_secs(1)).await;
    }
    // The drainer task released the log once it stopped; reopen it.
    let kafka = FakeKafka::new(true);
    let mut reopened = None;
    for _ in 0..1500 {
        match KafkaDelivery::with_transport(&config(dir.path()), kafka.clone()) {
            Ok(delivery) => {
                reopened = Some(delivery);
                break;
            }
            Err(_locked) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    let delivery = reopened.expect("spill log still locked 30 s after shutdown");
    wait_for_mode(&delivery, DeliveryMode::Direct).await;
    assert_eq!(kafka.payloads("ev"), ["u-0", "u-1", "u-2", "u-3"]);
}

#[test]
fn spill_keys_round_trip_with_their_topic_tag() {
    let record = Record::new("wk:user", "{}");
    for dest in [Dest::Events, Dest::DeadLetters] {
        let encoded = encode(dest, &record);
        assert_eq!(decode(&encoded.key), Some((dest, &b"wk:user"[..])));
    }
    assert_eq!(decode(b""), None);
    assert_eq!(decode(b"xkey"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mode_returns_to_direct_under_continuous_load() {
    let dir = tempfile::tempdir().unwrap();
    let kafka = FakeKafka::new(false);
    let delivery =
        Arc::new(KafkaDelivery::with_transport(&config(dir.path()), kafka.clone()).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let deliverers: Vec<_> = (0..16)
        .map(|d| {
            let delivery = Arc::clone(&delivery);
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                let key = format!("user-{d}");
                let mut seq = 0;
                while !stop.load(Ordering::SeqCst) {
                    delivery
                        .deliver(records(&key, seq..seq + 5), Vec::new())
                        .await
                        .unwrap();
                    seq += 5;
                }
                (key, seq)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(delivery.mode(), DeliveryMode::Spill);
    kafka.set_up(true);
    // Deliverers never pause, yet the drainer must get back to direct.
    wait_for_mode(&delivery, DeliveryMode::Direct).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, Ordering::SeqCst);
    for deliverer in deliverers {
        let (key, sent) = deliverer.await.unwrap();
        let got: Vec<String> = kafka
            .acked
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, k, _)| k == key.as_bytes())
            .map(|(_, _, p)| String::from_utf8(p.clone()).unwrap())
            .collect();
        let want: Vec<String> = (0..sent).map(|i| format!("{key}-{i}")).collect();
        assert_eq!(got, want, "records of {key} lost, duplicated or reordered");
    }
    assert!(
        delivery.stats().produced_total > 0,
        "never delivered directly"
    );
}
