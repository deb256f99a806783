//! The seam between the delivery logic and Kafka: the [`Transport`] trait,
//! its librdkafka implementation [`RdKafkaTransport`], and the
//! [`ProduceError`] classification (retriable vs fatal) both sides share.
//!
//! # One wait per batch
//!
//! A collector request produces its 50 or so records with
//! [`Transport::send_batch`]: every record is enqueued at once, and one
//! future resolves when librdkafka has reported on the last of them.
//! [`RdKafkaTransport`] gives each record a small [`DeliverySlot`] (the
//! batch and the record's index) as its delivery opaque; the delivery
//! callback, on librdkafka's polling thread, counts the batch down and
//! wakes the waiting task once. Per record that is one atomic decrement,
//! where a future per record (rdkafka's `FutureProducer`) costs a oneshot
//! channel, two more allocations, a poll and a wake-up.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::util::Timeout;
use rdkafka::ClientConfig;
use tokio::sync::oneshot;

use crate::config::KafkaConfig;
use crate::stats::{ConnectionErrorCounts, ProducerStats};

/// A boxed future of one record's delivery outcome.
pub type SendFuture = Pin<Box<dyn Future<Output = Result<(), ProduceError>> + Send>>;

/// One record of a [`Transport::send_batch`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutgoingRecord<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The ordering (partition) key.
    pub key: &'a [u8],
    /// The value.
    pub payload: &'a [u8],
}

/// The records of a batch that were not acknowledged, as (index in the
/// batch, why), in no particular order. Empty when all were.
pub type BatchFailures = Vec<(usize, ProduceError)>;

/// A boxed future of a whole batch's delivery outcome.
pub type BatchFuture = Pin<Box<dyn Future<Output = BatchFailures> + Send>>;

/// What a [`KafkaDelivery`](crate::KafkaDelivery) needs from a Kafka
/// producer. [`RdKafkaTransport`] is the real one; tests substitute fakes.
pub trait Transport: Send + Sync + 'static {
    /// Enqueues one record **before returning** (so the enqueue order of
    /// successive calls is the produce order) and returns a future that
    /// resolves once the broker acknowledged it (acks=all) or it failed.
    fn send(&self, topic: &str, key: &[u8], payload: &[u8]) -> SendFuture;

    /// Enqueues every record, in order, **before returning**, and returns
    /// one future that resolves once each was acknowledged or failed, with
    /// the failures. The default sends them one by one with
    /// [`send`](Transport::send).
    fn send_batch(&self, records: &[OutgoingRecord<'_>]) -> BatchFuture {
        let sends: Vec<SendFuture> = records
            .iter()
            .map(|r| self.send(r.topic, r.key, r.payload))
            .collect();
        Box::pin(async move {
            let mut failures = Vec::new();
            for (index, send) in sends.into_iter().enumerate() {
                if let Err(error) = send.await {
                    failures.push((index, error));
                }
            }
            failures
        })
    }

    /// Whether the client currently believes every broker is down (the
    /// librdkafka error callback said so and no delivery has succeeded
    /// since). New records are spilled without trying Kafka while true.
    fn brokers_down(&self) -> bool;

    /// Checks that the cluster answers (a metadata request for `topic`),
    /// without producing anything; clears [`brokers_down`](Transport::brokers_down)
    /// on success.
    fn probe(&self, topic: &str) -> Pin<Box<dyn Future<Output = Result<(), ProduceError>> + Send>>;

    /// Waits up to `timeout` for queued records to be delivered.
    fn flush(&self, timeout: Duration);

    /// The producer's latest own statistics, if it reports any.
    fn producer_stats(&self) -> Option<ProducerStats> {
        None
    }

    /// Connections refused for bad credentials or failed TLS, so far.
    fn connection_errors(&self) -> ConnectionErrorCounts {
        ConnectionErrorCounts::default()
    }
}

