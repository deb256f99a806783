//! Reading the records the collector writes to the log.
//!
//! An accepted event is the client's message with `type`, `messageId`, `timestamp` (skew-corrected
//! event time, RFC 3339), `receivedAt` and `context.footfall.projectId` set by the collector.
//! A dead letter is `{"writeKey", "projectId", "sourceId", "receivedAt", "messageId", "index",
//! "cause", "reason", "payload"}` with the message exactly as received in `payload`.

use footfall_store::query::parse_rfc3339_ms;
use footfall_store::{DeadLetterRow, EventRow};
use serde_json::value::RawValue;
use serde_json::Value;

/// An event, and the identity link it asks for (`(anonymous or previous id, userId)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedEvent {
    /// The row.
    pub row: EventRow,
    /// identify: (anonymousId, userId); alias: (previousId, userId).
    pub link: Option<(String, String)>,
}

/// Defaults for fields a raw (not enriched) message may lack, used when replaying dead letters.
#[derive(Debug, Clone, Default)]
pub struct Fallback {
    /// Project, when `context.footfall.projectId` is absent.
    pub project_id: String,
    /// Event time and receive time, when absent.
    pub received_ms: i64,
    /// messageId, when absent.
    pub message_id: String,
}

fn id(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// Parses an enriched event (or, with a fallback, a raw message). `Err` gives the reason.
pub fn parse_event(payload: &[u8], fallback: Option<&Fallback>) -> Result<ParsedEvent, String> {
    let v: Value = serde_json::from_slice(payload).map_err(|e| format!("not JSON: {e}"))?;
    let obj = v.as_object().ok_or("not a JSON object")?;
    let kind = obj
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let context = obj.get("context");
    let project_id = context
        .and_then(|c| c.pointer("/footfall/projectId"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| fallback.map(|f| f.project_id.clone()))
        .filter(|p| !p.is_empty())
        .ok_or("context.footfall.projectId: missing")?;
    let mut message_id = id(obj.get("messageId"));
    if message_id.is_empty() {
        message_id = fallback
            .map(|f| f.message_id.clone())
            .ok_or("messageId: missing")?;
    }
    let time = |name: &str| {
        obj.get(name)
            .and_then(Value::as_str)
            .and_then(parse_rfc3339_ms)
    };
    let received_ms = time("receivedAt")
        .or(fallback.map(|f| f.received_ms))
        .ok_or("receivedAt: missing or invalid")?;
    let ts_ms = time("timestamp")
        .or(fallback.map(|f| f.received_ms))
        .ok_or("timestamp: missing or invalid")?;
    let anonymous_id = id(obj.get("anonymousId"));
    let user_id = id(obj.get("userId"));
    if anonymous_id.is_empty() && user_id.is_empty() {
        return Err("anonymousId or userId: one is required".into());
    }
    let props = |name: &str| {
        obj.get(name)
            .filter(|p| p.is_object())
            .map_or_else(|| "{}".to_owned(), Value::to_string)
    };
    let name = obj.get("name").and_then(Value::as_str).unwrap_or("");
    let (event, properties, link) = match kind.as_str() {
        "track" => {
            let e = obj.get("event").and_then(Value::as_str).unwrap_or("");
            if e.is_empty() {
                return Err("event: required on a track".into());
            }
            (e.to_owned(), props("properties"), None)
        }
        "page" | "screen" => {
            let mut p = obj
                .get("properties")
                .filter(|p| p.is_object())
                .cloned()
                .unwrap_or_else(|| Value::Object(Default::default()));
            if !name.is_empty() {
                p["name"] = Value::String(name.to_owned());
            }
            (format!("${kind}"), p.to_string(), None)
        }
        "identify" => {
            let link = (!user_id.is_empty() && !anonymous_id.is_empty())
                .then(|| (anonymous_id.clone(), user_id.clone()));
            ("$identify".to_owned(), props("traits"), link)
        }
        "alias" => {
            let previous = id(obj.get("previousId"));
            if previous.is_empty() || user_id.is_empty() {
                return Err("alias: previousId and userId are required".into());
            }
            (
                "$alias".to_owned(),
                "{}".to_owned(),
                Some((previous, user_id.clone())),
            )
        }
        "group" => ("$group".to_owned(), props("traits"), None),
        other => return Err(format!("type: {other:?} is not a message type")),
    };
    let session_id = context.map(|c| id(c.get("sessionId"))).unwrap_or_default();
    Ok(ParsedEvent {
        row: EventRow {
            project_id,
            message_id,
            kind,
            event,
            anonymous_id,
            user_id,
            ts_ms,
            received_ms,
            session_id,
            properties,
        },
        link,
    })
}

/// What an event record says about where it came from, read without parsing the rest: its other
/// values are only checked as JSON, so this still reads an event whose full parse failed.
#[derive(serde::Deserialize)]
struct EventOrigin {
    #[serde(rename = "receivedAt", default)]
    received_at: String,
    #[serde(default)]
    context: Option<OriginContext>,
}

#[derive(serde::Deserialize)]
struct OriginContext {
    #[serde(default)]
    footfall: Option<OriginFootfall>,
}

#[derive(serde::Deserialize)]
struct OriginFootfall {
    #[serde(rename = "projectId", default)]
    project_id: String,
}

/// The dead letter for an event record at `offset` that [`parse_event`] refused with `reason`. It
/// names the event's project and arrival when they can be read, so that the project's data steward
/// finds it. The collector refuses a number beyond f64 (`1e999`), the one valid JSON that
/// `serde_json::Value` cannot read, but a log written by an older collector, or by another producer,
/// may still hold one.
pub fn unparseable_event(offset: u64, payload: &[u8], reason: String) -> DeadLetterRow {
    let origin = serde_json::from_slice::<EventOrigin>(payload).ok();
    let project_id = origin
        .as_ref()
        .and_then(|o| o.context.as_ref()?.footfall.as_ref())
        .map(|f| f.project_id.clone())
        .unwrap_or_default();
    let received_ms = origin
        .and_then(|o| parse_rfc3339_ms(&o.received_at))
        .unwrap_or(0);
    DeadLetterRow {
        id: format!("ev-{offset}"),
        project_id,
        received_ms,
        cause: "unparseable".into(),
        reason,
        payload: String::from_utf8_lossy(payload).into_owned(),
        replayed_ms: 0,
    }
}

#[derive(serde::Deserialize)]
struct RawDeadLetter<'a> {
    #[serde(rename = "projectId", default)]
    project_id: String,
    #[serde(rename = "receivedAt", default)]
    received_at: String,
    #[serde(default)]
    cause: String,
    #[serde(default)]
    reason: String,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
}

/// Parses a dead-letter record read at `offset`.
pub fn parse_dead_letter(offset: u64, payload: &[u8]) -> DeadLetterRow {
    let id = format!("dl-{offset}");
    match serde_json::from_slice::<RawDeadLetter<'_>>(payload) {
        Ok(d) => {
            let raw = d
                .payload
                .map(|p| match serde_json::from_str::<String>(p.get()) {
                    Ok(s) => s,
                    Err(_) => p.get().to_owned(),
                });
            DeadLetterRow {
                id,
                project_id: d.project_id,
                received_ms: parse_rfc3339_ms(&d.received_at).unwrap_or(0),
                cause: d.cause,
                reason: d.reason,
                payload: raw.unwrap_or_default(),
                replayed_ms: 0,
            }
        }
        Err(e) => DeadLetterRow {
            id,
            project_id: String::new(),
            received_ms: 0,
            cause: "unreadable".into(),
            reason: format!("dead letter is not the collector's format: {e}"),
            payload: String::from_utf8_lossy(payload).into_owned(),
            replayed_ms: 0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_with_a_number_beyond_f64_is_dead_lettered_under_its_project() {
        let payload = br#"{"type":"track","messageId":"m1","event":"E","userId":"u","properties":{"n":1e999},"timestamp":"2026-11-22T10:00:00.000Z","receivedAt":"2026-11-22T10:00:01.000Z","context":{"ip":"198.51.100.7","footfall":{"projectId":"shop","sourceId":"web"}}}"#;
        let reason = parse_event(payload, None).unwrap_err();
        assert!(reason.contains("number out of range"), "{reason}");
        let row = unparseable_event(7, payload, reason.clone());
        assert_eq!(row.project_id, "shop");
        assert_eq!(
            row.received_ms,
            parse_rfc3339_ms("2026-11-22T10:00:01.000Z").unwrap()
        );
        assert_eq!(
            (row.id.as_str(), row.cause.as_str()),
            ("ev-7", "unparseable")
        );
        assert_eq!(row.reason, reason);
        let garbage = unparseable_event(8, b"{not json", "not JSON".into());
        assert_eq!((garbage.project_id.as_str(), garbage.received_ms), ("", 0));
    }

    const CTX: &str =
        r#""context":{"footfall":{"projectId":"shop","sourceId":"web"},"sessionId":"s1"}"#;

    #[test]
    fn reads_an_enriched_track() {
        let body = format!(
            r#"{{"type":"track","event":"Order Completed","userId":42,"messageId":"m1","timestamp":"2026-11-23T10:00:00.000Z","receivedAt":"2026-11-23T10:00:01.000Z","properties":{{"revenue":5}},{CTX}}}"#
        );
        let p = parse_event(body.as_bytes(), None).unwrap();
        assert_eq!(p.row.user_id, "42");
        assert_eq!(p.row.session_id, "s1");
        assert_eq!(p.row.received_ms - p.row.ts_ms, 1000);
        assert_eq!(p.row.properties, r#"{"revenue":5}"#);
    }

    #[test]
    fn identify_and_alias_ask_for_links() {
        let body = format!(
            r#"{{"type":"identify","userId":"u1","anonymousId":"a1","messageId":"m1","timestamp":"2026-11-23T10:00:00Z","receivedAt":"2026-11-23T10:00:00Z",{CTX}}}"#
        );
        assert_eq!(
            parse_event(body.as_bytes(), None).unwrap().link,
            Some(("a1".into(), "u1".into()))
        );
        let body = format!(
            r#"{{"type":"alias","userId":"u1","previousId":"old","messageId":"m2","timestamp":"2026-11-23T10:00:00Z","receivedAt":"2026-11-23T10:00:00Z",{CTX}}}"#
        );
        assert_eq!(
            parse_event(body.as_bytes(), None).unwrap().link,
            Some(("old".into(), "u1".into()))
        );
    }

    #[test]
    fn pages_keep_their_name() {
        let body = format!(
            r#"{{"type":"page","name":"Home","anonymousId":"a1","messageId":"m1","timestamp":"2026-11-23T10:00:00Z","receivedAt":"2026-11-23T10:00:00Z",{CTX}}}"#
        );
        let p = parse_event(body.as_bytes(), None).unwrap();
        assert_eq!(
            (p.row.event.as_str(), p.row.properties.as_str()),
            ("$page", r#"{"name":"Home"}"#)
        );
    }

    #[test]
    fn invalid_events_say_why() {
        assert_eq!(parse_event(br#"{"type":"track","anonymousId":"a","messageId":"m","context":{"footfall":{"projectId":"p"}},"timestamp":"2026-11-23T10:00:00Z","receivedAt":"2026-11-23T10:00:00Z"}"#, None).unwrap_err(), "event: required on a track");
        assert!(parse_event(b"nope", None)
            .unwrap_err()
            .starts_with("not JSON"));
    }

    #[test]
    fn raw_messages_replay_with_a_fallback() {
        let fb = Fallback {
            project_id: "shop".into(),
            received_ms: 5,
            message_id: "dl-1".into(),
        };
        let p = parse_event(
            br#"{"type":"track","event":"X","anonymousId":"a"}"#,
            Some(&fb),
        )
        .unwrap();
        assert_eq!(
            (
                p.row.project_id.as_str(),
                p.row.message_id.as_str(),
                p.row.ts_ms
            ),
            ("shop", "dl-1", 5)
        );
    }

    #[test]
    fn dead_letters_keep_payload_and_reason() {
        let d = parse_dead_letter(7, br#"{"writeKey":"wk","projectId":"shop","sourceId":"web","receivedAt":"2026-11-23T10:00:00.000Z","messageId":"m","index":0,"cause":"invalid","reason":"event: required","payload":{"type":"track"}}"#);
        assert_eq!(
            (d.id.as_str(), d.cause.as_str(), d.payload.as_str()),
            ("dl-7", "invalid", r#"{"type":"track"}"#)
        );
        assert_eq!(parse_dead_letter(8, b"garbage").cause, "unreadable");
    }
}
