//! The writer thread and its group commit.
//!
//! Appenders never touch files. They send their records over a channel and
//! wait for a reply. The one writer thread loops:
//!
//! 1. block for the first queued command;
//! 2. drain everything else already queued (up to `max_commit_bytes`),
//!    assigning offsets and encoding frames into one buffer;
//! 3. one `write`, one `fdatasync`, publish the new committed mark;
//! 4. reply to every append in the group.
//!
//! While step 3 waits on the disk, new appends pile up in the channel and
//! become the next group, so the number of fsyncs per second stays roughly
//! constant while the records per fsync grow with concurrency. Rotation
//! happens between appends (an append never spans segments) and ends the
//! current group early, which keeps failure handling within one file: a
//! failed write is cut back off the active segment and only that group's
//! appends fail.

use std::fs::{self, File};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{oneshot, watch};

use crate::committed::{self, MarkWriter};
use crate::config::LogConfig;
use crate::consumer;
use crate::error::{Error, ErrorKind, Result};
use crate::frame;
use crate::logdir;
use crate::record::{AppendReceipt, Record};
use crate::recovery::{self, SegmentMeta};
use crate::retention::{self, HeldBy, Policy, SegmentUsage};
use crate::segment::SEGMENT_HEADER_LEN;
use crate::shared::Shared;
use crate::stats::Stats;

/// After the disk budget rejected an append and retention could not help,
/// further appends are rejected without re-reading consumer offsets for
/// this long (an in-process consumer commit ends the pause early).
const BUDGET_RECHECK: Duration = Duration::from_millis(100);

/// Work for the writer thread.
pub(crate) enum Command {
    Append {
        records: Vec<Record>,
        /// Encoded size, computed by the caller to keep the writer lean.
        bytes: u64,
        reply: Reply,
    },
    Retention {
        reply: mpsc::SyncSender<Result<RetentionReport>>,
    },
    /// A consumer group committed in this process: retention may now free
    /// space the disk budget is waiting for.
    ConsumersChanged,
}

/// Where an append's outcome goes: a future, or a blocked thread. Two kinds
/// so that `append_blocking` never needs (or trips over) an async runtime.
pub(crate) enum Reply {
    Async(oneshot::Sender<Result<AppendReceipt>>),
    Blocking(mpsc::SyncSender<Result<AppendReceipt>>),
}

impl Reply {
    fn send(self, result: Result<AppendReceipt>) {
        // The appender may have stopped waiting (dropped future); the
        // outcome stands either way.
        match self {
            Reply::Async(tx) => drop(tx.send(result)),
            Reply::Blocking(tx) => drop(tx.send(result)),
        }
    }
}

/// What one retention pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetentionReport {
    /// Segments deleted.
    pub segments_deleted: u64,
    /// Bytes those segments held.
    pub bytes_deleted: u64,
    /// Oldest offset still on disk afterwards.
    pub earliest_offset: u64,
}

struct Pending {
    reply: Reply,
    receipt: AppendReceipt,
}

pub(crate) struct Writer {
    shared: Arc<Shared>,
    /// Held for the writer's lifetime: the flock excludes other writers.
    _lock: File,
    /// Oldest first; the last is the active segment.
    segments: Vec<SegmentMeta>,
    active: File,
    /// Next offset to hand out, counting buffered records.
    next_offset: u64,
    /// One past the last durable record.
    committed: u64,
    total_bytes: u64,
    mark: MarkWriter,
    watch: watch::Sender<u64>,
    buf: Vec<u8>,
    pending: Vec<Pending>,
    poisoned: Option<Error>,
    budget_paused_until: Option<(Instant, String)>,
    retention_due: bool,
    /// When the active segment became active (created, or found on open).
    active_since: Instant,
}

