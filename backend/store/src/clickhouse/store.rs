//! [`ClickHouseStore`]: the store over ClickHouse's HTTP interface, through the official
//! `clickhouse` crate.
//!
//! Written for ClickHouse 18.16 and current alike (see `docs/clickhouse-compat.md`):
//!
//! * validation off, so inserts are plain `RowBinary` (18.16 has no
//!   `RowBinaryWithNamesAndTypes`), batched: one `INSERT` per call, whatever its size;
//! * no compression (18.16 answers small LZ4-compressed responses with an empty body);
//! * queries sent verbatim with [`clickhouse::Client::query_raw`]: values are escaped literals
//!   built by [`crate::sql::SqlBuilder`] (18.16 has no server-side parameters), and a `?` inside
//!   one of them must not be read as a placeholder;
//! * generic results as `TabSeparated`, parsed into [`Cell`]s.
//!
//! The store's API is blocking, like DuckDB's: the crate's futures run on one small runtime of
//! the store's own, so callers (the processor thread, the API's blocking pool) need none. Any
//! failure to reach the server or a non-200 answer is [`Error::Unavailable`], so the processor
//! backs off and retries the batch.

use std::borrow::Cow;
use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use clickhouse::{Client, Compression, Row};
use serde::Serialize;

use super::row_binary::RowBinaryRows;
use super::{migrations, ALL_DAY, ALL_MARK, DAY_MARK};
use crate::escape::{identifier, string_literal};
use crate::model::{DeadLetterRow, EventRow, IdentityRow, SessionRow, SessionScope};
use crate::sessionize::day_of;
use crate::sql::SqlBuilder;
use crate::{Cell, CellRef, Column, Dialect, Error, Result, Sql, Store};

/// How long one request may take before the store reports the server unavailable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The runtime every ClickHouse request runs on. It is never dropped, so a store can be dropped
/// anywhere, including inside another runtime.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("clickhouse-io")
            .enable_all()
            .build()
            .expect("cannot start the ClickHouse I/O runtime")
    })
}

/// Runs one request to completion, bounded by [`REQUEST_TIMEOUT`].
fn block_on<T>(
    url: &str,
    request: impl Future<Output = clickhouse::error::Result<T>>,
) -> Result<T> {
    runtime().block_on(timed(url, request))
}

/// A request bounded by [`REQUEST_TIMEOUT`], its failures as [`Error::Unavailable`].
async fn timed<T>(
    url: &str,
    request: impl Future<Output = clickhouse::error::Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(REQUEST_TIMEOUT, request).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Error::Unavailable(format!("ClickHouse at {url}: {e}"))),
        Err(_) => Err(Error::Unavailable(format!(
            "ClickHouse at {url} did not answer within {}s",
            REQUEST_TIMEOUT.as_secs()
        ))),
    }
}

/// [`Store::select_each`] hands the answer on in pieces of at least this size …
const ANSWER_PIECE_BYTES: usize = 1 << 20;
/// … and reads at most this many pieces ahead of the visitor.
const ANSWER_PIECES_AHEAD: usize = 4;

/// The reader of an answer, by its format.
enum Answer {
    Text(TsvLines),
    Binary(RowBinaryRows),
}

/// A ClickHouse store.
#[derive(Clone)]
pub struct ClickHouseStore {
    client: Client,
    url: String,
    database: String,
}

impl std::fmt::Debug for ClickHouseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseStore")
            .field("url", &self.url)
            .field("database", &self.database)
            .finish()
    }
}

/// The `events` columns, in table order (the insert names them, so order is only for reading).
#[derive(Row, Serialize)]
struct EventInsert<'a> {
    project_id: &'a str,
    message_id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    event: &'a str,
    anonymous_id: &'a str,
    user_id: &'a str,
    distinct_id: &'a str,
    ts_ms: i64,
    received_ms: i64,
    session_id: &'a str,
    properties: &'a str,
}

#[derive(Row, Serialize)]
struct IdentityInsert<'a> {
    project_id: &'a str,
    anonymous_id: &'a str,
    user_id: &'a str,
    version: u64,
}