/// Why a record was not acknowledged, coarsely enough to choose a reaction
/// and to label a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProduceErrorKind {
    /// `message.timeout.ms` passed without an acknowledgement. The record
    /// may still have been written (the duplicate window).
    TimedOut,
    /// No broker reachable, transport failure, leader unavailable.
    Unavailable,
    /// librdkafka's local queue is full.
    QueueFull,
    /// Kafka refused the record itself (too large, invalid, not authorised);
    /// retrying cannot help.
    Rejected,
    /// Anything else; treated as retriable.
    Other,
}

impl ProduceErrorKind {
    /// Every kind, in label order.
    pub const ALL: [ProduceErrorKind; 5] = [
        ProduceErrorKind::TimedOut,
        ProduceErrorKind::Unavailable,
        ProduceErrorKind::QueueFull,
        ProduceErrorKind::Rejected,
        ProduceErrorKind::Other,
    ];

    /// A stable, low-cardinality metric label.
    pub fn label(self) -> &'static str {
        match self {
            ProduceErrorKind::TimedOut => "timed_out",
            ProduceErrorKind::Unavailable => "unavailable",
            ProduceErrorKind::QueueFull => "queue_full",
            ProduceErrorKind::Rejected => "rejected",
            ProduceErrorKind::Other => "other",
        }
    }

    /// Whether sending the same record again later may succeed.
    pub fn is_retriable(self) -> bool {
        self != ProduceErrorKind::Rejected
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// A failed produce: its kind and librdkafka's description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {detail}", kind.label())]
pub struct ProduceError {
    /// The classification.
    pub kind: ProduceErrorKind,
    /// Human-readable cause.
    pub detail: String,
}

impl ProduceError {
    /// An error of `kind`.
    pub fn new(kind: ProduceErrorKind, detail: impl Into<String>) -> ProduceError {
        ProduceError {
            kind,
            detail: detail.into(),
        }
    }

    pub(crate) fn from_kafka(error: &KafkaError) -> ProduceError {
        let kind = match error.rdkafka_error_code() {
            Some(code) => classify(code),
            None => ProduceErrorKind::Other,
        };
        ProduceError::new(kind, error.to_string())
    }
}

fn classify(code: RDKafkaErrorCode) -> ProduceErrorKind {
    use RDKafkaErrorCode as C;
    match code {
        C::MessageTimedOut | C::RequestTimedOut => ProduceErrorKind::TimedOut,
        C::QueueFull => ProduceErrorKind::QueueFull,
        C::AllBrokersDown
        | C::BrokerTransportFailure
        | C::Resolve
        | C::NetworkException
        | C::LeaderNotAvailable
        | C::NotLeaderForPartition
        | C::NotEnoughReplicas
        | C::NotEnoughReplicasAfterAppend
        | C::UnknownTopic
        | C::UnknownTopicOrPartition => ProduceErrorKind::Unavailable,
        C::MessageSizeTooLarge
        | C::InvalidMessageSize
        | C::InvalidMessage
        | C::InvalidRecord
        | C::InvalidTopic
        | C::TopicAuthorizationFailed
        | C::ClusterAuthorizationFailed => ProduceErrorKind::Rejected,
        _ => ProduceErrorKind::Other,
    }
}

/// The librdkafka client context: routes librdkafka's logs to `tracing`,
/// turns "all brokers down" into a flag the delivery reads, keeps the
/// latest statistics report, and settles each record's [`DeliverySlot`].
pub struct FootfallContext {
    brokers_down: Arc<AtomicBool>,
    statistics: LatestStats,
    connection_errors: Arc<ConnectionErrorCounters>,
}

/// [`ConnectionErrorCounts`] as the client context counts them.
#[derive(Debug, Default)]
struct ConnectionErrorCounters {
    authentication: AtomicU64,
    tls: AtomicU64,
}

impl ConnectionErrorCounters {
    fn snapshot(&self) -> ConnectionErrorCounts {
        ConnectionErrorCounts {
            authentication: self.authentication.load(Ordering::Relaxed),
            tls: self.tls.load(Ordering::Relaxed),
        }
    }
}

impl ProducerContext for FootfallContext {
    type DeliveryOpaque = Box<DeliverySlot>;

    fn delivery(&self, result: &DeliveryResult<'_>, slot: Box<DeliverySlot>) {
        let error = result
            .as_ref()
            .err()
            .map(|(error, _message)| ProduceError::from_kafka(error));
        slot.batch.settle(slot.index, error);
    }
}

/// A record's place in a [`Transport::send_batch`] call, handed to
/// librdkafka as the record's delivery opaque and given back to
/// [`FootfallContext`]'s delivery callback.
pub struct DeliverySlot {
    batch: Arc<PendingBatch>,
    index: usize,
}

/// A batch whose delivery reports are still coming in.
struct PendingBatch {
    /// Records not yet reported on (or refused at enqueue).
    remaining: AtomicUsize,
    state: Mutex<BatchState>,
}

struct BatchState {
    failures: BatchFailures,
    /// Taken by whoever settles the last record. If librdkafka dropped an
    /// opaque without reporting (it reports even on purge, so this is a
    /// backstop), the last `Arc` drops the sender and the waiter treats
    /// every record as failed.
    done: Option<oneshot::Sender<BatchFailures>>,
}

impl PendingBatch {
    fn new(records: usize) -> (Arc<PendingBatch>, oneshot::Receiver<BatchFailures>) {
        let (done, wait) = oneshot::channel();
        let batch = Arc::new(PendingBatch {
            remaining: AtomicUsize::new(records),
            state: Mutex::new(BatchState {
                failures: Vec::new(),
                done: Some(done),
            }),
        });
        (batch, wait)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, BatchState> {
        // Every update is a push or a take, complete or not begun.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn settle(&self, index: usize, error: Option<ProduceError>) {
        if let Some(error) = error {
            self.state().failures.push((index, error));
        }
        // AcqRel: the last settler sees every earlier settler's push.
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            let mut state = self.state();
            let failures = std::mem::take(&mut state.failures);
            if let Some(done) = state.done.take() {
                // The waiter may be gone (dropped future); the outcome stands.
                let _ = done.send(failures);
            }
        }
    }
}

impl ClientContext for FootfallContext {
    fn stats(&self, report: rdkafka::Statistics) {
        let summary = ProducerStats::from_librdkafka(&report);
        *self.statistics.lock().unwrap_or_else(|p| p.into_inner()) = Some(summary);
    }

    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => tracing::error!(target: "librdkafka", fac, "{message}"),
            RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", fac, "{message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", fac, "{message}")
            }
            RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", fac, "{message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let counter = match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::AllBrokersDown) => {
                if !self.brokers_down.swap(true, Ordering::SeqCst) {
                    tracing::warn!(%reason, "all Kafka brokers are down; new records will be spilled");
                }
                return;
            }
            Some(RDKafkaErrorCode::Authentication | RDKafkaErrorCode::SaslAuthenticationFailed) => {
                Some(&self.connection_errors.authentication)
            }
            Some(RDKafkaErrorCode::SSL) => Some(&self.connection_errors.tls),
            _ => None,
        };
        if let Some(counter) = counter {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        tracing::warn!(%error, %reason, "librdkafka client error");
    }
}

