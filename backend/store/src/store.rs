//! The [`Store`] trait: what both stores do.

use crate::model::{
    DeadLetterRow, EventRow, EventWindow, IdentityRow, SessionInputRow, SessionRow, SessionScope,
};
use crate::sql::SqlBuilder;
use crate::{Cell, CellRef, Dialect, Result, Sql};

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

    /// The stored events of a project whose userId or anonymousId is one of `ids` (only those in
    /// `window`, when given), by event time, with only what sessionizing needs. A copy of an
    /// event may appear more than once (ClickHouse keeps copies until a merge, and this reads
    /// without `FINAL`); callers skip repeated messageIds. The same bound query on both stores.
    fn session_inputs_of_ids(
        &self,
        project: &str,
        ids: &[String],
        window: Option<&EventWindow>,
    ) -> Result<Vec<SessionInputRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut b = SqlBuilder::new(self.dialect());
        b.push("SELECT message_id, anonymous_id, user_id, ts_ms, session_id FROM events WHERE project_id = ")
            .bind(project);
        b.push(" AND (user_id IN ").bind_list(ids.iter().cloned());
        b.push(" OR anonymous_id IN ")
            .bind_list(ids.iter().cloned());
        b.push(")");
        if let Some(window) = window {
            if window.ranges.is_empty() && window.session_ids.is_empty() {
                return Ok(Vec::new());
            }
            // The time ranges also prune ClickHouse's day partitions.
            b.push(" AND (");
            let mut first = true;
            for (from, to) in &window.ranges {
                if !first {
                    b.push(" OR ");
                }
                first = false;
                b.push("(ts_ms >= ").bind(*from);
                b.push(" AND ts_ms < ").bind(*to);
                b.push(")");
            }
            if !window.session_ids.is_empty() {
                if !first {
                    b.push(" OR ");
                }
                b.push("session_id IN ")
                    .bind_list(window.session_ids.iter().cloned());
            }
            b.push(")");
        }
        b.push(" ORDER BY ts_ms, message_id");
        // The rows are taken apart by value, so no id string is copied on the processor's hot path.
        Ok(self
            .select(&b.finish())?
            .into_iter()
            .map(|row| {
                let mut cells = row.into_iter();
                let text = |cell: Option<Cell>| cell.map(Cell::into_string).unwrap_or_default();
                SessionInputRow {
                    message_id: text(cells.next()),
                    anonymous_id: text(cells.next()),
                    user_id: text(cells.next()),
                    ts_ms: cells.next().map_or(0, |c| c.as_i64()),
                    session_id: text(cells.next()),
                }
            })
            .collect())
    }

    /// Replaces, for each `(person, scope)` of `replaced`, the person's stored sessions in that
    /// scope with those of `sessions` (all written at `version`, which the caller took before it
    /// read the events they were computed from).
    ///
    /// DuckDB deletes and inserts in one transaction. ClickHouse only inserts: a scope's rows
    /// carry its version, and queries keep, per person and start day, the rows of the latest
    /// version, and only those at least as new as the person's latest [`SessionScope::All`]
    /// (see [`crate::clickhouse`]).
    fn replace_sessions(
        &self,
        project: &str,
        version: i64,
        replaced: &[(String, SessionScope)],
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

    /// Runs a query built in this store's dialect and hands each row to `visit` as it is read:
    /// every column is an integer or a string, borrowed from the answer where it can be, so an
    /// answer of a million rows (a funnel's per-person rows) costs no allocation per cell. The
    /// first error, the store's or `visit`'s, ends the query.
    fn select_each(
        &self,
        sql: &Sql,
        visit: &mut dyn FnMut(&[CellRef<'_>]) -> Result<()>,
    ) -> Result<()>;

    /// Runs a query like [`Store::select_each`] and collects its rows.
    fn select(&self, sql: &Sql) -> Result<Vec<Vec<Cell>>> {
        let mut rows = Vec::new();
        self.select_each(sql, &mut |cells| {
            rows.push(cells.iter().map(CellRef::to_cell).collect());
            Ok(())
        })?;
        Ok(rows)
    }

    /// Runs a statement built in this store's dialect (bulk loads, maintenance).
    fn apply(&self, statement: &Sql) -> Result<()>;
}
