//! Prometheus metrics, named `footfall_collector_<name>_<unit>`, with fixed, bounded label sets.
//!
//! | metric | labels |
//! |---|---|
//! | `footfall_collector_events_received_total` | |
//! | `footfall_collector_events_accepted_total` | |
//! | `footfall_collector_events_dropped_total` | `cause` = [`DropCause`] |
//! | `footfall_collector_events_flagged_total` | `flag` = `clamped_timestamp` \| `schema` |
//! | `footfall_collector_requests_rejected_total` | `code` = the [`footfall_protocol::ErrorCode`] |
//! | `footfall_collector_request_duration_seconds` (histogram) | `endpoint`, `status` |

use std::sync::OnceLock;

use footfall_protocol::ErrorCode;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Why events were not stored. Per-message causes come from `footfall_ingest::DropCause`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropCause {
    /// Invalid message (to the dead letters).
    Invalid,
    /// Message over 32 KB (to the dead letters).
    TooLarge,
    /// Refused by a `reject` schema (to the dead letters).
    Schema,
    /// Request refused by the rate limiter (the client retries).
    RateLimited,
    /// Request refused because the sink failed (the client retries).
    SinkUnavailable,
}

impl DropCause {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DropCause::Invalid => "invalid",
            DropCause::TooLarge => "too_large",
            DropCause::Schema => "schema",
            DropCause::RateLimited => "rate_limited",
            DropCause::SinkUnavailable => "sink_unavailable",
        }
    }
}

impl From<footfall_ingest::DropCause> for DropCause {
    fn from(cause: footfall_ingest::DropCause) -> Self {
        match cause {
            footfall_ingest::DropCause::TooLarge => DropCause::TooLarge,
            footfall_ingest::DropCause::Schema => DropCause::Schema,
            _ => DropCause::Invalid,
        }
    }
}

const REQUEST_DURATION: &str = "footfall_collector_request_duration_seconds";

/// The process-wide recorder, installed on first use.
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ];
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.to_owned()), &buckets)
                .expect("the bucket list is not empty");
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
            }
            handle
        })
        .clone()
}

/// Events in a request that was read.
pub fn events_received(n: usize) {
    metrics::counter!("footfall_collector_events_received_total").increment(n as u64);
}

/// Events made durable.
pub fn events_accepted(n: usize) {
    metrics::counter!("footfall_collector_events_accepted_total").increment(n as u64);
}

/// Events not stored, by cause.
pub fn events_dropped(cause: DropCause, n: usize) {
    if n > 0 {
        metrics::counter!("footfall_collector_events_dropped_total", "cause" => cause.as_str())
            .increment(n as u64);
    }
}

/// Events accepted with a flag.
pub fn events_flagged(flag: &'static str, n: usize) {
    if n > 0 {
        metrics::counter!("footfall_collector_events_flagged_total", "flag" => flag)
            .increment(n as u64);
    }
}

/// A request refused as a whole.
pub fn request_rejected(code: ErrorCode) {
    metrics::counter!("footfall_collector_requests_rejected_total", "code" => code.as_str())
        .increment(1);
}

/// How long a request took.
pub fn request_duration(endpoint: &'static str, status: u16, seconds: f64) {
    metrics::histogram!(REQUEST_DURATION, "endpoint" => endpoint, "status" => status.to_string())
        .record(seconds);
}
