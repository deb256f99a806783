//! Reading a request body into raw messages, without parsing the messages yet.
//!
//! `POST /v1/batch` carries `{"batch": [message, …], "sentAt": "…", "writeKey": "…"}`; the single-message
//! endpoints (`/v1/track`, …) carry one message, which may hold `writeKey` itself. Each message is kept as
//! the exact JSON text it came as (`&RawValue`), so that a bad message becomes a dead letter with its
//! payload intact and good messages are copied, not rebuilt.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::IngestError;

/// The top-level fields of a JSON object, in order, values kept raw.
#[derive(Debug, Default)]
pub(crate) struct Fields<'a>(pub(crate) Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> Fields<'a> {
    /// These fields, then each of `defaults`' whose key they lack: how Segment applies a batch's own
    /// `context` and `integrations` to each message's.
    pub(crate) fn with_defaults(mut self, defaults: &Fields<'a>) -> Self {
        for (key, value) in &defaults.0 {
            if self.get(key).is_none() {
                self.0.push((key.clone(), value));
            }
        }
        self
    }

    /// The value of `name` (the last one if the key is repeated, as JSON parsers usually do).
    pub(crate) fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| *v)
    }

    /// Collects an object's entries as a deserializer hands them over, values kept raw.
    fn read<M: MapAccess<'a>>(mut map: M) -> Result<Self, M::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(16));
        while let Some(Key(key)) = map.next_key::<Key<'a>>()? {
            let value: &'a RawValue = map.next_value()?;
            fields.push((key, value));
        }
        Ok(Fields(fields))
    }

    /// Reads an object; `Err` with a short reason if `raw` is not one.
    pub(crate) fn parse(raw: &'a str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(raw)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Fields<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for FieldsVisitor<'a> {
            type Value = Fields<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Self::Value, M::Error> {
                Fields::read(map)
            }
        }
        deserializer.deserialize_map(FieldsVisitor(std::marker::PhantomData))
    }
}

/// An object key, borrowed unless it holds escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// One message of a request: its exact text, and its top-level fields when they were read on the way.
#[derive(Debug)]
pub(crate) struct Message<'a> {
    /// The message exactly as it came (any JSON value).
    pub(crate) raw: &'a str,
    /// Its fields, if the body was read in one pass; `None` means "read them from `raw`".
    pub(crate) fields: Option<Fields<'a>>,
    /// Its `context` object's fields (none for `null` or no context), when the one-pass reading read
    /// them on the way; `fields` then leaves `context` out. `None` means "read them from `fields`".
    pub(crate) context: Option<Fields<'a>>,
}

impl<'a> Message<'a> {
    fn raw(raw: &'a RawValue) -> Self {
        Self {
            raw: raw.get(),
            fields: None,
            context: None,
        }
    }
}

/// A request body read down to its raw messages.
#[derive(Debug)]
pub(crate) struct Envelope<'a> {
    /// The messages, in request order.
    pub(crate) messages: Vec<Message<'a>>,
    /// The batch-level `sentAt`, as sent.
    pub(crate) sent_at: Option<String>,
    /// The `writeKey` in the body, if any.
    pub(crate) write_key: Option<String>,
    /// The batch's own `context`, for every message's (empty on single-message endpoints).
    pub(crate) context: Fields<'a>,
    /// The batch's own `integrations`, for every message's.
    pub(crate) integrations: Fields<'a>,
}

/// The body as text: UTF-8 is checked before any JSON, so that its error is clear.
fn body_text(body: &[u8]) -> Result<&str, IngestError> {
    std::str::from_utf8(body).map_err(|e| IngestError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })
}

/// Checks UTF-8 first so that its error is clear, then reads the object.
fn parse_object(body: &[u8]) -> Result<(&str, Fields<'_>), IngestError> {
    let text = body_text(body)?;
    let fields = serde_json::from_str::<Fields<'_>>(text).map_err(|e| {
        if e.is_data() {
            IngestError::InvalidRequest("the body must be a JSON object".to_owned())
        } else {
            IngestError::InvalidJson(e.to_string())
        }
    })?;
    Ok((text, fields))
}

