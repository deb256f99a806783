//! The seam between the delivery logic and Kafka: the [`Transport`] trait,
//! its librdkafka implementation [`RdKafkaTransport`], and the
//! [`ProduceError`] classification (retriable vs fatal) both sides share.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use rdkafka::ClientConfig;

use crate::config::KafkaConfig;

/// A boxed future of one record's delivery outcome.
pub type SendFuture = Pin<Box<dyn Future<Output = Result<(), ProduceError>> + Send>>;

/// What a [`KafkaDelivery`](crate::KafkaDelivery) needs from a Kafka
/// producer. [`RdKafkaTransport`] is the real one; tests substitute fakes.
pub trait Transport: Send + Sync + 'static {
    /// Enqueues one record **before returning** (so the enqueue order of
    /// successive calls is the produce order) and returns a future that
    /// resolves once the broker acknowledged it (acks=all) or it failed.
    fn send(&self, topic: &str, key: &[u8], payload: &[u8]) -> SendFuture;

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

/// The librdkafka client context: routes librdkafka's logs to `tracing`
/// and turns "all brokers down" into a flag the delivery reads.
pub struct FootfallContext {
    brokers_down: Arc<AtomicBool>,
}

impl ClientContext for FootfallContext {
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
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            if !self.brokers_down.swap(true, Ordering::SeqCst) {
                tracing::warn!(%reason, "all Kafka brokers are down; new records will be spilled");
            }
        } else {
            tracing::warn!(%error, %reason, "librdkafka client error");
        }
    }
}

/// [`Transport`] over an idempotent rdkafka [`FutureProducer`].
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
    producer: RwLock<FutureProducer<FootfallContext>>,
    config: ClientConfig,
    brokers_down: Arc<AtomicBool>,
}

impl Shared {
    fn current(&self) -> FutureProducer<FootfallContext> {
        self.producer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces `failed` with a new producer if it hit a fatal error and
    /// nobody replaced it yet.
    fn replace_if_fatal(&self, failed: &FutureProducer<FootfallContext>) {
        let Some((code, reason)) = failed.client().fatal_error() else {
            return;
        };
        let mut producer = self.producer.write().unwrap_or_else(|p| p.into_inner());
        if producer.client().native_ptr() != failed.client().native_ptr() {
            return; // Already replaced.
        }
        match create_producer(&self.config, &self.brokers_down) {
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
) -> Result<FutureProducer<FootfallContext>, KafkaError> {
    config.create_with_context(FootfallContext {
        brokers_down: Arc::clone(brokers_down),
    })
}

impl RdKafkaTransport {
    /// Builds the producer from [`KafkaConfig::producer_config`].
    pub fn new(config: &KafkaConfig) -> Result<RdKafkaTransport, KafkaError> {
        let brokers_down = Arc::new(AtomicBool::new(false));
        let mut client_config = config.producer_config();
        client_config.set_log_level(RDKafkaLogLevel::Warning);
        let producer = create_producer(&client_config, &brokers_down)?;
        Ok(RdKafkaTransport {
            shared: Arc::new(Shared {
                producer: RwLock::new(producer),
                config: client_config,
                brokers_down,
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
        let producer = self.shared.current();
        let record = FutureRecord::to(topic).key(key).payload(payload);
        match producer.send_result(record) {
            Ok(delivery) => {
                let shared = Arc::clone(&self.shared);
                Box::pin(async move {
                    match delivery.await {
                        Ok(Ok(_)) => {
                            shared.brokers_down.store(false, Ordering::SeqCst);
                            Ok(())
                        }
                        Ok(Err((error, _message))) => {
                            shared.replace_if_fatal(&producer);
                            Err(ProduceError::from_kafka(&error))
                        }
                        Err(_canceled) => Err(ProduceError::new(
                            ProduceErrorKind::Other,
                            "the producer was dropped before the delivery report",
                        )),
                    }
                })
            }
            Err((error, _record)) => {
                self.shared.replace_if_fatal(&producer);
                let error = ProduceError::from_kafka(&error);
                Box::pin(async move { Err(error) })
            }
        }
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
    fn labels_are_unique_and_indexed_in_order() {
        for (i, kind) in ProduceErrorKind::ALL.into_iter().enumerate() {
            assert_eq!(kind.index(), i);
        }
        let mut labels: Vec<_> = ProduceErrorKind::ALL.iter().map(|k| k.label()).collect();
        labels.dedup();
        assert_eq!(labels.len(), ProduceErrorKind::ALL.len());
    }
}
