//! [`LogReader`]: reading committed records by offset, in this process or
//! another one.
//!
//! A reader never returns a record at or past the committed mark, so it
//! cannot see a record whose append has not been acknowledged (or that a
//! crash may still take back). In-process readers take the mark from
//! memory and can block on it; readers in other processes re-read the
//! `COMMITTED` file on each call and poll it to wait.
//!
//! Reads continue from where the previous read stopped without rescanning.
//! Jumps elsewhere scan forward from the nearest position remembered in a
//! sparse per-segment index (one entry per 256 KiB read), or from the
//! segment start the first time.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::committed::MarkReader;
use crate::consumer;
use crate::error::{Error, ErrorKind, Result};
use crate::record::{LogEntry, Record};
use crate::segment::{self, SegmentFile, SegmentScanner, Step};
use crate::shared::Shared;

/// Distance between sparse index entries, in segment bytes.
const INDEX_EVERY: u64 = 256 * 1024;
/// Default interval at which a reader in another process re-reads the
/// committed mark while waiting.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Reads committed records by offset.
///
/// Get one from [`EventLog::reader`](crate::EventLog::reader) in the
/// writing process, or from [`LogReader::open`] anywhere else (read-only
/// access to the segments is enough; committing consumer offsets needs
/// write access to `consumers/`).
pub struct LogReader {
    dir: PathBuf,
    source: Source,
    /// Cached directory listing, refreshed when it cannot answer.
    segments: Vec<SegmentFile>,
    cursor: Option<Cursor>,
    /// A record read but held back by `max_bytes`, returned first next time.
    stash: Option<LogEntry>,
    /// Per segment base: offset -> file position of that frame.
    index: HashMap<u64, BTreeMap<u64, u64>>,
    poll_interval: Duration,
}

enum Source {
    InProcess(Arc<Shared>),
    OtherProcess(MarkReader),
}

struct Cursor {
    base: u64,
    scanner: SegmentScanner,
}

impl LogReader {
    /// Opens a read-only view of the log in `dir`, usually written by
    /// another process. Before any writer has opened the directory the log
    /// reads as empty.
    pub fn open(dir: impl AsRef<Path>) -> Result<LogReader> {
        let dir = dir.as_ref();
        let metadata =
            std::fs::metadata(dir).map_err(|e| Error::io("opening log directory", dir, e))?;
        if !metadata.is_dir() {
            return Err(Error::new(ErrorKind::InvalidInput, "not a directory").with_path(dir));
        }
        Ok(LogReader::new(
            dir.to_path_buf(),
            Source::OtherProcess(MarkReader::new(dir)),
        ))
    }

    pub(crate) fn in_process(shared: Arc<Shared>) -> LogReader {
        LogReader::new(shared.dir.clone(), Source::InProcess(shared))
    }

    fn new(dir: PathBuf, source: Source) -> LogReader {
        LogReader {
            dir,
            source,
            segments: Vec::new(),
            cursor: None,
            stash: None,
            index: HashMap::new(),
            poll_interval: DEFAULT_POLL_INTERVAL,
        }
    }

    /// Sets how often [`wait_for`](LogReader::wait_for) re-reads the
    /// committed mark when the writer is in another process (default 10 ms).
    pub fn set_poll_interval(&mut self, interval: Duration) {
        self.poll_interval = interval.max(Duration::from_millis(1));
    }

    /// One past the newest committed offset.
    pub fn high_watermark(&mut self) -> Result<u64> {
        match &mut self.source {
            Source::InProcess(shared) => Ok(shared.committed()),
            Source::OtherProcess(mark) => mark.read(),
        }
    }

    /// The oldest offset still on disk.
    pub fn earliest_offset(&mut self) -> Result<u64> {
        match &self.source {
            Source::InProcess(shared) => Ok(shared.earliest()),
            Source::OtherProcess(_) => {
                self.refresh_segments()?;
                match self.segments.first() {
                    Some(first) => Ok(first.base),
                    None => self.high_watermark(),
                }
            }
        }
    }

