//! The embedded default store: one DuckDB file.
//!
//! Same semantics as ClickHouse, with DuckDB's strengths: `events` has a primary key on
//! `(project_id, message_id)` and inserts use `ON CONFLICT DO NOTHING`, so a redelivered event is
//! never stored twice; `identities` keeps the highest version per anonymous id; `sessions` are
//! replaced per person in one transaction. Batches go through the Appender into a staging table
//! and are moved with one `INSERT … SELECT DISTINCT ON … ON CONFLICT DO NOTHING`.
//!
//! Every query parameter is bound (`?`), never formatted into SQL.

mod migrations;

pub use migrations::{Migration, MIGRATIONS};

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use ::duckdb::types::{Value, ValueRef};
use ::duckdb::{params, params_from_iter, Connection};

use crate::model::{DeadLetterRow, EventRow, IdentityRow, SessionRow, SessionScope};
use crate::sessionize::DAY_MS;
use crate::sql::SqlBuilder;
use crate::{Cell, CellRef, Dialect, Error, Result, Sql, Store};

/// A DuckDB store.
pub struct DuckStore {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for DuckStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DuckStore").finish_non_exhaustive()
    }
}

impl DuckStore {
    /// Opens (or creates) the DuckDB file and applies pending migrations.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_connection(Connection::open(path)?)
    }

    /// An in-memory store (tests).
    pub fn open_in_memory() -> Result<Self> {
        Self::from_connection(Connection::open_in_memory()?)
    }

    fn from_connection(conn: Connection) -> Result<Self> {
        migrations::apply(&conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The applied migration versions.
    pub fn applied_migrations(&self) -> Result<Vec<i64>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT version FROM schema_migrations ORDER BY version")?;
        let rows = stmt.query_map([], |r| r.get::<_, i64>(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

fn check_dialect(sql: &Sql) -> Result<()> {
    if sql.dialect == Dialect::DuckDb {
        Ok(())
    } else {
        Err(Error::Shape("a ClickHouse query was sent to DuckDB".into()))
    }
}

fn to_value(c: &Cell) -> Value {
    match c {
        Cell::Int(v) => Value::BigInt(*v),
        Cell::Str(s) => Value::Text(s.clone()),
    }
}

fn to_cell_ref(v: ValueRef<'_>) -> CellRef<'_> {
    match v {
        ValueRef::Null => CellRef::Str(Cow::Borrowed("")),
        ValueRef::Boolean(b) => CellRef::Int(i64::from(b)),
        ValueRef::TinyInt(v) => CellRef::Int(v.into()),
        ValueRef::SmallInt(v) => CellRef::Int(v.into()),
        ValueRef::Int(v) => CellRef::Int(v.into()),
        ValueRef::BigInt(v) => CellRef::Int(v),
        ValueRef::HugeInt(v) => CellRef::Int(v as i64),
        ValueRef::UTinyInt(v) => CellRef::Int(v.into()),
        ValueRef::USmallInt(v) => CellRef::Int(v.into()),
        ValueRef::UInt(v) => CellRef::Int(v.into()),
        ValueRef::UBigInt(v) => CellRef::Int(v as i64),
        ValueRef::Text(t) => CellRef::Str(String::from_utf8_lossy(t)),
        other => CellRef::Str(Cow::Owned(format!("{other:?}"))),
    }
}

const EVENT_COLUMNS: &str = "project_id, message_id, type, event, anonymous_id, user_id, ts_ms, received_ms, session_id, properties";

fn dead_letter_from_row(r: &::duckdb::Row<'_>) -> ::duckdb::Result<DeadLetterRow> {
    Ok(DeadLetterRow {
        id: r.get(0)?,
        project_id: r.get(1)?,
        received_ms: r.get(2)?,
        cause: r.get(3)?,
        reason: r.get(4)?,
        payload: r.get(5)?,
        replayed_ms: r.get(6)?,
    })
}

impl Store for DuckStore {
    fn dialect(&self) -> Dialect {
        Dialect::DuckDb
    }

    fn insert_events(&self, rows: &[EventRow]) -> Result<usize> {
        if rows.is_empty() {
            return Ok(0);
        }
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute_batch("DELETE FROM events_staging")?;
        {
            let mut app = tx.appender("events_staging")?;
            for e in rows {
                app.append_row(params![
                    e.project_id,
                    e.message_id,
                    e.kind,
                    e.event,
                    e.anonymous_id,
                    e.user_id,
                    e.ts_ms,
                    e.received_ms,
                    e.session_id,
                    e.properties
                ])?;
            }
            app.flush()?;
        }
        let n = tx.execute(
            &format!("INSERT INTO events SELECT DISTINCT ON (project_id, message_id) {EVENT_COLUMNS} FROM events_staging ON CONFLICT DO NOTHING"),
            [],
        )?;
        tx.execute_batch("DELETE FROM events_staging")?;
        tx.commit()?;
        Ok(n)
    }

    fn upsert_identities(&self, rows: &[IdentityRow]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare(
                "INSERT INTO identities (project_id, anonymous_id, user_id, version) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (project_id, anonymous_id) DO UPDATE SET user_id = excluded.user_id, version = excluded.version \
                 WHERE excluded.version > identities.version",
            )?;
            for r in rows {
                stmt.execute(params![r.project_id, r.anonymous_id, r.user_id, r.version])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn identities(&self) -> Result<Vec<IdentityRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT project_id, anonymous_id, user_id, version FROM identities ORDER BY version",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(IdentityRow {
                project_id: r.get(0)?,
                anonymous_id: r.get(1)?,
                user_id: r.get(2)?,
                version: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn replace_sessions(
        &self,
        project: &str,
        _version: i64,
        replaced: &[(String, SessionScope)],
        sessions: &[SessionRow],
    ) -> Result<()> {
        // One DELETE per distinct scope: a batch's persons mostly share the same few days.
        let mut by_scope: BTreeMap<&SessionScope, Vec<String>> = BTreeMap::new();
        for (person, scope) in replaced {
            by_scope.entry(scope).or_default().push(person.clone());
        }
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for (scope, persons) in by_scope {
            if matches!(scope, SessionScope::Days(days) if days.is_empty()) {
                continue;
            }
            let mut b = SqlBuilder::new(Dialect::DuckDb);
            b.push("DELETE FROM sessions WHERE project_id = ")
                .bind(project);
            b.push(" AND person_id IN ").bind_list(persons);
            if let SessionScope::Days(days) = scope {
                b.push(&format!(" AND start_ms // {DAY_MS} IN "))
                    .bind_list(days.iter().copied());
            }
            let sql = b.finish();
            tx.execute(&sql.text, params_from_iter(sql.params.iter().map(to_value)))?;
        }
        {
            let mut app = tx.appender("sessions")?;
            for s in sessions.iter().filter(|s| s.event_count > 0) {
                app.append_row(params![
                    s.project_id,
                    s.person_id,
                    s.session_id,
                    s.start_ms,
                    s.end_ms,
                    s.event_count,
                    s.version
                ])?;
            }
            app.flush()?;
        }
        tx.commit()?;
        Ok(())
    }

    fn insert_dead_letters(&self, rows: &[DeadLetterRow]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare(
                "INSERT INTO dead_letters (id, project_id, received_ms, cause, reason, payload, replayed_ms) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            )?;
            for r in rows {
                stmt.execute(params![
                    r.id,
                    r.project_id,
                    r.received_ms,
                    r.cause,
                    r.reason,
                    r.payload,
                    r.replayed_ms
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn dead_letters(&self, limit: usize, include_replayed: bool) -> Result<Vec<DeadLetterRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, project_id, received_ms, cause, reason, payload, replayed_ms FROM dead_letters \
             WHERE ? OR replayed_ms = 0 ORDER BY received_ms DESC, id DESC LIMIT ?",
        )?;
        let rows = stmt.query_map(
            params![include_replayed, (limit as i64)],
            dead_letter_from_row,
        )?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn dead_letter(&self, id: &str) -> Result<Option<DeadLetterRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, project_id, received_ms, cause, reason, payload, replayed_ms FROM dead_letters WHERE id = ?",
        )?;
        let mut rows = stmt.query_map(params![id], dead_letter_from_row)?;
        Ok(rows.next().transpose()?)
    }

    fn mark_replayed(&self, id: &str, at_ms: i64) -> Result<()> {
        self.conn().execute(
            "UPDATE dead_letters SET replayed_ms = ? WHERE id = ?",
            params![at_ms, id],
        )?;
        Ok(())
    }

    fn delete_events(&self, project: &str, from_ms: i64, to_ms: i64) -> Result<usize> {
        Ok(self.conn().execute(
            "DELETE FROM events WHERE project_id = ? AND ts_ms >= ? AND ts_ms < ?",
            params![project, from_ms, to_ms],
        )?)
    }

    fn apply(&self, statement: &Sql) -> Result<()> {
        check_dialect(statement)?;
        self.conn().execute(
            &statement.text,
            params_from_iter(statement.params.iter().map(to_value)),
        )?;
        Ok(())
    }

    fn select_each(
        &self,
        sql: &Sql,
        visit: &mut dyn FnMut(&[CellRef<'_>]) -> Result<()>,
    ) -> Result<()> {
        check_dialect(sql)?;
        // A connection of its own (to the same database), so that reads run side by side and
        // never wait for each other or for a write; the lock is held only to open it.
        let conn = self.conn().try_clone()?;
        let mut stmt = conn.prepare(&sql.text)?;
        let mut rows = stmt.query(params_from_iter(sql.params.iter().map(to_value)))?;
        while let Some(row) = rows.next()? {
            // A vector per row: its cells borrow the row, which the next `next()` replaces.
            let n = row.as_ref().column_count();
            let mut cells = Vec::with_capacity(n);
            for i in 0..n {
                cells.push(to_cell_ref(row.get_ref(i)?));
            }
            visit(&cells)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
