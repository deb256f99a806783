//! The log directory itself: creating it durably, the single-writer lock,
//! and fsyncing directory entries.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::error::{Error, ErrorKind, Result};

const LOCK_FILE: &str = "LOCK";

/// Creates the log directory, making a new directory's entry durable.
pub(crate) fn create(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(|e| Error::io("creating log directory", dir, e))?;
    match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => sync(parent),
        _ => Ok(()),
    }
}

/// Takes the exclusive writer lock on `dir` and records our pid in it.
pub(crate) fn lock(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io("opening lock file", &path, e))?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
            let owner = fs::read_to_string(&path).unwrap_or_default();
            return Err(Error::new(
                ErrorKind::Locked,
                format!(
                    "the log directory is already open for writing (by pid {})",
                    owner.trim()
                ),
            )
            .with_path(dir));
        }
        Err(e) => return Err(Error::io("locking log directory", &path, e.into())),
    }
    // Informational only: the flock, not the pid, is what excludes.
    let _ = file
        .set_len(0)
        .and_then(|()| file.write_all(format!("{}\n", std::process::id()).as_bytes()));
    Ok(file)
}

/// Makes creations, renames and deletions in `dir` durable.
pub(crate) fn sync(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("syncing directory", dir, e))
}
