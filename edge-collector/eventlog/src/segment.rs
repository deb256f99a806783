//! Segment files: naming, the 24-byte file header, directory listing, and a
//! forward scanner over the frames of one segment.
//!
//! A segment is `<base offset, 20 digits>.log`, so names sort in offset
//! order. Its header is
//!
//! ```text
//! magic "FFEVLOG\0" | version:u32 = 1 | base_offset:u64 | crc:u32 of the previous 20 bytes
//! ```
//!
//! followed by frames (see `frame.rs`) whose offsets start at the base and
//! are dense. The base offset is stored twice (name and header) so that a
//! renamed or copied file is caught rather than silently renumbered.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::frame::{self, FrameError, FRAME_HEADER_LEN};
use crate::record::LogEntry;

/// Size of the segment file header.
pub(crate) const SEGMENT_HEADER_LEN: u64 = 24;
const MAGIC: &[u8; 8] = b"FFEVLOG\0";
const FORMAT_VERSION: u32 = 1;
const SEGMENT_SUFFIX: &str = ".log";
/// Read-ahead for scans. Big enough that a sequential reader does a few
/// syscalls per megabyte, small enough to keep per-reader memory modest.
const SCAN_BUFFER: usize = 256 * 1024;

/// The file name of the segment whose first offset is `base`.
pub(crate) fn file_name(base: u64) -> String {
    format!("{base:020}{SEGMENT_SUFFIX}")
}

/// The base offset encoded in a segment file name, or `None` for any other
/// file (lock, committed mark, temporary files, an operator's notes).
pub(crate) fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The segment file header for `base`.
pub(crate) fn encode_header(base: u64) -> [u8; SEGMENT_HEADER_LEN as usize] {
    let mut header = [0u8; SEGMENT_HEADER_LEN as usize];
    header[0..8].copy_from_slice(MAGIC);
    header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header[12..20].copy_from_slice(&base.to_le_bytes());
    let crc = crc32fast::hash(&header[0..20]);
    header[20..24].copy_from_slice(&crc.to_le_bytes());
    header
}

/// What the first bytes of a segment file say.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HeaderCheck {
    /// A valid header for the expected base offset.
    Valid,
    /// Shorter than a header, or a header that fails its CRC: what a crash
    /// right after creating the file leaves behind.
    Torn(String),
    /// A checksummed header that belongs to another base or format version:
    /// never the result of a crash.
    Foreign(String),
}

pub(crate) fn check_header(bytes: &[u8], base: u64) -> HeaderCheck {
    let Some(header) = bytes.get(..SEGMENT_HEADER_LEN as usize) else {
        return HeaderCheck::Torn(format!(
            "segment header cut short ({} of {SEGMENT_HEADER_LEN} bytes)",
            bytes.len()
        ));
    };
    let stored = u32::from_le_bytes(header[20..24].try_into().expect("4 bytes"));
    if crc32fast::hash(&header[0..20]) != stored || &header[0..8] != MAGIC {
        return HeaderCheck::Torn("segment header fails its checksum".to_owned());
    }
    let version = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        return HeaderCheck::Foreign(format!(
            "segment format version {version} is not supported (expected {FORMAT_VERSION})"
        ));
    }
    let stored_base = u64::from_le_bytes(header[12..20].try_into().expect("8 bytes"));
    if stored_base != base {
        return HeaderCheck::Foreign(format!(
            "segment header says base offset {stored_base} but the file name says {base}"
        ));
    }
    HeaderCheck::Valid
}

/// Reads and checks the header of an open segment file.
pub(crate) fn read_header(file: &mut File, path: &Path, base: u64) -> Result<HeaderCheck> {
    let mut bytes = Vec::with_capacity(SEGMENT_HEADER_LEN as usize);
    file.seek(SeekFrom::Start(0))
        .and_then(|_| {
            file.by_ref()
                .take(SEGMENT_HEADER_LEN)
                .read_to_end(&mut bytes)
        })
        .map_err(|e| Error::io("reading segment header", path, e))?;
    Ok(check_header(&bytes, base))
}

/// A segment file found in the log directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentFile {
    pub(crate) base: u64,
    pub(crate) path: PathBuf,
}

/// All segment files in `dir`, oldest first.
pub(crate) fn list(dir: &Path) -> Result<Vec<SegmentFile>> {
    let entries = fs::read_dir(dir).map_err(|e| Error::io("listing log directory", dir, e))?;
    let mut segments = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("listing log directory", dir, e))?;
        let name = entry.file_name();
        if let Some(base) = name.to_str().and_then(parse_file_name) {
            segments.push(SegmentFile {
                base,
                path: entry.path(),
            });
        }
    }
    segments.sort_by_key(|s| s.base);
    Ok(segments)
}

