//! The [`Store`] trait: what both stores do.

use crate::model::{DeadLetterRow, EventRow, IdentityRow, SessionInputRow, SessionRow};
use crate::{Cell, Dialect, Result, Sql};

/// A store for events, identities, sessions and dead letters. Every write is idempotent, so the
/// processor can deliver at least once and still get exact counts.
pub trait Store: Send + Sync {
    /// The dialect queries must be built in.
    fn dialect(&self) -> Dialect;

    /// Inserts events, ignoring any whose `(project_id, message_id)` is already stored. Returns
    /// how many were new (an upper bound on ClickHouse, which deduplicates at merge and query time).
    fn insert_events(&self, rows: &[EventRow]) -> Result<usize>;

    /// Records identity-map entries; for one anonymous id the highest version wins.
    fn upsert_identities(&self, rows: &[IdentityRow]) -> Result<()>;

    /// The whole identity map (latest version per anonymous id).
    fn identities(&self) -> Result<Vec<IdentityRow>>;

    /// The stored events of a project whose userId or anonymousId is one of `ids`, by event time,
    /// with only what sessionizing needs. A copy of an event may appear more than once (ClickHouse
    /// keeps copies until a merge); callers skip repeated messageIds.
    fn session_inputs_of_ids(&self, project: &str, ids: &[String]) -> Result<Vec<SessionInputRow>>;

    /// Replaces every session of the given persons with `sessions`.
    fn replace_sessions(
        &self,
        project: &str,
        persons: &[String],
        sessions: &[SessionRow],
    ) -> Result<()>;

    /// Stores dead letters (idempotent on `id`).
    fn insert_dead_letters(&self, rows: &[DeadLetterRow]) -> Result<()>;

    /// Dead letters, newest first.
    fn dead_letters(&self, limit: usize, include_replayed: bool) -> Result<Vec<DeadLetterRow>>;

    /// One dead letter.
    fn dead_letter(&self, id: &str) -> Result<Option<DeadLetterRow>>;

    /// Marks a dead letter as replayed.
    fn mark_replayed(&self, id: &str, at_ms: i64) -> Result<()>;

    /// Deletes the events of a project with event time in `[from_ms, to_ms)` (before reprocessing).
    fn delete_events(&self, project: &str, from_ms: i64, to_ms: i64) -> Result<usize>;

    /// Runs a query built in this store's dialect; every column is an integer or a string.
    fn select(&self, sql: &Sql) -> Result<Vec<Vec<Cell>>>;

    /// Runs a statement built in this store's dialect (bulk loads, maintenance).
    fn apply(&self, statement: &Sql) -> Result<()>;
}
