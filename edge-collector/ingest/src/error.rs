//! The one error type of this crate: why a whole request is refused.
//!
//! A request fails as a whole only when nothing in it can be attributed to a single message: the body
//! cannot be decoded, is not JSON, is too large, or carries no known write key. Everything that concerns
//! one message is a per-event [`footfall_protocol::EventResult::drop`] instead, never an error here.

use footfall_protocol::auth::AuthError;
use footfall_protocol::ErrorCode;

/// Why a request is refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// `Content-Encoding` names something other than `gzip` or `identity`.
    #[error("unsupported Content-Encoding {0:?}: send gzip or no encoding")]
    UnsupportedEncoding(String),
    /// The gzip stream is corrupt or truncated.
    #[error("the gzip body could not be decompressed: {0}")]
    CorruptGzip(String),
    /// The body is over the limit, after decompression.
    #[error("the body is over {limit} bytes after decompression")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The body is not UTF-8.
    #[error("the body is not valid UTF-8 (first bad byte at offset {offset})")]
    InvalidUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The body is not well-formed JSON.
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    /// The JSON is well formed but not a Segment request (`batch` missing or not an array, …).
    #[error("{0}")]
    InvalidRequest(String),
    /// Neither Basic auth nor the body carries a write key.
    #[error("no write key: send it as the Basic auth user name or as `writeKey` in the body")]
    MissingWriteKey,
    /// The `Authorization` header is not usable.
    #[error("{0}")]
    BadAuthorization(AuthError),
    /// The write key is not registered.
    #[error("unknown write key")]
    UnknownWriteKey,
}

impl IngestError {
    /// The HTTP status to answer: 413 for a body over the limit, 401 for a missing, unusable or
    /// unknown write key, 400 for everything else.
    pub fn status(&self) -> u16 {
        match self {
            IngestError::TooLarge { .. } => 413,
            IngestError::MissingWriteKey
            | IngestError::BadAuthorization(_)
            | IngestError::UnknownWriteKey => 401,
            _ => 400,
        }
    }

    /// The wire code for an [`footfall_protocol::ErrorBody`].
    pub fn code(&self) -> ErrorCode {
        match self {
            IngestError::UnsupportedEncoding(_) | IngestError::CorruptGzip(_) => {
                ErrorCode::InvalidEncoding
            }
            IngestError::TooLarge { .. } => ErrorCode::BatchTooLarge,
            IngestError::InvalidUtf8 { .. } | IngestError::InvalidJson(_) => ErrorCode::InvalidJson,
            IngestError::InvalidRequest(_) => ErrorCode::InvalidRequest,
            IngestError::MissingWriteKey
            | IngestError::BadAuthorization(_)
            | IngestError::UnknownWriteKey => ErrorCode::Unauthorized,
        }
    }
}
