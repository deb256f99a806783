//! Prometheus metrics, named `footfall_collector_<name>_<unit>`, with fixed, bounded label sets.
//!
//! | metric | labels |
//! |---|---|
//! | `footfall_collector_events_received_total` | |
//! | `footfall_collector_events_accepted_total` | |
//! | `footfall_collector_events_dropped_total` | `cause` = [`DropCause`] |
//! | `footfall_collector_source_events_total`: each source's events, for per-source volume and failures | `project`, `source` (of the write key), `outcome` = [`SourceOutcome`] |
//! | `footfall_collector_events_flagged_total` | `flag` = `clamped_timestamp` \| `schema` |
//! | `footfall_collector_requests_rejected_total` | `code` = the [`footfall_protocol::ErrorCode`] |
//! | `footfall_collector_request_duration_seconds` (histogram) | `endpoint`, `status` |
//! | `footfall_collector_config_reloads_total`: reloads on `SIGHUP` | `result` = `applied` \| `refused` |
//! | `footfall_collector_config_last_reload_successful` (gauge, 0 after a refused reload, absent before the first) | |
//! | `footfall_collector_schemas` (gauge): the schemas in force, one per event name ([`crate::schemas`]) | |
//! | `footfall_collector_sdk_settings_served_total`: settings loaded by Segment's or RudderStack's SDKs from the collector, one per app start or page load: how far a switch has gone | `project`, `sdk` = `segment` \| `rudderstack` |
//! | `footfall_collector_live_event_watchers` (gauge): streams of `GET /live-events` open ([`crate::live_events`]) | |
//! | `footfall_collector_schema_reloads_total`: the schema directory read again after a change | `result` = `applied` \| `refused` |
//! | `footfall_collector_schema_last_reload_successful` (gauge, 0 while a broken file keeps the previous schemas, absent before the first reload) | |
//! | `footfall_collector_schema_violations_total`: messages that broke their schema, by the schema, so that a data steward sees which tracking plan entry an app breaks | `project` (whose events broke it), `type` = `track` \| `page` \| `screen` \| `identify` \| `group`, `event` (the event's, page's or screen's name the schema is for, empty for one that checks every message of its type), `policy` = `reject` \| `flag` |
//! | `footfall_collector_unplanned_events_total`: `track` events with no schema, flagged or refused by `unplanned_events` | `project`, `policy` = `reject` \| `flag` |
//! | `footfall_collector_open_connections` (gauge): HTTP connections open now, against `max_connections` | `listener` = `collector` (\| `api`, the query API's port under `footfall serve`) |
//! | `footfall_collector_request_memory_bytes` (gauge): what requests in progress hold of `max_request_memory_bytes` ([`crate::memory`]), which `footfall_collector_request_memory_budget_bytes` shows | |
//! | `footfall_collector_request_memory_waits_total`: requests that waited, their bodies not yet decoded, for others to finish because that budget was spent | |
//! | `footfall_collector_tls_certificate_expiry_timestamp_seconds` (gauge): when the certificate in force expires, for an alert well before | |
//! | `footfall_collector_tls_handshakes_failed_total`: HTTPS connections that never became requests (scanners, old clients, a certificate the client refuses) | `reason` = `failed` \| `timed_out` |
//! | `footfall_collector_sink_wait_seconds` (histogram): how long a request waited for its events to be durable, the part of its duration that is the sink's (fsync, or Kafka's acknowledgement) | `sink` = `memory` \| `log` \| `kafka` |
//!
//! The sink's own figures are read at each scrape ([`crate::sinks::EventSink::export_metrics`]):
//!
//! | metric (sink = log) | labels |
//! |---|---|
//! | `footfall_collector_log_records_total`, `_appends_total`, `_append_errors_total` | `log` = `events` \| `dead_letters` |
//! | `footfall_collector_log_commit_groups_total`, `_fsyncs_total`, `_fsync_seconds_total` | `log` |
//! | `footfall_collector_log_disk_budget_rejections_total`, `_segments_created_total`, `_segments_deleted_total` | `log` |
//! | `footfall_collector_log_bytes`, `_segments`, `_high_watermark` (gauges) | `log` |
//!
//! | metric (sink = kafka) | labels |
//! |---|---|
//! | `footfall_collector_kafka_produced_total`, `_spilled_total`, `_drained_total`, `_drain_dropped_total`, `_rejected_total` | |
//! | `footfall_collector_kafka_disk_budget_rejections_total`, `_mode_switches_total` | |
//! | `footfall_collector_kafka_produce_errors_total` | `kind` |
//! | `footfall_collector_kafka_connection_errors_total`: refused credentials or failed TLS, a misconfiguration that looks like an outage | `kind` = `authentication` \| `tls` |
//! | `footfall_collector_kafka_mode` (gauge, 1 for the current mode) | `mode` = `direct` \| `spill` |
//! | `footfall_collector_kafka_spill_backlog`, `_spill_bytes`, `_direct_in_flight` (gauges) | |
//!
//! librdkafka's own statistics, every `[kafka] statistics_interval_ms` (default 5 s; gauges over the
//! last interval, absent until the first report). They place a slow acknowledgement: in the
//! producer's queue, waiting for the socket, or on the broker's round trip.
//!
//! | metric (sink = kafka) | labels |
//! |---|---|
//! | `footfall_collector_kafka_broker_round_trip_seconds`: request sent → broker's answer (with `acks=all`, replication included) | `broker` = node id, `stat` = `avg` \| `p99` \| `max` |
//! | `footfall_collector_kafka_broker_queue_wait_seconds`: records waiting in the producer's queue for a produce request (linger plus backlog) | `broker`, `stat` |
//! | `footfall_collector_kafka_broker_send_wait_seconds`: built requests waiting for the socket | `broker`, `stat` |
//! | `footfall_collector_kafka_broker_in_flight_requests`, `_waiting_requests`, `_up` (1 when connected) | `broker` |
//! | `footfall_collector_kafka_producer_queued_records`, `_queued_bytes`: not yet acknowledged | |

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
const SINK_WAIT: &str = "footfall_collector_sink_wait_seconds";

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
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full(SINK_WAIT.to_owned()), &buckets)
                })
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

