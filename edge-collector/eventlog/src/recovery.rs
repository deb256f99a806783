//! Opening a log directory for writing: find the segments, check them, and
//! cut off whatever a crash left half-written.
//!
//! Only the newest segment can hold unacknowledged bytes, because a segment
//! is fsynced before the next one is created. Its frames are all verified;
//! older segments get a header check (readers verify their frames). The
//! first bad frame of the newest segment is
//! - a torn tail if its offset is at or past the committed mark: the file is
//!   truncated there, since no append including it was ever acknowledged;
//! - corruption if it is below the mark: acknowledged data is damaged, and
//!   opening fails with an error naming the segment and offset rather than
//!   silently dropping everything after it.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::{Error, Result};
use crate::logdir;
use crate::segment::{self, HeaderCheck, SegmentFile, SegmentScanner, Step, SEGMENT_HEADER_LEN};

/// A segment as the writer tracks it.
#[derive(Debug)]
pub(crate) struct SegmentMeta {
    pub(crate) base: u64,
    pub(crate) path: PathBuf,
    pub(crate) bytes: u64,
    pub(crate) last_write: SystemTime,
}

/// The state a writer starts from.
pub(crate) struct Recovered {
    /// Oldest first; the last one is the active segment.
    pub(crate) segments: Vec<SegmentMeta>,
    /// The active segment, open for writing at its end.
    pub(crate) active: File,
    pub(crate) next_offset: u64,
    pub(crate) truncated_bytes: u64,
    pub(crate) created_segment: bool,
}

/// Recovers the log in `dir`, given the committed mark found there.
pub(crate) fn recover(dir: &Path, mark: Option<u64>) -> Result<Recovered> {
    let files = segment::list(dir)?;
    let mark = mark.unwrap_or(0);
    let Some((last, older)) = files.split_last() else {
        // A new log, or one whose segments were all removed by hand: start
        // at the mark so that no acknowledged offset is ever handed out again.
        let (active, meta) = create_segment(dir, mark)?;
        return Ok(Recovered {
            segments: vec![meta],
            active,
            next_offset: mark,
            truncated_bytes: 0,
            created_segment: true,
        });
    };

    let mut segments = Vec::with_capacity(files.len());
    for file in older {
        let mut handle =
            File::open(&file.path).map_err(|e| Error::io("opening segment", &file.path, e))?;
        match segment::read_header(&mut handle, &file.path, file.base)? {
            HeaderCheck::Valid => {}
            HeaderCheck::Torn(reason) | HeaderCheck::Foreign(reason) => {
                return Err(Error::corrupt(reason, &file.path, file.base));
            }
        }
        segments.push(meta_of(&handle, file)?);
    }

    let mut active = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&last.path)
        .map_err(|e| Error::io("opening active segment", &last.path, e))?;
    let original_len = len_of(&active, &last.path)?;
    let next_offset = match segment::read_header(&mut active, &last.path, last.base)? {
        HeaderCheck::Valid => recover_frames(&active, last, mark)?,
        HeaderCheck::Torn(reason) => {
            // Left by a crash while creating the segment, before anything in
            // it could have been acknowledged.
            if mark > last.base {
                return Err(Error::corrupt(reason, &last.path, last.base));
            }
            active
                .set_len(0)
                .and_then(|()| active.seek(SeekFrom::Start(0)))
                .and_then(|_| active.write_all(&segment::encode_header(last.base)))
                .and_then(|()| active.sync_all())
                .map_err(|e| Error::io("rewriting torn segment header", &last.path, e))?;
            last.base
        }
        HeaderCheck::Foreign(reason) => return Err(Error::corrupt(reason, &last.path, last.base)),
    };
    if next_offset < mark {
        return Err(Error::corrupt(
            format!(
                "the committed mark says offsets below {mark} were acknowledged, \
                 but the log ends at offset {next_offset}: acknowledged records are missing"
            ),
            &last.path,
            next_offset,
        ));
    }
    let len = len_of(&active, &last.path)?;
    active
        .seek(SeekFrom::Start(len))
        .map_err(|e| Error::io("seeking to the end of the active segment", &last.path, e))?;
    segments.push(meta_of(&active, last)?);
    Ok(Recovered {
        segments,
        active,
        next_offset,
        truncated_bytes: original_len.saturating_sub(len),
        created_segment: false,
    })
}

