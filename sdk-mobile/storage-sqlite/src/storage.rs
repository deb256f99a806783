//! [`SqliteStorage`]: the schema, the pragmas and one transaction per [`Storage`] call.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use footfall_core::{NewEvent, Storage, StorageError, StoredEvent};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

/// The schema version in `PRAGMA user_version`; a file with a newer one is refused, not misread.
const SCHEMA_VERSION: i64 = 1;

/// SQLite's default automatic checkpoint: when the WAL passes 1000 pages (4 MB).
const DEFAULT_CHECKPOINT_PAGES: i64 = 1000;

/// The automatic checkpoint with write batching, when a [`Checkpointer`] does the regular work.
const BACKSTOP_CHECKPOINT_PAGES: i64 = 4000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    bytes      INTEGER NOT NULL,
    payload    TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS kv (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
";

/// How hard a commit tries to reach the disk. See the [crate docs](crate#durability).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=NORMAL`: survives the process being killed; the last commits may be lost on power
    /// loss.
    #[default]
    Normal,
    /// `synchronous=FULL`: survives power loss too, at the price of an `fsync` per commit.
    Full,
}

/// Groups writes into one transaction, committed after `max_events` appends or `max_delay`, whichever
/// comes first. See the [crate docs](crate#write-batching) for what a kill can then lose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteBatching {
    /// Commit once this many events were appended in the open transaction.
    pub max_events: usize,
    /// Commit once the open transaction is this old. The owner must call
    /// [`SqliteStorage::commit_if_due`] by [`SqliteStorage::commit_due_in`].
    pub max_delay: Duration,
}

/// A write transaction left open by a batched append.
#[derive(Debug, Clone, Copy)]
struct OpenBatch {
    started: Instant,
    appends: usize,
}

/// The event queue and key-value area in one SQLite database. See the [crate docs](crate).
///
/// The queue's count and bytes are read once at open and then kept in memory, since the engine asks
/// for them on every event.
#[derive(Debug)]
pub struct SqliteStorage {
    conn: Connection,
    path: Option<PathBuf>,
    count: Cell<u64>,
    bytes: Cell<u64>,
    batching: Option<WriteBatching>,
    open: Cell<Option<OpenBatch>>,
}