impl Writer {
    /// Locks and recovers `dir`. Runs on the caller's thread so that open
    /// errors come back from `EventLog::open` itself.
    pub(crate) fn open(dir: &Path, config: LogConfig) -> Result<Writer> {
        config.validate()?;
        logdir::create(dir)?;
        let lock = logdir::lock(dir)?;
        consumer::remove_stale_tmp_files(dir)?;
        let recovered = recovery::recover(dir, committed::read(dir)?)?;
        let mark = MarkWriter::create(dir)?;
        mark.publish_durably(recovered.next_offset)?;

        let (watch, watch_rx) = watch::channel(recovered.next_offset);
        let earliest = recovered.segments[0].base;
        let shared = Arc::new(Shared::new(
            dir.to_path_buf(),
            config,
            recovered.next_offset,
            earliest,
            watch_rx,
        ));
        let total_bytes = recovered.segments.iter().map(|s| s.bytes).sum();
        let stats = &shared.stats;
        Stats::add(&stats.recovered_truncated_bytes, recovered.truncated_bytes);
        Stats::add(
            &stats.segments_created,
            u64::from(recovered.created_segment),
        );
        Stats::add(&stats.segments, recovered.segments.len() as u64);
        Stats::add(&stats.log_bytes, total_bytes);

        Ok(Writer {
            shared,
            _lock: lock,
            segments: recovered.segments,
            active: recovered.active,
            next_offset: recovered.next_offset,
            committed: recovered.next_offset,
            total_bytes,
            mark,
            watch,
            buf: Vec::new(),
            pending: Vec::new(),
            poisoned: None,
            budget_paused_until: None,
            // Apply retention at once: limits may have changed since last run.
            retention_due: true,
            active_since: Instant::now(),
        })
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn config(&self) -> &LogConfig {
        &self.shared.config
    }

    /// The writer thread's body: returns once every sender is gone and the
    /// queue is drained.
    pub(crate) fn run(mut self, commands: mpsc::Receiver<Command>) {
        let interval = self.config().retention_check_interval;
        let max_commit_bytes =
            usize::try_from(self.config().max_commit_bytes).unwrap_or(usize::MAX);
        let mut next_retention = Instant::now();
        loop {
            if self.retention_due || Instant::now() >= next_retention {
                self.retention_due = false;
                // A configured interval of "forever" must not overflow.
                next_retention = Instant::now()
                    .checked_add(interval)
                    .unwrap_or_else(|| Instant::now() + Duration::from_secs(365 * 24 * 3600));
                self.background_retention();
            }
            let timeout = next_retention.saturating_duration_since(Instant::now());
            match commands.recv_timeout(timeout) {
                Ok(command) => self.accept(command),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            }
            // Everything queued while the previous group was being synced
            // joins this group.
            while self.buf.len() < max_commit_bytes {
                match commands.try_recv() {
                    Ok(command) => self.accept(command),
                    Err(_) => break,
                }
            }
            self.commit();
        }
        self.commit();
        self.shared.close();
    }

    fn accept(&mut self, command: Command) {
        match command {
            Command::Append {
                records,
                bytes,
                reply,
            } => self.accept_append(&records, bytes, reply),
            Command::Retention { reply } => {
                self.commit();
                let _ = reply.send(self.retention(0).map(|(report, _)| report));
            }
            Command::ConsumersChanged => self.budget_paused_until = None,
        }
    }

    fn accept_append(&mut self, records: &[Record], bytes: u64, reply: Reply) {
        if let Err(e) = self.prepare_room(bytes) {
            self.fail(reply, e);
            return;
        }
        let timestamp_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let first_offset = self.next_offset;
        for record in records {
            frame::encode(&mut self.buf, self.next_offset, timestamp_ms, record);
            self.next_offset += 1;
        }
        self.pending.push(Pending {
            reply,
            receipt: AppendReceipt {
                first_offset,
                last_offset: self.next_offset - 1,
            },
        });
    }

    /// Rotates if the append does not fit the active segment and enforces
    /// the disk budget.
    fn prepare_room(&mut self, bytes: u64) -> Result<()> {
        if let Some(cause) = &self.poisoned {
            return Err(poisoned_error(cause));
        }
        let active_len = self.active_len() + self.buf.len() as u64;
        if active_len > SEGMENT_HEADER_LEN && active_len + bytes > self.config().segment_bytes {
            self.commit();
            if let Some(cause) = &self.poisoned {
                return Err(poisoned_error(cause));
            }
            self.rotate()?;
        }
        self.check_budget(bytes)
    }

    fn check_budget(&mut self, bytes: u64) -> Result<()> {
        let Some(budget) = self.config().max_disk_bytes else {
            return Ok(());
        };
        if self.projected(bytes) <= budget {
            return Ok(());
        }
        let why = match &self.budget_paused_until {
            Some((until, why)) if Instant::now() < *until => why.clone(),
            _ => {
                let held_by = match self.retention(self.projected(bytes) - budget) {
                    Ok((_, held_by)) => held_by,
                    Err(e) => {
                        Stats::add(&self.shared.stats.retention_errors, 1);
                        return Err(e);
                    }
                };
                if self.projected(bytes) <= budget {
                    self.budget_paused_until = None;
                    return Ok(());
                }
                let why = match held_by {
                    Some(HeldBy {
                        group,
                        offset,
                        segment,
                    }) => format!(
                        "consumer group {group:?} (at offset {offset}) has not finished \
                         the segment starting at offset {segment}"
                    ),
                    None => "only the active segment is left to delete".to_owned(),
                };
                self.budget_paused_until = Some((Instant::now() + BUDGET_RECHECK, why.clone()));
                why
            }
        };
        Stats::add(&self.shared.stats.disk_budget_rejections, 1);
        Err(Error::new(
            ErrorKind::DiskBudgetExceeded,
            format!(
                "appending {bytes} bytes would bring the log to {} bytes, over \
                 max_disk_bytes = {budget}, and retention cannot free enough: {why}",
                self.projected(bytes)
            ),
        )
        .with_path(&self.shared.dir))
    }

    /// Bytes on disk once the buffered group and an append of `bytes` land.
    fn projected(&self, bytes: u64) -> u64 {
        self.total_bytes + self.buf.len() as u64 + bytes
    }

    /// Writes and fsyncs the buffered group, then publishes and replies.
    fn commit(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let path = self.segments.last().expect("active segment").path.clone();
        if let Err(e) = self.active.write_all(&self.buf) {
            let err = Error::io("writing to segment", &path, e).with_offset(self.committed);
            self.roll_back(&path);
            self.fail_pending(&err);
            return;
        }
        let started = Instant::now();
        if let Err(e) = self.active.sync_data() {
            // After a failed fsync the kernel may have dropped the dirty
            // pages: nothing about the file can be trusted until recovery.
            let err = Error::io("fdatasync of segment", &path, e).with_offset(self.committed);
            self.poisoned = Some(err.clone());
            self.fail_pending(&err);
            return;
        }
        let stats = &self.shared.stats;
        Stats::add(&stats.fsyncs, 1);
        Stats::add(&stats.fsync_micros, started.elapsed().as_micros() as u64);

        let written = self.buf.len() as u64;
        let active = self.segments.last_mut().expect("active segment");
        active.bytes += written;
        active.last_write = SystemTime::now();
        self.total_bytes += written;
        self.committed = self.next_offset;
        if let Err(e) = self.mark.publish(self.committed) {
            // The records are durable and get acknowledged; readers in other
            // processes would not see them, so stop taking more.
            self.poisoned = Some(e);
        }
        self.shared.publish(self.committed);
        self.watch.send_replace(self.committed);

        let records: u64 = self.pending.iter().map(|p| p.receipt.len()).sum();
        Stats::add(&stats.appends, self.pending.len() as u64);
        Stats::add(&stats.records, records);
        Stats::add(&stats.bytes, written);
        Stats::add(&stats.log_bytes, written);
        stats.record_group(self.pending.len() as u64);
        for pending in self.pending.drain(..) {
            pending.reply.send(Ok(pending.receipt));
        }
        self.buf.clear();
        // One huge group should not pin its buffer forever.
        if self.buf.capacity() > 4 * self.shared.config.max_commit_bytes as usize {
            self.buf = Vec::new();
        }
    }

    /// Cuts a failed write back off the active segment so the file again
    /// ends at the committed mark; the group's offsets are handed out anew.
    fn roll_back(&mut self, path: &Path) {
        let len = self.active_len();
        let result = self
            .active
            .set_len(len)
            .and_then(|()| self.active.seek(SeekFrom::Start(len)).map(drop));
        if let Err(e) = result {
            self.poisoned = Some(Error::io("rolling back a failed write", path, e));
        }
        self.next_offset = self.committed;
        self.buf.clear();
    }

    fn fail_pending(&mut self, err: &Error) {
        for pending in std::mem::take(&mut self.pending) {
            Stats::add(&self.shared.stats.append_errors, 1);
            pending.reply.send(Err(err.clone()));
        }
        self.buf.clear();
    }

    fn fail(&self, reply: Reply, err: Error) {
        Stats::add(&self.shared.stats.append_errors, 1);
        reply.send(Err(err));
    }

    fn active_len(&self) -> u64 {
        self.segments.last().expect("active segment").bytes
    }

    /// Closes the active segment (already fsynced by the commit before) and
    /// starts a new one at the next offset.
    fn rotate(&mut self) -> Result<()> {
        debug_assert!(self.pending.is_empty());
        let (file, meta) = recovery::create_segment(&self.shared.dir, self.next_offset)?;
        self.total_bytes += meta.bytes;
        self.active = file;
        self.segments.push(meta);
        let stats = &self.shared.stats;
        Stats::add(&stats.segments_created, 1);
        Stats::add(&stats.segments, 1);
        Stats::add(&stats.log_bytes, SEGMENT_HEADER_LEN);
        self.retention_due = true;
        self.active_since = Instant::now();
        Ok(())
    }

    fn background_retention(&mut self) {
        // On a quiet log the active segment may never fill, and retention
        // never deletes the active segment: roll it once it has been active
        // for `max_age`, so records live at most about twice `max_age`.
        if let Some(max_age) = self.config().max_age {
            let has_records = self.active_len() > SEGMENT_HEADER_LEN;
            if has_records && self.active_since.elapsed() >= max_age {
                if let Err(e) = self.rotate() {
                    tracing::warn!(error = %e, "event log could not roll an aged segment");
                }
            }
        }
        if let Err(e) = self.retention(0) {
            Stats::add(&self.shared.stats.retention_errors, 1);
            tracing::warn!(error = %e, "event log retention failed; nothing deleted");
        }
    }

    /// Deletes what the policy allows, plus at least `free_at_least` bytes
    /// if the consumers allow. Also returns who held back a deletion.
    fn retention(&mut self, free_at_least: u64) -> Result<(RetentionReport, Option<HeldBy>)> {
        let config = &self.shared.config;
        let slowest_consumer = if config.protect_unconsumed {
            consumer::read_all(&self.shared.dir)?
                .into_iter()
                .min_by_key(|(_, offset)| *offset)
        } else {
            None
        };
        let policy = Policy {
            max_bytes: config.max_bytes,
            max_age: config.max_age,
            slowest_consumer,
            free_at_least,
        };
        let usage: Vec<SegmentUsage> = self
            .segments
            .iter()
            .map(|s| SegmentUsage {
                base: s.base,
                bytes: s.bytes,
                last_write: s.last_write,
            })
            .collect();
        let plan = retention::plan(&usage, &policy, SystemTime::now());

        let mut report = RetentionReport::default();
        for _ in 0..plan.delete {
            let next_base = self.segments[1].base;
            let oldest = &self.segments[0];
            // Readers must see the new earliest offset before the file goes,
            // so they report "out of range" instead of a missing file.
            self.shared
                .earliest
                .store(next_base, std::sync::atomic::Ordering::Release);
            if let Err(e) = fs::remove_file(&oldest.path) {
                self.shared
                    .earliest
                    .store(oldest.base, std::sync::atomic::Ordering::Release);
                return Err(Error::io("deleting segment", &oldest.path, e));
            }
            let oldest = self.segments.remove(0);
            tracing::info!(
                segment = %oldest.path.display(),
                bytes = oldest.bytes,
                "retention deleted segment"
            );
            self.total_bytes -= oldest.bytes;
            report.segments_deleted += 1;
            report.bytes_deleted += oldest.bytes;
            let stats = &self.shared.stats;
            Stats::add(&stats.segments_deleted, 1);
            Stats::add(&stats.bytes_deleted, oldest.bytes);
            stats
                .segments
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            stats
                .log_bytes
                .fetch_sub(oldest.bytes, std::sync::atomic::Ordering::Relaxed);
        }
        if report.segments_deleted > 0 {
            logdir::sync(&self.shared.dir)?;
        }
        report.earliest_offset = self.segments[0].base;
        Ok((report, plan.held_by))
    }
}

fn poisoned_error(cause: &Error) -> Error {
    Error::new(
        ErrorKind::Poisoned,
        format!("the log stopped accepting appends after an earlier failure; reopen it to recover ({cause})"),
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::testutil::{block_on, open, read_all, records, segment_paths, small_segments};
    use crate::{ErrorKind, LogConfig, Record};

    #[test]
    fn segments_rotate_at_segment_bytes_without_splitting_an_append() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), small_segments());
        let mut receipts = Vec::new();
        for b in 0..20 {
            receipts.push(log.append_blocking(records(&format!("b{b}"), 4)).unwrap());
        }
        let segments = crate::segment::list(dir.path()).unwrap();
        assert!(segments.len() > 3, "{} segments", segments.len());
        for segment in &segments {
            // Every segment starts exactly at an append's first offset.
            assert!(receipts.iter().any(|r| r.first_offset == segment.base));
        }
        assert_eq!(read_all(&log).len(), 80);
        assert_eq!(log.stats().segments_created_total, segments.len() as u64);
    }

    #[test]
    fn appends_queued_together_share_one_fsync() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), LogConfig::default());
        // `append` queues at once; all 100 are queued before the first
        // commit group can finish its fsync.
        let futures: Vec<_> = (0..100)
            .map(|i| log.append(records(&i.to_string(), 50)))
            .collect();
        let receipts: Vec<_> = futures.into_iter().map(|f| block_on(f).unwrap()).collect();
        for (i, receipt) in receipts.iter().enumerate() {
            assert_eq!(
                receipt.first_offset,
                i as u64 * 50,
                "queue order is offset order"
            );
        }
        let stats = log.stats();
        assert_eq!((stats.appends_total, stats.records_total), (100, 5000));
        assert!(stats.commit_groups_total < 100, "{stats:?}");
        assert_eq!(stats.fsyncs_total, stats.commit_groups_total);
        assert_eq!(
            stats.commit_group_appends.iter().sum::<u64>(),
            stats.commit_groups_total
        );
    }

    #[test]
    fn the_append_future_needs_no_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), LogConfig::default());
        let receipt = block_on(log.append(records("a", 3))).unwrap();
        assert_eq!(receipt.offsets(), 0..=2);
    }

    #[test]
    fn dropping_the_log_still_commits_queued_appends() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), LogConfig::default());
        let pending: Vec<_> = (0..10).map(|_| log.append(records("q", 2))).collect();
        drop(log);
        for future in pending {
            block_on(future).unwrap();
        }
        assert_eq!(open(dir.path(), LogConfig::default()).high_watermark(), 20);
    }

    #[test]
    fn empty_and_oversized_appends_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            max_append_bytes: 1000,
            ..LogConfig::default()
        };
        let log = open(dir.path(), config);
        let err = log.append_blocking(Vec::new()).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidInput);
        let err = block_on(log.append(vec![Record::new("k", vec![b'x'; 2000])])).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidInput);
        assert!(err.to_string().contains("max_append_bytes"), "{err}");
        assert_eq!(log.high_watermark(), 0);
    }

    #[test]
    fn max_bytes_retention_deletes_the_oldest_segments() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = small_segments();
        config.max_bytes = Some(3000);
        let log = open(dir.path(), config);
        for b in 0..40 {
            log.append_blocking(records(&format!("b{b}"), 4)).unwrap();
        }
        log.run_retention().unwrap();
        let stats = log.stats();
        assert!(stats.segments_deleted_total > 0, "{stats:?}");
        assert!(stats.log_bytes <= 3000 + 1024, "{stats:?}");
        let on_disk: u64 = segment_paths(dir.path())
            .iter()
            .map(|p| std::fs::metadata(p).unwrap().len())
            .sum();
        assert_eq!(on_disk, stats.log_bytes);
        // What is left is a contiguous tail of the log.
        let earliest = log.earliest_offset();
        assert!(earliest > 0);
        let offsets: Vec<u64> = read_all(&log).into_iter().map(|(o, _)| o).collect();
        assert_eq!(offsets, (earliest..160).collect::<Vec<_>>());
    }

    #[test]
    fn max_age_retention_deletes_segments_whose_newest_record_is_too_old() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = small_segments();
        config.max_age = Some(Duration::from_millis(50));
        let log = open(dir.path(), config);
        for b in 0..10 {
            log.append_blocking(records(&format!("b{b}"), 4)).unwrap();
        }
        let before = segment_paths(dir.path()).len();
        std::thread::sleep(Duration::from_millis(100));
        let report = log.run_retention().unwrap();
        assert_eq!(
            report.segments_deleted as usize,
            before - 1,
            "only the active segment stays"
        );
        assert_eq!(report.earliest_offset, log.earliest_offset());
    }

    #[test]
    fn max_age_rolls_a_quiet_active_segment_so_its_records_can_expire() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            max_age: Some(Duration::from_millis(30)),
            retention_check_interval: Duration::from_millis(10),
            ..LogConfig::default()
        };
        let log = open(dir.path(), config);
        log.append_blocking(records("quiet", 3)).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        // Readers see the new earliest offset before the file is removed and counted, so wait for both.
        while log.earliest_offset() < 3 || log.stats().segments_deleted_total == 0 {
            assert!(std::time::Instant::now() < deadline, "{:?}", log.stats());
            std::thread::sleep(Duration::from_millis(10));
        }
        let stats = log.stats();
        assert_eq!((stats.segments, stats.segments_deleted_total), (1, 1));
        assert_eq!(
            log.append_blocking(records("new", 1)).unwrap().first_offset,
            3
        );
    }

    #[test]
    fn unconsumed_segments_are_protected_until_the_consumer_commits() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = small_segments();
        config.max_bytes = Some(1024);
        let log = open(dir.path(), config);
        assert_eq!(log.register_consumer("backend").unwrap(), 0);
        for b in 0..20 {
            log.append_blocking(records(&format!("b{b}"), 4)).unwrap();
        }
        assert_eq!(log.run_retention().unwrap().segments_deleted, 0);
        assert_eq!(log.earliest_offset(), 0);

        log.commit_consumer_offset("backend", 40).unwrap();
        log.run_retention().unwrap();
        let earliest = log.earliest_offset();
        assert!(earliest > 0 && earliest <= 40, "earliest {earliest}");

        log.remove_consumer("backend").unwrap();
        log.run_retention().unwrap();
        assert!(log.earliest_offset() > 40);
    }

    #[test]
    fn the_disk_budget_rejects_appends_when_nothing_can_be_freed() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = small_segments();
        config.max_disk_bytes = Some(4096);
        let log = open(dir.path(), config);
        log.register_consumer("backend").unwrap();
        let err = loop {
            match log.append_blocking(records("fill", 4)) {
                Ok(_) => continue,
                Err(err) => break err,
            }
        };
        assert_eq!(err.kind(), &ErrorKind::DiskBudgetExceeded);
        assert!(err.is_retryable());
        assert!(
            err.to_string().contains(r#"consumer group "backend""#),
            "{err}"
        );
        assert!(log.stats().log_bytes <= 4096);
        assert_eq!(log.stats().disk_budget_rejections_total, 1);

        // Once the consumer catches up, retention makes room again.
        log.commit_consumer_offset("backend", log.high_watermark())
            .unwrap();
        log.append_blocking(records("after", 4)).unwrap();
        assert!(log.stats().segments_deleted_total > 0);
    }

    #[test]
    fn without_protection_the_disk_budget_drops_the_oldest_segments() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = small_segments();
        config.max_disk_bytes = Some(4096);
        config.protect_unconsumed = false;
        let log = open(dir.path(), config);
        log.register_consumer("ignored").unwrap();
        for b in 0..50 {
            log.append_blocking(records(&format!("b{b}"), 4)).unwrap();
        }
        let stats = log.stats();
        assert!(stats.log_bytes <= 4096, "{stats:?}");
        assert!(stats.segments_deleted_total > 0);
        assert_eq!(stats.disk_budget_rejections_total, 0);
    }
}
