//! Properties of ingestion over generated input, beyond the hand-picked cases of the unit tests.
//!
//! The batch reader scans the body in one pass and the event writer copies the client's JSON as it
//! came, both by hand for speed. So these check, over generated messages with every kind of string
//! escape, nesting and stray field, and over bodies with random bytes changed:
//! - nothing panics, and each message gets exactly one result, either accepted or a dead letter;
//! - every record written is valid JSON, and serde_json reads every accepted event into a `Value`;
//! - an accepted event keeps each of the client's fields (the ones the collector does not replace) and
//!   each `context` field, value for value.

use footfall_ingest::{
    Endpoint, EnrichOptions, Ingestor, Processed, RequestInfo, SchemaRegistry, Source, WriteKeys,
};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn ingestor() -> Ingestor {
    let mut keys = WriteKeys::new();
    keys.insert(
        "wk",
        Source {
            project_id: "p1".into(),
            source_id: "s1".into(),
        },
    );
    Ingestor::new(keys, EnrichOptions::default())
}

fn ingest(body: &[u8]) -> Result<Processed, String> {
    let ingestor = ingestor();
    let auth = footfall_protocol::auth::basic_authorization("wk");
    let parsed = ingestor
        .parse(Endpoint::Batch, Some(&auth), body)
        .map_err(|e| e.to_string())?;
    let request = RequestInfo {
        peer: "198.51.100.7".parse().unwrap(),
        forwarded_for: None,
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"),
        received_at: footfall_ingest::timestamp::parse_timestamp("2026-11-22T10:00:00Z").unwrap(),
        known_geo: None,
    };
    Ok(ingestor.process(parsed, &request, &SchemaRegistry::new()))
}

/// Strings that need every kind of JSON escape, and some that need none.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 _.-]{0,12}",
        "[\"\\\\/\u{0}-\u{1f}\u{7f}é€😀\u{2028}\u{fffd}a]{0,8}",
        Just("context".to_owned()),
        Just("ip".to_owned()),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e300f64..1e300).prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(text(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(text(), value(), 0..4).prop_map(|m| m.into_iter().collect())
}

/// A message that is valid more often than not, with stray fields and odd values mixed in.
fn message() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            Just("track"),
            Just("page"),
            Just("screen"),
            Just("identify"),
            Just("group"),
            Just("alias"),
            Just("click"),
        ],
        prop_oneof![text().prop_map(Value::String), value()],
        prop_oneof![
            text().prop_map(Value::String),
            any::<u32>().prop_map(Value::from)
        ],
        prop::option::of(object()),
        prop::option::of(object()),
        object(),
    )
        .prop_map(|(kind, name, id, properties, context, extra)| {
            let mut m = extra;
            m.insert("type".into(), kind.into());
            m.insert("event".into(), name.clone());
            m.insert("name".into(), name);
            m.insert("userId".into(), id.clone());
            m.insert("groupId".into(), id.clone());
            m.insert("previousId".into(), id.clone());
            m.insert("messageId".into(), id);
            if let Some(properties) = properties {
                m.insert("properties".into(), Value::Object(properties.clone()));
                m.insert("traits".into(), Value::Object(properties));
            }
            if let Some(context) = context {
                m.insert("context".into(), Value::Object(context));
            }
            Value::Object(m)
        })
}

/// The fields the collector writes itself rather than copying (`timestamp` is corrected,
/// `originalTimestamp` and `receivedAt` are its own, `context` is checked field by field).
const WRITTEN_BY_THE_COLLECTOR: [&str; 6] = [
    "type",
    "messageId",
    "timestamp",
    "originalTimestamp",
    "receivedAt",
    "context",
];