/// Verifies every frame of the active segment and truncates a torn tail.
/// Returns the next offset.
fn recover_frames(active: &File, last: &SegmentFile, mark: u64) -> Result<u64> {
    let mut scanner = SegmentScanner::open(last)?;
    loop {
        match scanner.next()? {
            Step::Entry(_) | Step::Skipped => {}
            Step::End => return Ok(scanner.next_offset()),
            Step::Bad { pos, reason } => {
                let offset = scanner.next_offset();
                if offset < mark {
                    return Err(Error::corrupt(
                        format!(
                            "acknowledged record is corrupt at byte {pos} of the segment: {reason}"
                        ),
                        &last.path,
                        offset,
                    ));
                }
                let len = len_of(active, &last.path)?;
                tracing::warn!(
                    segment = %last.path.display(),
                    offset,
                    position = pos,
                    bytes = len - pos,
                    %reason,
                    "truncating unacknowledged torn tail"
                );
                active
                    .set_len(pos)
                    .and_then(|()| active.sync_all())
                    .map_err(|e| Error::io("truncating torn tail", &last.path, e))?;
                return Ok(offset);
            }
        }
    }
}

/// Creates the segment starting at `base` and makes it durable: header
/// synced, directory entry synced.
pub(crate) fn create_segment(dir: &Path, base: u64) -> Result<(File, SegmentMeta)> {
    let path = dir.join(segment::file_name(base));
    let result = (|| {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| Error::io("creating segment", &path, e))?;
        file.write_all(&segment::encode_header(base))
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::io("writing segment header", &path, e))?;
        logdir::sync(dir)?;
        Ok(file)
    })();
    match result {
        Ok(file) => Ok((
            file,
            SegmentMeta {
                base,
                path,
                bytes: SEGMENT_HEADER_LEN,
                last_write: SystemTime::now(),
            },
        )),
        Err(e) => {
            // A half-made segment would otherwise be mistaken for the
            // active one on the next open; it never held records.
            let _ = std::fs::remove_file(&path);
            Err(e)
        }
    }
}

fn len_of(file: &File, path: &Path) -> Result<u64> {
    Ok(file
        .metadata()
        .map_err(|e| Error::io("reading segment metadata", path, e))?
        .len())
}

