//! Counters and gauges the log keeps about itself, and the plain
//! [`LogStats`] snapshot the collector exports (to Prometheus, say).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Upper bounds (inclusive) of the commit-group-size histogram buckets, in
/// appends per group; a final `+Inf` bucket follows.
pub const GROUP_SIZE_BUCKETS: [u64; 10] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

/// A point-in-time copy of the log's counters.
///
/// Counters (`*_total`) only grow for the life of the [`EventLog`]; gauges
/// describe the log now. Counters restart at zero when the log is reopened.
///
/// [`EventLog`]: crate::EventLog
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogStats {
    /// Appends acknowledged as durable.
    pub appends_total: u64,
    /// Records acknowledged as durable.
    pub records_total: u64,
    /// Bytes written for acknowledged records, framing included.
    pub bytes_total: u64,
    /// Appends that failed (any reason, budget rejections included).
    pub append_errors_total: u64,
    /// Appends rejected with [`DiskBudgetExceeded`](crate::ErrorKind::DiskBudgetExceeded).
    pub disk_budget_rejections_total: u64,
    /// Commit groups written: one fdatasync each.
    pub commit_groups_total: u64,
    /// Data fdatasyncs issued, including those that close a segment.
    pub fsyncs_total: u64,
    /// Time spent in data fdatasyncs, in microseconds.
    pub fsync_micros_total: u64,
    /// Commit-group sizes in appends per group: `commit_group_appends[i]`
    /// counts groups of at most [`GROUP_SIZE_BUCKETS`]`[i]` appends (and more
    /// than the previous bound); the last entry counts larger groups.
    /// Not cumulative.
    pub commit_group_appends: [u64; GROUP_SIZE_BUCKETS.len() + 1],
    /// Largest commit group seen, in appends.
    pub max_commit_group_appends: u64,
    /// Segments created (rotations, plus the first segment).
    pub segments_created_total: u64,
    /// Segments deleted by retention.
    pub segments_deleted_total: u64,
    /// Bytes deleted by retention.
    pub bytes_deleted_total: u64,
    /// Retention passes that failed (for example an unreadable consumer
    /// offset file); deletion is skipped when this happens.
    pub retention_errors_total: u64,
    /// Bytes of torn tail truncated when the log was opened.
    pub recovered_truncated_bytes: u64,
    /// Segment files now on disk.
    pub segments: u64,
    /// Bytes of all segment files now on disk.
    pub log_bytes: u64,
    /// Oldest offset still on disk.
    pub earliest_offset: u64,
    /// One past the newest committed offset.
    pub high_watermark: u64,
}

/// The live counters, updated by the writer thread.
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) appends: AtomicU64,
    pub(crate) records: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) append_errors: AtomicU64,
    pub(crate) disk_budget_rejections: AtomicU64,
    pub(crate) commit_groups: AtomicU64,
    pub(crate) fsyncs: AtomicU64,
    pub(crate) fsync_micros: AtomicU64,
    pub(crate) group_buckets: [AtomicU64; GROUP_SIZE_BUCKETS.len() + 1],
    pub(crate) max_group: AtomicU64,
    pub(crate) segments_created: AtomicU64,
    pub(crate) segments_deleted: AtomicU64,
    pub(crate) bytes_deleted: AtomicU64,
    pub(crate) retention_errors: AtomicU64,
    pub(crate) recovered_truncated_bytes: AtomicU64,
    pub(crate) segments: AtomicU64,
    pub(crate) log_bytes: AtomicU64,
}

impl Stats {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub(crate) fn record_group(&self, appends: u64) {
        let bucket = GROUP_SIZE_BUCKETS
            .iter()
            .position(|&bound| appends <= bound)
            .unwrap_or(GROUP_SIZE_BUCKETS.len());
        self.group_buckets[bucket].fetch_add(1, Relaxed);
        self.max_group.fetch_max(appends, Relaxed);
        self.commit_groups.fetch_add(1, Relaxed);
    }

    pub(crate) fn snapshot(&self, earliest_offset: u64, high_watermark: u64) -> LogStats {
        LogStats {
            appends_total: self.appends.load(Relaxed),
            records_total: self.records.load(Relaxed),
            bytes_total: self.bytes.load(Relaxed),
            append_errors_total: self.append_errors.load(Relaxed),
            disk_budget_rejections_total: self.disk_budget_rejections.load(Relaxed),
            commit_groups_total: self.commit_groups.load(Relaxed),
            fsyncs_total: self.fsyncs.load(Relaxed),
            fsync_micros_total: self.fsync_micros.load(Relaxed),
            commit_group_appends: std::array::from_fn(|i| self.group_buckets[i].load(Relaxed)),
            max_commit_group_appends: self.max_group.load(Relaxed),
            segments_created_total: self.segments_created.load(Relaxed),
            segments_deleted_total: self.segments_deleted.load(Relaxed),
            bytes_deleted_total: self.bytes_deleted.load(Relaxed),
            retention_errors_total: self.retention_errors.load(Relaxed),
            recovered_truncated_bytes: self.recovered_truncated_bytes.load(Relaxed),
            segments: self.segments.load(Relaxed),
            log_bytes: self.log_bytes.load(Relaxed),
            earliest_offset,
            high_watermark,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_sizes_land_in_their_bucket() {
        let stats = Stats::default();
        for appends in [1, 3, 4, 5, 512, 513, 10_000] {
            stats.record_group(appends);
        }
        let snap = stats.snapshot(0, 0);
        assert_eq!(snap.commit_group_appends[0], 1); // 1
        assert_eq!(snap.commit_group_appends[2], 2); // 3, 4
        assert_eq!(snap.commit_group_appends[3], 1); // 5
        assert_eq!(snap.commit_group_appends[9], 1); // 512
        assert_eq!(snap.commit_group_appends[10], 2); // 513, 10_000
        assert_eq!(snap.commit_groups_total, 7);
        assert_eq!(snap.max_commit_group_appends, 10_000);
    }
}
