//! One event on the wire, in Segment's shape.
//!
//! A message is a JSON object whose `type` is `track`, `page`, `screen`, `identify`, `group` or
//! `alias`. Field names are camelCase (`messageId`, `anonymousId`, `userId`, `sentAt`, …). Fields this
//! crate does not know (`_metadata`, `channel`, `originalTimestamp`, …) are kept, never dropped, because
//! real clients send them and downstream tools read them.

use alloc::borrow::ToOwned;
use alloc::string::String;
use core::fmt;
use core::str::FromStr;

#[cfg(feature = "serde")]
use serde::{Deserialize, Deserializer, Serialize};
#[cfg(feature = "serde")]
use serde_json::value::RawValue;
#[cfg(feature = "serde")]
use serde_json::{Map, Value};

/// What a message records. The names are Segment's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum MessageType {
    /// An action the user took, named by `event`, with `properties`.
    Track,
    /// A web page view, with an optional `name` and `category`.
    Page,
    /// A mobile screen view, with a `name`.
    Screen,
    /// Who the user is: `userId` and `traits`.
    Identify,
    /// The company or account the user belongs to: `groupId` and `traits`.
    Group,
    /// Merges `previousId` into `userId`.
    Alias,
}

impl MessageType {
    /// Every type, in the order Segment documents them.
    pub const ALL: [MessageType; 6] = [
        MessageType::Track,
        MessageType::Page,
        MessageType::Screen,
        MessageType::Identify,
        MessageType::Group,
        MessageType::Alias,
    ];

    /// The name used on the wire and in single-message paths such as `/v1/track`.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Track => "track",
            MessageType::Page => "page",
            MessageType::Screen => "screen",
            MessageType::Identify => "identify",
            MessageType::Group => "group",
            MessageType::Alias => "alias",
        }
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `type` that is none of the six Segment types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMessageType(pub String);

impl fmt::Display for UnknownMessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown message type {:?}: expected one of track, page, screen, identify, group, alias",
            self.0
        )
    }
}

impl core::error::Error for UnknownMessageType {}

impl FromStr for MessageType {
    type Err = UnknownMessageType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MessageType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownMessageType(s.to_owned()))
    }
}

#[cfg(feature = "serde")]
/// One message as a collector reads it: owned, lenient about ids, and keeping unknown fields.
///
/// Ids (`userId`, `anonymousId`, `groupId`, `previousId`, `messageId`) may arrive as numbers, as some
/// server libraries send them; they are read as their decimal string. A field of the wrong type is an
/// error that names the field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// What the message records.
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// The client's idempotency key: the same on every retry of the same event.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_id"
    )]
    pub message_id: Option<String>,
    /// The device- or browser-scoped id used before (and alongside) a known user id.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_id"
    )]
    pub anonymous_id: Option<String>,
    /// The application's id for a known user.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_id"
    )]
    pub user_id: Option<String>,
    /// When the event happened, by the client's clock (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// When the client sent this attempt, by the client's clock (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    /// When the collector received it (set by the collector, ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<String>,
    /// The event name of a `track`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// The name of a `page` or `screen`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The category of a `page`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The group of a `group` call.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_id"
    )]
    pub group_id: Option<String>,
    /// The id merged away by an `alias` call.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_id"
    )]
    pub previous_id: Option<String>,
    /// Properties of a `track`, `page` or `screen`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Map<String, Value>>,
    /// Traits of an `identify` or `group`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traits: Option<Map<String, Value>>,
    /// Where the event came from: library, device, page, campaign, ip, userAgent, sessionId, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Value>>,
    /// Per-destination switches, kept for compatibility.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrations: Option<Map<String, Value>>,
    /// Every field not named above, kept as it came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(feature = "serde")]
impl Message {
    /// The person-scoped key: the user id if known, else the anonymous id.
    pub fn distinct_id(&self) -> Option<&str> {
        self.user_id.as_deref().or(self.anonymous_id.as_deref())
    }

    /// The Footfall session id the client put in `context.sessionId`, if any.
    pub fn session_id(&self) -> Option<&str> {
        self.context.as_ref()?.get("sessionId")?.as_str()
    }
}

