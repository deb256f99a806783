//! The edge relay: what an edge worker sends the origin collector once it has processed a request.
//!
//! The edge runs the whole pipeline (write key, limits, validation, enrichment) and posts the outcome to
//! the origin's `POST /edge/v1/records`, gzipped, with `Authorization: Bearer <edge secret>`. The origin
//! makes the records durable exactly as they came (it does not parse or enrich them again, so the client
//! IP and geo the edge saw are kept) and answers with one [`footfall_protocol::EventResult`] per event.
//!
//! ```json
//! {"writeKey": "wk_live_123",
//!  "events": [{"messageId": "m1", "key": "wk_live_123:u1", "payload": {"type": "track", …}}],
//!  "deadLetters": [{"key": "wk_live_123", "cause": "invalid", "payload": {"writeKey": …, "reason": …}}]}
//! ```
//!
//! `payload` is the record's JSON exactly as the pipeline wrote it, byte for byte. Dead letters travel
//! with the events, so a message refused at the edge is stored in the origin's dead-letter stream like
//! one refused at the origin, and nothing is acknowledged before both are durable.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::pipeline::{DropCause, Processed, Record};
use crate::IngestError;

/// The path of the origin's relay endpoint.
pub const RELAY_PATH: &str = "/edge/v1/records";

/// The most a relay body may hold after decompression. Enrichment adds a few hundred bytes to every
/// event, so a 500 KB batch of tiny messages can grow many times; the origin must not refuse what the
/// edge accepted.
pub const MAX_RELAY_BYTES: usize = 16 * 1024 * 1024;

fn push_json_str(out: &mut Vec<u8>, s: &str) {
    // Writing a str to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn push_record(
    out: &mut Vec<u8>,
    message_id: Option<&str>,
    cause: Option<DropCause>,
    record: &Record,
) {
    out.push(b'{');
    if let Some(id) = message_id {
        out.extend_from_slice(b"\"messageId\":");
        push_json_str(out, id);
        out.push(b',');
    }
    if let Some(cause) = cause {
        out.extend_from_slice(b"\"cause\":");
        push_json_str(out, cause.as_str());
        out.push(b',');
    }
    out.extend_from_slice(b"\"key\":");
    push_json_str(out, &String::from_utf8_lossy(&record.key));
    out.extend_from_slice(b",\"payload\":");
    out.extend_from_slice(&record.payload);
    out.push(b'}');
}

/// Serializes the outcome of a request for the origin (uncompressed JSON).
///
/// Accepted events are paired with the `ok` results in request order, which is how
/// [`crate::Ingestor::process`] produces them.
pub fn encode(write_key: &str, processed: &Processed) -> Vec<u8> {
    let size: usize = processed
        .accepted
        .iter()
        .chain(&processed.dead_letters)
        .map(|r| r.payload.len() + r.key.len() + 64)
        .sum();
    let mut out = Vec::with_capacity(size + 64);
    out.extend_from_slice(b"{\"writeKey\":");
    push_json_str(&mut out, write_key);
    out.extend_from_slice(b",\"events\":[");
    let ids = processed
        .results
        .iter()
        .filter(|r| r.status == footfall_protocol::EventStatus::Ok)
        .map(|r| r.message_id.as_str());
    for (i, (record, id)) in processed.accepted.iter().zip(ids).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_record(&mut out, Some(id), None, record);
    }
    out.extend_from_slice(b"],\"deadLetters\":[");
    for (i, (record, cause)) in processed
        .dead_letters
        .iter()
        .zip(&processed.drop_causes)
        .enumerate()
    {
        if i > 0 {
            out.push(b',');
        }
        push_record(&mut out, None, Some(*cause), record);
    }
    out.extend_from_slice(b"]}");
    out
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Wire<'a> {
    #[serde(borrow)]
    write_key: Cow<'a, str>,
    #[serde(borrow, default)]
    events: Vec<WireRecord<'a>>,
    #[serde(borrow, default)]
    dead_letters: Vec<WireRecord<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireRecord<'a> {
    #[serde(borrow, default)]
    message_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    cause: Option<Cow<'a, str>>,
    #[serde(borrow)]
    key: Cow<'a, str>,
    #[serde(borrow)]
    payload: &'a RawValue,
}

