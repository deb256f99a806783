//! Kafka (`footfall-kafka`'s [`KafkaSource`]) as a consumer group with explicit commits: a batch's
//! offsets are committed only after [`crate::Processor::process`] stored it. A batch that failed
//! is handed out again by the next `poll` (it stays pending until committed), so nothing is lost
//! while the store is down.
//!
//! The collector's dead-letter topic may be subscribed beside the events topic: its records are
//! handed to the processor as dead letters, so invalid events reach the dead-letter store at
//! scale as they do on the embedded log.

use std::time::Duration;

use footfall_kafka::{KafkaSource, KafkaSourceConfig};

use super::Source;
use crate::processor::SourceRecord;
use crate::{Error, Result};

/// The Kafka source.
pub struct KafkaLogSource {
    source: KafkaSource,
    dead_letter_topic: Option<String>,
    runtime: tokio::runtime::Runtime,
    pending: Vec<footfall_kafka::SourceRecord>,
}

impl std::fmt::Debug for KafkaLogSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaLogSource")
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

fn kafka_error(e: footfall_kafka::SourceError) -> Error {
    Error::Store(footfall_store::Error::Unavailable(format!("kafka: {e}")))
}

/// A record's offset for the processor: partition in the high bits, so offsets of different
/// partitions never collide (dead-letter ids and identity versions use it). Events and dead
/// letters are numbered separately, as on the embedded log.
fn offset_of(r: &footfall_kafka::SourceRecord) -> u64 {
    ((r.partition.max(0) as u64) << 40) | (r.offset.max(0) as u64)
}

impl KafkaLogSource {
    /// Subscribes with `config` (its `group_id` is the consumer group).
    pub fn new(config: &KafkaSourceConfig) -> Result<Self> {
        Self::with_dead_letters(config, None)
    }

    /// Same, also subscribing to the collector's dead-letter topic.
    pub fn with_dead_letters(
        config: &KafkaSourceConfig,
        dead_letter_topic: Option<&str>,
    ) -> Result<Self> {
        let mut config = config.clone();
        if let Some(topic) = dead_letter_topic {
            if !config.topics.iter().any(|t| t == topic) {
                config.topics.push(topic.to_owned());
            }
        }
        let config = &config;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Invalid(format!("tokio runtime: {e}")))?;
        let source = {
            let _guard = runtime.enter();
            KafkaSource::new(config).map_err(kafka_error)?
        };
        Ok(Self {
            source,
            dead_letter_topic: dead_letter_topic.map(str::to_owned),
            runtime,
            pending: Vec::new(),
        })
    }
}

impl Source for KafkaLogSource {
    fn poll(&mut self, max: usize, timeout: Duration) -> Result<Vec<SourceRecord>> {
        if self.pending.is_empty() {
            let wait = Duration::from_millis(20).min(timeout);
            self.pending = self
                .runtime
                .block_on(self.source.next_batch_within(max, wait, timeout))
                .map_err(kafka_error)?;
        }
        Ok(self
            .pending
            .iter()
            .map(|r| {
                if self.dead_letter_topic.as_deref() == Some(r.topic.as_str()) {
                    SourceRecord::dead_letter(offset_of(r), r.payload.clone())
                } else {
                    SourceRecord::event(offset_of(r), r.payload.clone())
                }
            })
            .collect())
    }

    fn commit(&mut self, _batch: &[SourceRecord]) -> Result<()> {
        self.runtime
            .block_on(self.source.commit(&self.pending))
            .map_err(kafka_error)?;
        self.pending.clear();
        Ok(())
    }
}
