//! Consumer-group offsets, stored as one small file per group in
//! `<log dir>/consumers/<group>.offset`.
//!
//! A committed offset is the next offset the group will read (Kafka's
//! convention): committing `n` says "everything below `n` is processed".
//! The file holds the offset in decimal followed by a newline, so an
//! operator can read or fix it with `cat` and `echo`. Writes go to a
//! temporary file that is fsynced, renamed over the old one, and followed
//! by an fsync of the directory, so a crash leaves the old or the new
//! offset, never a mix. Any process may commit: the writer re-reads these
//! files whenever it applies retention.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, ErrorKind, Result};
use crate::logdir;

const DIR_NAME: &str = "consumers";
const SUFFIX: &str = ".offset";
const TMP_MARKER: &str = ".tmp.";
/// Longest accepted group name.
pub(crate) const MAX_GROUP_LEN: usize = 128;

/// Distinguishes temporary files of concurrent commits within one process;
/// the pid separates processes.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Group names become file names, so they are restricted to a portable,
/// traversal-free alphabet.
pub(crate) fn validate_group(group: &str) -> Result<()> {
    let ok = !group.is_empty()
        && group.len() <= MAX_GROUP_LEN
        && !group.starts_with('.')
        && group
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "consumer group name {group:?} must be 1-{MAX_GROUP_LEN} characters \
                 of [A-Za-z0-9._-] and must not start with '.'"
            ),
        ))
    }
}

fn consumers_dir(log_dir: &Path) -> PathBuf {
    log_dir.join(DIR_NAME)
}

fn offset_path(log_dir: &Path, group: &str) -> PathBuf {
    consumers_dir(log_dir).join(format!("{group}{SUFFIX}"))
}

fn parse(bytes: &[u8], path: &Path) -> Result<u64> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| text.trim_end_matches('\n').parse().ok())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Corrupt,
                "consumer offset file does not hold a decimal offset",
            )
            .with_path(path)
        })
}

/// The committed offset of `group`, or `None` if it never committed.
pub(crate) fn read(log_dir: &Path, group: &str) -> Result<Option<u64>> {
    validate_group(group)?;
    let path = offset_path(log_dir, group);
    match fs::read(&path) {
        Ok(bytes) => parse(&bytes, &path).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("reading consumer offset", &path, e)),
    }
}

/// Every registered group and its committed offset.
pub(crate) fn read_all(log_dir: &Path) -> Result<BTreeMap<String, u64>> {
    let dir = consumers_dir(log_dir);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(Error::io("listing consumer offsets", &dir, e)),
    };
    let mut offsets = BTreeMap::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("listing consumer offsets", &dir, e))?;
        let name = entry.file_name();
        let Some(group) = name.to_str().and_then(|n| n.strip_suffix(SUFFIX)) else {
            continue;
        };
        if validate_group(group).is_err() {
            continue; // Temporary files and strays are not groups.
        }
        // A group removed between listing and reading is simply gone.
        if let Some(offset) = read(log_dir, group)? {
            offsets.insert(group.to_owned(), offset);
        }
    }
    Ok(offsets)
}

/// Atomically replaces the committed offset of `group`.
pub(crate) fn write(log_dir: &Path, group: &str, offset: u64) -> Result<()> {
    validate_group(group)?;
    let dir = consumers_dir(log_dir);
    if let Err(e) = fs::create_dir(&dir) {
        if e.kind() != io::ErrorKind::AlreadyExists {
            return Err(Error::io("creating consumer offset directory", &dir, e));
        }
        // Already there: nothing to make durable.
    } else {
        logdir::sync(log_dir)?;
    }
    let tmp = dir.join(format!(
        ".{group}{TMP_MARKER}{}.{}",
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = File::create(&tmp).map_err(|e| Error::io("creating", &tmp, e))?;
        file.write_all(format!("{offset}\n").as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::io("writing consumer offset", &tmp, e))?;
        let path = offset_path(log_dir, group);
        fs::rename(&tmp, &path).map_err(|e| Error::io("renaming consumer offset into", &path, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp); // Best effort: the error already says what failed.
    }
    result?;
    logdir::sync(&dir)
}

/// Forgets `group`, so retention no longer waits for it. True if it existed.
pub(crate) fn remove(log_dir: &Path, group: &str) -> Result<bool> {
    validate_group(group)?;
    let path = offset_path(log_dir, group);
    match fs::remove_file(&path) {
        Ok(()) => {
            logdir::sync(&consumers_dir(log_dir))?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io("removing consumer offset", &path, e)),
    }
}

/// Deletes temporary files left by commits that crashed before renaming.
/// Only the writer calls this, on open; a concurrent commit from a reader
/// process that loses its temporary file fails and can be retried.
pub(crate) fn remove_stale_tmp_files(log_dir: &Path) -> Result<()> {
    let dir = consumers_dir(log_dir);
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_str().is_some_and(|n| n.contains(TMP_MARKER)) {
            let path = entry.path();
            fs::remove_file(&path)
                .map_err(|e| Error::io("removing stale temporary file", &path, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip_and_list_only_groups() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path(), "backend").unwrap(), None);
        write(dir.path(), "backend", 10).unwrap();
        write(dir.path(), "backend", 12).unwrap();
        write(dir.path(), "audit.v2", 3).unwrap();
        fs::write(consumers_dir(dir.path()).join("notes.txt"), "hi").unwrap();
        assert_eq!(read(dir.path(), "backend").unwrap(), Some(12));
        let all = read_all(dir.path()).unwrap();
        assert_eq!(
            all.into_iter().collect::<Vec<_>>(),
            [("audit.v2".to_owned(), 3), ("backend".to_owned(), 12)]
        );
        assert!(remove(dir.path(), "audit.v2").unwrap());
        assert!(!remove(dir.path(), "audit.v2").unwrap());
    }

    #[test]
    fn group_names_that_could_escape_the_directory_are_rejected() {
        for bad in ["", "../x", "a/b", ".hidden", "sp ace", &"x".repeat(129)] {
            let err = validate_group(bad).unwrap_err();
            assert_eq!(err.kind(), &ErrorKind::InvalidInput, "{bad:?}");
        }
        validate_group("backend-processor_1.v2").unwrap();
    }

    #[test]
    fn garbage_in_an_offset_file_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "g", 1).unwrap();
        let path = offset_path(dir.path(), "g");
        fs::write(&path, "twelve\n").unwrap();
        let err = read(dir.path(), "g").unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Corrupt);
        assert_eq!(err.path(), Some(path.as_path()));
    }

    #[test]
    fn stale_temporary_files_are_cleaned_and_never_listed() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "g", 1).unwrap();
        let stale = consumers_dir(dir.path()).join(".g.tmp.1.1");
        fs::write(&stale, "7\n").unwrap();
        assert_eq!(read_all(dir.path()).unwrap().len(), 1);
        remove_stale_tmp_files(dir.path()).unwrap();
        assert!(!stale.exists());
    }
}