fn optional_string(fields: &Fields<'_>, name: &str) -> Result<Option<String>, IngestError> {
    match fields.get(name) {
        None => Ok(None),
        Some(raw) => serde_json::from_str::<Option<String>>(raw.get())
            .map_err(|_| IngestError::InvalidRequest(format!("{name}: must be a string"))),
    }
}

/// Reads a `POST /v1/batch` body.
///
/// One pass over the body reads the top-level object, the `batch` array and each message's top-level
/// fields, and finds each message's exact text from where its first key and last value lie. That is
/// a single scan of every byte, where keeping each message raw and reading it again took two (then
/// 30 % of the collector's ingestion CPU was JSON scanning). A batch holding a message whose text
/// cannot be found that way (not an object, `{}`, or a first key with an escape) is read again the
/// two-pass way: same answer, slower.
pub(crate) fn parse_batch(body: &[u8]) -> Result<Envelope<'_>, IngestError> {
    let text = body_text(body)?;
    match read_batch_body(text, Reading::OnePass)? {
        Some(envelope) => Ok(envelope),
        // The two-pass reading keeps every message's text, so it never answers `None`.
        None => read_batch_body(text, Reading::TwoPass)?.ok_or_else(|| {
            IngestError::InvalidRequest("batch: a message could not be read".to_owned())
        }),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// Messages read into their fields as the body is scanned.
    OnePass,
    /// Messages kept raw (their fields are read later from the text).
    TwoPass,
}

/// `Ok(None)`: a one-pass reading met a message whose text it cannot find.
fn read_batch_body(text: &str, reading: Reading) -> Result<Option<Envelope<'_>>, IngestError> {
    let state = ReadState {
        body: text,
        reading,
        batch_not_array: Cell::new(false),
        text_not_found: Cell::new(false),
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let read = BatchBodySeed { state: &state }
        .deserialize(&mut de)
        .and_then(|body| de.end().map(|()| body));
    let (messages, fields) = match read {
        Ok(body) => body,
        Err(e) if !e.is_data() => return Err(IngestError::InvalidJson(e.to_string())),
        Err(_) if state.batch_not_array.get() => {
            return Err(IngestError::InvalidRequest(
                "batch: must be an array of messages".to_owned(),
            ))
        }
        Err(_) => {
            return Err(IngestError::InvalidRequest(
                "the body must be a JSON object".to_owned(),
            ))
        }
    };
    if state.text_not_found.get() {
        return Ok(None);
    }
    let messages = messages.ok_or_else(|| {
        IngestError::InvalidRequest("batch: missing; expected an array of messages".to_owned())
    })?;
    Ok(Some(Envelope {
        messages,
        sent_at: optional_string(&fields, "sentAt")?,
        write_key: optional_string(&fields, "writeKey")?,
        context: batch_object(&fields, "context")?,
        integrations: batch_object(&fields, "integrations")?,
    }))
}

/// A batch's own `context` or `integrations`, which Segment's batch endpoint applies to each message
/// (analytics-java sends its `context.library` that way, and not in the messages).
fn batch_object<'a>(fields: &Fields<'a>, name: &str) -> Result<Fields<'a>, IngestError> {
    match fields.get(name) {
        None => Ok(Fields::default()),
        Some(raw) if raw.get() == "null" => Ok(Fields::default()),
        Some(raw) => Fields::parse(raw.get()).map_err(|_| {
            IngestError::InvalidRequest(format!(
                "{name}: must be an object (the batch's own {name}, applied to each message)"
            ))
        }),
    }
}

struct ReadState<'de> {
    body: &'de str,
    reading: Reading,
    /// Set when `batch` was there but not an array, to tell that error from the body's own shape.
    batch_not_array: Cell<bool>,
    /// Set when a one-pass reading could not find a message's text.
    text_not_found: Cell<bool>,
}

/// Reads a batch body's top-level object: the `batch` array's messages (the last `batch` if the key
/// is repeated) and every other field raw.
struct BatchBodySeed<'s, 'de> {
    state: &'s ReadState<'de>,
}