fn assert_each_message_has_one_outcome(processed: &Processed, messages: usize) {
    assert_eq!(processed.results.len(), messages);
    assert_eq!(
        processed.accepted.len() + processed.dead_letters.len(),
        messages
    );
    for record in processed.accepted.iter().chain(&processed.dead_letters) {
        let written = || String::from_utf8_lossy(&record.payload).into_owned();
        if let Err(error) = serde_json::from_slice::<&serde_json::value::RawValue>(&record.payload)
        {
            panic!("invalid JSON written ({error}): {}", written());
        }
        // A number beyond f64's range (`1e999`, found by the byte edits below) is valid JSON, but
        // serde_json refuses to read it into a `Value`, as the backend does. The collector refuses
        // such a message, and keeps it as sent in its dead letter, which the backend reads raw.
        let dead_letter = processed
            .dead_letters
            .iter()
            .any(|d| std::ptr::eq(d, record));
        match serde_json::from_slice::<Value>(&record.payload) {
            Ok(_) => {}
            Err(error) if dead_letter && error.to_string().starts_with("number out of range") => {}
            Err(error) => panic!(
                "JSON written that serde_json cannot read ({error}): {}",
                written()
            ),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn accepted_events_keep_the_clients_fields_and_context(
        messages in prop::collection::vec(message(), 1..6)
    ) {
        let body = serde_json::to_vec(&serde_json::json!({ "batch": messages })).unwrap();
        let processed = ingest(&body).expect("a batch of objects parses");
        assert_each_message_has_one_outcome(&processed, messages.len());
        let mut accepted = processed.accepted.iter();
        for (message, result) in messages.iter().zip(&processed.results) {
            if result.status != footfall_protocol::EventStatus::Ok {
                continue;
            }
            let event: Value = serde_json::from_slice(&accepted.next().unwrap().payload).unwrap();
            for (key, sent) in message.as_object().unwrap() {
                if !WRITTEN_BY_THE_COLLECTOR.contains(&key.as_str()) {
                    prop_assert_eq!(&event[key], sent, "field {:?} of {}", key, message);
                }
            }
            if let Some(Value::Object(context)) = message.get("context") {
                for (key, sent) in context {
                    if key != "ip" && key != "footfall" {
                        prop_assert_eq!(&event["context"][key], sent, "context.{}", key);
                    }
                }
            }
            let id = match &message["messageId"] {
                Value::String(id) => id.clone(),
                other => other.to_string(),
            };
            prop_assert_eq!(event["messageId"].as_str(), Some(id.as_str()));
            prop_assert_eq!(&event["type"], &message["type"]);
        }
    }

    #[test]
    fn a_body_with_bytes_changed_is_refused_or_read_without_a_panic(
        messages in prop::collection::vec(message(), 1..4),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut body = serde_json::to_vec(&serde_json::json!({ "batch": messages })).unwrap();
        for (at, byte) in edits {
            let at = at.index(body.len());
            body[at] = byte;
        }
        match ingest(&body) {
            Err(reason) => prop_assert!(!reason.is_empty()),
            Ok(processed) => {
                let outcomes = processed.results.len();
                assert_each_message_has_one_outcome(&processed, outcomes);
            }
        }
    }
}

#[test]
fn a_number_beyond_f64_is_refused_naming_it_and_kept_as_sent_in_the_dead_letter() {
    let body = br#"{"batch":[{"type":"track","event":"E","userId":"u","properties":{"n":1e999}},
        {"type":"track","event":"E","userId":"u","properties":{"n":1e308}}]}"#;
    let processed = ingest(body).unwrap();
    assert_each_message_has_one_outcome(&processed, 2);
    assert_eq!(processed.accepted.len(), 1, "1e308 is in range");
    let reason = processed.results[0].reason.as_deref().unwrap();
    assert!(
        reason.starts_with("number 1e999: beyond a 64-bit float's range"),
        "{reason}"
    );
    let dead_letter = String::from_utf8_lossy(&processed.dead_letters[0].payload).into_owned();
    assert!(
        dead_letter.contains(r#""properties":{"n":1e999}"#),
        "{dead_letter}"
    );

    let in_batch_context =
        br#"{"context":{"n":-2E+400},"batch":[{"type":"track","event":"E","userId":"u"}]}"#;
    let refused = ingest(in_batch_context).unwrap_err();
    assert!(
        refused.starts_with("context.n: number -2E+400:"),
        "{refused}"
    );
}
