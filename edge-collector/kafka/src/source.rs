//! [`KafkaSource`]: the backend's at-least-once consumer. It reads batches
//! of [`SourceRecord`]s from a consumer group and commits offsets only when
//! the caller says the batch is stored (`enable.auto.commit=false`).
//!
//! If storing fails, do not commit: drop the source and create a new one,
//! which resumes from the last committed offsets (a rebalance does the
//! same), so the uncommitted records are read again.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{CommitMode, Consumer, DefaultConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

use crate::config::{check_brokers, check_topic, ConfigError};

/// Consumer settings for [`KafkaSource`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaSourceConfig {
    /// Bootstrap brokers, `host:port`. Default `["127.0.0.1:9092"]`.
    pub brokers: Vec<String>,
    /// Consumer group; its committed offsets are the resume point.
    /// Default `footfall-backend`.
    pub group_id: String,
    /// Topics to subscribe to. Default `["footfall.events"]`.
    pub topics: Vec<String>,
    /// librdkafka `client.id`. Default `footfall-backend`.
    pub client_id: String,
    /// Where a group without committed offsets starts: `earliest`
    /// (default: nothing is skipped) or `latest`.
    pub auto_offset_reset: String,
    /// Extra librdkafka settings, applied last. `enable.auto.commit` and
    /// `group.id` are rejected.
    pub librdkafka_options: BTreeMap<String, String>,
}

impl Default for KafkaSourceConfig {
    fn default() -> KafkaSourceConfig {
        KafkaSourceConfig {
            brokers: vec!["127.0.0.1:9092".to_owned()],
            group_id: "footfall-backend".to_owned(),
            topics: vec!["footfall.events".to_owned()],
            client_id: "footfall-backend".to_owned(),
            auto_offset_reset: "earliest".to_owned(),
            librdkafka_options: BTreeMap::new(),
        }
    }
}

impl KafkaSourceConfig {
    /// Checks that the settings make sense together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, reason: &str| {
            Err(ConfigError {
                field,
                reason: reason.to_owned(),
            })
        };
        check_brokers(&self.brokers)?;
        if self.topics.is_empty() {
            return invalid("topics", "at least one topic is required");
        }
        for topic in &self.topics {
            check_topic("topics", topic)?;
        }
        if self.group_id.is_empty() {
            return invalid("group_id", "must not be empty");
        }
        if !matches!(self.auto_offset_reset.as_str(), "earliest" | "latest") {
            return invalid("auto_offset_reset", "must be \"earliest\" or \"latest\"");
        }
        for key in [
            "enable.auto.commit",
            "enable.auto.offset.store",
            "group.id",
            "bootstrap.servers",
        ] {
            if self.librdkafka_options.contains_key(key) {
                return invalid("librdkafka_options", "sets a key the source owns");
            }
        }
        Ok(())
    }

    fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", self.brokers.join(","))
            .set("group.id", &self.group_id)
            .set("client.id", &self.client_id)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", &self.auto_offset_reset)
            .set("enable.partition.eof", "false")
            .set_log_level(RDKafkaLogLevel::Warning);
        for (key, value) in &self.librdkafka_options {
            config.set(key, value);
        }
        config
    }
}

/// One record read from Kafka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRecord {
    /// The topic it came from.
    pub topic: String,
    /// Its partition.
    pub partition: i32,
    /// Its offset in the partition.
    pub offset: i64,
    /// The key (empty if it had none).
    pub key: Vec<u8>,
    /// The payload (empty if it had none).
    pub payload: Vec<u8>,
}

/// Why the source failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// librdkafka reported an error.
    #[error("Kafka consumer: {0}")]
    Kafka(#[from] KafkaError),
}

/// An at-least-once consumer-group consumer.
///
/// ```no_run
/// # async fn run() -> Result<(), footfall_kafka::SourceError> {
/// use std::time::Duration;
/// use footfall_kafka::{KafkaSource, KafkaSourceConfig};
///
/// let source = KafkaSource::new(&KafkaSourceConfig::default())?;
/// loop {
///     let batch = source.next_batch(500, Duration::from_millis(200)).await?;
///     // ... store the batch durably ...
///     source.commit(&batch).await?;
/// }
/// # }
/// ```
#[derive(Clone)]
pub struct KafkaSource {
    consumer: Arc<StreamConsumer<DefaultConsumerContext>>,
}

impl fmt::Debug for KafkaSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaSource").finish_non_exhaustive()
    }
}

impl KafkaSource {
    /// Creates the consumer and subscribes; connecting and joining the group
    /// happen in the background. Must be called inside a tokio runtime.
    pub fn new(config: &KafkaSourceConfig) -> Result<KafkaSource, SourceError> {
        config.validate()?;
        let consumer: StreamConsumer<DefaultConsumerContext> = config.client_config().create()?;
        let topics: Vec<&str> = config.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        Ok(KafkaSource {
            consumer: Arc::new(consumer),
        })
    }