impl SqliteStorage {
    /// Opens (creating if needed) the queue in the file at `path`, with [`Durability::Normal`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StorageError> {
        Self::open_with(path, Durability::Normal)
    }

    /// Opens (creating if needed) the queue in the file at `path`.
    pub fn open_with(path: impl AsRef<Path>, durability: Durability) -> Result<Self, StorageError> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StorageError::new(format!("cannot create {}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path)
            .map_err(|e| StorageError::new(format!("cannot open {}: {e}", path.display())))?;
        let mut storage = Self::init(conn, durability)?;
        storage.path = Some(path.to_owned());
        Ok(storage)
    }

    /// A queue that lives only as long as this value, for tests.
    pub fn open_in_memory() -> Result<Self, StorageError> {
        Self::init(
            Connection::open_in_memory().map_err(sql)?,
            Durability::Normal,
        )
    }

    /// Groups later writes into transactions (`Some`), or commits every call (`None`, the default).
    ///
    /// With batching, checkpoints (the only writes that `fsync` with `synchronous=NORMAL`) are left to
    /// a [`Checkpointer`] on another thread; SQLite's own, run by a commit, only starts once the WAL
    /// passes 16 MB, as a backstop.
    pub fn with_write_batching(mut self, batching: Option<WriteBatching>) -> Self {
        self.batching = batching.filter(|b| b.max_events > 1);
        let pages = if self.batching.is_some() {
            BACKSTOP_CHECKPOINT_PAGES
        } else {
            DEFAULT_CHECKPOINT_PAGES
        };
        // A pragma on an open connection cannot fail short of memory exhaustion; the default is safe.
        let _ = self.conn.pragma_update(None, "wal_autocheckpoint", pages);
        self
    }

    fn init(conn: Connection, durability: Durability) -> Result<Self, StorageError> {
        // Another connection (an app extension, a second process) may hold the lock briefly.
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        let synchronous = match durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        conn.pragma_update(None, "synchronous", synchronous)
            .map_err(sql)?;
        // After a checkpoint the WAL is reused from the start; this truncates what a burst grew past 4 MB.
        conn.pragma_update(None, "journal_size_limit", 4 * 1024 * 1024)
            .map_err(sql)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(sql)?;
        if version > SCHEMA_VERSION {
            return Err(StorageError::new(format!(
                "the queue's schema version {version} is newer than this SDK's {SCHEMA_VERSION}"
            )));
        }
        if version < SCHEMA_VERSION {
            conn.execute_batch(SCHEMA).map_err(sql)?;
            conn.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(sql)?;
        }
        let storage = SqliteStorage {
            conn,
            path: None,
            count: Cell::new(0),
            bytes: Cell::new(0),
            batching: None,
            open: Cell::new(None),
        };
        storage.recount()?;
        Ok(storage)
    }

    fn recount(&self) -> Result<(), StorageError> {
        let (count, bytes): (i64, i64) = self
            .conn
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM events",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(sql)?;
        self.count.set(count as u64);
        self.bytes.set(bytes as u64);
        Ok(())
    }

    /// Commits the writes grouped so far, if any. Call it when the app goes to the background and
    /// before the process may exit.
    pub fn commit(&self) -> Result<(), StorageError> {
        if self.open.take().is_none() {
            return Ok(());
        }
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            // The grouped writes are lost (disk full?); the queue is what the database says it is.
            let _ = self.conn.execute_batch("ROLLBACK");
            let _ = self.recount();
            return Err(sql(e));
        }
        Ok(())
    }

    /// When the open write transaction must be committed: `None` if there is none, zero if now.
    pub fn commit_due_in(&self) -> Option<Duration> {
        let (open, batching) = (self.open.get()?, self.batching?);
        Some(batching.max_delay.saturating_sub(open.started.elapsed()))
    }

    /// Commits the open write transaction if it is older than `max_delay`.
    pub fn commit_if_due(&self) -> Result<(), StorageError> {
        match self.commit_due_in() {
            Some(due) if due.is_zero() => self.commit(),
            _ => Ok(()),
        }
    }

    /// How many appends wait in the open write transaction.
    pub fn uncommitted(&self) -> usize {
        self.open.get().map_or(0, |o| o.appends)
    }

    /// A second connection to the same file that folds the WAL back into the database, for another
    /// thread to run while this one keeps writing; `None` for an in-memory queue.
    pub fn checkpointer(&self) -> Result<Option<Checkpointer>, StorageError> {
        let Some(path) = &self.path else {
            return Ok(None);
        };
        let conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(Duration::from_millis(100)).map_err(sql)?;
        Ok(Some(Checkpointer { conn }))
    }

    /// Runs `f` as one transaction: inside the open batch if there is one, else its own.
    fn write<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StorageError> {
        if self.open.get().is_some() {
            return f(&self.conn).map_err(sql);
        }
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(sql)?;
        match f(&self.conn) {
            Ok(value) => {
                if let Err(e) = self.conn.execute_batch("COMMIT") {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    return Err(sql(e));
                }
                Ok(value)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(sql(e))
            }
        }
    }
}

impl Drop for SqliteStorage {
    fn drop(&mut self) {
        let _ = self.commit();
    }
}

/// Folds the WAL into the database file from its own connection; see
/// [`SqliteStorage::checkpointer`].
#[derive(Debug)]
pub struct Checkpointer {
    conn: Connection,
}

impl Checkpointer {
    /// A passive checkpoint: copies what it can without waiting for, or blocking, the writer. This is
    /// where the `fsync`s happen.
    pub fn run(&self) -> Result<(), StorageError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .map_err(sql)
    }
}

