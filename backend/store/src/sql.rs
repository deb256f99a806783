//! Building SQL for either store without ever formatting input into it.
//!
//! A [`SqlBuilder`] appends fixed SQL text with [`SqlBuilder::push`] and values with
//! [`SqlBuilder::bind`]: on DuckDB a value becomes a `?` placeholder and a bound parameter; on
//! ClickHouse (18.16 has no server-side parameters) it becomes an escaped literal
//! ([`crate::escape::string_literal`]) or a decimal integer. The builder also knows the few
//! spellings that differ between the dialects.

use crate::escape::string_literal;
use crate::Cell;

/// Which SQL dialect a query is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// DuckDB (the embedded store): `?` parameters.
    DuckDb,
    /// ClickHouse 18.16 and current: inline escaped literals, `FINAL`, `intDiv`.
    ClickHouse,
}

/// A built query: its text and, for DuckDB, its parameters in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sql {
    /// The dialect it was built for.
    pub dialect: Dialect,
    /// The SQL text.
    pub text: String,
    /// DuckDB parameters (always empty for ClickHouse).
    pub params: Vec<Cell>,
    /// The types of the answer's columns, when the builder declared them
    /// ([`SqlBuilder::answer_columns`]).
    pub columns: Option<Vec<Column>>,
}

/// The type of an answer column, declared for a query whose answer is large.
///
/// Why: ClickHouse then answers in `RowBinary`, which has no types of its own, instead of
/// `TabSeparated`. Over the 4.4 M rows of a funnel over 10 M events that cost ClickHouse a tenth
/// less CPU to write and the reader a small fraction of the text scanning. DuckDB answers in its
/// own types and ignores the declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// `String` on ClickHouse; read as [`crate::CellRef::Str`].
    Text,
    /// `Int64` on ClickHouse (cast with `toInt64` where an expression's type could be another
    /// integer); read as [`crate::CellRef::Int`].
    Int,
}

/// Appends SQL text and bound values.
#[derive(Debug)]
pub struct SqlBuilder {
    sql: Sql,
}

impl SqlBuilder {
    /// An empty query for `dialect`.
    pub fn new(dialect: Dialect) -> Self {
        Self {
            sql: Sql {
                dialect,
                text: String::new(),
                params: Vec::new(),
                columns: None,
            },
        }
    }

    /// The dialect.
    pub fn dialect(&self) -> Dialect {
        self.sql.dialect
    }

