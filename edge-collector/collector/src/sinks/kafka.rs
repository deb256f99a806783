//! Kafka (`footfall-kafka`): accepted events to the events topic and dead letters to their own topic,
//! keyed by write key and user so one person's events stay in order on one partition.
//!
//! `send` returns `Ok` once every record is acknowledged by all in-sync replicas, or, while Kafka is
//! unreachable, fsynced to the local spill log that drains to Kafka when it returns. Errors map to
//! [`SinkError`]: spill budget exceeded → [`SinkError::Full`]; a record Kafka refuses for good →
//! [`SinkError::Fatal`]; anything else → [`SinkError::Retriable`]. All end as 503 with Retry-After.

use footfall_kafka::{DeliveryError, KafkaConfig, KafkaDelivery, KafkaStats};

use super::{BoxFuture, EventSink, Record, SinkError};

/// The Kafka sink.
pub struct KafkaSink {
    delivery: KafkaDelivery,
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink")
            .field("stats", &self.delivery.stats())
            .finish()
    }
}

impl KafkaSink {
    /// Builds the producer and opens the spill log. Never waits for the brokers, so the collector starts
    /// (and spills) even when Kafka is down. Must run inside a tokio runtime.
    pub fn new(config: &KafkaConfig) -> Result<Self, SinkError> {
        let delivery = KafkaDelivery::new(config)
            .map_err(|e| SinkError::Fatal(format!("cannot start Kafka delivery: {e}")))?;
        Ok(Self { delivery })
    }

    /// Counters and the delivery mode (direct or spilling), for metrics and tests.
    pub fn stats(&self) -> KafkaStats {
        self.delivery.stats()
    }
}

fn to_kafka(records: Vec<Record>) -> Vec<footfall_kafka::Record> {
    records
        .into_iter()
        .map(|r| footfall_kafka::Record::new(r.key, r.payload))
        .collect()
}

impl EventSink for KafkaSink {
    fn send(
        &self,
        events: Vec<Record>,
        dead_letters: Vec<Record>,
    ) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async move {
            match self
                .delivery
                .deliver(to_kafka(events), to_kafka(dead_letters))
                .await
            {
                Ok(_) => Ok(()),
                Err(DeliveryError::DiskBudgetExceeded { .. }) => Err(SinkError::Full(
                    "Kafka is unreachable and the local spill log is over its disk budget".into(),
                )),
                Err(DeliveryError::Fatal { reason }) => Err(SinkError::Fatal(reason)),
                Err(other) => Err(SinkError::Retriable(other.to_string())),
            }
        })
    }

    /// Ready while Kafka takes records or the spill log has room: a load balancer should keep
    /// sending to a collector that spills, and stop while it can only answer 503.
    fn readiness(&self) -> Result<(), String> {
        match self.delivery.refusal() {
            None => Ok(()),
            Some(why) => Err(why.to_owned()),
        }
    }

    fn name(&self) -> &'static str {
        "kafka"
    }

    fn export_metrics(&self) {
        crate::metrics::kafka(&self.delivery.stats());
    }

    fn close(&self, timeout: std::time::Duration) -> BoxFuture<'_, ()> {
        // The delivery waits up to its timeout twice (the drainer, then librdkafka's flush).
        Box::pin(self.delivery.shutdown(timeout / 2))
    }
}