/// [`Transport`] over an idempotent rdkafka [`ThreadedProducer`], one
/// delivery wait per batch (see the [module docs](self)).
///
/// Creating it does not contact the brokers (librdkafka connects in the
/// background), so it never blocks.
///
/// If librdkafka raises a fatal error (the idempotent producer can, for
/// example on an out-of-order sequence), the instance is unusable: the
/// failed records are reported as [`ProduceErrorKind::Other`] (so they are
/// spilled) and the next send builds a fresh producer.
pub struct RdKafkaTransport {
    shared: Arc<Shared>,
    probe_timeout: Duration,
}

struct Shared {
    producer: RwLock<KafkaProducer>,
    config: ClientConfig,
    brokers_down: Arc<AtomicBool>,
    /// Kept across producer replacements: the last report stays visible
    /// until the new producer's first.
    statistics: LatestStats,
    /// Kept across producer replacements, as counters are.
    connection_errors: Arc<ConnectionErrorCounters>,
}

/// The latest librdkafka statistics report, written by the client context
/// and read by [`Transport::producer_stats`].
type LatestStats = Arc<Mutex<Option<ProducerStats>>>;

/// The producer; its polling thread runs the delivery callbacks.
type KafkaProducer = ThreadedProducer<FootfallContext>;

impl Shared {
    fn current(&self) -> KafkaProducer {
        self.producer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces `failed` with a new producer if it hit a fatal error and
    /// nobody replaced it yet.
    fn replace_if_fatal(&self, failed: &KafkaProducer) {
        let Some((code, reason)) = failed.client().fatal_error() else {
            return;
        };
        let mut producer = self.producer.write().unwrap_or_else(|p| p.into_inner());
        if producer.client().native_ptr() != failed.client().native_ptr() {
            return; // Already replaced.
        }
        match create_producer(
            &self.config,
            &self.brokers_down,
            &self.statistics,
            &self.connection_errors,
        ) {
            Ok(fresh) => {
                tracing::error!(%code, %reason, "fatal Kafka producer error; producer recreated");
                let old = std::mem::replace(&mut *producer, fresh);
                // Dropping purges and flushes for up to 500 ms: not on a runtime worker.
                std::thread::spawn(move || drop(old));
            }
            Err(error) => {
                tracing::error!(%code, %reason, %error, "fatal Kafka producer error; recreating failed")
            }
        }
    }
}

fn create_producer(
    config: &ClientConfig,
    brokers_down: &Arc<AtomicBool>,
    statistics: &LatestStats,
    connection_errors: &Arc<ConnectionErrorCounters>,
) -> Result<KafkaProducer, KafkaError> {
    config.create_with_context(FootfallContext {
        brokers_down: Arc::clone(brokers_down),
        statistics: Arc::clone(statistics),
        connection_errors: Arc::clone(connection_errors),
    })
}

impl RdKafkaTransport {
    /// Builds the producer from [`KafkaConfig::producer_config`].
    pub fn new(config: &KafkaConfig) -> Result<RdKafkaTransport, KafkaError> {
        let brokers_down = Arc::new(AtomicBool::new(false));
        let mut client_config = config.producer_config();
        client_config.set_log_level(RDKafkaLogLevel::Warning);
        let statistics = Arc::new(Mutex::new(None));
        let connection_errors = Arc::new(ConnectionErrorCounters::default());
        let producer = create_producer(
            &client_config,
            &brokers_down,
            &statistics,
            &connection_errors,
        )?;
        Ok(RdKafkaTransport {
            shared: Arc::new(Shared {
                producer: RwLock::new(producer),
                config: client_config,
                brokers_down,
                statistics,
                connection_errors,
            }),
            probe_timeout: Duration::from_secs(5),
        })
    }
}

impl fmt::Debug for RdKafkaTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RdKafkaTransport")
            .field("brokers_down", &self.brokers_down())
            .finish_non_exhaustive()
    }
}

