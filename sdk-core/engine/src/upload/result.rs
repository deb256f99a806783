//! What the platform reports after an upload, and what the engine made of it.

use alloc::borrow::ToOwned;
use alloc::string::String;
use core::time::Duration;

/// How an upload ended, as the platform saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadOutcome {
    /// The collector answered.
    Response {
        /// The HTTP status.
        status: u16,
        /// The `Retry-After` header, as sent (seconds or an HTTP date).
        retry_after: Option<String>,
        /// The response body (a JSON `BatchResponse` or `ErrorBody`), possibly empty.
        body: String,
    },
    /// No answer: offline, DNS failure, connection reset, timeout. The collector may or may not have
    /// stored the batch, so it is sent again and the collector deduplicates by messageId.
    NetworkError,
}

impl UploadOutcome {
    /// An HTTP answer.
    pub fn response(status: u16, retry_after: Option<&str>, body: impl Into<String>) -> Self {
        UploadOutcome::Response {
            status,
            retry_after: retry_after.map(str::to_owned),
            body: body.into(),
        }
    }
}

/// What the engine did with an upload's outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadReport {
    /// The outcome named no upload in flight (a duplicate, or one for a batch already given up), so it
    /// was ignored.
    pub stale: bool,
    /// Events confirmed durable and removed from the queue.
    pub delivered: usize,
    /// Events kept for another attempt.
    pub retrying: usize,
    /// Events given up; see [`Client::take_dropped`](crate::Client::take_dropped) for which and why.
    pub dropped: usize,
    /// How long the engine will wait before the next upload, if it decided to wait.
    pub wait: Option<Duration>,
}
