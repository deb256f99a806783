//! The collector's one error type and its HTTP mapping, the only place statuses are chosen.
//!
//! | error | status | retried by real clients? |
//! |---|---|---|
//! | malformed JSON, invalid UTF-8, bad encoding, wrong envelope, every message invalid | 400 | no: Segment and Rudder clients drop a 400; rudder-python drops it because the body has `code` and `message` |
//! | missing or unknown write key; edge relay without the edge secret; live events without their token | 401 | no |
//! | body over 500 KB (after decompression) | 413 | no |
//! | nothing of the body arrived for the idle timeout (a client that stopped mid-body) | 408 | rarely seen: such a client has usually lost its connection, and resends on its own |
//! | per-key rate limit | 429 + `Retry-After` and `X-RateLimit-Reset` (what analytics.js reads) | yes, after `Retry-After` |
//! | sink unavailable, full or broken | 503 + `Retry-After` | yes, with backoff |
//!
//! Every body is an [`ErrorBody`] `{success: false, code, message}`. A batch where every message is
//! invalid answers 400 only after its dead letters are durable, so nothing is lost; a batch with at least
//! one good message answers 200 with per-event results.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use footfall_ingest::IngestError;
use footfall_protocol::{ErrorBody, ErrorCode};

use crate::sinks::SinkError;

/// The seconds to wait after a 429, as Segment's API sends them and analytics.js reads them.
pub const RATE_LIMIT_RESET: header::HeaderName =
    header::HeaderName::from_static("x-ratelimit-reset");

/// Why a request failed, or why the collector could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The body or write key was refused by the ingest logic.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// The body on the wire is over the limit.
    #[error("the request body is over {limit} bytes")]
    BodyTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The body could not be read.
    #[error("the request body could not be read: {0}")]
    BodyRead(String),
    /// Nothing more of the body arrived for the idle timeout.
    #[error("the request body stopped arriving: nothing for {} s", after.as_secs())]
    BodyStalled {
        /// How long nothing came.
        after: Duration,
    },
    /// Every message of the request was invalid (their dead letters are stored).
    #[error("{message}")]
    AllDropped {
        /// `message_too_large` when every message was over 32 KB, else `invalid_request`.
        code: ErrorCode,
        /// The first reason.
        message: String,
    },
    /// The write key is over its rate limit.
    #[error("rate limit exceeded for this write key; retry after {} s", retry_after.as_secs())]
    RateLimited {
        /// When to come back.
        retry_after: Duration,
    },
    /// The sink did not make the events durable.
    #[error("{error}")]
    Sink {
        /// What the sink said.
        error: SinkError,
        /// When to come back.
        retry_after: Duration,
    },
    /// A request to the edge relay without the edge secret.
    #[error("the edge relay needs `Authorization: Bearer <edge secret>`")]
    EdgeUnauthorized,
    /// A request for the live events without their token.
    #[error("live events need `Authorization: Bearer <live events token>`")]
    LiveEventsUnauthorized,
    /// Every place for a watcher of the live events is taken.
    #[error("{} watchers already follow the live events; retry after {} s", crate::live_events::MAX_WATCHERS, retry_after.as_secs())]
    TooManyWatchers {
        /// When to come back.
        retry_after: Duration,
    },
    /// Source settings asked for a write key that no source has.
    #[error("{}", footfall_ingest::NO_SUCH_SOURCE)]
    NoSuchSource,
    /// No such endpoint.
    #[error("no such endpoint: the API is POST /v1/batch and /v1/{{track,page,screen,identify,group,alias}}")]
    NotFound,
    /// A configuration that cannot be put in force, at start or on reload (schema directory, GeoIP
    /// database, sink).
    #[error("{0}")]
    Startup(String),
}

impl Error {
    fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        match self {
            Error::Ingest(e) => (
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
                e.code(),
            ),
            Error::EdgeUnauthorized | Error::LiveEventsUnauthorized => {
                (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized)
            }
            Error::TooManyWatchers { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited)
            }
            Error::BodyTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::BatchTooLarge),
            Error::BodyRead(_) => (StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest),
            Error::BodyStalled { .. } => (StatusCode::REQUEST_TIMEOUT, ErrorCode::InvalidRequest),
            Error::AllDropped { code, .. } => (StatusCode::BAD_REQUEST, *code),
            Error::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited),
            Error::Sink { .. } => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable),
            Error::NotFound | Error::NoSuchSource => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            Error::Startup(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Unavailable),
        }
    }

    /// The wire code, used as a metric label.
    pub fn code(&self) -> ErrorCode {
        self.status_and_code().1
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let retry_after = match &self {
            Error::RateLimited { retry_after }
            | Error::Sink { retry_after, .. }
            | Error::TooManyWatchers { retry_after } => Some(*retry_after),
            _ => None,
        };
        match &self {
            Error::Sink { error, .. } => tracing::warn!(%error, "sink refused a request"),
            Error::Startup(message) => tracing::error!(%message, "internal error"),
            other => tracing::debug!(error = %other, %status, "request refused"),
        }
        let message = match &self {
            Error::Startup(_) => "internal error".to_owned(),
            other => other.to_string(),
        };
        let mut response = (status, axum::Json(ErrorBody::new(code, message))).into_response();
        if let Some(after) = retry_after {
            let secs = after.as_secs().max(1);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            // analytics.js waits this long after a 429, and ignores Retry-After.
            if status == StatusCode::TOO_MANY_REQUESTS {
                response
                    .headers_mut()
                    .insert(RATE_LIMIT_RESET, HeaderValue::from(secs));
            }
        }
        response
    }
}
