//! The one error type of the engine: what the caller did wrong, or what the platform's storage reported.

use alloc::string::String;
use core::fmt;

use crate::json;
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
    /// `properties`, `traits` or `context` was not valid JSON (or not JSON the collector can read: a
    /// lone surrogate, a number beyond `f64`, nesting deeper than [`json::MAX_DEPTH`]).
    InvalidJson {
        /// Which argument.
        field: &'static str,
        /// The byte offset where the text stops being valid.
        offset: usize,
        /// What is wrong there (`unexpected character`, `unexpected end`, …).
        reason: &'static str,
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

    /// The sentence `Display` shows, built without `core::fmt` so that a platform can report errors
    /// without linking the formatting machinery (the WebAssembly build does).
    pub fn message(&self) -> String {
        let mut m = String::new();
        let count = |m: &mut String, n: usize| json::write_int(m, n as i64);
        match &self.kind {
            ErrorKind::EmptyEventName => m.push_str("the event name must not be empty"),
            ErrorKind::EmptyId { field } => {
                m.push_str(field);
                m.push_str(" must not be empty");
            }
            ErrorKind::NotAnObject { field, found } => {
                m.push_str(field);
                m.push_str(" must be a JSON object, not ");
                m.push_str(found);
            }
            ErrorKind::InvalidJson {
                field,
                offset,
                reason,
            } => {
                m.push_str(field);
                m.push_str(" is not valid JSON: ");
                m.push_str(reason);
                m.push_str(" at byte ");
                count(&mut m, *offset);
            }
            ErrorKind::MessageTooLarge { bytes, limit } => {
                m.push_str("the message is ");
                count(&mut m, *bytes);
                m.push_str(" bytes, over the limit of ");
                count(&mut m, *limit);
                m.push_str(" bytes");
            }
            ErrorKind::InvalidConfig { field, reason } => {
                m.push_str("invalid configuration: ");
                m.push_str(field);
                m.push(' ');
                m.push_str(reason);
            }
            ErrorKind::Storage(e) => {
                m.push_str("storage failed: ");
                m.push_str(e.message());
            }
        }
        m
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
        f.write_str(&self.message())
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Storage(e) => Some(e),
            _ => None,
        }
    }
}
