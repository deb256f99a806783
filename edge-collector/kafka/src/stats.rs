//! Counters the delivery keeps about itself, and the plain [`KafkaStats`]
//! snapshot the collector's Prometheus exporter reads
//! (`footfall_kafka_<name>_total` counters, gauges without the suffix).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::transport::ProduceErrorKind;

/// Where new records go right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DeliveryMode {
    /// Straight to Kafka (normal operation).
    #[default]
    Direct,
    /// To the local spill log, which the drainer forwards once Kafka is
    /// reachable again.
    Spill,
}

impl DeliveryMode {
    /// A stable metric label (`direct` / `spill`).
    pub fn label(self) -> &'static str {
        match self {
            DeliveryMode::Direct => "direct",
            DeliveryMode::Spill => "spill",
        }
    }
}

/// Produce errors, one counter per [`ProduceErrorKind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProduceErrorCounts {
    counts: [u64; ProduceErrorKind::ALL.len()],
}

impl ProduceErrorCounts {
    /// The count for `kind`.
    pub fn get(&self, kind: ProduceErrorKind) -> u64 {
        self.counts[kind.index()]
    }

    /// `(label, count)` pairs for every kind, zeros included.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        ProduceErrorKind::ALL
            .into_iter()
            .map(|kind| (kind.label(), self.get(kind)))
    }

    /// Sum over all kinds.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// librdkafka's reports that the producer could not connect for a reason that does not pass on its
/// own, so that an operator can tell a misconfiguration from an outage: records spill either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConnectionErrorCounts {
    /// The brokers refused the SASL credentials.
    pub authentication: u64,
    /// TLS failed, for example on a broker certificate that cannot be verified.
    pub tls: u64,
}

impl ConnectionErrorCounts {
    /// `(label, count)` pairs, zeros included.
    pub fn iter(&self) -> [(&'static str, u64); 2] {
        [("authentication", self.authentication), ("tls", self.tls)]
    }
}

/// A point-in-time copy of the delivery's counters. Counters (`*_total`)
/// restart at zero with the process; gauges describe now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct KafkaStats {
    /// Current mode (gauge).
    pub mode: DeliveryMode,
    /// Records acknowledged by Kafka on the direct path.
    pub produced_total: u64,
    /// Records made durable in the spill log (new records in spill mode
    /// plus direct produces that failed).
    pub spilled_total: u64,
    /// Spilled records forwarded to Kafka and acknowledged.
    pub drained_total: u64,
    /// Spilled records Kafka rejected permanently while draining (too
    /// large, not authorised): acknowledged to the client, then dropped.
    pub drain_dropped_total: u64,
    /// Direct records Kafka rejected permanently; the delivery returned
    /// [`DeliveryError::Fatal`](crate::DeliveryError::Fatal).
    pub rejected_total: u64,
    /// Deliveries refused because the spill budget was full.
    pub disk_budget_rejections_total: u64,
    /// Failed sends, by kind, on both paths.
    pub produce_errors: ProduceErrorCounts,
    /// Connections the brokers refused for bad credentials or failed TLS.
    pub connection_errors: ConnectionErrorCounts,
    /// Switches between direct and spill mode, both ways.
    pub mode_switches_total: u64,
    /// Records in the spill log not yet forwarded (gauge).
    pub spill_backlog: u64,
    /// Bytes the spill log occupies on disk (gauge).
    pub spill_bytes: u64,
    /// Deliveries with direct produces outstanding (gauge).
    pub direct_in_flight: u64,
    /// librdkafka's latest statistics report, every
    /// [`statistics_interval_ms`](crate::KafkaConfig::statistics_interval_ms);
    /// `None` before the first report or with reports off.
    pub producer: Option<ProducerStats>,
}

/// The part of a librdkafka statistics report that explains a slow
/// acknowledgement: is the time spent in the producer's own queue, on the
/// wire and in the broker, or waiting behind other requests?
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ProducerStats {
    /// Records in the producer's queues, not yet acknowledged (librdkafka
    /// `msg_cnt`).
    pub queued_records: u64,
    /// Their bytes (`msg_size`).
    pub queued_bytes: u64,
    /// One entry per broker of the cluster, by node id (librdkafka's
    /// bootstrap-only entries are left out).
    pub brokers: Vec<BrokerStats>,
}

/// One broker's figures over the last statistics interval.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BrokerStats {
    /// The broker's node id.
    pub node_id: i32,
    /// librdkafka's connection state, e.g. `UP`, `DOWN`, `CONNECT`.
    pub state: String,
    /// Request round trip: sent until the broker's answer arrived
    /// (librdkafka `rtt`); with `acks=all` it includes replication.
    pub round_trip: LatencyWindow,
    /// How long records waited in the producer's queue before a produce
    /// request took them (`int_latency`): linger plus any backlog.
    pub queue_wait: LatencyWindow,
    /// How long built requests waited to be written to the socket
    /// (`outbuf_latency`).
    pub send_wait: LatencyWindow,
    /// Requests sent and awaiting an answer (`waitresp_cnt`).
    pub in_flight_requests: u64,
    /// Requests built and waiting to be sent (`outbuf_cnt`).
    pub waiting_requests: u64,
}

/// A latency distribution over one statistics interval, in microseconds;
/// all zero when nothing was measured in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LatencyWindow {
    /// Mean.
    pub avg_micros: u64,
    /// 99th percentile.
    pub p99_micros: u64,
    /// Largest.
    pub max_micros: u64,
}

