//! The store's one error type.

/// A store or query failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A query parameter is invalid; the message names the parameter and what is allowed.
    #[error("invalid parameter {param}: {message}")]
    InvalidParam {
        /// The parameter's name, as in the API.
        param: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// The DuckDB store failed.
    #[cfg(feature = "duckdb")]
    #[error("duckdb: {0}")]
    DuckDb(#[from] ::duckdb::Error),
    /// A remote store (ClickHouse) failed or is unreachable; retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A row came back with an unexpected shape.
    #[error("unexpected row shape: {0}")]
    Shape(String),
}

impl Error {
    /// An [`Error::InvalidParam`].
    pub fn invalid(param: &'static str, message: impl Into<String>) -> Self {
        Error::InvalidParam {
            param,
            message: message.into(),
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