/// One step of a scan.
#[derive(Debug)]
pub(crate) enum Step {
    /// A valid frame with the expected offset; the scanner moved past it.
    Entry(LogEntry),
    /// A frame was skipped (see [`SegmentScanner::skip`]).
    Skipped,
    /// The scanner is at the current end of the file.
    End,
    /// The bytes at `pos` are not a valid frame with the expected offset.
    /// Whether that is a torn tail or corruption is the caller's call: it
    /// depends on the committed mark.
    Bad { pos: u64, reason: String },
}

/// Reads the frames of one segment front to back.
///
/// The scanner never trusts a length field beyond the file's current size,
/// so damaged bytes cost a failed check, not a huge allocation.
pub(crate) struct SegmentScanner {
    path: PathBuf,
    reader: BufReader<File>,
    /// File position of the next frame.
    pos: u64,
    /// Last observed file length; refreshed when a frame seems to run past it.
    file_len: u64,
    /// Offset the next frame must carry.
    next_offset: u64,
    body: Vec<u8>,
}

impl SegmentScanner {
    /// Opens a segment whose header has already been validated (or is
    /// validated here), positioned at its first frame.
    pub(crate) fn open(segment: &SegmentFile) -> Result<SegmentScanner> {
        let mut file = File::open(&segment.path)
            .map_err(|e| Error::io("opening segment", &segment.path, e))?;
        match read_header(&mut file, &segment.path, segment.base)? {
            HeaderCheck::Valid => {}
            HeaderCheck::Torn(reason) | HeaderCheck::Foreign(reason) => {
                return Err(Error::corrupt(reason, &segment.path, segment.base));
            }
        }
        let file_len = file
            .metadata()
            .map_err(|e| Error::io("reading segment metadata", &segment.path, e))?
            .len();
        Ok(SegmentScanner {
            path: segment.path.clone(),
            reader: BufReader::with_capacity(SCAN_BUFFER, file),
            pos: SEGMENT_HEADER_LEN,
            file_len,
            next_offset: segment.base,
            body: Vec::new(),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// File position of the next frame.
    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    /// Offset the next frame must carry.
    pub(crate) fn next_offset(&self) -> u64 {
        self.next_offset
    }

    /// Moves to a frame boundary learned earlier (a sparse index entry, or
    /// the current position). Always drops read-ahead: bytes buffered past
    /// the committed mark may be a crashed writer's tail that a restarted
    /// writer has since truncated and rewritten.
    pub(crate) fn seek_to(&mut self, pos: u64, offset: u64) -> Result<()> {
        self.reader
            .seek(SeekFrom::Start(pos))
            .map_err(|e| Error::io("seeking in segment", &self.path, e))?;
        self.pos = pos;
        self.next_offset = offset;
        Ok(())
    }

    /// Reads the next frame in full, checking CRC and offset.
    pub(crate) fn next(&mut self) -> Result<Step> {
        let (body_len, crc) = match self.frame_header()? {
            Ok(parsed) => parsed,
            Err(step) => return Ok(step),
        };
        self.body.resize(body_len, 0);
        if let Err(e) = self.reader.read_exact(&mut self.body) {
            return self.read_failed(e);
        }
        let step = match frame::parse_body(&self.body, crc) {
            Ok(entry) if entry.offset == self.next_offset => Step::Entry(entry),
            Ok(entry) => self.bad(format!(
                "frame carries offset {} where {} was expected",
                entry.offset, self.next_offset
            )),
            Err(e) => self.bad(e.to_string()),
        };
        if matches!(step, Step::Entry(_)) {
            self.advance(body_len);
        } else {
            // Leave the reader where the bad frame starts, so the caller can
            // report and (for a torn tail) truncate exactly there.
            self.seek_to(self.pos, self.next_offset)?;
        }
        Ok(step)
    }

    /// Moves past the next frame, checking its length and offset but not its
    /// CRC: used to reach a read position without copying payloads.
    pub(crate) fn skip(&mut self) -> Result<Step> {
        let (body_len, _crc) = match self.frame_header()? {
            Ok(parsed) => parsed,
            Err(step) => return Ok(step),
        };
        let mut offset = [0u8; 8];
        if let Err(e) = self.reader.read_exact(&mut offset) {
            return self.read_failed(e);
        }
        let offset = u64::from_le_bytes(offset);
        if offset != self.next_offset {
            let step = self.bad(format!(
                "frame carries offset {offset} where {} was expected",
                self.next_offset
            ));
            self.seek_to(self.pos, self.next_offset)?;
            return Ok(step);
        }
        self.reader
            .seek_relative(body_len as i64 - 8)
            .map_err(|e| Error::io("seeking in segment", &self.path, e))?;
        self.advance(body_len);
        Ok(Step::Skipped)
    }

    fn advance(&mut self, body_len: usize) {
        self.pos += (FRAME_HEADER_LEN + body_len) as u64;
        self.next_offset += 1;
    }

    fn bad(&self, reason: String) -> Step {
        Step::Bad {
            pos: self.pos,
            reason,
        }
    }

    fn read_failed(&mut self, e: io::Error) -> Result<Step> {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            // The file shrank under us after the length check.
            self.seek_to(self.pos, self.next_offset)?;
            return Ok(self.bad("segment ends inside a frame".to_owned()));
        }
        Err(Error::io("reading segment", &self.path, e).with_offset(self.next_offset))
    }

    /// Reads and validates the next frame header into `(body_len, crc)`.
    /// `Ok(Err(step))` is a scan outcome other than "a frame follows".
    fn frame_header(&mut self) -> Result<Result<(usize, u32), Step>> {
        if self.pos + FRAME_HEADER_LEN as u64 > self.file_len && !self.refresh_len(0)? {
            return Ok(Err(if self.pos == self.file_len {
                Step::End
            } else if self.pos > self.file_len {
                self.bad("segment is shorter than the position reached".to_owned())
            } else {
                self.bad(
                    FrameError::Incomplete {
                        needed: self.pos + FRAME_HEADER_LEN as u64 - self.file_len,
                    }
                    .to_string(),
                )
            }));
        }
        let mut header = [0u8; FRAME_HEADER_LEN];
        if let Err(e) = self.reader.read_exact(&mut header) {
            return self.read_failed(e).map(Err);
        }
        let (body_len, crc) = match frame::parse_header(header) {
            Ok(parsed) => parsed,
            Err(e) => {
                self.seek_to(self.pos, self.next_offset)?;
                return Ok(Err(self.bad(e.to_string())));
            }
        };
        let end = self.pos + (FRAME_HEADER_LEN + body_len) as u64;
        if end > self.file_len && !self.refresh_len(end)? {
            self.seek_to(self.pos, self.next_offset)?;
            return Ok(Err(self.bad(
                FrameError::Incomplete {
                    needed: end - self.file_len,
                }
                .to_string(),
            )));
        }
        Ok(Ok((body_len, crc)))
    }

    /// Re-reads the file length; true if the file now reaches `needed`
    /// (or, with `needed == 0`, if it now holds a whole frame header).
    fn refresh_len(&mut self, needed: u64) -> Result<bool> {
        self.file_len = self
            .reader
            .get_ref()
            .metadata()
            .map_err(|e| Error::io("reading segment metadata", &self.path, e))?
            .len();
        let needed = needed.max(self.pos + FRAME_HEADER_LEN as u64);
        Ok(self.file_len >= needed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;
    use std::io::Write;

    #[test]
    fn file_names_sort_in_offset_order_and_round_trip() {
        assert_eq!(file_name(0), "00000000000000000000.log");
        assert!(file_name(9) < file_name(10));
        assert_eq!(parse_file_name(&file_name(u64::MAX)), Some(u64::MAX));
    }

    #[test]
    fn other_files_are_not_segments() {
        for name in [
            "LOCK",
            "COMMITTED",
            "0.log",
            "00000000000000000000.log.tmp",
            "0000000000000000000x.log",
            "99999999999999999999.log", // Larger than u64::MAX.
        ] {
            assert_eq!(parse_file_name(name), None, "{name}");
        }
    }

    #[test]
    fn header_round_trips_and_names_what_is_wrong() {
        let header = encode_header(42);
        assert_eq!(check_header(&header, 42), HeaderCheck::Valid);
        assert!(matches!(check_header(&header, 43), HeaderCheck::Foreign(_)));
        assert!(matches!(
            check_header(&header[..10], 42),
            HeaderCheck::Torn(_)
        ));
        let mut flipped = header;
        flipped[13] ^= 1;
        assert!(matches!(check_header(&flipped, 42), HeaderCheck::Torn(_)));
    }

    #[test]
    fn scanner_reads_frames_then_reports_the_end_and_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let segment = SegmentFile {
            base: 10,
            path: dir.path().join(file_name(10)),
        };
        let mut bytes = encode_header(10).to_vec();
        for offset in 10..13 {
            crate::frame::encode(&mut bytes, offset, 0, &Record::new("k", "v"));
        }
        let end_of_frames = bytes.len() as u64;
        let mut file = File::create(&segment.path).unwrap();
        file.write_all(&bytes).unwrap();

        let mut scanner = SegmentScanner::open(&segment).unwrap();
        assert!(matches!(scanner.skip().unwrap(), Step::Skipped));
        for offset in 11..13 {
            match scanner.next().unwrap() {
                Step::Entry(entry) => assert_eq!(entry.offset, offset),
                other => panic!("expected a frame, got {other:?}"),
            }
        }
        assert!(matches!(scanner.next().unwrap(), Step::End));

        file.write_all(&[7, 0, 0]).unwrap(); // Half a frame header.
        match scanner.next().unwrap() {
            Step::Bad { pos, .. } => assert_eq!(pos, end_of_frames),
            other => panic!("expected a torn tail, got {other:?}"),
        }
        assert_eq!(scanner.next_offset(), 13);
    }
}