impl Transport for RdKafkaTransport {
    fn send(&self, topic: &str, key: &[u8], payload: &[u8]) -> SendFuture {
        let batch = self.send_batch(&[OutgoingRecord {
            topic,
            key,
            payload,
        }]);
        Box::pin(async move {
            match batch.await.pop() {
                Some((_, error)) => Err(error),
                None => Ok(()),
            }
        })
    }

    fn send_batch(&self, records: &[OutgoingRecord<'_>]) -> BatchFuture {
        let total = records.len();
        if total == 0 {
            return Box::pin(async { Vec::new() });
        }
        let producer = self.shared.current();
        let (batch, wait) = PendingBatch::new(total);
        for (index, record) in records.iter().enumerate() {
            let slot = Box::new(DeliverySlot {
                batch: Arc::clone(&batch),
                index,
            });
            let base = BaseRecord::with_opaque_to(record.topic, slot)
                .key(record.key)
                .payload(record.payload);
            if let Err((error, _record)) = producer.send(base) {
                // Never enqueued, so no delivery report will come for it.
                batch.settle(index, Some(ProduceError::from_kafka(&error)));
            }
        }
        drop(batch);
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            let failures = match wait.await {
                Ok(failures) => failures,
                Err(_dropped) => (0..total)
                    .map(|index| {
                        let detail = "the producer dropped the record without a delivery report";
                        (index, ProduceError::new(ProduceErrorKind::Other, detail))
                    })
                    .collect(),
            };
            if failures.len() < total && shared.brokers_down.load(Ordering::Relaxed) {
                shared.brokers_down.store(false, Ordering::SeqCst);
            }
            if !failures.is_empty() {
                shared.replace_if_fatal(&producer);
            }
            failures
        })
    }

    fn brokers_down(&self) -> bool {
        self.shared.brokers_down.load(Ordering::SeqCst)
    }

    fn probe(&self, topic: &str) -> Pin<Box<dyn Future<Output = Result<(), ProduceError>> + Send>> {
        let producer = self.shared.current();
        let brokers_down = Arc::clone(&self.shared.brokers_down);
        let topic = topic.to_owned();
        let timeout = self.probe_timeout;
        Box::pin(async move {
            // fetch_metadata blocks; keep it off the async workers.
            let result = tokio::task::spawn_blocking(move || {
                producer
                    .client()
                    .fetch_metadata(Some(&topic), Timeout::After(timeout))
                    .map(|_| ())
            })
            .await;
            match result {
                Ok(Ok(())) => {
                    brokers_down.store(false, Ordering::SeqCst);
                    Ok(())
                }
                Ok(Err(error)) => Err(ProduceError::from_kafka(&error)),
                Err(join) => Err(ProduceError::new(ProduceErrorKind::Other, join.to_string())),
            }
        })
    }

    fn flush(&self, timeout: Duration) {
        if let Err(error) = self.shared.current().flush(Timeout::After(timeout)) {
            tracing::warn!(%error, "records still queued in librdkafka at shutdown");
        }
    }

    fn producer_stats(&self) -> Option<ProducerStats> {
        self.shared
            .statistics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn connection_errors(&self) -> ConnectionErrorCounts {
        self.shared.connection_errors.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classified_retriable_or_fatal() {
        let timed_out = KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut);
        assert_eq!(
            ProduceError::from_kafka(&timed_out).kind,
            ProduceErrorKind::TimedOut
        );
        let too_large = KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge);
        let err = ProduceError::from_kafka(&too_large);
        assert_eq!(err.kind, ProduceErrorKind::Rejected);
        assert!(!err.kind.is_retriable());
        let down = KafkaError::MessageProduction(RDKafkaErrorCode::AllBrokersDown);
        assert!(ProduceError::from_kafka(&down).kind.is_retriable());
        assert_eq!(
            ProduceError::from_kafka(&KafkaError::Canceled).kind,
            ProduceErrorKind::Other
        );
    }

    #[test]
    fn a_batch_resolves_once_with_every_failure_when_its_last_record_is_settled() {
        let (batch, mut wait) = PendingBatch::new(3);
        batch.settle(2, Some(ProduceError::new(ProduceErrorKind::TimedOut, "t")));
        batch.settle(0, None);
        assert!(wait.try_recv().is_err(), "one record is still out");
        batch.settle(1, None);
        let failures = wait.try_recv().unwrap();
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].0, 2);
        assert_eq!(failures[0].1.kind, ProduceErrorKind::TimedOut);
    }

    #[test]
    fn a_batch_whose_reports_never_come_is_not_waited_for_forever() {
        let (batch, mut wait) = PendingBatch::new(2);
        batch.settle(0, None);
        drop(batch);
        assert!(matches!(
            wait.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        ));
    }

    #[test]
    fn labels_are_unique_and_indexed_in_order() {
        for (i, kind) in ProduceErrorKind::ALL.into_iter().enumerate() {
            assert_eq!(kind.index(), i);
        }
        let mut labels: Vec<_> = ProduceErrorKind::ALL.iter().map(|k| k.label()).collect();
        labels.dedup();
        assert_eq!(labels.len(), ProduceErrorKind::ALL.len());
    }
}