/// A relay body read back by the origin.
#[derive(Debug, Default)]
pub struct RelayBatch {
    /// The write key the edge resolved.
    pub write_key: String,
    /// Accepted events and their message ids, in request order.
    pub events: Vec<(String, Record)>,
    /// Dead letters, in request order.
    pub dead_letters: Vec<Record>,
    /// Why each dead letter was refused, parallel to `dead_letters` (`Invalid` when the edge sent none).
    pub drop_causes: Vec<DropCause>,
}

fn cause_from(text: Option<&str>) -> DropCause {
    DropCause::ALL
        .into_iter()
        .find(|c| Some(c.as_str()) == text)
        .unwrap_or(DropCause::Invalid)
}

/// Reads a relay body (decoded already, see [`crate::decode_body`]).
///
/// Only the envelope is parsed: each `payload` is checked to be well-formed JSON and kept byte for byte.
pub fn decode(body: &[u8]) -> Result<RelayBatch, IngestError> {
    let text = std::str::from_utf8(body).map_err(|e| IngestError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    let wire: Wire<'_> = serde_json::from_str(text).map_err(|e| {
        if e.is_data() {
            IngestError::InvalidRequest(format!("not an edge relay body: {e}"))
        } else {
            IngestError::InvalidJson(e.to_string())
        }
    })?;
    let record = |r: &WireRecord<'_>| Record {
        key: r.key.as_bytes().to_vec(),
        payload: r.payload.get().as_bytes().to_vec(),
    };
    let mut events = Vec::with_capacity(wire.events.len());
    for r in &wire.events {
        let id = r.message_id.as_deref().ok_or_else(|| {
            IngestError::InvalidRequest("events: every event needs its messageId".to_owned())
        })?;
        events.push((id.to_owned(), record(r)));
    }
    Ok(RelayBatch {
        write_key: wire.write_key.into_owned(),
        events,
        dead_letters: wire.dead_letters.iter().map(record).collect(),
        drop_causes: wire
            .dead_letters
            .iter()
            .map(|r| cause_from(r.cause.as_deref()))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use footfall_protocol::EventResult;

    fn record(key: &str, payload: &str) -> Record {
        Record {
            key: key.as_bytes().to_vec(),
            payload: payload.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_processed_request_round_trips_byte_for_byte() {
        let processed = Processed {
            accepted: vec![
                record("wk:u1", r#"{"type":"track","n":1.50}"#),
                record("wk:u2", r#"{"type":"page"}"#),
            ],
            dead_letters: vec![record("wk", r#"{"reason":"event: \"x\""}"#)],
            drop_causes: vec![DropCause::Schema],
            results: vec![
                EventResult::ok("m1"),
                EventResult::drop("m2", "schema"),
                EventResult::ok("m3"),
            ],
            ..Processed::default()
        };
        let body = encode("wk", &processed);
        let batch = decode(&body).unwrap();
        assert_eq!(batch.write_key, "wk");
        assert_eq!(
            batch.events,
            vec![
                ("m1".to_owned(), processed.accepted[0].clone()),
                ("m3".to_owned(), processed.accepted[1].clone())
            ]
        );
        assert_eq!(batch.dead_letters, processed.dead_letters);
        assert_eq!(batch.drop_causes, vec![DropCause::Schema]);
    }

    #[test]
    fn refuses_bodies_that_are_not_relay_batches() {
        assert!(matches!(decode(b"{"), Err(IngestError::InvalidJson(_))));
        assert!(matches!(
            decode(br#"{"batch":[]}"#),
            Err(IngestError::InvalidRequest(_))
        ));
        assert!(matches!(
            decode(br#"{"writeKey":"k","events":[{"key":"k","payload":{}}]}"#),
            Err(IngestError::InvalidRequest(m)) if m.contains("messageId")
        ));
        assert!(matches!(
            decode(b"{\"writeKey\":\"\xff\"}"),
            Err(IngestError::InvalidUtf8 { .. })
        ));
    }
}