    /// Reads up to `max_records` committed records starting at `from`, in
    /// offset order.
    ///
    /// Stops early at the high watermark or when the keys and payloads read
    /// would exceed `max_bytes` (the first record is returned whatever its
    /// size, so a large record cannot stall a consumer). Reading at the high
    /// watermark returns nothing; reading before the earliest offset or past
    /// the high watermark fails with [`ErrorKind::OffsetOutOfRange`], which
    /// names both.
    pub fn read(
        &mut self,
        from: u64,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Vec<(u64, Record)>> {
        Ok(self
            .read_entries(from, max_records, max_bytes)?
            .into_iter()
            .map(|entry| (entry.offset, entry.record))
            .collect())
    }

    /// Like [`read`](LogReader::read), also returning each record's commit
    /// timestamp.
    pub fn read_entries(
        &mut self,
        from: u64,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Vec<LogEntry>> {
        let high_watermark = self.high_watermark()?;
        if from > high_watermark {
            let earliest = self.earliest_offset()?;
            return Err(self.out_of_range(from, earliest, high_watermark));
        }
        if from == high_watermark || max_records == 0 {
            return Ok(Vec::new());
        }
        self.position(from, high_watermark)?;
        let mut entries = Vec::new();
        let mut bytes = 0usize;
        while entries.len() < max_records {
            let entry = match self.stash.take() {
                Some(entry) => entry,
                None if self.next_offset() >= high_watermark => break,
                None => self.next_entry(high_watermark)?,
            };
            let size = entry.record.key.len() + entry.record.payload.len();
            if !entries.is_empty() && bytes.saturating_add(size) > max_bytes {
                self.stash = Some(entry);
                break;
            }
            bytes += size;
            entries.push(entry);
        }
        Ok(entries)
    }

    /// Blocks until the record at `offset` is committed (returning the high
    /// watermark) or `timeout` passes (returning `None`). In-process it
    /// wakes on the commit itself; across processes it polls the committed
    /// mark every poll interval.
    pub fn wait_for(&mut self, offset: u64, timeout: Duration) -> Result<Option<u64>> {
        if let Source::InProcess(shared) = &self.source {
            return shared.wait_past(offset, timeout);
        }
        let started = Instant::now();
        loop {
            let high_watermark = self.high_watermark()?;
            if high_watermark > offset {
                return Ok(Some(high_watermark));
            }
            let left = timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Ok(None);
            }
            std::thread::sleep(left.min(self.poll_interval));
        }
    }

    /// Persists `offset` as the next offset `group` will read. See
    /// [`EventLog::commit_consumer_offset`](crate::EventLog::commit_consumer_offset).
    pub fn commit_consumer_offset(&mut self, group: &str, offset: u64) -> Result<()> {
        let high_watermark = self.high_watermark()?;
        let earliest = self.earliest_offset()?;
        check_commit(&self.dir, offset, high_watermark, earliest)?;
        consumer::write(&self.dir, group, offset)
    }

    /// The committed offset of `group`, or `None` if it never committed.
    pub fn consumer_offset(&self, group: &str) -> Result<Option<u64>> {
        consumer::read(&self.dir, group)
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn next_offset(&self) -> u64 {
        self.cursor
            .as_ref()
            .map_or(0, |cursor| cursor.scanner.next_offset())
    }

    /// Leaves the cursor (or the stash) at `from`, which is below the high
    /// watermark.
    fn position(&mut self, from: u64, high_watermark: u64) -> Result<()> {
        if self
            .stash
            .as_ref()
            .is_some_and(|entry| entry.offset == from)
        {
            return Ok(());
        }
        self.stash = None;
        if let Some(cursor) = &mut self.cursor {
            if cursor.scanner.next_offset() == from {
                let pos = cursor.scanner.pos();
                return cursor.scanner.seek_to(pos, from);
            }
        }
        self.cursor = None;
        let segment = self.segment_for(from, high_watermark)?;
        let mut scanner = match SegmentScanner::open(&segment) {
            Ok(scanner) => scanner,
            Err(e) if is_not_found(&e) => {
                // Deleted by retention since the listing was taken.
                self.refresh_segments()?;
                let earliest = self.earliest_offset()?;
                if from < earliest {
                    return Err(self.out_of_range(from, earliest, high_watermark));
                }
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        if let Some((&offset, &pos)) = self
            .index
            .get(&segment.base)
            .and_then(|index| index.range(..=from).next_back())
        {
            scanner.seek_to(pos, offset)?;
        }
        self.cursor = Some(Cursor {
            base: segment.base,
            scanner,
        });
        while self.next_offset() < from {
            self.step(high_watermark, false)?;
        }
        Ok(())
    }

    /// The segment that holds `from`.
    fn segment_for(&mut self, from: u64, high_watermark: u64) -> Result<SegmentFile> {
        let stale = match self.segments.last() {
            None => true,
            // A newer segment may have been created since the listing.
            Some(last) => from >= last.base,
        } || self.segments.first().is_some_and(|first| from < first.base);
        if stale {
            self.refresh_segments()?;
        }
        let earliest = match &self.source {
            Source::InProcess(shared) => shared.earliest(),
            Source::OtherProcess(_) => 0,
        }
        .max(self.segments.first().map_or(high_watermark, |s| s.base));
        if from < earliest {
            return Err(self.out_of_range(from, earliest, high_watermark));
        }
        Ok(self
            .segments
            .iter()
            .rev()
            .find(|s| s.base <= from)
            .expect("from >= earliest, so some segment starts at or before it")
            .clone())
    }

    fn next_entry(&mut self, high_watermark: u64) -> Result<LogEntry> {
        loop {
            if let Some(entry) = self.step(high_watermark, true)? {
                return Ok(entry);
            }
        }
    }

    /// Moves the cursor one frame (reading it, or skipping past it), or on
    /// to the next segment. Only called below the high watermark, where
    /// every frame must be valid.
    fn step(&mut self, high_watermark: u64, read: bool) -> Result<Option<LogEntry>> {
        let cursor = self.cursor.as_mut().expect("positioned");
        let (base, offset, pos) = (
            cursor.base,
            cursor.scanner.next_offset(),
            cursor.scanner.pos(),
        );
        let step = if read {
            cursor.scanner.next()?
        } else {
            cursor.scanner.skip()?
        };
        let entry = match step {
            Step::Entry(entry) => Some(entry),
            Step::Skipped => None,
            Step::End => {
                self.next_segment(high_watermark)?;
                return Ok(None);
            }
            Step::Bad { pos, reason } => {
                return Err(Error::corrupt(
                    format!("committed record is corrupt at byte {pos} of the segment: {reason}"),
                    cursor.scanner.path(),
                    offset,
                ))
            }
        };
        let index = self.index.entry(base).or_default();
        if index
            .range(..=offset)
            .next_back()
            .is_none_or(|(_, &indexed)| pos >= indexed + INDEX_EVERY)
        {
            index.insert(offset, pos);
        }
        Ok(entry)
    }

    /// The cursor's segment ended below the high watermark: continue in the
    /// segment that starts where it ended.
    fn next_segment(&mut self, high_watermark: u64) -> Result<()> {
        let cursor = self.cursor.as_ref().expect("positioned");
        let (ended_at, base, path) = (
            cursor.scanner.next_offset(),
            cursor.base,
            cursor.scanner.path().to_path_buf(),
        );
        if !self.segments.iter().any(|s| s.base > base) {
            self.refresh_segments()?;
        }
        let Some(next) = self.segments.iter().find(|s| s.base > base).cloned() else {
            return Err(Error::corrupt(
                format!(
                    "segment ends at offset {ended_at}, below the committed mark \
                     {high_watermark}, and no later segment exists"
                ),
                &path,
                ended_at,
            ));
        };
        if next.base != ended_at {
            return Err(Error::corrupt(
                format!(
                    "segment ends at offset {ended_at} but the next segment starts at {}",
                    next.base
                ),
                &path,
                ended_at,
            ));
        }
        self.cursor = Some(Cursor {
            base: next.base,
            scanner: SegmentScanner::open(&next)?,
        });
        Ok(())
    }

    fn refresh_segments(&mut self) -> Result<()> {
        self.segments = segment::list(&self.dir)?;
        let live: Vec<u64> = self.segments.iter().map(|s| s.base).collect();
        self.index
            .retain(|base, _| live.binary_search(base).is_ok());
        Ok(())
    }

    fn out_of_range(&self, requested: u64, earliest: u64, high_watermark: u64) -> Error {
        out_of_range(&self.dir, requested, earliest, high_watermark)
    }
}

impl fmt::Debug for LogReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogReader")
            .field("dir", &self.dir)
            .field("in_process", &matches!(self.source, Source::InProcess(_)))
            .field("next_offset", &self.next_offset())
            .finish_non_exhaustive()
    }
}

fn out_of_range(dir: &Path, requested: u64, earliest: u64, high_watermark: u64) -> Error {
    let detail = if requested < earliest {
        format!(
            "offset {requested} has been deleted by retention; \
             the earliest available offset is {earliest}"
        )
    } else {
        format!(
            "offset {requested} has not been written yet; the high watermark is \
             {high_watermark} (earliest available offset {earliest})"
        )
    };
    Error::new(
        ErrorKind::OffsetOutOfRange {
            requested,
            earliest,
            high_watermark,
        },
        detail,
    )
    .with_path(dir)
    .with_offset(requested)
}

/// A consumer may commit any offset up to the high watermark.
pub(crate) fn check_commit(
    dir: &Path,
    offset: u64,
    high_watermark: u64,
    earliest: u64,
) -> Result<()> {
    if offset > high_watermark {
        return Err(out_of_range(dir, offset, earliest, high_watermark));
    }
    Ok(())
}

fn is_not_found(err: &Error) -> bool {
    std::error::Error::source(err)
        .and_then(|source| source.downcast_ref::<io::Error>())
        .is_some_and(|e| e.kind() == io::ErrorKind::NotFound)
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::io::Write;
    use std::time::Duration;

    use super::*;
    use crate::testutil::{open, records, segment_paths, small_segments};
    use crate::{EventLog, LogConfig, Record};

    fn log_with_records(dir: &Path, config: LogConfig, batches: usize) -> EventLog {
        let log = open(dir, config);
        for b in 0..batches {
            log.append_blocking(records(&format!("b{b}"), 4)).unwrap();
        }
        log
    }

    #[test]
    fn reads_cross_segments_and_resume_where_they_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let log = log_with_records(dir.path(), small_segments(), 25);
        assert!(segment_paths(dir.path()).len() > 3);
        let mut reader = log.reader();
        let mut next = 0;
        let mut seen = Vec::new();
        loop {
            let batch = reader.read(next, 7, usize::MAX).unwrap();
            if batch.is_empty() {
                break;
            }
            next = batch.last().unwrap().0 + 1;
            seen.extend(batch);
        }
        assert_eq!(seen.len(), 100);
        for (i, (offset, record)) in seen.iter().enumerate() {
            assert_eq!(*offset, i as u64);
            assert_eq!(record, &records(&format!("b{}", i / 4), 4)[i % 4]);
        }
    }

    #[test]
    fn random_access_lands_on_the_right_record() {
        let dir = tempfile::tempdir().unwrap();
        let log = log_with_records(dir.path(), small_segments(), 25);
        let mut reader = log.reader();
        for from in [99, 0, 50, 51, 3, 98, 40] {
            let got = reader.read(from, 1, usize::MAX).unwrap();
            assert_eq!(got[0].0, from);
            assert_eq!(
                got[0].1,
                records(&format!("b{}", from / 4), 4)[from as usize % 4]
            );
        }
    }

    #[test]
    fn max_bytes_bounds_a_read_but_one_oversized_record_still_comes_back() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), LogConfig::default());
        log.append_blocking(vec![
            Record::new("k", vec![b'a'; 100]),
            Record::new("k", vec![b'b'; 100]),
            Record::new("k", vec![b'c'; 100]),
        ])
        .unwrap();
        let mut reader = log.reader();
        assert_eq!(
            reader.read(0, 10, 10).unwrap().len(),
            1,
            "oversized first record"
        );
        assert_eq!(reader.read(1, 10, 202).unwrap().len(), 2);
        assert_eq!(
            reader.read(0, 2, usize::MAX).unwrap().len(),
            2,
            "max_records"
        );
        // The record held back by max_bytes is served from memory next time.
        let first = reader.read(0, 10, 150).unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(
            reader.read(1, 10, 150).unwrap()[0].1.payload,
            vec![b'b'; 100]
        );
        assert!(reader.read(0, 0, usize::MAX).unwrap().is_empty());
    }

    #[test]
    fn reading_before_the_earliest_offset_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = small_segments();
        config.max_bytes = Some(2048);
        let log = log_with_records(dir.path(), config, 30);
        log.run_retention().unwrap();
        let earliest = log.earliest_offset();
        assert!(earliest > 0);
        for mut reader in [log.reader(), LogReader::open(dir.path()).unwrap()] {
            let err = reader.read(0, 10, usize::MAX).unwrap_err();
            assert_eq!(
                err.kind(),
                &ErrorKind::OffsetOutOfRange {
                    requested: 0,
                    earliest,
                    high_watermark: 120
                }
            );
            assert!(
                err.to_string()
                    .contains(&format!("earliest available offset is {earliest}")),
                "{err}"
            );
            assert_eq!(reader.read(earliest, 1, usize::MAX).unwrap()[0].0, earliest);
        }
    }

    #[test]
    fn reading_at_the_high_watermark_is_empty_and_past_it_is_out_of_range() {
        let dir = tempfile::tempdir().unwrap();
        let log = log_with_records(dir.path(), LogConfig::default(), 1);
        let mut reader = log.reader();
        assert!(reader.read(4, 10, usize::MAX).unwrap().is_empty());
        let err = reader.read(5, 10, usize::MAX).unwrap_err();
        assert!(matches!(
            err.kind(),
            ErrorKind::OffsetOutOfRange {
                requested: 5,
                high_watermark: 4,
                ..
            }
        ));
    }

    #[test]
    fn a_reader_from_another_process_never_sees_past_the_committed_mark() {
        let dir = tempfile::tempdir().unwrap();
        let log = log_with_records(dir.path(), LogConfig::default(), 2);
        drop(log);
        // A complete, valid frame at offset 8 that no commit acknowledged, as
        // a crash between write(2) and fdatasync leaves it.
        let mut frame = Vec::new();
        crate::frame::encode(&mut frame, 8, 0, &Record::new("k", "unacknowledged"));
        let segment = segment_paths(dir.path()).remove(0);
        fs::OpenOptions::new()
            .append(true)
            .open(&segment)
            .unwrap()
            .write_all(&frame)
            .unwrap();

        let mut reader = LogReader::open(dir.path()).unwrap();
        assert_eq!(reader.high_watermark().unwrap(), 8);
        assert_eq!(reader.read(0, 100, usize::MAX).unwrap().len(), 8);
        assert!(reader.read(8, 100, usize::MAX).unwrap().is_empty());
    }

    #[test]
    fn a_reader_opened_before_the_writer_sees_an_empty_log_then_records() {
        let dir = tempfile::tempdir().unwrap();
        let mut reader = LogReader::open(dir.path()).unwrap();
        assert_eq!(reader.high_watermark().unwrap(), 0);
        assert!(reader.read(0, 10, usize::MAX).unwrap().is_empty());
        let log = log_with_records(dir.path(), LogConfig::default(), 1);
        assert_eq!(reader.wait_for(0, Duration::from_secs(5)).unwrap(), Some(4));
        assert_eq!(reader.read(0, 10, usize::MAX).unwrap().len(), 4);
        drop(log);
    }

    #[test]
    fn corrupt_committed_record_in_an_older_segment_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let log = log_with_records(dir.path(), small_segments(), 20);
        let segment = segment_paths(dir.path()).remove(0);
        let mut bytes = fs::read(&segment).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x40;
        fs::write(&segment, bytes).unwrap();

        let err = log.reader().read(0, 1000, usize::MAX).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Corrupt);
        assert_eq!(err.path(), Some(segment.as_path()));
        assert!(err.offset().is_some());
    }

    #[test]
    fn in_process_wait_wakes_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), LogConfig::default());
        let mut reader = log.reader();
        assert_eq!(reader.wait_for(0, Duration::from_millis(5)).unwrap(), None);
        let writer = log.clone();
        let handle = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            writer.append_blocking(records("late", 2)).unwrap();
        });
        assert_eq!(
            reader.wait_for(1, Duration::from_secs(10)).unwrap(),
            Some(2)
        );
        handle.join().unwrap();
    }

    #[test]
    fn subscription_resolves_after_commit_and_fails_once_the_log_closes() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), LogConfig::default());
        let mut subscription = log.subscribe();
        let writer = log.clone();
        let handle = std::thread::spawn(move || writer.append_blocking(records("s", 3)).unwrap());
        assert_eq!(
            crate::testutil::block_on(subscription.wait_for(2)).unwrap(),
            3
        );
        handle.join().unwrap();
        drop(log);
        let err = crate::testutil::block_on(subscription.wait_for(3)).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Closed);
        assert_eq!(
            subscription
                .wait_for_blocking(3, Duration::from_secs(5))
                .unwrap_err()
                .kind(),
            &ErrorKind::Closed
        );
    }

    #[test]
    fn consumer_offsets_survive_reopen_and_cannot_pass_the_high_watermark() {
        let dir = tempfile::tempdir().unwrap();
        let log = log_with_records(dir.path(), LogConfig::default(), 2);
        log.commit_consumer_offset("backend", 8).unwrap();
        let err = log.commit_consumer_offset("backend", 9).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::OffsetOutOfRange { .. }));
        drop(log);

        let mut reader = LogReader::open(dir.path()).unwrap();
        assert_eq!(reader.consumer_offset("backend").unwrap(), Some(8));
        reader.commit_consumer_offset("audit", 3).unwrap();
        let log = open(dir.path(), LogConfig::default());
        assert_eq!(log.consumer_offset("audit").unwrap(), Some(3));
        assert_eq!(log.consumer_offsets().unwrap().len(), 2);
        assert_eq!(log.consumer_offset("never").unwrap(), None);
    }
}
