//! What a collector answers.
//!
//! A processed batch gets `200` and a [`BatchResponse`]: Segment's `{"success": true}` plus, as a Footfall
//! extension, one [`EventResult`] per message in request order. Segment clients ignore the extra field;
//! Footfall clients act on it, so one bad event does not make a client resend, or lose, the whole batch.
//!
//! ```json
//! {"success": true,
//!  "results": [{"messageId": "m-1", "status": "ok"},
//!              {"messageId": "m-2", "status": "drop", "reason": "properties: invalid type: array"},
//!              {"messageId": "m-3", "status": "retry", "reason": "event log busy"}]}
//! ```
//!
//! A request that fails as a whole gets a non-2xx status and an [`ErrorBody`] with both `code` and
//! `message`: RudderStack's Python client reads exactly that shape as "do not retry this 400".

use core::fmt;

#[cfg(feature = "serde")]
use alloc::{string::String, vec::Vec};
#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// The outcome of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum EventStatus {
    /// Durable at the collector: the client forgets the event.
    Ok,
    /// Not stored this time, for a reason that may pass: the client sends it again later.
    Retry,
    /// Refused for good (invalid, or over a limit): the client must not resend it. The collector keeps
    /// its raw payload in the dead-letter stream, so it is not lost.
    Drop,
}

impl EventStatus {
    /// The wire name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Ok => "ok",
            EventStatus::Retry => "retry",
            EventStatus::Drop => "drop",
        }
    }

    /// The status with this wire name.
    pub fn from_name(name: &str) -> Option<Self> {
        [EventStatus::Ok, EventStatus::Retry, EventStatus::Drop]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// The outcome of one message, matched by its `messageId`.
#[cfg(feature = "serde")]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventResult {
    /// The message's id, as the client sent it (or as the collector assigned it if it had none).
    pub message_id: String,
    /// What happened to it.
    pub status: EventStatus,
    /// Why, for `retry` and `drop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[cfg(feature = "serde")]
impl EventResult {
    /// The message is durable.
    pub fn ok(message_id: impl Into<String>) -> Self {
        Self {
            message_id: message_id.into(),
            status: EventStatus::Ok,
            reason: None,
        }
    }

    /// The message should be sent again later.
    pub fn retry(message_id: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            message_id: message_id.into(),
            status: EventStatus::Retry,
            reason: Some(reason.into()),
        }
    }

    /// The message is refused for good.
    pub fn drop(message_id: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            message_id: message_id.into(),
            status: EventStatus::Drop,
            reason: Some(reason.into()),
        }
    }
}

/// The body of a `2xx` answer to a batch.
#[cfg(feature = "serde")]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResponse {
    /// Always `true` on a 2xx, as Segment answers.
    pub success: bool,
    /// One result per message, in request order. Empty (or absent) from a plain Segment-compatible
    /// server, which a client reads as "every message is ok".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<EventResult>,
}

#[cfg(feature = "serde")]
impl BatchResponse {
    /// A successful answer carrying per-event results.
    pub fn from_results(results: Vec<EventResult>) -> Self {
        Self {
            success: true,
            results,
        }
    }

    /// The answer as JSON: the text serde writes for it, written by hand, because a collector answers
    /// every request with one result per message and serde's writer was 3 % of its CPU.
    pub fn to_json(&self) -> Vec<u8> {
        use crate::json::push_str;
        let mut out = Vec::with_capacity(32 + self.results.len() * 72);
        out.extend_from_slice(if self.success {
            b"{\"success\":true"
        } else {
            b"{\"success\":false"
        });
        if !self.results.is_empty() {
            out.extend_from_slice(b",\"results\":[");
            for (i, result) in self.results.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"messageId\":");
                push_str(&mut out, &result.message_id);
                out.extend_from_slice(b",\"status\":\"");
                out.extend_from_slice(result.status.as_str().as_bytes());
                out.push(b'"');
                if let Some(reason) = &result.reason {
                    out.extend_from_slice(b",\"reason\":");
                    push_str(&mut out, reason);
                }
                out.push(b'}');
            }
            out.push(b']');
        }
        out.push(b'}');
        out
    }
}

/// Why a whole request failed, in the `code` field of an `ErrorBody`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum ErrorCode {
    /// The body is not valid JSON, or not valid UTF-8.
    InvalidJson,
    /// The JSON is well formed but not a Segment request (wrong types, missing fields).
    InvalidRequest,
    /// One message is over 32 KB.
    MessageTooLarge,
    /// The batch is over 500 KB after decompression.
    BatchTooLarge,
    /// The body's content encoding is unsupported or corrupt.
    InvalidEncoding,
    /// No write key, or an unknown one.
    Unauthorized,
    /// Too many requests for this write key; see `Retry-After`.
    RateLimited,
    /// The collector cannot store events right now; see `Retry-After`.
    Unavailable,
    /// The method or path is not part of the API.
    NotFound,
}

impl ErrorCode {
    /// The wire name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::MessageTooLarge => "message_too_large",
            ErrorCode::BatchTooLarge => "batch_too_large",
            ErrorCode::InvalidEncoding => "invalid_encoding",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::NotFound => "not_found",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of a non-2xx answer, in Segment's style.
#[cfg(feature = "serde")]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Always `false`.
    pub success: bool,
    /// A stable, machine-readable cause.
    pub code: ErrorCode,
    /// A sentence for a person, naming the problem.
    pub message: String,
}

#[cfg(feature = "serde")]
impl ErrorBody {
    /// An error body with the given cause and explanation.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            success: false,
            code,
            message: message.into(),
        }
    }
}

#[cfg(all(test, feature = "serde"))]
mod tests {
    use super::*;
    use alloc::vec;
    use serde_json::json;

    #[test]
    fn a_plain_segment_answer_has_no_results() {
        let r: BatchResponse = serde_json::from_value(json!({"success": true})).unwrap();
        assert!(r.success && r.results.is_empty());
    }

    #[test]
    fn per_event_results_use_the_documented_shape() {
        let r = BatchResponse::from_results(vec![
            EventResult::ok("m-1"),
            EventResult::drop("m-2", "event: must not be empty"),
        ]);
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"success": true, "results": [
                {"messageId": "m-1", "status": "ok"},
                {"messageId": "m-2", "status": "drop", "reason": "event: must not be empty"}]})
        );
    }

    proptest::proptest! {
        #[test]
        fn the_hand_written_answer_is_what_serde_writes(
            results in proptest::collection::vec(
                (".*", 0..3u8, proptest::option::of(".*")), 0..8),
            success in proptest::bool::ANY,
        ) {
            let results = results
                .into_iter()
                .map(|(message_id, status, reason)| EventResult {
                    message_id,
                    status: [EventStatus::Ok, EventStatus::Retry, EventStatus::Drop][status as usize],
                    reason,
                })
                .collect();
            let answer = BatchResponse { success, results };
            proptest::prop_assert_eq!(answer.to_json(), serde_json::to_vec(&answer).unwrap());
        }
    }

    #[test]
    fn error_bodies_carry_code_and_message() {
        let e = ErrorBody::new(ErrorCode::MessageTooLarge, "message 3 is 40000 bytes");
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["code"], "message_too_large");
        assert_eq!(v["success"], false);
        assert_eq!(v["message"], "message 3 is 40000 bytes");
        assert_eq!(ErrorCode::MessageTooLarge.as_str(), v["code"]);
    }
}