type BatchBody<'de> = (Option<Vec<Message<'de>>>, Fields<'de>);

impl<'s, 'de> DeserializeSeed<'de> for BatchBodySeed<'s, 'de> {
    type Value = BatchBody<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'s, 'de> Visitor<'de> for BatchBodySeed<'s, 'de> {
    type Value = BatchBody<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut messages = None;
        let mut fields = Vec::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if key == "batch" {
                messages = Some(map.next_value_seed(MessagesSeed { state: self.state })?);
            } else {
                fields.push((key, map.next_value::<&'de RawValue>()?));
            }
        }
        Ok((messages, Fields(fields)))
    }
}

/// The `batch` array.
struct MessagesSeed<'s, 'de> {
    state: &'s ReadState<'de>,
}

impl<'s, 'de> DeserializeSeed<'de> for MessagesSeed<'s, 'de> {
    type Value = Vec<Message<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let state = self.state;
        // A data error here can only be the array's own type: its elements are read raw or as
        // objects of raw values, and an element of another type is not an error.
        deserializer
            .deserialize_seq(self)
            .inspect_err(|_| state.batch_not_array.set(true))
    }
}

impl<'s, 'de> Visitor<'de> for MessagesSeed<'s, 'de> {
    type Value = Vec<Message<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of messages")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut messages = Vec::with_capacity(seq.size_hint().unwrap_or(64).min(1024));
        match self.state.reading {
            Reading::TwoPass => {
                while let Some(raw) = seq.next_element::<&'de RawValue>()? {
                    messages.push(Message::raw(raw));
                }
            }
            Reading::OnePass => {
                while let Some(message) =
                    seq.next_element_seed(MessageSeed { state: self.state })?
                {
                    match message {
                        Some(message) => messages.push(message),
                        // Keep reading: the rest of the body must still be valid JSON.
                        None => self.state.text_not_found.set(true),
                    }
                }
            }
        }
        Ok(messages)
    }
}

/// The `visit_*` methods of a visitor that reads a boolean, number, string or array (consumed whole)
/// as `$other`: what is not an object is kept or refused by its caller, not read.
macro_rules! visit_non_objects_as {
    ($de:lifetime, $other:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_seq<A: SeqAccess<$de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($other)
        }
    };
}

/// One message read into its fields; `None` when its exact text cannot be found from them.
struct MessageSeed<'s, 'de> {
    state: &'s ReadState<'de>,
}

impl<'s, 'de> DeserializeSeed<'de> for MessageSeed<'s, 'de> {
    type Value = Option<Message<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'s, 'de> Visitor<'de> for MessageSeed<'s, 'de> {
    type Value = Option<Message<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a message")
    }

    // The context is read into its fields here too: reading it raw and again in the pipeline scanned
    // its bytes twice, 4 % of the collector's CPU.
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let body = self.state.body;
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(16));
        let mut context = Fields::default();
        // `Some(None)` when the first key had an escape, so that its text is not in the body.
        let mut first_key: Option<Option<&'de str>> = None;
        // The text of the last value, `None` when it cannot be found in the body.
        let mut last_text = None;
        let mut context_not_object = false;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if first_key.is_none() {
                first_key = Some(match key {
                    Cow::Borrowed(key) => Some(key),
                    Cow::Owned(_) => None,
                });
            }
            if key == "context" {
                match map.next_value_seed(ContextSeed { body })? {
                    ContextRead::Object(read, text) => {
                        context = read;
                        last_text = text;
                    }
                    ContextRead::Null => {
                        context = Fields::default();
                        last_text = None;
                    }
                    ContextRead::NotObject => context_not_object = true,
                }
            } else {
                let value: &'de RawValue = map.next_value()?;
                last_text = Some(value.get());
                fields.push((key, value));
            }
        }
        // A context that is not an object is refused with its text, which only the two-pass
        // reading keeps.
        let raw = match (context_not_object, first_key.flatten(), last_text) {
            (false, Some(first_key), Some(last_text)) => object_text(body, first_key, last_text),
            _ => None,
        };
        Ok(raw.map(|raw| Message {
            raw,
            fields: Some(Fields(fields)),
            context: Some(context),
        }))
    }

    // Any other value is a message to refuse with its text as it came, which only the two-pass
    // reading keeps.
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    visit_non_objects_as!('de, None);
}

