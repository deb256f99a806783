//! Footfall's event queue for mobile apps: [`footfall_core::Storage`] over SQLite.
//!
//! # Overview
//!
//! [`SqliteStorage`] keeps the queue in one SQLite file (bundled SQLite, so no system library is
//! needed), in WAL mode. Every [`Storage`](footfall_core::Storage) call is one transaction (or part of
//! one, with [write batching](#write-batching)), so an app killed at any instant leaves the queue as it
//! was before or after that transaction, never in between:
//!
//! * an event returned by `append` is in the WAL (the OS keeps it even if the process dies next), or,
//!   with write batching, will be once its batch commits;
//! * an event is removed only when the engine acknowledges it, after the collector confirmed it, so a
//!   kill during an upload means the batch is sent again with the same messageIds.
//!
//! Bounds (events, bytes) are the engine's job: it evicts the oldest events and counts every eviction.
//!
//! # Schema
//!
//! ```sql
//! CREATE TABLE events (
//!     seq        INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, even after the queue empties
//!     message_id TEXT    NOT NULL,
//!     created_at INTEGER NOT NULL,                  -- ms since the Unix epoch
//!     attempts   INTEGER NOT NULL DEFAULT 0,
//!     bytes      INTEGER NOT NULL,                  -- UTF-8 length of payload, for the byte bound
//!     payload    TEXT    NOT NULL
//! );
//! CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
//! ```
//!
//! # Durability
//!
//! [`Durability::Normal`] (the default) is `synchronous=NORMAL`: a commit is a `write` to the WAL with
//! no `fsync`, so it survives the app being killed, crashing or being swapped out, but the last commits
//! may be lost if the whole device loses power. [`Durability::Full`] adds an `fsync` per commit, which
//! survives power loss but costs a millisecond or more per event on phone storage.
//!
//! # Write batching
//!
//! A commit costs a `write` to the WAL, tens of microseconds on phone storage, more when the disk is
//! busy. [`SqliteStorage::with_write_batching`] leaves the write transaction open across appends and
//! commits it after `max_events` appends or `max_delay` (the owner calls
//! [`SqliteStorage::commit_if_due`]; the mobile SDK's upload thread does), and on
//! [`SqliteStorage::commit`] and drop. Reads on the same connection see the open transaction, so the
//! engine's view is unchanged. The trade-off: a process killed with a transaction open loses the
//! events appended in it, at most `max_events` of them or `max_delay` of activity. The transaction is
//! never half-applied, and acknowledgements are never committed ahead of the appends they follow.
//!
//! Checkpoints, the only writes that `fsync` with `synchronous=NORMAL`, are then run by a
//! [`Checkpointer`] from another thread; the writing connection's automatic checkpoint only starts past
//! 16 MB of WAL, as a backstop.
//!
//! # Example
//!
//! ```
//! use footfall_core::{NewEvent, Storage};
//! use footfall_storage_sqlite::SqliteStorage;
//!
//! let dir = tempfile::tempdir()?;
//! let mut queue = SqliteStorage::open(dir.path().join("footfall.sqlite"))?;
//! let seq = queue.append(NewEvent { message_id: "m-1", created_at: 0, payload: "{}" })?;
//! assert_eq!(queue.count(), 1);
//! queue.acknowledge(&[seq])?;
//! assert_eq!(queue.count(), 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod storage;

pub use storage::{Checkpointer, Durability, SqliteStorage, WriteBatching};
