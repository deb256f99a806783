//! The upload the engine asks the platform to send.

use alloc::string::String;
use alloc::vec::Vec;

use crate::storage::StoredEvent;

/// One `POST /v1/batch` to send. The platform adds the collector's origin and, if it likes, gzips the
/// body and sets `Content-Encoding: gzip`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRequest {
    /// Names this upload when its outcome is reported.
    pub batch_id: u64,
    /// The request path, `/v1/batch`.
    pub path: &'static str,
    /// The `Authorization` header value (the write key in Basic auth).
    pub authorization: String,
    /// The JSON body, with `sentAt` stamped for this attempt.
    pub body: String,
    /// The messageIds in the body, in order.
    pub message_ids: Vec<String>,
}

/// Writes `{"batch":[…],"sentAt":"…"}` from stored payloads without re-parsing them.
pub(crate) fn batch_body(events: &[StoredEvent], sent_at: &str) -> String {
    let payload_bytes: usize = events.iter().map(|e| e.payload.len() + 1).sum();
    let mut body = String::with_capacity(payload_bytes + 48);
    body.push_str("{\"batch\":[");
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&event.payload);
    }
    body.push_str("],\"sentAt\":\"");
    body.push_str(sent_at);
    body.push_str("\"}");
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn the_body_is_a_segment_batch_envelope() {
        let events: Vec<StoredEvent> = (0..2)
            .map(|i| StoredEvent {
                seq: i,
                message_id: format!("m-{i}"),
                created_at: 0,
                attempts: 0,
                payload: format!(
                    r#"{{"type":"track","event":"e{i}","messageId":"m-{i}","anonymousId":"a"}}"#
                ),
            })
            .collect();
        let body = batch_body(&events, "2026-11-22T10:00:00.000Z");
        let parsed: footfall_protocol::Batch = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed.batch.len(), 2);
        assert_eq!(parsed.batch[1].event.as_deref(), Some("e1"));
        assert_eq!(parsed.sent_at.as_deref(), Some("2026-11-22T10:00:00.000Z"));
    }
}
