//! The ClickHouse schema: versioned migrations that run unchanged on ClickHouse 18.16 (Debian)
//! and on current ClickHouse (checked on chDB by `backend/store/chdb_check.py`).
//!
//! * `events`: `ReplacingMergeTree`, partitioned by day of event time, ordered by project,
//!   event, person (the id it was sent under) and time, with the messageId last so that
//!   redelivered copies collapse at merge. Queries read it `FINAL` and count
//!   `uniqExact(message_id)`, so counts are exact before merges too (18.16 keeps duplicates of one
//!   INSERT until merge).
//! * `identities`: `ReplacingMergeTree(version)` by anonymous id; read with `argMax`.
//! * `sessions`: `ReplacingMergeTree(version)`, with each session's start `day`. A recomputation
//!   writes, at a new version, the sessions of the scope it replaced
//!   ([`crate::SessionScope`]) and a mark row (`event_count = 0`) for it: `~day:<day>` for each
//!   start day it read in full, or `~all` (day -1) when it read the person's whole history.
//!   Queries keep, per person and day, the rows of the latest version, and only those at least
//!   as new as the person's latest `~all`. So a bounded recomputation replaces just its days,
//!   a day left with no session is emptied by its mark, and a whole-history one replaces
//!   everything older. (Until migration 2, queries kept the latest version per person; the
//!   migration writes an `~all` mark at each person's latest version, which reads the same.)
//! * `dead_letters`: `ReplacingMergeTree(version)` by id (replaying bumps the version).
//!
//! Times are `Int64` Unix milliseconds, as in DuckDB. No `LowCardinality`, `CODEC`, `TTL` or
//! `IF NOT EXISTS` on `ALTER`, so 18.16 accepts every statement as-is.

use crate::escape::identifier;
use crate::sessionize::DAY_MS;

mod row_binary;
mod store;

pub use store::{parse_tsv, ClickHouseStore};

/// The `session_id` of the mark row of a whole-history recomputation, and its `day`.
pub(crate) const ALL_MARK: &str = "~all";
pub(crate) const ALL_DAY: i64 = -1;
/// The `session_id` prefix of the mark row of a day's recomputation (`~day:<day>`).
pub(crate) const DAY_MARK: &str = "~day:";

/// One migration: its version, name and statements (each one HTTP request).
#[derive(Debug, Clone)]
pub struct Migration {
    /// Applied in increasing order; recorded in `schema_migrations`.
    pub version: u32,
    /// A short name.
    pub name: &'static str,
    /// The statements, for database `db`.
    pub statements: Vec<String>,
}

/// Every migration for database `db` (created by the first one).
pub fn migrations(db: &str) -> Vec<Migration> {
    let db = identifier(db);
    vec![
        Migration {
        version: 1,
        name: "events, identities, sessions, dead letters",
        statements: vec![
            format!("CREATE DATABASE IF NOT EXISTS {db}"),
            format!(
                "CREATE TABLE IF NOT EXISTS {db}.schema_migrations (version UInt32, name String, applied_ms Int64) \
                 ENGINE = TinyLog"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {db}.events (project_id String, message_id String, type String, \
                 event String, anonymous_id String, user_id String, distinct_id String, ts_ms Int64, \
                 received_ms Int64, session_id String, properties String) \
                 ENGINE = ReplacingMergeTree() PARTITION BY toYYYYMMDD(toDateTime(intDiv(ts_ms, 1000))) \
                 ORDER BY (project_id, event, distinct_id, ts_ms, message_id)"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {db}.identities (project_id String, anonymous_id String, \
                 user_id String, version UInt64) ENGINE = ReplacingMergeTree(version) \
                 ORDER BY (project_id, anonymous_id)"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {db}.sessions (project_id String, person_id String, \
                 session_id String, start_ms Int64, end_ms Int64, event_count Int64, version UInt64) \
                 ENGINE = ReplacingMergeTree(version) ORDER BY (project_id, person_id, session_id)"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {db}.dead_letters (id String, project_id String, received_ms Int64, \
                 cause String, reason String, payload String, replayed_ms Int64, version UInt64) \
                 ENGINE = ReplacingMergeTree(version) ORDER BY id"
            ),
        ],
    },
    Migration {
        version: 2,
        name: "sessions replaced per start day",
        statements: vec![
            // The old rows get their start's day.
            format!(
                "ALTER TABLE {db}.sessions ADD COLUMN day Int64 DEFAULT intDiv(start_ms, {DAY_MS})"
            ),
            // Until now only a person's latest version counted: an `~all` mark at it keeps that.
            format!(
                "INSERT INTO {db}.sessions (project_id, person_id, session_id, start_ms, end_ms, \
                 event_count, version, day) SELECT project_id, person_id, '{ALL_MARK}', 0, 0, 0, \
                 max(version), {ALL_DAY} FROM {db}.sessions GROUP BY project_id, person_id"
            ),
        ],
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_avoids_features_18_16_lacks() {
        for m in migrations("footfall") {
            for s in &m.statements {
                for banned in [
                    "LowCardinality",
                    "CODEC",
                    "TTL",
                    "DateTime64",
                    "Map(",
                    "Bool",
                    "WITH ",
                ] {
                    assert!(!s.contains(banned), "{banned} in {s}");
                }
            }
        }
    }

    #[test]
    fn database_name_is_quoted() {
        assert_eq!(
            migrations("a`b")[0].statements[0],
            r"CREATE DATABASE IF NOT EXISTS `a\`b`"
        );
    }
}
