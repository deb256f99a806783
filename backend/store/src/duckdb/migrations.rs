//! Versioned DuckDB migrations, applied in order once each and recorded in `schema_migrations`.

use ::duckdb::{params, Connection};

use crate::Result;

/// One migration.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Its version; applied in increasing order.
    pub version: i64,
    /// A short name.
    pub name: &'static str,
    /// The statements.
    pub sql: &'static str,
}

/// Every migration.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "events, identities, sessions, dead letters",
    sql: "
CREATE TABLE events (
    project_id   VARCHAR NOT NULL,
    message_id   VARCHAR NOT NULL,
    type         VARCHAR NOT NULL,
    event        VARCHAR NOT NULL,
    anonymous_id VARCHAR NOT NULL,
    user_id      VARCHAR NOT NULL,
    ts_ms        BIGINT  NOT NULL,
    received_ms  BIGINT  NOT NULL,
    session_id   VARCHAR NOT NULL,
    properties   VARCHAR NOT NULL,
    PRIMARY KEY (project_id, message_id)
);
CREATE TABLE events_staging AS SELECT * FROM events LIMIT 0;
CREATE TABLE identities (
    project_id   VARCHAR NOT NULL,
    anonymous_id VARCHAR NOT NULL,
    user_id      VARCHAR NOT NULL,
    version      BIGINT  NOT NULL,
    PRIMARY KEY (project_id, anonymous_id)
);
CREATE TABLE sessions (
    project_id  VARCHAR NOT NULL,
    person_id   VARCHAR NOT NULL,
    session_id  VARCHAR NOT NULL,
    start_ms    BIGINT  NOT NULL,
    end_ms      BIGINT  NOT NULL,
    event_count BIGINT  NOT NULL,
    version     BIGINT  NOT NULL
);
CREATE TABLE dead_letters (
    id          VARCHAR NOT NULL PRIMARY KEY,
    project_id  VARCHAR NOT NULL,
    received_ms BIGINT  NOT NULL,
    cause       VARCHAR NOT NULL,
    reason      VARCHAR NOT NULL,
    payload     VARCHAR NOT NULL,
    replayed_ms BIGINT  NOT NULL
);
",
}];

/// Applies pending migrations.
pub(crate) fn apply(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name VARCHAR NOT NULL, applied_ms BIGINT NOT NULL)",
    )?;
    let applied: i64 = conn.query_row(
        "SELECT coalesce(max(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    for m in MIGRATIONS.iter().filter(|m| m.version > applied) {
        conn.execute_batch(&format!("BEGIN; {} COMMIT;", m.sql))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        conn.execute(
            "INSERT INTO schema_migrations VALUES (?, ?, ?)",
            params![m.version, m.name, now],
        )?;
    }
    Ok(())
}
