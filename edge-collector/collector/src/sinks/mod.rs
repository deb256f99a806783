//! Where accepted events and dead letters go, and the durability contract.
//!
//! The handler awaits [`EventSink::send`] with the accepted events and the dead letters of one request
//! and answers 2xx only once it returns `Ok`: a sink returns `Ok` only when every record it was given
//! is durable (fsynced to the local log, or acknowledged by all in-sync Kafka replicas). An error means
//! nothing may be assumed stored; the client is told to retry (503 + Retry-After), and since clients keep
//! the same `messageId` on retries, duplicates are removed downstream.
//!
//! * [`memory`]: keeps records in memory, for tests and benchmarks.
//! * [`log`]: the embedded durable log (`footfall-eventlog`), the default for production.
//! * [`kafka`]: Kafka at scale; while Kafka is unreachable records spill to a local log (durable too)
//!   and drain when it returns, so [`SinkError::Full`] comes only when the spill is over its budget.

use std::future::Future;
use std::pin::Pin;

pub use footfall_ingest::Record;

pub mod kafka;
pub mod log;
pub mod memory;

/// A boxed, sendable future, so that sinks can be used as `Arc<dyn EventSink>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a sink did not store a request's records. All of them end as 503 with Retry-After.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// A passing problem (busy, broker unreachable): retry soon.
    #[error("the event store is temporarily unavailable: {0}")]
    Retriable(String),
    /// Out of space (disk budget exceeded): retry later.
    #[error("the event store is full: {0}")]
    Full(String),
    /// The sink is broken and needs an operator; clients should still retry elsewhere or later.
    #[error("the event store failed: {0}")]
    Fatal(String),
}

/// Makes records durable.
pub trait EventSink: Send + Sync + 'static {
    /// Stores the accepted events and dead letters of one request; `Ok` only once all are durable.
    fn send(
        &self,
        events: Vec<Record>,
        dead_letters: Vec<Record>,
    ) -> BoxFuture<'_, Result<(), SinkError>>;

    /// Whether the sink can take records now (the `/ready` probe): `Err` says why not.
    fn readiness(&self) -> Result<(), String> {
        Ok(())
    }

    /// A short name for logs.
    fn name(&self) -> &'static str;

    /// Publishes the sink's own figures (fsyncs, spill backlog, …) to the metrics recorder; called
    /// at each `/metrics` scrape, so that they cost nothing between scrapes.
    fn export_metrics(&self) {}

    /// Ends the sink's background work at shutdown, once no request is left; waits at most `timeout`.
    /// Every record a `send` returned `Ok` for is durable already, so this loses nothing if it is cut
    /// short or never called: it only saves the next start some work (on Kafka, the spill drainer
    /// stops between records and librdkafka's queue is flushed, instead of forwarding again, on the
    /// next start, what it had sent but not yet seen acknowledged).
    fn close(&self, timeout: std::time::Duration) -> BoxFuture<'_, ()> {
        let _ = timeout;
        Box::pin(async {})
    }
}