fn meta_of(file: &File, segment: &SegmentFile) -> Result<SegmentMeta> {
    let metadata = file
        .metadata()
        .map_err(|e| Error::io("reading segment metadata", &segment.path, e))?;
    Ok(SegmentMeta {
        base: segment.base,
        path: segment.path.clone(),
        bytes: metadata.len(),
        last_write: metadata.modified().unwrap_or_else(|_| SystemTime::now()),
    })
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::io::Write;

    use crate::testutil::{open, read_all, records, segment_paths};
    use crate::{committed, ErrorKind, EventLog, LogConfig};

    /// Writes `batches` appends of 5 records to a fresh log and closes it.
    fn log_with(dir: &std::path::Path, batches: usize) {
        let log = open(dir, LogConfig::default());
        for b in 0..batches {
            log.append_blocking(records(&format!("b{b}"), 5)).unwrap();
        }
    }

    /// Byte position of the frame holding `offset` in a single-segment log.
    fn position_of(dir: &std::path::Path, offset: u64) -> u64 {
        let segment = crate::segment::list(dir).unwrap().remove(0);
        let mut scanner = crate::segment::SegmentScanner::open(&segment).unwrap();
        while scanner.next_offset() < offset {
            scanner.skip().unwrap();
        }
        scanner.pos()
    }

    #[test]
    fn offsets_survive_reopen_and_continue_densely() {
        let dir = tempfile::tempdir().unwrap();
        log_with(dir.path(), 3);
        let log = open(dir.path(), LogConfig::default());
        assert_eq!(log.high_watermark(), 15);
        let receipt = log.append_blocking(records("after", 2)).unwrap();
        assert_eq!(receipt.offsets(), 15..=16);
        let offsets: Vec<u64> = read_all(&log).into_iter().map(|(o, _)| o).collect();
        assert_eq!(offsets, (0..17).collect::<Vec<_>>());
    }

    #[test]
    fn torn_tail_is_truncated_on_open_and_never_read() {
        let dir = tempfile::tempdir().unwrap();
        log_with(dir.path(), 2);
        let segment = &segment_paths(dir.path())[0];
        let clean_len = fs::metadata(segment).unwrap().len();
        // Half of a frame, as a kill -9 in the middle of write(2) leaves it.
        fs::OpenOptions::new()
            .append(true)
            .open(segment)
            .unwrap()
            .write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 5, 6])
            .unwrap();

        let log = open(dir.path(), LogConfig::default());
        assert_eq!(log.high_watermark(), 10);
        assert_eq!(log.stats().recovered_truncated_bytes, 10);
        assert_eq!(fs::metadata(segment).unwrap().len(), clean_len);
        assert_eq!(read_all(&log).len(), 10);
        assert_eq!(
            log.append_blocking(records("x", 1)).unwrap().first_offset,
            10
        );
    }

    #[test]
    fn unacknowledged_frames_past_the_mark_are_discarded_from_the_first_bad_one() {
        let dir = tempfile::tempdir().unwrap();
        log_with(dir.path(), 3);
        // A crash during the commit of offsets 5..15: the mark still says 5,
        // and one page of the group never reached the disk.
        fs::write(dir.path().join(committed::FILE_NAME), committed::encode(5)).unwrap();
        let bad = position_of(dir.path(), 7) + 12;
        let segment = &segment_paths(dir.path())[0];
        let mut bytes = fs::read(segment).unwrap();
        bytes[bad as usize] ^= 0xFF;
        fs::write(segment, bytes).unwrap();

        let log = open(dir.path(), LogConfig::default());
        assert_eq!(log.high_watermark(), 7);
        assert_eq!(read_all(&log).len(), 7);
    }

    #[test]
    fn corruption_below_the_committed_mark_is_an_error_naming_segment_and_offset() {
        let dir = tempfile::tempdir().unwrap();
        log_with(dir.path(), 2);
        let segment = segment_paths(dir.path()).remove(0);
        let bad = position_of(dir.path(), 5) + 20;
        let mut bytes = fs::read(&segment).unwrap();
        bytes[bad as usize] ^= 0x01;
        fs::write(&segment, bytes).unwrap();

        let err = EventLog::open(dir.path(), LogConfig::default()).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Corrupt);
        assert_eq!(err.offset(), Some(5));
        assert_eq!(err.path(), Some(segment.as_path()));
        assert!(err.to_string().contains("CRC mismatch"), "{err}");
    }

    #[test]
    fn acknowledged_records_missing_from_the_end_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        log_with(dir.path(), 2);
        let cut = position_of(dir.path(), 7);
        let segment = &segment_paths(dir.path())[0];
        fs::OpenOptions::new()
            .write(true)
            .open(segment)
            .unwrap()
            .set_len(cut)
            .unwrap();

        let err = EventLog::open(dir.path(), LogConfig::default()).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Corrupt);
        assert_eq!(err.offset(), Some(7));
        assert!(
            err.to_string().contains("acknowledged records are missing"),
            "{err}"
        );
    }

    #[test]
    fn torn_header_from_a_crashed_rotation_is_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        log_with(dir.path(), 1);
        let next = dir.path().join(crate::segment::file_name(5));
        fs::write(&next, b"FFEVL").unwrap();

        let log = open(dir.path(), LogConfig::default());
        assert_eq!(log.high_watermark(), 5);
        assert_eq!(
            log.append_blocking(records("x", 1)).unwrap().first_offset,
            5
        );
        assert_eq!(read_all(&log).len(), 6);
    }

    #[test]
    fn a_log_whose_segments_were_removed_resumes_at_the_mark() {
        let dir = tempfile::tempdir().unwrap();
        log_with(dir.path(), 2);
        for segment in segment_paths(dir.path()) {
            fs::remove_file(segment).unwrap();
        }
        let log = open(dir.path(), LogConfig::default());
        assert_eq!((log.earliest_offset(), log.high_watermark()), (10, 10));
        assert_eq!(
            log.append_blocking(records("x", 1)).unwrap().first_offset,
            10
        );
    }

    #[test]
    fn a_second_writer_is_locked_out_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = open(dir.path(), LogConfig::default());
        let err = EventLog::open(dir.path(), LogConfig::default()).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Locked);
        assert!(
            err.to_string().contains(&std::process::id().to_string()),
            "{err}"
        );
        drop(first);
        open(dir.path(), LogConfig::default());
    }
}