/// What became of a source's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceOutcome {
    /// Made durable and acknowledged.
    Accepted,
    /// Refused one by one (invalid, too large, a `reject` schema) and kept as dead letters.
    Invalid,
    /// Refused with their request by the write key's rate limit; the client retries.
    RateLimited,
    /// Refused with their request because the sink could not make them durable; the client retries.
    Unavailable,
}

impl SourceOutcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceOutcome::Accepted => "accepted",
            SourceOutcome::Invalid => "invalid",
            SourceOutcome::RateLimited => "rate_limited",
            SourceOutcome::Unavailable => "unavailable",
        }
    }
}

/// `n` events of one source (write key) and what became of them. Only known write keys get here, so
/// the series are bounded by the configured sources.
pub fn source_events(source: &footfall_ingest::Source, outcome: SourceOutcome, n: usize) {
    if n > 0 {
        metrics::counter!(
            "footfall_collector_source_events_total",
            "project" => source.project_id.clone(),
            "source" => source.source_id.clone(),
            "outcome" => outcome.as_str()
        )
        .increment(n as u64);
    }
}

/// A connection accepted on the port `listener` names.
pub fn connection_opened(listener: &'static str) {
    metrics::gauge!("footfall_collector_open_connections", "listener" => listener).increment(1.0);
}

/// A connection closed on the port `listener` names.
pub fn connection_closed(listener: &'static str) {
    metrics::gauge!("footfall_collector_open_connections", "listener" => listener).decrement(1.0);
}

/// Request memory reserved (positive) or given back (negative).
pub fn request_memory_reserved(bytes: f64) {
    metrics::gauge!("footfall_collector_request_memory_bytes").increment(bytes);
}

/// The request memory budget, `max_request_memory_bytes`.
pub fn request_memory_budget(bytes: f64) {
    metrics::gauge!("footfall_collector_request_memory_budget_bytes").set(bytes);
}

/// A request that found the request memory budget spent and waited.
pub fn request_memory_waited() {
    metrics::counter!("footfall_collector_request_memory_waits_total").increment(1);
}

/// The certificate put in force expires at `unix_seconds`.
pub fn tls_certificate_expiry(unix_seconds: i64) {
    metrics::gauge!("footfall_collector_tls_certificate_expiry_timestamp_seconds")
        .set(unix_seconds as f64);
}