    /// Appends fixed SQL text (never user input).
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.sql.text.push_str(text);
        self
    }

    /// Appends a value: a parameter on DuckDB, an escaped literal on ClickHouse.
    pub fn bind(&mut self, value: impl Into<Cell>) -> &mut Self {
        let value = value.into();
        match self.sql.dialect {
            Dialect::DuckDb => {
                self.sql.text.push('?');
                self.sql.params.push(value);
            }
            Dialect::ClickHouse => match value {
                Cell::Int(v) => self.sql.text.push_str(&v.to_string()),
                Cell::Str(s) => self.sql.text.push_str(&string_literal(&s)),
            },
        }
        self
    }

    /// Appends a query built separately for the same dialect (its text and parameters).
    pub fn append(&mut self, part: Sql) -> &mut Self {
        debug_assert_eq!(part.dialect, self.sql.dialect);
        self.sql.text.push_str(&part.text);
        self.sql.params.extend(part.params);
        self
    }

    /// Appends `(v1, v2, ...)` with every value bound.
    pub fn bind_list<I, V>(&mut self, values: I) -> &mut Self
    where
        I: IntoIterator<Item = V>,
        V: Into<Cell>,
    {
        self.push("(");
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(v);
        }
        self.push(")")
    }

    /// Appends an integer division of a column expression by a constant: `x // n` or `intDiv(x, n)`.
    pub fn int_div(&mut self, expr: &str, by: i64) -> &mut Self {
        match self.sql.dialect {
            Dialect::DuckDb => self.push(&format!("({expr} // {by})")),
            Dialect::ClickHouse => self.push(&format!("intDiv({expr}, {by})")),
        }
    }

    /// Appends the string value of a JSON property of the `properties` column, `''` when absent
    /// or not a string. The semantics are ClickHouse's `visitParamExtractString` (available on
    /// 18.16): the first `"name":"value"` in the compact JSON text. DuckDB reads it with the same
    /// rule through a bound regular expression (no JSON extension needed); values with escapes
    /// come back escaped on DuckDB.
    pub fn json_string_property(&mut self, name: &str) -> &mut Self {
        match self.sql.dialect {
            Dialect::DuckDb => {
                self.push("regexp_extract(properties, ");
                self.bind(property_pattern(name));
                self.push(", 1)")
            }
            Dialect::ClickHouse => {
                self.push("visitParamExtractString(properties, ");
                self.bind(name.to_owned());
                self.push(")")
            }
        }
    }

    /// Appends `FROM (…) AS e`: the project's events with each row's person resolved through the
    /// identity map (the userId, else the userId the anonymousId maps to, else the anonymousId),
    /// so events from before a login count for the person retroactively. `e` has the events
    /// `columns` plus `person_id`.
    ///
    /// `filter` appends conditions (` AND …`, on bare events columns) applied to the events
    /// before the join, so ClickHouse prunes partitions (event time) and granules (the sorting
    /// key) and both stores join only the rows the query needs.
    ///
    /// Rows are not deduplicated here: every query either counts distinct messageIds (trends),
    /// is unchanged by a repeated row (funnel, retention: a copy of an event adds nothing to a
    /// person's steps or periods), or keeps one row per messageId itself (timeline). On DuckDB a
    /// repeat is never stored at all.
    pub fn from_resolved_events(
        &mut self,
        project: &str,
        columns: &[&str],
        filter: impl Fn(&mut SqlBuilder),
    ) -> &mut Self {
        let mut inner: Vec<&str> = columns.to_vec();
        for needed in ["anonymous_id", "user_id"] {
            if !inner.contains(&needed) {
                inner.push(needed);
            }
        }
        let outer = columns
            .iter()
            .map(|c| format!("ev.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        match self.sql.dialect {
            Dialect::DuckDb => {
                self.push(&format!(
                    "FROM (SELECT {outer}, CASE WHEN ev.user_id <> '' THEN ev.user_id \
                     WHEN idm.user_id IS NOT NULL THEN idm.user_id ELSE ev.anonymous_id END AS person_id \
                     FROM (SELECT {} FROM events WHERE project_id = ",
                    inner.join(", ")
                ));
                self.bind(project.to_owned());
                filter(self);
                self.push(") AS ev LEFT JOIN identities idm ON idm.project_id = ");
                self.bind(project.to_owned());
                self.push(" AND idm.anonymous_id = ev.anonymous_id) AS e")
            }
            Dialect::ClickHouse => {
                // Two parts: an event with a userId is its own person and needs no join; only
                // the anonymous events are looked up in the identity map (the join was 40 % of a
                // funnel over 10 M events, and a third of its rows had a userId).
                self.push(&format!(
                    "FROM (SELECT {}, user_id AS person_id FROM events WHERE project_id = ",
                    columns.join(", ")
                ));
                self.bind(project.to_owned());
                filter(self);
                self.push(" AND user_id != '' UNION ALL ");
                // 18.16 resolves qualified names across a USING join poorly; the right side has
                // only anonymous_id and mapped_user, so bare names are unambiguous.
                self.push(&format!(
                    "SELECT {}, if(mapped_user != '', mapped_user, anonymous_id) AS person_id \
                     FROM (SELECT {} FROM events WHERE project_id = ",
                    columns.join(", "),
                    inner.join(", ")
                ));
                self.bind(project.to_owned());
                filter(self);
                self.push(" AND user_id = '') AS ev ANY LEFT JOIN (");
                self.identity_map(project);
                self.push(") AS idm USING anonymous_id) AS e")
            }
        }
    }

    /// Appends `SELECT anonymous_id, mapped_user FROM identities …`: the project's identity map,
    /// one row per anonymousId with the userId of its latest version. DuckDB keeps only that row
    /// (its key is the anonymousId); a ClickHouse `ReplacingMergeTree` keeps every version until a
    /// merge, so it is read with `argMax`.
    pub fn identity_map(&mut self, project: &str) -> &mut Self {
        match self.sql.dialect {
            Dialect::DuckDb => {
                self.push(
                    "SELECT anonymous_id, user_id AS mapped_user FROM identities WHERE project_id = ",
                );
                self.bind(project.to_owned())
            }
            Dialect::ClickHouse => {
                self.push(
                    "SELECT anonymous_id, argMax(user_id, version) AS mapped_user \
                     FROM identities WHERE project_id = ",
                );
                self.bind(project.to_owned());
                self.push(" GROUP BY anonymous_id")
            }
        }
    }

    /// Appends a count of distinct events (`count(DISTINCT e.message_id)` / `uniqExact`).
    pub fn count_events(&mut self) -> &mut Self {
        match self.sql.dialect {
            Dialect::DuckDb => self.push("CAST(count(DISTINCT e.message_id) AS BIGINT)"),
            Dialect::ClickHouse => self.push("toInt64(uniqExact(e.message_id))"),
        }
    }

    /// Appends a count of distinct persons.
    pub fn count_persons(&mut self) -> &mut Self {
        match self.sql.dialect {
            Dialect::DuckDb => self.push("CAST(count(DISTINCT e.person_id) AS BIGINT)"),
            Dialect::ClickHouse => self.push("toInt64(uniqExact(e.person_id))"),
        }
    }

    /// Casts an integer expression to a 64-bit integer.
    pub fn int64(&mut self, expr: &str) -> &mut Self {
        match self.sql.dialect {
            Dialect::DuckDb => self.push(&format!("CAST({expr} AS BIGINT)")),
            Dialect::ClickHouse => self.push(&format!("toInt64({expr})")),
        }
    }

    /// Opens a cast to a 64-bit integer; close it with [`SqlBuilder::close_int64`].
    pub fn open_int64(&mut self) -> &mut Self {
        match self.sql.dialect {
            Dialect::DuckDb => self.push("CAST("),
            Dialect::ClickHouse => self.push("toInt64("),
        }
    }

    /// Closes [`SqlBuilder::open_int64`].
    pub fn close_int64(&mut self) -> &mut Self {
        match self.sql.dialect {
            Dialect::DuckDb => self.push(" AS BIGINT)"),
            Dialect::ClickHouse => self.push(")"),
        }
    }

    /// Declares the types of the answer's columns (see [`Column`]); the query must give exactly
    /// these.
    pub fn answer_columns(&mut self, columns: &[Column]) -> &mut Self {
        self.sql.columns = Some(columns.to_vec());
        self
    }

    /// The built query.
    pub fn finish(self) -> Sql {
        self.sql
    }
}