impl LatencyWindow {
    fn from_librdkafka(window: Option<&rdkafka::statistics::Window>) -> LatencyWindow {
        window.map_or_else(LatencyWindow::default, |w| LatencyWindow {
            avg_micros: non_negative(w.avg),
            p99_micros: non_negative(w.p99),
            max_micros: non_negative(w.max),
        })
    }
}

/// librdkafka reports counts and times as signed integers, with -1 for
/// "unknown"; those read as 0.
fn non_negative(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl ProducerStats {
    /// Summarises one librdkafka statistics report.
    pub fn from_librdkafka(report: &rdkafka::Statistics) -> ProducerStats {
        let mut brokers: Vec<BrokerStats> = report
            .brokers
            .values()
            // Bootstrap entries (`host:port/bootstrap`) have node id -1 and
            // duplicate the broker's real entry once metadata is known.
            .filter(|b| b.nodeid >= 0)
            .map(|b| BrokerStats {
                node_id: b.nodeid,
                state: b.state.clone(),
                round_trip: LatencyWindow::from_librdkafka(b.rtt.as_ref()),
                queue_wait: LatencyWindow::from_librdkafka(b.int_latency.as_ref()),
                send_wait: LatencyWindow::from_librdkafka(b.outbuf_latency.as_ref()),
                in_flight_requests: non_negative(b.waitresp_cnt),
                waiting_requests: non_negative(b.outbuf_cnt),
            })
            .collect();
        brokers.sort_by_key(|b| b.node_id);
        ProducerStats {
            queued_records: report.msg_cnt,
            queued_bytes: report.msg_size,
            brokers,
        }
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) produced: AtomicU64,
    pub(crate) spilled: AtomicU64,
    pub(crate) drained: AtomicU64,
    pub(crate) drain_dropped: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) disk_budget_rejections: AtomicU64,
    pub(crate) produce_errors: [AtomicU64; ProduceErrorKind::ALL.len()],
    pub(crate) mode_switches: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub(crate) fn produce_error(&self, kind: ProduceErrorKind) {
        self.produce_errors[kind.index()].fetch_add(1, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> KafkaStats {
        KafkaStats {
            produced_total: self.produced.load(Relaxed),
            spilled_total: self.spilled.load(Relaxed),
            drained_total: self.drained.load(Relaxed),
            drain_dropped_total: self.drain_dropped.load(Relaxed),
            rejected_total: self.rejected.load(Relaxed),
            disk_budget_rejections_total: self.disk_budget_rejections.load(Relaxed),
            produce_errors: ProduceErrorCounts {
                counts: std::array::from_fn(|i| self.produce_errors[i].load(Relaxed)),
            },
            mode_switches_total: self.mode_switches.load(Relaxed),
            ..KafkaStats::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use rdkafka::statistics::{Broker, Window};
    use rdkafka::Statistics;

    use super::*;

    fn window(avg: i64, p99: i64, max: i64) -> Option<Window> {
        Some(Window {
            avg,
            p99,
            max,
            ..Window::default()
        })
    }

    #[test]
    fn a_report_keeps_each_real_broker_and_drops_bootstrap_entries() {
        let up = Broker {
            nodeid: 2,
            state: "UP".into(),
            rtt: window(800, 4_000, 9_000),
            int_latency: window(900, 1_700, 2_100),
            outbuf_latency: window(20, 60, 75),
            waitresp_cnt: 3,
            outbuf_cnt: 1,
            ..Broker::default()
        };
        let other = Broker {
            nodeid: 1,
            state: "DOWN".into(),
            ..Broker::default()
        };
        let bootstrap = Broker {
            nodeid: -1,
            state: "UP".into(),
            rtt: window(1, 1, 1),
            ..Broker::default()
        };
        let report = Statistics {
            msg_cnt: 120,
            msg_size: 36_000,
            brokers: HashMap::from([
                ("127.0.0.1:19092/2".to_owned(), up),
                ("127.0.0.1:19093/1".to_owned(), other),
                ("127.0.0.1:19092/bootstrap".to_owned(), bootstrap),
            ]),
            ..Statistics::default()
        };

        let stats = ProducerStats::from_librdkafka(&report);

        assert_eq!((stats.queued_records, stats.queued_bytes), (120, 36_000));
        let ids: Vec<_> = stats.brokers.iter().map(|b| b.node_id).collect();
        assert_eq!(ids, [1, 2], "bootstrap entry left out, sorted by node id");
        let up = &stats.brokers[1];
        assert_eq!(up.state, "UP");
        assert_eq!(
            up.round_trip,
            LatencyWindow {
                avg_micros: 800,
                p99_micros: 4_000,
                max_micros: 9_000
            }
        );
        assert_eq!(up.queue_wait.p99_micros, 1_700);
        assert_eq!(up.send_wait.max_micros, 75);
        assert_eq!((up.in_flight_requests, up.waiting_requests), (3, 1));
        // A broker with no measurements in the interval reads as zeros.
        assert_eq!(stats.brokers[0].round_trip, LatencyWindow::default());
    }

    #[test]
    fn negative_counts_from_librdkafka_read_as_zero() {
        let report = Statistics {
            brokers: HashMap::from([(
                "b/0".to_owned(),
                Broker {
                    nodeid: 0,
                    waitresp_cnt: -1,
                    rtt: window(-5, -5, -5),
                    ..Broker::default()
                },
            )]),
            ..Statistics::default()
        };
        let stats = ProducerStats::from_librdkafka(&report);
        assert_eq!(stats.brokers[0].in_flight_requests, 0);
        assert_eq!(stats.brokers[0].round_trip, LatencyWindow::default());
    }
}