/// An HTTPS connection whose handshake failed or timed out.
pub fn tls_handshake_failed(reason: &'static str) {
    metrics::counter!("footfall_collector_tls_handshakes_failed_total", "reason" => reason)
        .increment(1);
}

/// An SDK loaded its settings from the collector (`sdk` = `segment` or `rudderstack`).
pub fn sdk_settings_served(project: &str, sdk: &'static str) {
    metrics::counter!(
        "footfall_collector_sdk_settings_served_total",
        "project" => project.to_owned(),
        "sdk" => sdk
    )
    .increment(1);
}

/// A watcher of `GET /live-events` came (`+1`) or left (`-1`).
pub fn live_event_watchers(change: f64) {
    metrics::gauge!("footfall_collector_live_event_watchers").increment(change);
}

/// The schemas put in force, at start and after each successful reload.
pub fn schemas_in_force(count: usize) {
    metrics::gauge!("footfall_collector_schemas").set(count as f64);
}

/// A reload of the schema directory, put in force or refused (the previous schemas stay).
pub fn schemas_reloaded(applied: bool) {
    let result = if applied { "applied" } else { "refused" };
    metrics::counter!("footfall_collector_schema_reloads_total", "result" => result).increment(1);
    metrics::gauge!("footfall_collector_schema_last_reload_successful")
        .set(f64::from(u8::from(applied)));
}

/// What a request's messages broke of the tracking plan. The `event` label is bounded by the schema
/// directory: only an event name with a schema can break one. `track` events with no schema are
/// counted apart, without their (unbounded) names. `project` is bounded by the write keys.
pub fn schema_violations(project: &str, violations: &[footfall_ingest::SchemaViolation]) {
    for violation in violations {
        let policy = match violation.policy {
            footfall_ingest::SchemaPolicy::Reject => "reject",
            footfall_ingest::SchemaPolicy::Flag => "flag",
        };
        match (violation.kind, &violation.event) {
            (footfall_ingest::SchemaKind::Track, None) => metrics::counter!(
                "footfall_collector_unplanned_events_total",
                "project" => project.to_owned(),
                "policy" => policy
            )
            .increment(1),
            (kind, event) => metrics::counter!(
                "footfall_collector_schema_violations_total",
                "project" => project.to_owned(),
                "type" => kind.as_str(),
                "event" => event.clone().unwrap_or_default(),
                "policy" => policy
            )
            .increment(1),
        }
    }
}

/// A configuration reload (`SIGHUP`): put in force, or refused with the previous one kept.
pub fn config_reloaded(applied: bool) {
    let result = if applied { "applied" } else { "refused" };
    metrics::counter!("footfall_collector_config_reloads_total", "result" => result).increment(1);
    metrics::gauge!("footfall_collector_config_last_reload_successful")
        .set(f64::from(u8::from(applied)));
}

/// How long a request waited for the sink to make its events durable.
pub fn sink_wait(sink: &'static str, seconds: f64) {
    metrics::histogram!(SINK_WAIT, "sink" => sink).record(seconds);
}

/// One event log's figures (`log` names it: `events` or `dead_letters`). Counters are set to the
/// log's own totals, which only grow while the collector runs.
pub fn event_log(log: &'static str, stats: &footfall_eventlog::LogStats) {
    let counters = [
        ("footfall_collector_log_records_total", stats.records_total),
        ("footfall_collector_log_appends_total", stats.appends_total),
        (
            "footfall_collector_log_append_errors_total",
            stats.append_errors_total,
        ),
        (
            "footfall_collector_log_commit_groups_total",
            stats.commit_groups_total,
        ),
        ("footfall_collector_log_fsyncs_total", stats.fsyncs_total),
        (
            "footfall_collector_log_disk_budget_rejections_total",
            stats.disk_budget_rejections_total,
        ),
        (
            "footfall_collector_log_segments_created_total",
            stats.segments_created_total,
        ),
        (
            "footfall_collector_log_segments_deleted_total",
            stats.segments_deleted_total,
        ),
    ];
    for (name, value) in counters {
        metrics::counter!(name, "log" => log).absolute(value);
    }
    let gauges = [
        (
            "footfall_collector_log_fsync_seconds_total",
            stats.fsync_micros_total as f64 / 1e6,
        ),
        ("footfall_collector_log_bytes", stats.log_bytes as f64),
        ("footfall_collector_log_segments", stats.segments as f64),
        (
            "footfall_collector_log_high_watermark",
            stats.high_watermark as f64,
        ),
    ];
    for (name, value) in gauges {
        metrics::gauge!(name, "log" => log).set(value);
    }
}

