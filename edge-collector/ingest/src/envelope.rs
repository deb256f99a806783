//! Reading a request body into raw messages, without parsing the messages yet.
//!
//! `POST /v1/batch` carries `{"batch": [message, …], "sentAt": "…", "writeKey": "…"}`; the single-message
//! endpoints (`/v1/track`, …) carry one message, which may hold `writeKey` itself. Each message is kept as
//! the exact JSON text it came as (`&RawValue`), so that a bad message becomes a dead letter with its
//! payload intact and good messages are copied, not rebuilt.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::IngestError;

/// The top-level fields of a JSON object, in order, values kept raw.
#[derive(Debug, Default)]
pub(crate) struct Fields<'a>(pub(crate) Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> Fields<'a> {
    /// The value of `name` (the last one if the key is repeated, as JSON parsers usually do).
    pub(crate) fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| *v)
    }

    /// Reads an object; `Err` with a short reason if `raw` is not one.
    pub(crate) fn parse(raw: &'a RawValue) -> Result<Self, serde_json::Error> {
        serde_json::from_str(raw.get())
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
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    let value: &'de RawValue = map.next_value()?;
                    fields.push((key, value));
                }
                Ok(Fields(fields))
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

/// A request body read down to its raw messages.
#[derive(Debug)]
pub(crate) struct Envelope<'a> {
    /// The messages, in request order.
    pub(crate) messages: Vec<&'a RawValue>,
    /// The batch-level `sentAt`, as sent.
    pub(crate) sent_at: Option<String>,
    /// The `writeKey` in the body, if any.
    pub(crate) write_key: Option<String>,
}

/// Checks UTF-8 first so that its error is clear, then reads the object.
fn parse_object(body: &[u8]) -> Result<(&str, Fields<'_>), IngestError> {
    let text = std::str::from_utf8(body).map_err(|e| IngestError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
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
/// One pass over the body: the `batch` array is read into its raw messages as the top-level object is
/// read, rather than kept raw and read again, which was a second full scan of every byte.
pub(crate) fn parse_batch(body: &[u8]) -> Result<Envelope<'_>, IngestError> {
    let text = std::str::from_utf8(body).map_err(|e| IngestError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    let batch_not_array = Cell::new(false);
    let mut de = serde_json::Deserializer::from_str(text);
    let read = BatchBodySeed {
        batch_not_array: &batch_not_array,
    }
    .deserialize(&mut de)
    .and_then(|body| de.end().map(|()| body));
    let (messages, fields) = match read {
        Ok(body) => body,
        Err(e) if !e.is_data() => return Err(IngestError::InvalidJson(e.to_string())),
        Err(_) if batch_not_array.get() => {
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
    let messages = messages.ok_or_else(|| {
        IngestError::InvalidRequest("batch: missing; expected an array of messages".to_owned())
    })?;
    Ok(Envelope {
        messages,
        sent_at: optional_string(&fields, "sentAt")?,
        write_key: optional_string(&fields, "writeKey")?,
    })
}

/// Reads a batch body's top-level object: the `batch` array's raw messages (the last `batch` if the
/// key is repeated) and every other field raw.
struct BatchBodySeed<'f> {
    /// Set when `batch` was there but not an array, to tell that error from the body's own shape.
    batch_not_array: &'f Cell<bool>,
}

impl<'de, 'f> DeserializeSeed<'de> for BatchBodySeed<'f> {
    type Value = (Option<Vec<&'de RawValue>>, Fields<'de>);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, 'f> Visitor<'de> for BatchBodySeed<'f> {
    type Value = (Option<Vec<&'de RawValue>>, Fields<'de>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut messages = None;
        let mut fields = Vec::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if key == "batch" {
                messages = Some(map.next_value_seed(MessagesSeed {
                    not_array: self.batch_not_array,
                })?);
            } else {
                fields.push((key, map.next_value::<&'de RawValue>()?));
            }
        }
        Ok((messages, Fields(fields)))
    }
}

/// The `batch` array, each element kept as its raw text.
struct MessagesSeed<'f> {
    not_array: &'f Cell<bool>,
}

impl<'de, 'f> DeserializeSeed<'de> for MessagesSeed<'f> {
    type Value = Vec<&'de RawValue>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let not_array = self.not_array;
        // A data error here can only be the array's own type: its elements are read raw.
        Vec::<&'de RawValue>::deserialize(deserializer).inspect_err(|_| not_array.set(true))
    }
}

/// Reads the body of a single-message endpoint such as `POST /v1/track`.
pub(crate) fn parse_single(body: &[u8]) -> Result<Envelope<'_>, IngestError> {
    let (text, fields) = parse_object(body)?;
    let message: &RawValue =
        serde_json::from_str(text).map_err(|e| IngestError::InvalidJson(e.to_string()))?;
    Ok(Envelope {
        messages: vec![message],
        sent_at: None,
        write_key: optional_string(&fields, "writeKey")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_each_message_as_its_exact_text() {
        let body = br#"{"batch":[{"type":"track", "event":"A"},{"x":1}],"sentAt":"2026-11-22T10:00:00Z","writeKey":"k"}"#;
        let env = parse_batch(body).unwrap();
        assert_eq!(env.messages[0].get(), r#"{"type":"track", "event":"A"}"#);
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
        assert_eq!(env.messages[0].get(), r#"{"a":1}"#);
        assert_eq!(env.sent_at, None);
    }

    #[test]
    fn reads_escaped_keys_and_keeps_the_last_duplicate() {
        let raw: &RawValue = serde_json::from_str(r#"{"a\u0062":1,"x":1,"x":2}"#).unwrap();
        let fields = Fields::parse(raw).unwrap();
        assert_eq!(fields.get("ab").unwrap().get(), "1");
        assert_eq!(fields.get("x").unwrap().get(), "2");
    }
}
