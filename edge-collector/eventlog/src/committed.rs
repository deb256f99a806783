//! The committed mark: a 16-byte file `COMMITTED` holding the offset one past
//! the last fsynced record, which is how readers in other processes know
//! where acknowledged data ends.
//!
//! ```text
//! magic "FFHW" | next_offset:u64 | crc:u32 of the previous 12 bytes
//! ```
//!
//! The writer overwrites it in place after every commit group's fdatasync,
//! without syncing the mark itself: a mark that survives a crash is never
//! ahead of durable data, only possibly behind it, and the writer rewrites
//! and syncs it after recovery. The mark also decides, on open, whether a
//! bad frame is an unacknowledged torn tail (at or past the mark, truncated)
//! or corruption of acknowledged data (before it, an error).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub(crate) const FILE_NAME: &str = "COMMITTED";
const MAGIC: &[u8; 4] = b"FFHW";
const LEN: usize = 16;

pub(crate) fn encode(next_offset: u64) -> [u8; LEN] {
    let mut bytes = [0u8; LEN];
    bytes[0..4].copy_from_slice(MAGIC);
    bytes[4..12].copy_from_slice(&next_offset.to_le_bytes());
    let crc = crc32fast::hash(&bytes[0..12]);
    bytes[12..16].copy_from_slice(&crc.to_le_bytes());
    bytes
}

/// The offset in a mark, or `None` if the bytes are not a valid mark.
pub(crate) fn decode(bytes: &[u8]) -> Option<u64> {
    let bytes = bytes.get(..LEN)?;
    let crc = u32::from_le_bytes(bytes[12..16].try_into().ok()?);
    if &bytes[0..4] != MAGIC || crc32fast::hash(&bytes[0..12]) != crc {
        return None;
    }
    Some(u64::from_le_bytes(bytes[4..12].try_into().ok()?))
}

/// Reads the mark in `dir`: `None` if it is absent or unreadable as a mark.
pub(crate) fn read(dir: &Path) -> Result<Option<u64>> {
    let path = dir.join(FILE_NAME);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(decode(&bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("reading committed mark", &path, e)),
    }
}

/// The writer's handle on the mark.
pub(crate) struct MarkWriter {
    file: File,
    path: PathBuf,
}

impl MarkWriter {
    pub(crate) fn create(dir: &Path) -> Result<MarkWriter> {
        let path = dir.join(FILE_NAME);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io("opening committed mark", &path, e))?;
        Ok(MarkWriter { file, path })
    }

    /// Publishes `next_offset`. One 16-byte positional write: readers see
    /// either the old or the new mark (and the CRC catches anything else).
    pub(crate) fn publish(&self, next_offset: u64) -> Result<()> {
        self.file
            .write_all_at(&encode(next_offset), 0)
            .map_err(|e| Error::io("publishing committed mark", &self.path, e))
    }

    /// Publishes and makes the mark itself durable (used after recovery).
    pub(crate) fn publish_durably(&self, next_offset: u64) -> Result<()> {
        self.publish(next_offset)?;
        self.file
            .sync_all()
            .map_err(|e| Error::io("syncing committed mark", &self.path, e))
    }
}

/// A reader's view of the mark, re-read on every call.
pub(crate) struct MarkReader {
    path: PathBuf,
    file: Option<File>,
    last: u64,
}

impl MarkReader {
    pub(crate) fn new(dir: &Path) -> MarkReader {
        MarkReader {
            path: dir.join(FILE_NAME),
            file: None,
            last: 0,
        }
    }

    /// The current mark. Before any writer has published one it is 0. The
    /// mark never goes backwards as seen through one reader.
    pub(crate) fn read(&mut self) -> Result<u64> {
        if self.file.is_none() {
            match File::open(&self.path) {
                Ok(file) => self.file = Some(file),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(self.last),
                Err(e) => return Err(Error::io("opening committed mark", &self.path, e)),
            }
        }
        let file = self.file.as_ref().expect("opened above");
        // A read racing the writer's 16-byte write can see a mix; the CRC
        // rejects it and the next attempt sees a settled value.
        for _ in 0..3 {
            let mut bytes = [0u8; LEN];
            match file.read_exact_at(&mut bytes, 0) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => continue,
                Err(e) => return Err(Error::io("reading committed mark", &self.path, e)),
            }
            if let Some(mark) = decode(&bytes) {
                self.last = self.last.max(mark);
                break;
            }
        }
        Ok(self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mark_round_trips_and_rejects_damage() {
        let bytes = encode(123_456);
        assert_eq!(decode(&bytes), Some(123_456));
        for i in 0..LEN {
            let mut bad = bytes;
            bad[i] ^= 0x10;
            assert_eq!(decode(&bad), None, "byte {i}");
        }
        assert_eq!(decode(&bytes[..8]), None);
    }

    #[test]
    fn reader_sees_published_marks_and_zero_before_any() {
        let dir = tempfile::tempdir().unwrap();
        let mut reader = MarkReader::new(dir.path());
        assert_eq!(reader.read().unwrap(), 0);
        let writer = MarkWriter::create(dir.path()).unwrap();
        writer.publish(5).unwrap();
        assert_eq!(reader.read().unwrap(), 5);
        writer.publish_durably(9).unwrap();
        assert_eq!(reader.read().unwrap(), 9);
        assert_eq!(read(dir.path()).unwrap(), Some(9));
    }
}
