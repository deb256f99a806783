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

/// A result value borrowed from the store's answer, for [`crate::Store::select_each`]: a string
/// is copied only when the wire format escaped it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CellRef<'a> {
    /// An integer.
    Int(i64),
    /// A string.
    Str(std::borrow::Cow<'a, str>),
}

impl CellRef<'_> {
    /// The value as text, borrowed where it can be.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            CellRef::Int(v) => std::borrow::Cow::Owned(v.to_string()),
            CellRef::Str(s) => std::borrow::Cow::Borrowed(s),
        }
    }

    /// An owned [`Cell`].
    pub fn to_cell(&self) -> Cell {
        match self {
            CellRef::Int(v) => Cell::Int(*v),
            CellRef::Str(s) => Cell::Str(s.clone().into_owned()),
        }
    }
}

impl<'a> From<&'a Cell> for CellRef<'a> {
    fn from(cell: &'a Cell) -> Self {
        match cell {
            Cell::Int(v) => CellRef::Int(*v),
            Cell::Str(s) => CellRef::Str(std::borrow::Cow::Borrowed(s)),
        }
    }
}
