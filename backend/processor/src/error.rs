//! The processor's error type.

/// A processor failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store failed; the batch is retried after a backoff.
    #[error("store: {0}")]
    Store(#[from] footfall_store::Error),
    /// The log failed.
    #[error("event log: {0}")]
    Log(#[from] footfall_eventlog::Error),
    /// A replay or reprocess request is invalid (unknown dead letter, payload still invalid).
    #[error("{0}")]
    Invalid(String),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
