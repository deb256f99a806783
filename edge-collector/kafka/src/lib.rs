//! Footfall's Kafka delivery: the edge collector's sink core and the
//! consumer the backend reads with.
//!
//! # Overview
//!
//! - [`KafkaDelivery`] makes batches of events durable:
//!   [`KafkaDelivery::deliver`] returns `Ok` only once every record is
//!   acknowledged by Kafka (idempotent producer, `acks=all`) or, while
//!   Kafka is unreachable, fsynced into a local spill log (a
//!   `footfall-eventlog` [`EventLog`](footfall_eventlog::EventLog)) that a
//!   background drainer forwards in order once Kafka is back. The only
//!   back-pressure is [`DeliveryError::DiskBudgetExceeded`] (503 +
//!   `Retry-After`) when the spill budget is full. The [`delivery`] module
//!   docs describe the design, its ordering guarantees and its duplicate
//!   window.
//! - [`KafkaConfig`] is its configuration; [`KafkaStats`] a counter
//!   snapshot for the Prometheus exporter, with librdkafka's own view of
//!   the brokers ([`ProducerStats`]: round trip, queue wait, requests in
//!   flight) so that a slow acknowledgement can be placed.
//! - [`Transport`] is the seam to the producer: [`RdKafkaTransport`] in
//!   production (one delivery wait per batch, not per record), fakes in
//!   tests.
//! - [`KafkaSource`] is the backend's at-least-once consumer-group reader:
//!   batches of [`SourceRecord`]s, offsets committed only on request.
//! - `dev_broker` (feature `dev-broker`): the development broker of
//!   `scripts/infra/kafka.sh`, for integration tests here and in the
//!   collector, with a guard that starts it again when a test fails while
//!   it is stopped.
//!
//! # Example
//!
//! ```no_run
//! use footfall_kafka::{DeliveryError, KafkaConfig, KafkaDelivery, Record};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config: KafkaConfig = serde_json::from_str(
//!     r#"{"brokers": ["127.0.0.1:19092"], "spill_dir": "/var/lib/footfall/spill"}"#,
//! )?;
//! let delivery = KafkaDelivery::new(&config)?;
//! let events = vec![Record::new("wk_123:user-1", r#"{"type":"track"}"#)];
//! match delivery.deliver(events, Vec::new()).await {
//!     Ok(done) => println!("{} to Kafka, {} spilled", done.direct, done.spilled),
//!     Err(e @ DeliveryError::DiskBudgetExceeded { .. }) => {
//!         println!("503, Retry-After {:?}: {e}", e.retry_after())
//!     }
//!     Err(e) => println!("failed: {e}"),
//! }
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub use config::{is_secret_option, Compression, ConfigError, KafkaConfig, MIN_SPILL_MAX_BYTES};
pub use delivery::{BuildError, Delivered, DeliveryError, KafkaDelivery, DRAIN_GROUP};
pub use footfall_eventlog::Record;
pub use source::{KafkaSource, KafkaSourceConfig, SourceError, SourceRecord};
pub use stats::{
    BrokerStats, ConnectionErrorCounts, DeliveryMode, KafkaStats, LatencyWindow,
    ProduceErrorCounts, ProducerStats,
};
pub use transport::{
    BatchFailures, BatchFuture, DeliverySlot, FootfallContext, OutgoingRecord, ProduceError,
    ProduceErrorKind, RdKafkaTransport, SendFuture, Transport,
};

mod config;
pub mod delivery;
#[cfg(feature = "dev-broker")]
pub mod dev_broker;
mod source;
mod stats;
mod transport;