impl Storage for SqliteStorage {
    fn append(&mut self, event: NewEvent<'_>) -> Result<u64, StorageError> {
        let bytes = event.payload.len() as u64;
        if let (Some(batching), None) = (self.batching, self.open.get()) {
            self.conn.execute_batch("BEGIN IMMEDIATE").map_err(sql)?;
            self.open.set(Some(OpenBatch {
                started: Instant::now(),
                appends: 0,
            }));
            debug_assert!(batching.max_events > 1);
        }
        let insert = |conn: &Connection| {
            conn.prepare_cached(
                "INSERT INTO events (message_id, created_at, bytes, payload) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                event.message_id,
                event.created_at,
                bytes as i64,
                event.payload
            ])?;
            Ok(conn.last_insert_rowid() as u64)
        };
        // Without batching, the INSERT is its own transaction (autocommit).
        let seq = insert(&self.conn).map_err(sql)?;
        self.count.set(self.count.get() + 1);
        self.bytes.set(self.bytes.get() + bytes);
        if let (Some(batching), Some(mut open)) = (self.batching, self.open.get()) {
            open.appends += 1;
            self.open.set(Some(open));
            if open.appends >= batching.max_events {
                self.commit()?;
            }
        }
        Ok(seq)
    }

    fn read_batch(
        &self,
        max_events: usize,
        max_bytes: usize,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        let mut select = self
            .conn
            .prepare_cached(
                "SELECT seq, message_id, created_at, attempts, payload FROM events ORDER BY seq LIMIT ?1",
            )
            .map_err(sql)?;
        let limit = i64::try_from(max_events).unwrap_or(i64::MAX);
        let mut rows = select.query([limit]).map_err(sql)?;
        let mut batch = Vec::new();
        let mut total = 0usize;
        while let Some(row) = rows.next().map_err(sql)? {
            let payload: String = row.get(4).map_err(sql)?;
            if !batch.is_empty() && total + payload.len() > max_bytes {
                break;
            }
            total += payload.len();
            batch.push(StoredEvent {
                seq: row.get::<_, i64>(0).map_err(sql)? as u64,
                message_id: row.get(1).map_err(sql)?,
                created_at: row.get(2).map_err(sql)?,
                attempts: row.get::<_, i64>(3).map_err(sql)? as u32,
                payload,
            });
        }
        Ok(batch)
    }

    fn acknowledge(&mut self, seqs: &[u64]) -> Result<(), StorageError> {
        if seqs.is_empty() {
            return Ok(());
        }
        let (removed, removed_bytes) = self.write(|conn| {
            let mut delete =
                conn.prepare_cached("DELETE FROM events WHERE seq = ?1 RETURNING bytes")?;
            let (mut removed, mut removed_bytes) = (0u64, 0u64);
            for &seq in seqs {
                let bytes: Option<i64> = delete.query_row([seq as i64], |r| r.get(0)).optional()?;
                if let Some(bytes) = bytes {
                    removed += 1;
                    removed_bytes += bytes as u64;
                }
            }
            Ok((removed, removed_bytes))
        })?;
        self.count.set(self.count.get() - removed);
        self.bytes.set(self.bytes.get() - removed_bytes);
        Ok(())
    }

    fn record_attempt(&mut self, seqs: &[u64]) -> Result<(), StorageError> {
        if seqs.is_empty() {
            return Ok(());
        }
        self.write(|conn| {
            let mut update =
                conn.prepare_cached("UPDATE events SET attempts = attempts + 1 WHERE seq = ?1")?;
            for &seq in seqs {
                update.execute([seq as i64])?;
            }
            Ok(())
        })
    }

    fn count(&self) -> u64 {
        self.count.get()
    }

    fn bytes(&self) -> u64 {
        self.bytes.get()
    }

    fn load(&self, key: &str) -> Result<Option<String>, StorageError> {
        self.conn
            .prepare_cached("SELECT value FROM kv WHERE key = ?1")
            .map_err(sql)?
            .query_row([key], |r| r.get(0))
            .optional()
            .map_err(sql)
    }

    fn store(&mut self, key: &str, value: Option<&str>) -> Result<(), StorageError> {
        self.write(|conn| {
            match value {
                Some(value) => conn
                    .prepare_cached("INSERT OR REPLACE INTO kv (key, value) VALUES (?1, ?2)")?
                    .execute(params_from_iter([key, value])),
                None => conn
                    .prepare_cached("DELETE FROM kv WHERE key = ?1")?
                    .execute([key]),
            }
            .map(drop)
        })
    }
}