/// A message's `context` as the one-pass reading found it.
enum ContextRead<'de> {
    /// An object: its fields, and its text when that can be found in the body.
    Object(Fields<'de>, Option<&'de str>),
    Null,
    NotObject,
}

struct ContextSeed<'de> {
    body: &'de str,
}

impl<'de> DeserializeSeed<'de> for ContextSeed<'de> {
    type Value = ContextRead<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ContextSeed<'de> {
    type Value = ContextRead<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a context")
    }

    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Self::Value, M::Error> {
        let fields = Fields::read(map)?;
        let text = match (fields.0.first(), fields.0.last()) {
            (Some((Cow::Borrowed(first_key), _)), Some((_, last_value))) => {
                object_text(self.body, first_key, last_value.get())
            }
            _ => None,
        };
        Ok(ContextRead::Object(fields, text))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(ContextRead::Null)
    }
    visit_non_objects_as!('de, ContextRead::NotObject);
}

/// The text of the object in `body` whose first key is the borrowed `first_key` and whose last value
/// is `last_value`, both slices of `body`: in valid JSON only whitespace separates the opening brace
/// from the first key's quote, and the last value from the closing brace.
fn object_text<'de>(body: &'de str, first_key: &'de str, last_value: &'de str) -> Option<&'de str> {
    let offset = |part: &str| (part.as_ptr() as usize).checked_sub(body.as_ptr() as usize);
    let bytes = body.as_bytes();
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let quote = offset(first_key)?.checked_sub(1)?;
    let open = bytes
        .get(..quote)?
        .iter()
        .rposition(|b| !is_space(b))
        .filter(|&at| bytes[at] == b'{')?;
    let after_value = offset(last_value)? + last_value.len();
    let close = after_value
        + bytes
            .get(after_value..)?
            .iter()
            .position(|b| !is_space(b))
            .filter(|&n| bytes[after_value + n] == b'}')?;
    body.get(open..=close)
}

