//! The one error type of the engine: what the caller did wrong, or what the platform's storage reported.

use std::fmt;

use crate::storage::StorageError;

/// An error returned to the caller of a [`Client`](crate::Client) method.
///
/// Invalid calls are refused with an error naming the problem; the engine never panics on input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `track` was called with an empty (or all-whitespace) event name.
    EmptyEventName,
    /// An id argument (`userId`, `groupId`, alias target) was empty.
    EmptyId {
        /// Which argument, in wire spelling (`userId`, `groupId`).
        field: &'static str,
    },
    /// `properties`, `traits` or `context` was not a JSON object.
    NotAnObject {
        /// Which argument.
        field: &'static str,
        /// The JSON type that was given instead (`array`, `string`, …).
        found: &'static str,
    },
    /// The serialized message is over Segment's 32 KB limit.
    MessageTooLarge {
        /// Its size in bytes.
        bytes: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// A configuration value is out of range.
    InvalidConfig {
        /// The field.
        field: &'static str,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The platform's storage failed.
    Storage(StorageError),
}

impl Error {
    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    pub(crate) fn not_an_object(field: &'static str, value: &serde_json::Value) -> Self {
        let found = match value {
            serde_json::Value::Null => "null",
            serde_json::Value::Bool(_) => "boolean",
            serde_json::Value::Number(_) => "number",
            serde_json::Value::String(_) => "string",
            serde_json::Value::Array(_) => "array",
            serde_json::Value::Object(_) => "object",
        };
        ErrorKind::NotAnObject { field, found }.into()
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error { kind }
    }
}

impl From<StorageError> for Error {
    fn from(e: StorageError) -> Self {
        ErrorKind::Storage(e).into()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::EmptyEventName => f.write_str("the event name must not be empty"),
            ErrorKind::EmptyId { field } => write!(f, "{field} must not be empty"),
            ErrorKind::NotAnObject { field, found } => {
                write!(f, "{field} must be a JSON object, not {found}")
            }
            ErrorKind::MessageTooLarge { bytes, limit } => {
                write!(
                    f,
                    "the message is {bytes} bytes, over the limit of {limit} bytes"
                )
            }
            ErrorKind::InvalidConfig { field, reason } => {
                write!(f, "invalid configuration: {field} {reason}")
            }
            ErrorKind::Storage(e) => write!(f, "storage failed: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Storage(e) => Some(e),
            _ => None,
        }
    }
}