#[derive(Row, Serialize)]
struct SessionInsert<'a> {
    project_id: &'a str,
    person_id: &'a str,
    session_id: &'a str,
    start_ms: i64,
    end_ms: i64,
    event_count: i64,
    version: u64,
    day: i64,
}

#[derive(Row, Serialize)]
struct DeadLetterInsert<'a> {
    id: &'a str,
    project_id: &'a str,
    received_ms: i64,
    cause: &'a str,
    reason: &'a str,
    payload: &'a str,
    replayed_ms: i64,
    version: u64,
}

/// One `TabSeparated` field, unescaped; borrowed unless it holds an escape.
fn unescape_tsv(field: &str) -> Cow<'_, str> {
    if !field.as_bytes().contains(&b'\\') {
        return Cow::Borrowed(field);
    }
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('t') => out.push('\t'),
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('0') => out.push('\0'),
                Some('b') => out.push('\u{8}'),
                Some('f') => out.push('\u{c}'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Hands each row of `TabSeparated` output to `visit`, as borrowed string cells.
///
/// One SIMD search for the three bytes that matter (`str::split(char)` compared every match with
/// a `memcmp` call, and a byte loop plus a search per field for escapes were most of the rest:
/// together a quarter of the funnel's Rust time over a million rows).
fn each_tsv_row(text: &str, visit: &mut dyn FnMut(&[CellRef<'_>]) -> Result<()>) -> Result<()> {
    let bytes = text.as_bytes();
    let field = |start: usize, end: usize, escaped: bool| {
        let field = &text[start..end];
        CellRef::Str(if escaped {
            unescape_tsv(field)
        } else {
            Cow::Borrowed(field)
        })
    };
    let mut cells = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    // The byte after `\\` is the escaped backslash's, not the start of another escape.
    let mut skip_to = 0;
    for at in memchr::memchr3_iter(b'\t', b'\n', b'\\', bytes) {
        if at < skip_to {
            continue;
        }
        match bytes[at] {
            b'\\' => {
                escaped = true;
                if bytes.get(at + 1) == Some(&b'\\') {
                    skip_to = at + 2;
                }
            }
            b'\t' => {
                cells.push(field(start, at, escaped));
                start = at + 1;
                escaped = false;
            }
            _ => {
                if !cells.is_empty() || at > start {
                    cells.push(field(start, at, escaped));
                    visit(&cells)?;
                    cells.clear();
                }
                start = at + 1;
                escaped = false;
            }
        }
    }
    if !cells.is_empty() || text.len() > start {
        cells.push(field(start, text.len(), escaped));
        visit(&cells)?;
    }
    Ok(())
}

/// Splits a `TabSeparated` answer that arrives in chunks into rows, keeping the unfinished line
/// of each chunk for the next.
#[derive(Default)]
struct TsvLines {
    partial: Vec<u8>,
}

impl TsvLines {
    fn feed(
        &mut self,
        chunk: &[u8],
        visit: &mut dyn FnMut(&[CellRef<'_>]) -> Result<()>,
    ) -> Result<()> {
        let Some(last) = memchr::memrchr(b'\n', chunk) else {
            self.partial.extend_from_slice(chunk);
            return Ok(());
        };
        let mut whole = &chunk[..=last];
        if !self.partial.is_empty() {
            // Only the first line of the chunk finishes the kept one: join just that line.
            let first = memchr::memchr(b'\n', whole).unwrap_or(last);
            self.partial.extend_from_slice(&whole[..=first]);
            each_tsv_row(tsv_text(&self.partial)?, visit)?;
            self.partial.clear();
            whole = &whole[first + 1..];
        }
        each_tsv_row(tsv_text(whole)?, visit)?;
        self.partial.extend_from_slice(&chunk[last + 1..]);
        Ok(())
    }

    /// The last line, when the answer does not end in a newline.
    fn finish(self, visit: &mut dyn FnMut(&[CellRef<'_>]) -> Result<()>) -> Result<()> {
        each_tsv_row(tsv_text(&self.partial)?, visit)
    }
}

fn tsv_text(bytes: &[u8]) -> Result<&str> {
    std::str::from_utf8(bytes)
        .map_err(|e| Error::Shape(format!("ClickHouse answered invalid UTF-8: {e}")))
}

/// Parses `TabSeparated` output into string cells.
pub fn parse_tsv(text: &str) -> Vec<Vec<Cell>> {
    let mut rows = Vec::new();
    each_tsv_row(text, &mut |cells| {
        rows.push(cells.iter().map(CellRef::to_cell).collect());
        Ok(())
    })
    .unwrap_or_else(|_| unreachable!("collecting rows cannot fail"));
    rows
}

impl ClickHouseStore {
    /// Connects to `url` (e.g. `http://127.0.0.1:18123`), creates `database` and applies pending
    /// migrations.
    pub fn open(url: &str, database: &str) -> Result<Self> {
        let url = url.trim_end_matches('/').to_owned();
        let client = Client::default()
            .with_url(&url)
            .with_validation(false)
            .with_compression(Compression::None);
        let store = Self {
            client: client.clone().with_database(database),
            url,
            database: database.to_owned(),
        };
        store.migrate(&client)?;
        Ok(store)
    }

    /// `server` has no database set: the first migration creates it.
    fn migrate(&self, server: &Client) -> Result<()> {
        let db = identifier(&self.database);
        let run = |sql: String| block_on(&self.url, server.query_raw(&sql).execute());
        run(format!("CREATE DATABASE IF NOT EXISTS {db}"))?;
        run(format!("CREATE TABLE IF NOT EXISTS {db}.schema_migrations (version UInt32, name String, applied_ms Int64) ENGINE = TinyLog"))?;
        let applied = self
            .query("SELECT toInt64(max(version)) FROM schema_migrations")?
            .first()
            .and_then(|r| r.first())
            .map_or(0, Cell::as_i64);
        for m in migrations(&self.database)
            .into_iter()
            .filter(|m| i64::from(m.version) > applied)
        {
            for s in &m.statements {
                match run(s.clone()) {
                    // 18.16 has no `ADD COLUMN IF NOT EXISTS`: a migration cut short after its
                    // ALTER is run again from the start.
                    Err(e)
                        if s.contains(" ADD COLUMN ")
                            && e.to_string().contains("already exists") => {}
                    other => other?,
                }
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            run(format!(
                "INSERT INTO {db}.schema_migrations VALUES ({}, {}, {now})",
                m.version,
                string_literal(m.name)
            ))?;
        }
        Ok(())
    }

    fn query(&self, sql: &str) -> Result<Vec<Vec<Cell>>> {
        let mut rows = Vec::new();
        self.each_row(sql, None, &mut |cells| {
            rows.push(cells.iter().map(CellRef::to_cell).collect());
            Ok(())
        })?;
        Ok(rows)
    }

    /// Hands each row of the answer to `sql` to `visit` as the answer arrives.
    ///
    /// Rows are handed on as the answer arrives: the engine writes them while the visitor works,
    /// and a large answer is never held whole (collecting 61 MB of funnel rows first spent more
    /// time faulting in fresh pages than parsing them). The I/O thread reads the answer into
    /// large pieces and this thread parses them: handing over every socket read woke the I/O
    /// thread's poller for each of them (8 % of the funnel's time).
    ///
    /// With `columns` declared the answer is read as `RowBinary` ([`RowBinaryRows`]), else as
    /// `TabSeparated`.
    fn each_row(
        &self,
        sql: &str,
        columns: Option<&[Column]>,
        visit: &mut dyn FnMut(&[CellRef<'_>]) -> Result<()>,
    ) -> Result<()> {
        let format = if columns.is_some() {
            "RowBinary"
        } else {
            "TabSeparated"
        };
        let (pieces, mut received) = tokio::sync::mpsc::channel(ANSWER_PIECES_AHEAD);
        let client = self.client.clone();
        let text = sql.to_owned();
        let url = self.url.clone();
        let reading = runtime().spawn(async move {
            let read = async {
                let mut cursor = client.query_raw(&text).fetch_bytes(format)?;
                let mut piece = Vec::with_capacity(ANSWER_PIECE_BYTES);
                while let Some(chunk) = cursor.next().await? {
                    piece.extend_from_slice(&chunk);
                    if piece.len() >= ANSWER_PIECE_BYTES {
                        let full =
                            std::mem::replace(&mut piece, Vec::with_capacity(ANSWER_PIECE_BYTES));
                        if pieces.send(Ok(full)).await.is_err() {
                            // The visitor stopped: dropping the cursor ends the request.
                            return Ok(());
                        }
                    }
                }
                if !piece.is_empty() {
                    let _ = pieces.send(Ok(piece)).await;
                }
                Ok(())
            };
            if let Err(e) = timed(&url, read).await {
                let _ = pieces.send(Err(e)).await;
            }
        });
        let mut answer = match columns {
            Some(columns) => Answer::Binary(RowBinaryRows::new(columns)),
            None => Answer::Text(TsvLines::default()),
        };
        while let Some(piece) = received.blocking_recv() {
            let piece = piece?;
            match &mut answer {
                Answer::Binary(rows) => rows.feed(&piece, visit)?,
                Answer::Text(lines) => lines.feed(&piece, visit)?,
            }
        }
        // The pieces also end if the reading task panicked: that must not pass for the whole answer.
        runtime().block_on(reading).map_err(|e| {
            Error::Unavailable(format!(
                "reading the answer of ClickHouse at {}: {e}",
                self.url
            ))
        })?;
        match answer {
            Answer::Binary(rows) => rows.finish(),
            Answer::Text(lines) => lines.finish(visit),
        }
    }

    /// Inserts `rows` into `table` in one `INSERT … FORMAT RowBinary`.
    fn insert<R: Row + clickhouse::RowWrite>(
        &self,
        table: &str,
        rows: &[R::Value<'_>],
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        block_on(&self.url, async {
            let mut insert = self.client.insert::<R>(table).await?;
            for row in rows {
                insert.write(row).await?;
            }
            insert.end().await
        })
    }

    /// Runs a statement (tests, `OPTIMIZE`, `TRUNCATE`).
    pub fn execute(&self, sql: &str) -> Result<()> {
        block_on(&self.url, self.client.query_raw(sql).execute())
    }

    /// Runs a query whose rows decode into `T` (a typed fast path for large answers).
    pub fn fetch_all<T>(&self, sql: &Sql) -> Result<Vec<T>>
    where
        T: Row + clickhouse::RowOwned + clickhouse::RowRead,
    {
        check_dialect(sql)?;
        block_on(&self.url, self.client.query_raw(&sql.text).fetch_all::<T>())
    }

    /// Whether the server answers.
    pub fn ping(&self) -> bool {
        self.query("SELECT 1").is_ok()
    }
}

fn check_dialect(sql: &Sql) -> Result<()> {
    if sql.dialect == Dialect::ClickHouse {
        Ok(())
    } else {
        Err(Error::Shape("a DuckDB query was sent to ClickHouse".into()))
    }
}

fn dead_letter_from(r: &[Cell]) -> DeadLetterRow {
    let s = |i: usize| r.get(i).map(Cell::as_string).unwrap_or_default();
    let n = |i: usize| r.get(i).map_or(0, Cell::as_i64);
    DeadLetterRow {
        id: s(0),
        project_id: s(1),
        received_ms: n(2),
        cause: s(3),
        reason: s(4),
        payload: s(5),
        replayed_ms: n(6),
    }
}

impl Store for ClickHouseStore {
    fn dialect(&self) -> Dialect {
        Dialect::ClickHouse
    }

    fn insert_events(&self, rows: &[EventRow]) -> Result<usize> {
        let batch: Vec<EventInsert<'_>> = rows
            .iter()
            .map(|e| EventInsert {
                project_id: &e.project_id,
                message_id: &e.message_id,
                kind: &e.kind,
                event: &e.event,
                anonymous_id: &e.anonymous_id,
                user_id: &e.user_id,
                distinct_id: e.distinct_id(),
                ts_ms: e.ts_ms,
                received_ms: e.received_ms,
                session_id: &e.session_id,
                properties: &e.properties,
            })
            .collect();
        self.insert::<EventInsert<'_>>("events", &batch)?;
        Ok(rows.len())
    }

    fn upsert_identities(&self, rows: &[IdentityRow]) -> Result<()> {
        let batch: Vec<IdentityInsert<'_>> = rows
            .iter()
            .map(|r| IdentityInsert {
                project_id: &r.project_id,
                anonymous_id: &r.anonymous_id,
                user_id: &r.user_id,
                version: r.version.max(0) as u64,
            })
            .collect();
        self.insert::<IdentityInsert<'_>>("identities", &batch)
    }

    fn identities(&self) -> Result<Vec<IdentityRow>> {
        let rows = self.query("SELECT project_id, anonymous_id, argMax(user_id, version), toInt64(max(version)) FROM identities GROUP BY project_id, anonymous_id ORDER BY 4")?;
        Ok(rows
            .iter()
            .map(|r| IdentityRow {
                project_id: r[0].as_string(),
                anonymous_id: r[1].as_string(),
                user_id: r[2].as_string(),
                version: r[3].as_i64(),
            })
            .collect())
    }

    fn replace_sessions(
        &self,
        project: &str,
        version: i64,
        replaced: &[(String, SessionScope)],
        sessions: &[SessionRow],
    ) -> Result<()> {
        // Nothing is deleted: each scope is written at the new version, with a row that marks it
        // even when it now holds no session (see `super` for how queries read them).
        let version = version.max(0) as u64;
        let marks: Vec<(&str, String, i64)> = replaced
            .iter()
            .flat_map(|(person, scope)| match scope {
                SessionScope::All => vec![(person.as_str(), ALL_MARK.to_owned(), ALL_DAY)],
                SessionScope::Days(days) => days
                    .iter()
                    .map(|d| (person.as_str(), format!("{DAY_MARK}{d}"), *d))
                    .collect(),
            })
            .collect();
        let mut batch: Vec<SessionInsert<'_>> = sessions
            .iter()
            .map(|s| SessionInsert {
                project_id: &s.project_id,
                person_id: &s.person_id,
                session_id: &s.session_id,
                start_ms: s.start_ms,
                end_ms: s.end_ms,
                event_count: s.event_count,
                version: s.version.max(0) as u64,
                day: day_of(s.start_ms),
            })
            .collect();
        batch.extend(marks.iter().map(|(person, mark, day)| SessionInsert {
            project_id: project,
            person_id: person,
            session_id: mark,
            start_ms: 0,
            end_ms: 0,
            event_count: 0,
            version,
            day: *day,
        }));
        if batch.is_empty() {
            return Ok(());
        }
        self.insert::<SessionInsert<'_>>("sessions", &batch)
    }

    fn insert_dead_letters(&self, rows: &[DeadLetterRow]) -> Result<()> {
        // Replaying bumps the version, so the replayed copy wins at merge and under `FINAL`.
        let batch: Vec<DeadLetterInsert<'_>> = rows
            .iter()
            .map(|d| DeadLetterInsert {
                id: &d.id,
                project_id: &d.project_id,
                received_ms: d.received_ms,
                cause: &d.cause,
                reason: &d.reason,
                payload: &d.payload,
                replayed_ms: d.replayed_ms,
                version: d.replayed_ms.max(0) as u64,
            })
            .collect();
        self.insert::<DeadLetterInsert<'_>>("dead_letters", &batch)
    }

    fn dead_letters(&self, limit: usize, include_replayed: bool) -> Result<Vec<DeadLetterRow>> {
        let filter = if include_replayed {
            ""
        } else {
            " WHERE replayed_ms = 0"
        };
        let rows = self.query(&format!(
            "SELECT id, project_id, received_ms, cause, reason, payload, replayed_ms FROM dead_letters FINAL{filter} ORDER BY received_ms DESC, id DESC LIMIT {limit}"
        ))?;
        Ok(rows.iter().map(|r| dead_letter_from(r)).collect())
    }

    fn dead_letter(&self, id: &str) -> Result<Option<DeadLetterRow>> {
        let mut b = SqlBuilder::new(Dialect::ClickHouse);
        b.push("SELECT id, project_id, received_ms, cause, reason, payload, replayed_ms FROM dead_letters FINAL WHERE id = ").bind(id);
        Ok(self
            .query(&b.finish().text)?
            .first()
            .map(|r| dead_letter_from(r)))
    }

    fn mark_replayed(&self, id: &str, at_ms: i64) -> Result<()> {
        match self.dead_letter(id)? {
            Some(mut d) => {
                d.replayed_ms = at_ms;
                self.insert_dead_letters(&[d])
            }
            None => Ok(()),
        }
    }

    fn delete_events(&self, project: &str, from_ms: i64, to_ms: i64) -> Result<usize> {
        let mut b = SqlBuilder::new(Dialect::ClickHouse);
        b.push("ALTER TABLE events DELETE WHERE project_id = ")
            .bind(project);
        b.push(" AND ts_ms >= ")
            .bind(from_ms)
            .push(" AND ts_ms < ")
            .bind(to_ms);
        self.execute(&b.finish().text)?;
        Ok(0)
    }

    fn apply(&self, statement: &Sql) -> Result<()> {
        check_dialect(statement)?;
        self.execute(&statement.text)
    }

    fn select_each(
        &self,
        sql: &Sql,
        visit: &mut dyn FnMut(&[CellRef<'_>]) -> Result<()>,
    ) -> Result<()> {
        check_dialect(sql)?;
        self.each_row(&sql.text, sql.columns.as_deref(), visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_rows_split_across_chunks_are_joined() {
        let answer = "a\t1\nbb\t\\t2\ncé\t3\nd\t4";
        let whole = parse_tsv(answer);
        assert_eq!(whole.len(), 4);
        // Every way of cutting the answer in three gives the same rows.
        let bytes = answer.as_bytes();
        for i in 0..bytes.len() {
            for j in i..bytes.len() {
                let mut lines = TsvLines::default();
                let mut got = Vec::new();
                let mut visit = |cells: &[CellRef<'_>]| {
                    got.push(cells.iter().map(CellRef::to_cell).collect::<Vec<_>>());
                    Ok(())
                };
                for chunk in [&bytes[..i], &bytes[i..j], &bytes[j..]] {
                    lines.feed(chunk, &mut visit).unwrap();
                }
                lines.finish(&mut visit).unwrap();
                assert_eq!(got, whole, "cut at {i} and {j}");
            }
        }
    }

    #[test]
    fn tsv_is_unescaped() {
        assert_eq!(
            parse_tsv("a\\tb\t1\n\\\\x\t2\n"),
            vec![
                vec![Cell::Str("a\tb".into()), Cell::Str("1".into())],
                vec![Cell::Str("\\x".into()), Cell::Str("2".into())]
            ]
        );
        // An escaped backslash ends neither a field nor starts another escape.
        assert_eq!(
            parse_tsv("x\\\\\ty\\\\\\t\t\\\\\n"),
            vec![vec![
                Cell::Str("x\\".into()),
                Cell::Str("y\\\t".into()),
                Cell::Str("\\".into())
            ]]
        );
    }

    #[test]
    fn streamed_tsv_cells_are_borrowed_unless_escaped() {
        let mut seen = Vec::new();
        each_tsv_row("plain\ta\\tb\n\nlast\n", &mut |cells| {
            seen.push(
                cells
                    .iter()
                    .map(|c| match c {
                        CellRef::Str(Cow::Borrowed(s)) => format!("borrowed {s}"),
                        CellRef::Str(Cow::Owned(s)) => format!("owned {s}"),
                        CellRef::Int(v) => format!("int {v}"),
                    })
                    .collect::<Vec<_>>(),
            );
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![
                vec!["borrowed plain".to_owned(), "owned a\tb".to_owned()],
                vec!["borrowed last".to_owned()],
            ]
        );
        // The visitor's error ends the walk.
        let mut rows = 0;
        let err = each_tsv_row("1\n2\n3\n", &mut |_| {
            rows += 1;
            Err(Error::Shape("stop".into()))
        })
        .unwrap_err();
        assert_eq!((rows, err.to_string().contains("stop")), (1, true));
    }

    #[test]
    fn an_unreachable_server_is_unavailable_not_a_panic() {
        // Port 9 (discard) is closed on loopback: the connection is refused at once.
        let err = ClickHouseStore::open("http://127.0.0.1:9", "footfall").unwrap_err();
        assert!(
            matches!(&err, Error::Unavailable(m) if m.contains("127.0.0.1:9")),
            "{err:?}"
        );
    }
}
