//! The ClickHouse schema: versioned migrations that run unchanged on ClickHouse 18.16 (Debian)
//! and on current ClickHouse (checked on chDB by `backend/store/chdb_check.py`).
//!
//! * `events`: `ReplacingMergeTree`, partitioned by day of event time, ordered by project,
//!   event, person (the id it was sent under) and time, with the messageId last so that
//!   redelivered copies collapse at merge. Queries read it `FINAL` and count
//!   `uniqExact(message_id)`, so counts are exact before merges too (18.16 keeps duplicates of one
//!   INSERT until merge).
//! * `identities`: `ReplacingMergeTree(version)` by anonymous id; read with `argMax`.
//! * `sessions`: `ReplacingMergeTree(version)`; each recomputation writes a person's sessions at a
//!   new version (tombstones have `event_count = 0`); queries keep the latest version per person.
//! * `dead_letters`: `ReplacingMergeTree(version)` by id (replaying bumps the version).
//!
//! Times are `Int64` Unix milliseconds, as in DuckDB. No `LowCardinality`, `CODEC`, `TTL` or
//! `IF NOT EXISTS` on `ALTER`, so 18.16 accepts every statement as-is.

use crate::escape::identifier;

mod row_binary;
mod store;

pub use store::{parse_tsv, ClickHouseStore};

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
    vec![Migration {
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
