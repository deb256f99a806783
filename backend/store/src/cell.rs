//! One value of a result row, the same for both stores.

use std::fmt;

/// A result value. Queries cast every column to a 64-bit integer or a string, so that DuckDB and
/// ClickHouse answers compare equal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(untagged)]
pub enum Cell {
    /// An integer (counts, milliseconds).
    Int(i64),
    /// A string.
    Str(String),
}

impl Cell {
    /// The integer, or 0 for a string that does not parse as one.
    pub fn as_i64(&self) -> i64 {
        match self {
            Cell::Int(v) => *v,
            Cell::Str(s) => s.parse().unwrap_or(0),
        }
    }

    /// The value as text.
    pub fn as_string(&self) -> String {
        self.to_string()
    }

    /// The value as text, taking a string as it is instead of copying it.
    pub fn into_string(self) -> String {
        match self {
            Cell::Str(s) => s,
            Cell::Int(v) => v.to_string(),
        }
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Int(v) => write!(f, "{v}"),
            Cell::Str(s) => f.write_str(s),
        }
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Str(s.to_owned())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Str(s)
    }
}

impl From<i64> for Cell {
    fn from(v: i64) -> Self {
        Cell::Int(v)
    }
}
