//! From the origin's answer to the client's: the durability promise at the edge.
//!
//! The worker answers 2xx only after the origin answered 2xx, so an acknowledged event is durable at
//! the origin. Everything else becomes an answer Segment and RudderStack clients retry, since every
//! event of a forwarded request passed the edge's checks and must not be dropped by the client:
//!
//! | origin | client |
//! |---|---|
//! | 2xx with one result per forwarded event (or none: all `ok`) | 200 with per-event results merged in request order, or the edge's 400 when every message was refused (after the dead letters are durable) |
//! | 2xx whose results do not match what was sent | 503 + `Retry-After` |
//! | 429 | 429 with the origin's `Retry-After` (the origin's global limit) |
//! | 503 | 503 with the origin's `Retry-After` |
//! | any other status (5xx, and 4xx, which means the edge and origin disagree: secret, keys, version) | 503 + `Retry-After` |
//! | connection error, timeout | 503 + `Retry-After` |
//!
//! A retry after a 503 may store an event twice when the origin did store it and its answer was lost;
//! the `messageId` stays the same on every retry, so the backend counts it once.

use std::time::Duration;

use footfall_protocol::{BatchResponse, ErrorBody, ErrorCode, EventStatus};

use crate::answer::Answer;
use crate::edge::Pending;

/// What came back from the origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginReply {
    /// The origin answered.
    Answered {
        /// Its status.
        status: u16,
        /// Its `Retry-After`, as sent.
        retry_after: Option<String>,
        /// Its body.
        body: Vec<u8>,
    },
    /// No answer: the connection failed or the timeout passed.
    Unreachable(String),
}