/// The Kafka delivery's figures.
pub fn kafka(stats: &footfall_kafka::KafkaStats) {
    let counters = [
        (
            "footfall_collector_kafka_produced_total",
            stats.produced_total,
        ),
        (
            "footfall_collector_kafka_spilled_total",
            stats.spilled_total,
        ),
        (
            "footfall_collector_kafka_drained_total",
            stats.drained_total,
        ),
        (
            "footfall_collector_kafka_drain_dropped_total",
            stats.drain_dropped_total,
        ),
        (
            "footfall_collector_kafka_rejected_total",
            stats.rejected_total,
        ),
        (
            "footfall_collector_kafka_disk_budget_rejections_total",
            stats.disk_budget_rejections_total,
        ),
        (
            "footfall_collector_kafka_mode_switches_total",
            stats.mode_switches_total,
        ),
    ];
    for (name, value) in counters {
        metrics::counter!(name).absolute(value);
    }
    for (kind, value) in stats.produce_errors.iter() {
        metrics::counter!("footfall_collector_kafka_produce_errors_total", "kind" => kind)
            .absolute(value);
    }
    for (kind, value) in stats.connection_errors.iter() {
        metrics::counter!("footfall_collector_kafka_connection_errors_total", "kind" => kind)
            .absolute(value);
    }
    for mode in [
        footfall_kafka::DeliveryMode::Direct,
        footfall_kafka::DeliveryMode::Spill,
    ] {
        let current = f64::from(u8::from(stats.mode == mode));
        metrics::gauge!("footfall_collector_kafka_mode", "mode" => mode.label()).set(current);
    }
    let gauges = [
        (
            "footfall_collector_kafka_spill_backlog",
            stats.spill_backlog,
        ),
        ("footfall_collector_kafka_spill_bytes", stats.spill_bytes),
        (
            "footfall_collector_kafka_direct_in_flight",
            stats.direct_in_flight,
        ),
    ];
    for (name, value) in gauges {
        metrics::gauge!(name).set(value as f64);
    }
    if let Some(producer) = &stats.producer {
        kafka_producer(producer);
    }
}

fn kafka_producer(producer: &footfall_kafka::ProducerStats) {
    metrics::gauge!("footfall_collector_kafka_producer_queued_records")
        .set(producer.queued_records as f64);
    metrics::gauge!("footfall_collector_kafka_producer_queued_bytes")
        .set(producer.queued_bytes as f64);
    for broker in &producer.brokers {
        let id = broker.node_id.to_string();
        let windows = [
            (
                "footfall_collector_kafka_broker_round_trip_seconds",
                broker.round_trip,
            ),
            (
                "footfall_collector_kafka_broker_queue_wait_seconds",
                broker.queue_wait,
            ),
            (
                "footfall_collector_kafka_broker_send_wait_seconds",
                broker.send_wait,
            ),
        ];
        for (name, window) in windows {
            let stats = [
                ("avg", window.avg_micros),
                ("p99", window.p99_micros),
                ("max", window.max_micros),
            ];
            for (stat, micros) in stats {
                metrics::gauge!(name, "broker" => id.clone(), "stat" => stat)
                    .set(micros as f64 / 1e6);
            }
        }
        let counts = [
            (
                "footfall_collector_kafka_broker_in_flight_requests",
                broker.in_flight_requests as f64,
            ),
            (
                "footfall_collector_kafka_broker_waiting_requests",
                broker.waiting_requests as f64,
            ),
            (
                "footfall_collector_kafka_broker_up",
                f64::from(u8::from(broker.state == "UP")),
            ),
        ];
        for (name, value) in counts {
            metrics::gauge!(name, "broker" => id.clone()).set(value);
        }
    }
}
