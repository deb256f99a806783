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
    /// Switches between direct and spill mode, both ways.
    pub mode_switches_total: u64,
    /// Records in the spill log not yet forwarded (gauge).
    pub spill_backlog: u64,
    /// Bytes the spill log occupies on disk (gauge).
    pub spill_bytes: u64,
    /// Deliveries with direct produces outstanding (gauge).
    pub direct_in_flight: u64,
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