/// Reads the body of a single-message endpoint such as `POST /v1/track`.
pub(crate) fn parse_single(body: &[u8]) -> Result<Envelope<'_>, IngestError> {
    let (text, fields) = parse_object(body)?;
    let message: &RawValue =
        serde_json::from_str(text).map_err(|e| IngestError::InvalidJson(e.to_string()))?;
    Ok(Envelope {
        messages: vec![Message::raw(message)],
        sent_at: None,
        write_key: optional_string(&fields, "writeKey")?,
        context: Fields::default(),
        integrations: Fields::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_each_message_as_its_exact_text() {
        let body = br#"{"batch":[{"type":"track", "event":"A"},{"x":1}],"sentAt":"2026-11-22T10:00:00Z","writeKey":"k"}"#;
        let env = parse_batch(body).unwrap();
        assert_eq!(env.messages[0].raw, r#"{"type":"track", "event":"A"}"#);
        assert_eq!(env.sent_at.as_deref(), Some("2026-11-22T10:00:00Z"));
        assert_eq!(env.write_key.as_deref(), Some("k"));
    }

    #[test]
    fn tells_malformed_json_from_the_wrong_shape() {
        assert!(matches!(
            parse_batch(b"{\"batch\":[}"),
            Err(IngestError::InvalidJson(_))
        ));
        assert!(matches!(
            parse_batch(b"[1,2]"),
            Err(IngestError::InvalidRequest(_))
        ));
        assert!(matches!(
            parse_batch(b"{\"batch\":{}}"),
            Err(IngestError::InvalidRequest(_))
        ));
        assert!(matches!(
            parse_batch(b"{}"),
            Err(IngestError::InvalidRequest(_))
        ));
        assert!(matches!(
            parse_batch(b"{\"batch\":[],\"sentAt\":5}"),
            Err(IngestError::InvalidRequest(_))
        ));
        assert_eq!(
            parse_batch(b"{\"batch\":[\xff]}").unwrap_err(),
            IngestError::InvalidUtf8 { offset: 10 }
        );
    }

    #[test]
    fn names_the_part_of_the_body_that_has_the_wrong_shape() {
        let reason = |body: &[u8]| match parse_batch(body) {
            Err(IngestError::InvalidRequest(reason)) => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(reason(b"[1,2]"), "the body must be a JSON object");
        assert_eq!(reason(b"\"batch\""), "the body must be a JSON object");
        for body in [
            &b"{\"batch\":{\"a\":[1]}}"[..],
            b"{\"batch\":\"x\"}",
            b"{\"batch\":null}",
        ] {
            assert_eq!(reason(body), "batch: must be an array of messages");
        }
        assert_eq!(
            reason(b"{\"sentAt\":\"x\"}"),
            "batch: missing; expected an array of messages"
        );
        assert_eq!(
            reason(b"{\"batch\":[],\"writeKey\":[1]}"),
            "writeKey: must be a string"
        );
        // Broken JSON anywhere, inside the batch or after it, is a syntax error, not a shape error.
        for body in [
            &b"{\"batch\":[{\"a\":}]}"[..],
            b"{\"batch\":[]",
            b"{\"batch\":[]} x",
        ] {
            assert!(
                matches!(parse_batch(body), Err(IngestError::InvalidJson(_))),
                "{body:?}"
            );
        }
        // The last `batch` wins, as for every other key.
        let env = parse_batch(br#"{"batch":[1],"sentAt":null,"batch":[{"a":1},2]}"#).unwrap();
        assert_eq!(env.messages.len(), 2);
        assert_eq!(env.messages[0].raw, r#"{"a":1}"#);
        assert_eq!(env.sent_at, None);
    }

    /// Each message's text and fields from the one-pass reading, checked against the two-pass one.
    fn assert_one_pass_reads_as_two_pass(body: &str) {
        let two = read_batch_body(body, Reading::TwoPass).unwrap().unwrap();
        let one = parse_batch(body.as_bytes()).unwrap();
        fn texts<'a>(e: &Envelope<'a>) -> Vec<&'a str> {
            e.messages.iter().map(|m| m.raw).collect()
        }
        assert_eq!(texts(&one), texts(&two), "{body}");
        let pairs = |f: &Fields<'_>| {
            f.0.iter()
                .map(|(k, v)| (k.to_string(), v.get().to_owned()))
                .collect::<Vec<_>>()
        };
        for message in &one.messages {
            if let Some(fields) = &message.fields {
                let mut again = Fields::parse(message.raw).unwrap();
                // The one pass reads the context into its own fields, out of the message's.
                let context = match again.get("context").map(RawValue::get) {
                    None | Some("null") => Fields::default(),
                    Some(text) => Fields::parse(text).unwrap(),
                };
                again.0.retain(|(k, _)| k != "context");
                assert_eq!(pairs(fields), pairs(&again), "{body}");
                let read_context = message.context.as_ref().expect("read with the message");
                assert_eq!(pairs(read_context), pairs(&context), "{body}");
            }
        }
    }

    #[test]
    fn one_pass_finds_each_message_text_whatever_the_spacing() {
        for body in [
            r#"{"batch":[{"a":1},{"b":"x"}]}"#,
            "{ \"batch\" : [ {  \"a\" :\t1 ,\"b\":{\"c\":[1,{}]}\n} ,\r\n{\"z\":null}  ] , \"sentAt\":\"t\" }",
            r#"{"batch":[{"k":"}{\"","v":"{"}]}"#,
            r#"{"batch":[{"a":1},{},{"b":2}]}"#,
            r#"{"batch":[{"\u0061":1},{"b":2}]}"#,
            r#"{"batch":[{"a":1},7,"s",null,[{"x":1}],true,{"b":2}]}"#,
            r#"{"batch":[]}"#,
            r#"{"batch":[{"context":{"ip":"1.2.3.4","x":{"y":[1]}} ,"a":1},{"a":2,"context" : { "b" : 2 } }]}"#,
            r#"{"batch":[{"context":null,"a":1},{"a":2,"context":{}},{"a":3,"context":null}]}"#,
            r#"{"batch":[{"context":{"a":1},"context":{"b":2}},{"context":{"\u0061":1},"z":1}]}"#,
            r#"{"batch":[{"a":1,"context":[1,{"b":2}]},{"b":2}]}"#,
            r#"{"batch":[{"a":1,"context":"web"},{"context":7,"b":2}]}"#,
        ] {
            assert_one_pass_reads_as_two_pass(body);
        }
        // A context read on the way, in the middle or at the end of a message.
        let read = parse_batch(
            br#"{"batch":[{"context":{"ip":"1.2.3.4"},"a":1},{"a":2,"context":{"b":2}}]}"#,
        )
        .unwrap();
        assert!(read
            .messages
            .iter()
            .all(|m| m.context.as_ref().is_some_and(|c| c.0.len() == 1)));
        // A context that is not an object is left for the pipeline to refuse, with the message's text.
        let odd = parse_batch(br#"{"batch":[{"a":1,"context":"web"}]}"#).unwrap();
        assert!(odd.messages[0].fields.is_none());
        assert_eq!(odd.messages[0].raw, r#"{"a":1,"context":"web"}"#);
        // The usual batch is read in one pass: its messages come with their fields.
        let usual = parse_batch(br#"{"batch":[{"type":"track","event":"A"}, {"b":2}]}"#).unwrap();
        assert!(usual.messages.iter().all(|m| m.fields.is_some()));
        // One message that only the two-pass reading can keep sends the whole batch that way.
        let odd = parse_batch(br#"{"batch":[{"a":1},{}]}"#).unwrap();
        assert!(odd.messages.iter().all(|m| m.fields.is_none()));
    }

    proptest::proptest! {
        #[test]
        fn one_pass_reads_any_batch_as_two_pass(
            messages in proptest::collection::vec(
                proptest::collection::vec(
                    ("context|[a-z]{1,6}|a\\\\\"b|\\\\u00e9|\\\\n", proptest::prop_oneof![
                        proptest::strategy::Just("1".to_owned()),
                        proptest::strategy::Just("\"}\\\"{\\\\\"".to_owned()),
                        proptest::strategy::Just("[1, {\"a\": [ ]} ]".to_owned()),
                        proptest::strategy::Just("{ }".to_owned()),
                        proptest::strategy::Just("null".to_owned()),
                        proptest::strategy::Just("{\"ip\" :\"1.2.3.4\", \"n\":{\"a\":[]}}".to_owned()),
                    ]),
                    0..4,
                ),
                0..6,
            ),
            spaces in proptest::collection::vec("[ \t\r\n]{0,2}", 16),
        ) {
            let space = |i: usize| spaces[i % spaces.len()].as_str();
            let mut body = format!("{{{}\"batch\"{}:[", space(0), space(1));
            for (i, fields) in messages.iter().enumerate() {
                if i > 0 {
                    body.push(',');
                }
                body.push_str(space(i + 2));
                body.push('{');
                for (j, (key, value)) in fields.iter().enumerate() {
                    if j > 0 {
                        body.push(',');
                    }
                    body.push_str(&format!("{}\"{key}\"{}:{}{value}{}", space(i + j), space(j + 3), space(i + 5), space(j + 7)));
                }
                body.push_str(space(i + 9));
                body.push('}');
            }
            body.push_str("]}");
            assert_one_pass_reads_as_two_pass(&body);
        }
    }

    #[test]
    fn reads_escaped_keys_and_keeps_the_last_duplicate() {
        let raw: &RawValue = serde_json::from_str(r#"{"a\u0062":1,"x":1,"x":2}"#).unwrap();
        let fields = Fields::parse(raw.get()).unwrap();
        assert_eq!(fields.get("ab").unwrap().get(), "1");
        assert_eq!(fields.get("x").unwrap().get(), "2");
    }
}