#[cfg(feature = "serde")]
/// The wire shape of [`Message`], borrowed, for SDKs that serialize without copying.
///
/// `context` and `integrations` are pre-serialized JSON, because an SDK sends the same context with
/// every event and serializes it once.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageRef<'a> {
    /// What the message records.
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// The idempotency key, a UUIDv7 in Footfall SDKs.
    pub message_id: &'a str,
    /// The anonymous id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anonymous_id: Option<&'a str>,
    /// The known user id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<&'a str>,
    /// When the event happened (ISO 8601).
    pub timestamp: &'a str,
    /// The event name of a `track`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<&'a str>,
    /// The name of a `page` or `screen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    /// The category of a `page`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<&'a str>,
    /// The group of a `group` call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<&'a str>,
    /// The id merged away by an `alias` call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_id: Option<&'a str>,
    /// Properties of a `track`, `page` or `screen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<&'a Map<String, Value>>,
    /// Traits of an `identify` or `group`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traits: Option<&'a Map<String, Value>>,
    /// The context object, already serialized.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<&'a RawValue>,
    /// The integrations object, already serialized.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integrations: Option<&'a RawValue>,
}

/// Reads an id that may be a string or a number; `null` reads as absent.
#[cfg(feature = "serde")]
fn lenient_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Number(serde_json::Number),
    }
    // Untagged enums hide the cause of a failure, so the error says what an id may be.
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match Id::deserialize(value) {
            Ok(Id::Text(s)) => Ok(Some(s)),
            Ok(Id::Number(n)) => Ok(Some(alloc::string::ToString::to_string(&n))),
            Err(_) => Err(serde::de::Error::custom(
                "an id must be a string or a number",
            )),
        },
    }
}

#[cfg(all(test, feature = "serde"))]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use serde_json::json;

    #[test]
    fn reads_a_segment_track_and_keeps_unknown_fields() {
        let raw = json!({
            "type": "track", "event": "Order Completed", "messageId": "node-next-1-abc",
            "userId": 42, "timestamp": "2026-11-22T10:00:00.123456Z",
            "properties": {"revenue": 9.5}, "_metadata": {"nodeVersion": "20"}, "channel": "server"
        });
        let m: Message = serde_json::from_value(raw).unwrap();
        assert_eq!(m.kind, MessageType::Track);
        assert_eq!(m.user_id.as_deref(), Some("42"));
        assert_eq!(m.distinct_id(), Some("42"));
        assert_eq!(m.extra["channel"], "server");
        let back = serde_json::to_value(&m).unwrap();
        assert_eq!(back["_metadata"]["nodeVersion"], "20");
    }

    #[test]
    fn a_wrong_type_names_the_field() {
        let err = serde_json::from_value::<Message>(json!({"type": "track", "properties": [1]}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid type"), "{err}");
        let err = serde_json::from_value::<Message>(json!({"type": "track", "userId": {"a": 1}}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("an id must be a string or a number"), "{err}");
        let err = serde_json::from_value::<Message>(json!({"type": "click"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown variant `click`"), "{err}");
    }

    #[test]
    fn borrowed_and_owned_shapes_agree() {
        let props = json!({"plan": "pro"}).as_object().unwrap().clone();
        let context = RawValue::from_string(r#"{"sessionId":"s-1"}"#.to_owned()).unwrap();
        let borrowed = MessageRef {
            kind: MessageType::Page,
            message_id: "m-1",
            anonymous_id: Some("a-1"),
            user_id: None,
            timestamp: "2026-11-22T10:00:00.000Z",
            event: None,
            name: Some("Pricing"),
            category: Some("Docs"),
            group_id: None,
            previous_id: None,
            properties: Some(&props),
            traits: None,
            context: Some(&context),
            integrations: None,
        };
        let text = serde_json::to_string(&borrowed).unwrap();
        let owned: Message = serde_json::from_str(&text).unwrap();
        assert_eq!(owned.message_id.as_deref(), Some("m-1"));
        assert_eq!(owned.name.as_deref(), Some("Pricing"));
        assert_eq!(owned.session_id(), Some("s-1"));
        assert!(
            owned.extra.is_empty(),
            "MessageRef wrote a field Message does not know: {text}"
        );
        assert_eq!(
            serde_json::to_value(&owned).unwrap(),
            serde_json::from_str::<Value>(&text).unwrap()
        );
    }

    #[test]
    fn message_types_round_trip_through_their_names() {
        for t in MessageType::ALL {
            assert_eq!(t.as_str().parse::<MessageType>(), Ok(t));
        }
        assert!("Track".parse::<MessageType>().is_err());
    }
}