/// The RE2 pattern that finds `"name":"value"` in compact JSON; the key is JSON-escaped, then
/// regex-escaped, so any key is matched literally.
fn property_pattern(name: &str) -> String {
    let json_key = serde_json::to_string(name).unwrap_or_default();
    let mut pattern = String::new();
    for c in json_key.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push_str(r#":"((?:[^"\\]|\\.)*)""#);
    pattern
}

/// A bucket width in milliseconds, and the offset that aligns weeks on Mondays (1970-01-01 was a
/// Thursday, so Monday-aligned weeks start 3 days before multiples of 7 days).
pub(crate) fn bucket_expr(b: &mut SqlBuilder, column: &str, width_ms: i64, offset_ms: i64) {
    if offset_ms == 0 {
        b.push("(");
        b.int_div(column, width_ms);
        b.push(&format!(" * {width_ms})"));
    } else {
        b.push("(");
        b.int_div(&format!("({column} + {offset_ms})"), width_ms);
        b.push(&format!(" * {width_ms} - {offset_ms})"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duckdb_binds_parameters() {
        let mut b = SqlBuilder::new(Dialect::DuckDb);
        b.push("SELECT 1 WHERE x = ")
            .bind("a'b")
            .push(" AND y IN ")
            .bind_list([1i64, 2]);
        let sql = b.finish();
        assert_eq!(sql.text, "SELECT 1 WHERE x = ? AND y IN (?, ?)");
        assert_eq!(
            sql.params,
            vec![Cell::from("a'b"), Cell::Int(1), Cell::Int(2)]
        );
    }

    #[test]
    fn clickhouse_inlines_escaped_literals() {
        let mut b = SqlBuilder::new(Dialect::ClickHouse);
        b.push("SELECT 1 WHERE x = ")
            .bind("a'b")
            .push(" AND y IN ")
            .bind_list([1i64, 2]);
        let sql = b.finish();
        assert_eq!(sql.text, r"SELECT 1 WHERE x = 'a\'b' AND y IN (1, 2)");
        assert!(sql.params.is_empty());
    }

    #[test]
    fn property_patterns_match_keys_literally() {
        assert_eq!(property_pattern("plan"), r#""plan":"((?:[^"\\]|\\.)*)""#);
        assert_eq!(property_pattern("a.b"), r#""a\.b":"((?:[^"\\]|\\.)*)""#);
        assert_eq!(property_pattern(r#"q"x"#), r#""q\\"x":"((?:[^"\\]|\\.)*)""#);
    }
}