    /// Waits for at least one record, then gathers more until `max_records`
    /// or `max_wait` after the first. Records of one partition come in
    /// offset order.
    ///
    /// Not cancellation safe once the first record is in: records gathered
    /// by a dropped call have left the consumer without reaching the caller,
    /// and a later commit of higher offsets would skip them. Bound the wait
    /// with [`next_batch_within`](KafkaSource::next_batch_within), not with
    /// a timeout around this call.
    pub async fn next_batch(
        &self,
        max_records: usize,
        max_wait: Duration,
    ) -> Result<Vec<SourceRecord>, SourceError> {
        let first = self.consumer.recv().await?;
        Ok(self.fill(owned(&first), max_records, max_wait).await)
    }

    /// Like [`next_batch`](KafkaSource::next_batch), but returns an empty
    /// batch if no first record arrives within `idle`. Only that wait is
    /// bounded (rdkafka's `recv` is cancellation safe); once a record is in,
    /// the batch is gathered for up to `max_wait` and returned whole.
    pub async fn next_batch_within(
        &self,
        max_records: usize,
        max_wait: Duration,
        idle: Duration,
    ) -> Result<Vec<SourceRecord>, SourceError> {
        match tokio::time::timeout(idle, self.consumer.recv()).await {
            Err(_idle) => Ok(Vec::new()),
            Ok(first) => Ok(self.fill(owned(&first?), max_records, max_wait).await),
        }
    }

    /// `first`, then what else arrives within `max_wait`, up to
    /// `max_records`.
    async fn fill(
        &self,
        first: SourceRecord,
        max_records: usize,
        max_wait: Duration,
    ) -> Vec<SourceRecord> {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + max_wait;
        while batch.len() < max_records {
            match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                Ok(Ok(message)) => batch.push(owned(&message)),
                Ok(Err(error)) => {
                    // Hand back what we have; the error surfaces next call
                    // if it persists.
                    tracing::warn!(%error, "Kafka consumer error while filling a batch");
                    break;
                }
                Err(_elapsed) => break,
            }
        }
        batch
    }

    /// Commits, for each partition in `records`, the offset after the
    /// highest one: call it only once the records are stored. Synchronous
    /// commit, run off the async workers.
    pub async fn commit(&self, records: &[SourceRecord]) -> Result<(), SourceError> {
        let mut next: BTreeMap<(&str, i32), i64> = BTreeMap::new();
        for record in records {
            let entry = next
                .entry((record.topic.as_str(), record.partition))
                .or_insert(record.offset + 1);
            *entry = (*entry).max(record.offset + 1);
        }
        if next.is_empty() {
            return Ok(());
        }
        let mut list = TopicPartitionList::new();
        for ((topic, partition), offset) in next {
            list.add_partition_offset(topic, partition, Offset::Offset(offset))?;
        }
        let consumer = Arc::clone(&self.consumer);
        tokio::task::spawn_blocking(move || consumer.commit(&list, CommitMode::Sync))
            .await
            .map_err(|join| {
                SourceError::Kafka(KafkaError::Subscription(format!("commit task: {join}")))
            })??;
        Ok(())
    }
}

fn owned<M: Message>(message: &M) -> SourceRecord {
    SourceRecord {
        topic: message.topic().to_owned(),
        partition: message.partition(),
        offset: message.offset(),
        key: message.key().unwrap_or_default().to_vec(),
        payload: message.payload().unwrap_or_default().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_auto_commit_is_off() {
        let config: KafkaSourceConfig = serde_json::from_str("{}").unwrap();
        config.validate().unwrap();
        let client = config.client_config();
        assert_eq!(client.get("enable.auto.commit"), Some("false"));
        assert_eq!(client.get("auto.offset.reset"), Some("earliest"));
    }

    #[test]
    fn auto_commit_cannot_be_turned_back_on() {
        let mut config = KafkaSourceConfig::default();
        config
            .librdkafka_options
            .insert("enable.auto.commit".to_owned(), "true".to_owned());
        assert_eq!(config.validate().unwrap_err().field, "librdkafka_options");
    }

    #[test]
    fn bad_offset_reset_and_empty_topics_are_rejected() {
        let config = KafkaSourceConfig {
            auto_offset_reset: "smallest".to_owned(),
            ..KafkaSourceConfig::default()
        };
        assert_eq!(config.validate().unwrap_err().field, "auto_offset_reset");
        let config = KafkaSourceConfig {
            topics: Vec::new(),
            ..KafkaSourceConfig::default()
        };
        assert_eq!(config.validate().unwrap_err().field, "topics");
    }
}