/// A `Retry-After` in seconds, when it is one (an HTTP date is not used by the collector).
fn seconds(value: Option<&str>) -> Option<Duration> {
    value
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// The client's answer to a forwarded request, given the origin's reply.
pub fn client_answer(pending: Pending, reply: OriginReply, retry_after: Duration) -> Answer {
    let (status, origin_retry_after, body) = match reply {
        OriginReply::Unreachable(reason) => {
            return Answer::unavailable(
                format!("the event store is temporarily unavailable: the origin collector did not answer ({reason})"),
                retry_after,
            )
        }
        OriginReply::Answered {
            status,
            retry_after,
            body,
        } => (status, seconds(retry_after.as_deref()), body),
    };
    match status {
        200..=299 => merge(pending, &body, retry_after),
        429 => {
            let message = serde_json::from_slice::<ErrorBody>(&body)
                .map(|b| b.message)
                .unwrap_or_else(|_| "rate limit exceeded for this write key at the origin".into());
            Answer::error(
                429,
                ErrorCode::RateLimited,
                message,
                Some(origin_retry_after.unwrap_or(Duration::from_secs(1))),
            )
        }
        503 => Answer::unavailable(
            "the event store is temporarily unavailable: the origin collector cannot take events",
            origin_retry_after.unwrap_or(retry_after),
        ),
        other => Answer::unavailable(
            format!(
                "the event store is temporarily unavailable: the origin collector answered {other}"
            ),
            retry_after,
        ),
    }
}

fn merge(pending: Pending, body: &[u8], retry_after: Duration) -> Answer {
    let origin = match serde_json::from_slice::<BatchResponse>(body) {
        Ok(response) if response.success => response.results,
        _ if body.iter().all(u8::is_ascii_whitespace) => Vec::new(),
        _ => {
            return Answer::unavailable(
                "the origin collector's answer could not be read; send the batch again",
                retry_after,
            )
        }
    };
    if !origin.is_empty() && origin.len() != pending.accepted {
        return Answer::unavailable(
            format!(
                "the origin collector answered {} results for {} events; send the batch again",
                origin.len(),
                pending.accepted
            ),
            retry_after,
        );
    }
    if let Some((code, message)) = pending.refusal {
        return Answer::error(400, code, message, None);
    }
    let mut origin = origin.into_iter();
    let results = pending
        .results
        .into_iter()
        .map(|edge| match edge.status {
            EventStatus::Ok => origin.next().unwrap_or(edge),
            _ => edge,
        })
        .collect();
    Answer::json(200, &BatchResponse::from_results(results))
}

#[cfg(test)]
mod tests {
    use super::*;
    use footfall_protocol::EventResult;
    use serde_json::json;

    const WAIT: Duration = Duration::from_secs(5);

    fn pending() -> Pending {
        Pending {
            results: vec![
                EventResult::ok("m1"),
                EventResult::drop("m2", "event: required"),
                EventResult::ok("m3"),
            ],
            accepted: 2,
            refusal: None,
        }
    }

    fn answered(status: u16, retry_after: Option<&str>, body: serde_json::Value) -> OriginReply {
        OriginReply::Answered {
            status,
            retry_after: retry_after.map(str::to_owned),
            body: body.to_string().into_bytes(),
        }
    }

    fn body(answer: &Answer) -> serde_json::Value {
        serde_json::from_slice(&answer.body).unwrap()
    }

    #[test]
    fn merges_the_origins_results_with_the_edges_drops_in_request_order() {
        let origin = json!({"success": true, "results": [
            {"messageId": "m1", "status": "ok"},
            {"messageId": "m3", "status": "retry", "reason": "log busy"}]});
        let answer = client_answer(pending(), answered(200, None, origin), WAIT);
        assert_eq!(answer.status, 200);
        assert_eq!(
            body(&answer)["results"],
            json!([{"messageId": "m1", "status": "ok"},
                {"messageId": "m2", "status": "drop", "reason": "event: required"},
                {"messageId": "m3", "status": "retry", "reason": "log busy"}])
        );
    }

    #[test]
    fn a_plain_2xx_means_every_forwarded_event_is_ok() {
        for reply in [
            answered(200, None, json!({"success": true})),
            OriginReply::Answered {
                status: 204,
                retry_after: None,
                body: Vec::new(),
            },
        ] {
            let answer = client_answer(pending(), reply, WAIT);
            assert_eq!(answer.status, 200);
            assert_eq!(body(&answer)["results"][2]["status"], "ok");
        }
    }

    #[test]
    fn every_message_refused_is_400_only_after_the_origin_stored_the_dead_letters() {
        let refused = Pending {
            results: vec![EventResult::drop("m1", "type: missing")],
            accepted: 0,
            refusal: Some((ErrorCode::InvalidRequest, "type: missing".into())),
        };
        let answer = client_answer(
            refused.clone(),
            answered(200, None, json!({"success": true})),
            WAIT,
        );
        assert_eq!(answer.status, 400);
        assert_eq!(body(&answer)["code"], "invalid_request");
        let down = client_answer(refused, OriginReply::Unreachable("refused".into()), WAIT);
        assert_eq!(
            down.status, 503,
            "not stored yet: the client must send it again"
        );
    }

    #[test]
    fn origin_failures_become_503_with_retry_after() {
        let cases = [
            (OriginReply::Unreachable("connection refused".into()), "5"),
            (
                answered(
                    503,
                    Some("7"),
                    json!({"success": false, "code": "unavailable", "message": "disk"}),
                ),
                "7",
            ),
            (answered(503, None, json!({})), "5"),
            (answered(500, Some("60"), json!({})), "5"),
            (answered(502, None, json!({})), "5"),
            (answered(401, None, json!({"code": "unauthorized"})), "5"),
            (answered(404, None, json!({})), "5"),
            (answered(413, None, json!({})), "5"),
            (
                answered(
                    200,
                    None,
                    json!({"success": true, "results": [{"messageId": "m1", "status": "ok"}]}),
                ),
                "5",
            ),
            (answered(200, None, json!({"success": false})), "5"),
            (
                OriginReply::Answered {
                    status: 200,
                    retry_after: None,
                    body: b"<html>".to_vec(),
                },
                "5",
            ),
        ];
        for (reply, after) in cases {
            let answer = client_answer(pending(), reply.clone(), WAIT);
            assert_eq!(answer.status, 503, "{reply:?}");
            assert_eq!(answer.header("retry-after"), Some(after), "{reply:?}");
            assert_eq!(body(&answer)["code"], "unavailable");
        }
    }

    #[test]
    fn the_origins_429_is_passed_through_with_its_retry_after() {
        let origin = json!({"success": false, "code": "rate_limited", "message": "rate limit exceeded for this write key; retry after 3 s"});
        let answer = client_answer(pending(), answered(429, Some("3"), origin), WAIT);
        assert_eq!(answer.status, 429);
        assert_eq!(answer.header("retry-after"), Some("3"));
        assert_eq!(body(&answer)["code"], "rate_limited");
        let bare = client_answer(pending(), answered(429, None, json!("x")), WAIT);
        assert_eq!(bare.header("retry-after"), Some("1"));
    }
}