fn sql(e: rusqlite::Error) -> StorageError {
    StorageError::new(format!("sqlite: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use footfall_core::storage::conformance;

    #[test]
    fn conforms_in_memory() {
        conformance::run(|| SqliteStorage::open_in_memory().unwrap());
    }

    #[test]
    fn conforms_on_disk_and_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let mut n = 0;
        conformance::run(|| {
            n += 1;
            SqliteStorage::open(dir.path().join(format!("fresh-{n}.sqlite"))).unwrap()
        });
        let path = dir.path().join("restart.sqlite");
        conformance::run_restart(|| SqliteStorage::open(&path).unwrap());
    }

    #[test]
    fn full_durability_conforms_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("full.sqlite");
        conformance::run_restart(|| SqliteStorage::open_with(&path, Durability::Full).unwrap());
    }

    fn batched(path: &Path) -> SqliteStorage {
        SqliteStorage::open(path)
            .unwrap()
            .with_write_batching(Some(WriteBatching {
                max_events: 3,
                max_delay: Duration::from_millis(20),
            }))
    }

    #[test]
    fn batched_writes_conform_across_restarts() {
        conformance::run(|| {
            SqliteStorage::open_in_memory()
                .unwrap()
                .with_write_batching(Some(WriteBatching {
                    max_events: 4,
                    max_delay: Duration::from_secs(60),
                }))
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("batched.sqlite");
        conformance::run_restart(|| batched(&path));
    }

    #[test]
    fn a_batch_commits_at_max_events_and_when_due() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.sqlite");
        let mut s = batched(&path);
        let on_disk = || {
            Connection::open(&path)
                .unwrap()
                .query_row("SELECT COUNT(*) FROM events", [], |r| r.get::<_, i64>(0))
                .unwrap()
        };
        let e = NewEvent {
            message_id: "m",
            created_at: 0,
            payload: "{}",
        };
        s.append(e).unwrap();
        s.append(e).unwrap();
        assert_eq!((s.count(), s.uncommitted(), on_disk()), (2, 2, 0));
        assert!(s.commit_due_in().unwrap() <= Duration::from_millis(20));
        s.append(e).unwrap();
        assert_eq!((s.uncommitted(), on_disk()), (0, 3), "max_events commits");
        s.append(e).unwrap();
        s.commit_if_due().unwrap();
        assert_eq!(on_disk(), 3, "not due yet");
        std::thread::sleep(Duration::from_millis(25));
        s.commit_if_due().unwrap();
        assert_eq!((s.commit_due_in(), on_disk()), (None, 4), "due: committed");
    }

    #[test]
    fn the_checkpointer_runs_beside_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStorage::open(dir.path().join("q.sqlite")).unwrap();
        let checkpointer = s
            .checkpointer()
            .unwrap()
            .expect("a file has a checkpointer");
        for i in 0..100 {
            s.append(NewEvent {
                message_id: &format!("m-{i}"),
                created_at: 0,
                payload: "{}",
            })
            .unwrap();
        }
        checkpointer.run().unwrap();
        assert_eq!(s.count(), 100);
        assert!(SqliteStorage::open_in_memory()
            .unwrap()
            .checkpointer()
            .unwrap()
            .is_none());
    }

    #[test]
    fn count_and_bytes_are_restored_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.sqlite");
        let mut s = SqliteStorage::open(&path).unwrap();
        for i in 0..3 {
            s.append(NewEvent {
                message_id: &format!("m-{i}"),
                created_at: i,
                payload: "{\"é\":1}",
            })
            .unwrap();
        }
        drop(s);
        let s = SqliteStorage::open(&path).unwrap();
        assert_eq!((s.count(), s.bytes()), (3, 3 * "{\"é\":1}".len() as u64));
    }

    #[test]
    fn seqs_are_not_reused_after_emptying_and_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.sqlite");
        let mut s = SqliteStorage::open(&path).unwrap();
        let e = NewEvent {
            message_id: "m",
            created_at: 0,
            payload: "{}",
        };
        let a = s.append(e).unwrap();
        s.acknowledge(&[a]).unwrap();
        drop(s);
        let mut s = SqliteStorage::open(&path).unwrap();
        assert!(s.append(e).unwrap() > a);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.sqlite");
        drop(SqliteStorage::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let err = SqliteStorage::open(&path).unwrap_err();
        assert!(err.to_string().contains("schema version 99"), "{err}");
    }

    #[test]
    fn the_engine_runs_on_it_and_keeps_its_queue_across_a_restart() {
        use footfall_core::{Action, Client, Config, ManualClock};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.sqlite");
        let clock = ManualClock::new(1_795_000_000_000);
        let open = || {
            Client::new(
                Config::new("wk"),
                SqliteStorage::open(&path).unwrap(),
                clock.clone(),
                7,
            )
            .unwrap()
        };
        let mut client = open();
        let anon = client.anonymous_id().to_owned();
        let id = client
            .track("Opened", serde_json::json!({"n": 1}))
            .unwrap()
            .unwrap();
        drop(client);
        let mut client = open();
        assert_eq!(client.anonymous_id(), anon);
        client.flush();
        let Action::Upload(request) = client.next_action(1_795_000_000_000).unwrap() else {
            panic!("an upload is due")
        };
        assert_eq!(request.message_ids, [id]);
    }
}
