use super::*;
use crate::schema::{SchemaKind, SchemaPolicy, UnplannedEvents};
use footfall_protocol::auth::basic_authorization;
use footfall_protocol::EventStatus;
use serde_json::json;

fn ingestor(options: EnrichOptions) -> Ingestor {
    let mut keys = WriteKeys::new();
    keys.insert(
        "wk",
        Source {
            project_id: "p1".into(),
            source_id: "s1".into(),
        },
    );
    Ingestor::new(keys, options)
}

fn request(received_at: &str) -> RequestInfo<'static> {
    RequestInfo {
        peer: "198.51.100.7".parse().unwrap(),
        forwarded_for: None,
        user_agent: None,
        received_at: parse_timestamp(received_at).unwrap(),
        known_geo: None,
    }
}

fn run(
    ingestor: &Ingestor,
    endpoint: Endpoint,
    body: &Value,
    schemas: &SchemaRegistry,
) -> Processed {
    let body = serde_json::to_vec(body).unwrap();
    let auth = basic_authorization("wk");
    let parsed = ingestor.parse(endpoint, Some(&auth), &body).unwrap();
    ingestor.process(parsed, &request("2026-11-22T10:00:00Z"), schemas)
}

/// A batch from the default ingestor's key, checked against `plan`.
fn run_batch(body: &Value, plan: &SchemaRegistry) -> Processed {
    run(
        &ingestor(EnrichOptions::default()),
        Endpoint::Batch,
        body,
        plan,
    )
}

fn statuses(out: &Processed) -> Vec<EventStatus> {
    out.results.iter().map(|r| r.status).collect()
}

fn payload(record: &Record) -> Value {
    serde_json::from_slice(&record.payload).unwrap()
}

#[test]
fn accepts_good_events_and_drops_each_bad_one_with_the_field_named() {
    let body = json!({"batch": [
        {"type": "track", "event": "A", "userId": "u1", "messageId": "m1"},
        {"type": "track", "event": "", "userId": "u1", "messageId": "m2"},
        {"type": "identify", "messageId": "m3"},
        {"type": "group", "userId": "u1", "messageId": "m4"},
        {"type": "alias", "userId": "u1", "messageId": "m5"},
        {"type": "track", "event": "B", "userId": {"a": 1}, "messageId": "m6"},
        {"type": "page", "anonymousId": "a1", "properties": [1], "messageId": "m7"},
        {"type": "click", "anonymousId": "a1", "messageId": "m8"},
        {"type": "page", "anonymousId": "a1", "timestamp": "yesterday", "messageId": "m9"},
        7,
        {"type": "screen", "anonymousId": 42, "messageId": 10}
    ]});
    let out = run(
        &ingestor(EnrichOptions::default()),
        Endpoint::Batch,
        &body,
        &SchemaRegistry::new(),
    );
    let statuses = statuses(&out);
    use EventStatus::{Drop, Ok};
    assert_eq!(
        statuses,
        [Ok, Drop, Drop, Drop, Drop, Drop, Drop, Drop, Drop, Drop, Ok]
    );
    let reasons: Vec<_> = out
        .results
        .iter()
        .filter_map(|r| r.reason.as_deref())
        .collect();
    for (reason, field) in reasons.iter().zip([
        "event:",
        "userId or anonymousId",
        "groupId:",
        "previousId:",
        "userId:",
        "properties:",
        "type:",
        "timestamp:",
        "message:",
    ]) {
        assert!(
            reason.starts_with(field),
            "{reason:?} should name {field:?}"
        );
    }
    assert_eq!(out.results[10].message_id, "10");
    assert_eq!(out.accepted.len(), 2);
    assert_eq!(out.dead_letters.len(), 9);
    assert_eq!(
        out.results[9].message_id.len(),
        36,
        "an id is assigned even to a non-object"
    );
}

#[test]
fn each_field_of_the_wrong_type_is_named_in_its_reason() {
    let cases = [
        (
            "userId",
            json!(true),
            "userId: must be a string or a number",
        ),
        (
            "anonymousId",
            json!([1]),
            "anonymousId: must be a string or a number",
        ),
        (
            "groupId",
            json!({}),
            "groupId: must be a string or a number",
        ),
        (
            "previousId",
            json!(false),
            "previousId: must be a string or a number",
        ),
        (
            "messageId",
            json!(true),
            "messageId: must be a string or a number",
        ),
        ("event", json!(5), "event: must be a string"),
        ("name", json!(5), "name: must be a string"),
        ("category", json!([]), "category: must be a string"),
        ("traits", json!(1), "traits: must be an object"),
        ("context", json!("web"), "context: must be an object"),
    ];
    let batch: Vec<Value> = cases
        .iter()
        .map(|(field, value, _)| {
            let mut message = json!({"type": "track", "event": "A", "anonymousId": "a1"});
            message[*field] = value.clone();
            message
        })
        .collect();
    let out = run(
        &ingestor(EnrichOptions::default()),
        Endpoint::Batch,
        &json!({ "batch": batch }),
        &SchemaRegistry::new(),
    );
    let reasons: Vec<_> = out
        .results
        .iter()
        .map(|r| r.reason.as_deref().unwrap_or("accepted"))
        .collect();
    assert_eq!(reasons, cases.map(|(_, _, reason)| reason));
}

/// The one-pass reading reads the context with its message; a batch it cannot read that way is read
/// in two passes. Both must store the same event.
#[test]
fn a_context_read_in_one_pass_is_enriched_as_one_read_again() {
    let message = json!({"type": "track", "event": "A", "anonymousId": "a1", "messageId": "m1",
        "context": {"ip": "203.0.113.9", "footfall": {"projectId": "forged"}, "library": {"name": "x"},
            "userAgent": "curl/8.0"}});
    let ingestor = ingestor(EnrichOptions::default());
    let stored = |batch: Value| {
        let out = run(&ingestor, Endpoint::Batch, &batch, &SchemaRegistry::new());
        out.accepted[0].payload.clone()
    };
    let one_pass = stored(json!({ "batch": [message.clone()] }));
    // A message that is not an object sends the whole batch down the two-pass reading.
    let two_pass = stored(json!({ "batch": [message, 7] }));
    assert_eq!(
        String::from_utf8(one_pass.clone()).unwrap(),
        String::from_utf8(two_pass).unwrap()
    );
    let event: Value = serde_json::from_slice(&one_pass).unwrap();
    assert_eq!(event["context"]["ip"], "203.0.113.9");
    assert_eq!(event["context"]["library"]["name"], "x");
    assert_eq!(event["context"]["footfall"]["projectId"], "p1");
}

#[test]
fn dead_letters_carry_the_raw_payload_and_the_reason() {
    let body = br#"{"batch":[{"type":"track","userId":"u1", "messageId":"m2","odd":  [1, 2]}]}"#;
    let ing = ingestor(EnrichOptions::default());
    let parsed = ing
        .parse(Endpoint::Batch, Some(&basic_authorization("wk")), body)
        .unwrap();
    let out = ing.process(
        parsed,
        &request("2026-11-22T10:00:00Z"),
        &SchemaRegistry::new(),
    );
    let text = String::from_utf8(out.dead_letters[0].payload.clone()).unwrap();
    assert!(
        text.contains(
            r#""payload":{"type":"track","userId":"u1", "messageId":"m2","odd":  [1, 2]}"#
        ),
        "{text}"
    );
    let letter: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        letter["reason"],
        "event: required on a track, and must not be empty"
    );
    assert_eq!(letter["writeKey"], "wk");
    assert_eq!(letter["receivedAt"], "2026-11-22T10:00:00.000Z");
    assert_eq!(letter["cause"], "invalid");
    assert_eq!(out.dead_letters[0].key, b"wk");
}

#[test]
fn enriches_accepted_events_and_keeps_unknown_fields() {
    let body = json!({"batch": [{"type": "track", "event": "A", "anonymousId": "a1", "_metadata": {"x": 1},
        "timestamp": "2026-11-22T10:59:00.123456+00:00", "context": {"library": {"name": "x"}, "footfall": "spoof"}}],
        "sentAt": "2026-11-22T11:00:00Z"});
    let out = run(
        &ingestor(EnrichOptions::default()),
        Endpoint::Batch,
        &body,
        &SchemaRegistry::new(),
    );
    let event = payload(&out.accepted[0]);
    assert_eq!(
        event["timestamp"], "2026-11-22T09:59:00.123Z",
        "skew-corrected by an hour"
    );
    assert_eq!(
        event["originalTimestamp"],
        "2026-11-22T10:59:00.123456+00:00"
    );
    assert_eq!(event["receivedAt"], "2026-11-22T10:00:00.000Z");
    assert_eq!(event["_metadata"]["x"], 1);
    assert_eq!(event["context"]["library"]["name"], "x");
    assert_eq!(event["context"]["ip"], "198.51.100.7");
    assert_eq!(
        event["context"]["footfall"],
        json!({"projectId": "p1", "sourceId": "s1"})
    );
    assert_eq!(
        event["messageId"].as_str().unwrap().len(),
        36,
        "a missing messageId is assigned"
    );
    assert_eq!(
        out.results[0].message_id,
        event["messageId"].as_str().unwrap()
    );
    assert_eq!(out.accepted[0].key, b"wk:a1");
}

#[test]
fn keys_and_values_that_need_escapes_are_written_back_escaped() {
    // Plain text is copied as it is; anything with a quote, a backslash or a control character goes
    // through serde_json's escaping. Both must give back exactly what was sent.
    let mut keys = WriteKeys::new();
    keys.insert(
        "wk",
        Source {
            project_id: "p\"1".into(),
            source_id: "s\\1\u{7}".into(),
        },
    );
    let ingestor = Ingestor::new(keys, EnrichOptions::default());
    let body = json!({"batch": [{"type": "track", "event": "A", "userId": "u\"\\\n", "messageId": "m\"1\u{1}",
        "properties": {"q\"k": "v\\"}, "odd\"key\t": "x\u{1f}", "plain": "é ü \u{2028}",
        "context": {"k\\ey": 1, "locale": "fr\"FR"}}]});
    let out = run(&ingestor, Endpoint::Batch, &body, &SchemaRegistry::new());
    assert_eq!(out.results[0].status, EventStatus::Ok);
    let event = payload(&out.accepted[0]);
    assert_eq!(event["messageId"], "m\"1\u{1}");
    assert_eq!(out.results[0].message_id, "m\"1\u{1}");
    assert_eq!(event["userId"], "u\"\\\n");
    assert_eq!(event["properties"], json!({"q\"k": "v\\"}));
    assert_eq!(event["odd\"key\t"], "x\u{1f}");
    assert_eq!(event["plain"], "é ü \u{2028}");
    assert_eq!(event["context"]["k\\ey"], 1);
    assert_eq!(event["context"]["locale"], "fr\"FR");
    assert_eq!(
        event["context"]["footfall"],
        json!({"projectId": "p\"1", "sourceId": "s\\1\u{7}"})
    );
}

#[test]
fn message_sent_at_wins_over_the_batch_sent_at() {
    let body = json!({"batch": [{"type": "page", "userId": "u", "timestamp": "2026-11-22T10:00:00Z",
        "sentAt": "2026-11-22T10:00:10Z"}], "sentAt": "2026-11-22T12:00:00Z"});
    let out = run(
        &ingestor(EnrichOptions::default()),
        Endpoint::Batch,
        &body,
        &SchemaRegistry::new(),
    );
    assert_eq!(
        payload(&out.accepted[0])["timestamp"],
        "2026-11-22T09:59:50.000Z"
    );
}

#[test]
fn clamps_future_timestamps_and_flags_them() {
    let body = json!({"batch": [{"type": "track", "event": "A", "userId": "u", "timestamp": "2026-11-25T00:00:00Z"}]});
    let out = run(
        &ingestor(EnrichOptions::default()),
        Endpoint::Batch,
        &body,
        &SchemaRegistry::new(),
    );
    let event = payload(&out.accepted[0]);
    assert_eq!(event["timestamp"], "2026-11-22T10:00:00.000Z");
    assert_eq!(event["context"]["footfall"]["clampedTimestamp"], true);
    assert_eq!(out.clamped, 1);
}

#[test]
fn parses_the_user_agent_and_anonymizes_the_client_ip() {
    let options = EnrichOptions {
        anonymize_ip: true,
        ..EnrichOptions::default()
    };
    let ua = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    let body = json!({"batch": [
        {"type": "page", "userId": "u", "context": {"userAgent": ua}},
        {"type": "page", "userId": "u", "context": {"userAgent": ua, "ip": "2001:db8:1:2:3:4:5:6"}}]});
    let out = run(
        &ingestor(options),
        Endpoint::Batch,
        &body,
        &SchemaRegistry::new(),
    );
    let first = payload(&out.accepted[0]);
    assert_eq!(first["context"]["ip"], "198.51.100.0");
    assert_eq!(first["context"]["footfall"]["ua"]["bot"], true);
    assert_eq!(first["context"]["footfall"]["ua"]["category"], "crawler");
    assert_eq!(payload(&out.accepted[1])["context"]["ip"], "2001:db8:1::");
}

#[test]
fn single_endpoints_force_the_type_from_the_path() {
    let ing = ingestor(EnrichOptions::default());
    let out = run(
        &ing,
        Endpoint::Single(MessageType::Track),
        &json!({"event": "A", "userId": "u"}),
        &SchemaRegistry::new(),
    );
    assert_eq!(payload(&out.accepted[0])["type"], "track");
    let out = run(
        &ing,
        Endpoint::Single(MessageType::Track),
        &json!({"type": "page", "userId": "u"}),
        &SchemaRegistry::new(),
    );
    assert!(out.results[0]
        .reason
        .as_deref()
        .unwrap()
        .starts_with("type:"));
}

#[test]
fn drops_messages_over_32_kb() {
    let big = "x".repeat(MAX_MESSAGE_BYTES);
    let body = json!({"batch": [{"type": "track", "event": "A", "userId": "u", "properties": {"big": big}}]});
    let out = run(
        &ingestor(EnrichOptions::default()),
        Endpoint::Batch,
        &body,
        &SchemaRegistry::new(),
    );
    assert_eq!(out.drop_causes, [DropCause::TooLarge]);
    assert!(out.results[0].reason.as_deref().unwrap().contains("32768"));
}

#[test]
fn applies_schema_policies() {
    let schema = json!({"type": "object", "required": ["plan"]});
    let mut schemas = SchemaRegistry::new();
    schemas
        .insert("Strict", &schema, SchemaPolicy::Reject)
        .unwrap();
    schemas
        .insert("Loose", &schema, SchemaPolicy::Flag)
        .unwrap();
    let body = json!({"batch": [
        {"type": "track", "event": "Strict", "userId": "u"},
        {"type": "track", "event": "Loose", "userId": "u", "properties": {}},
        {"type": "track", "event": "Strict", "userId": "u", "properties": {"plan": "pro"}}]});
    let out = run_batch(&body, &schemas);
    assert_eq!(out.drop_causes, [DropCause::Schema]);
    assert!(out.results[0].reason.as_deref().unwrap().contains("plan"));
    let flagged = payload(&out.accepted[0]);
    assert!(flagged["context"]["footfall"]["schemaViolations"][0]
        .as_str()
        .unwrap()
        .contains("plan"));
    assert_eq!(out.schema_flagged, 1);
    assert_eq!(out.accepted.len(), 2);
    let broke = |event: &str, policy| SchemaViolation {
        kind: SchemaKind::Track,
        event: Some(event.to_owned()),
        policy,
    };
    assert_eq!(
        out.schema_violations,
        [
            broke("Strict", SchemaPolicy::Reject),
            broke("Loose", SchemaPolicy::Flag)
        ],
        "the conforming third event broke nothing"
    );
}

#[test]
fn track_events_outside_the_plan_are_accepted_flagged_or_rejected_as_configured() {
    let mut plan = SchemaRegistry::new();
    plan.insert("Planned", &json!({"type": "object"}), SchemaPolicy::Reject)
        .unwrap();
    let body = json!({"batch": [
        {"type": "track", "event": "Planned", "userId": "u"},
        {"type": "track", "event": "Order Complete", "userId": "u"},
        {"type": "page", "name": "Home", "userId": "u"}]});
    let ingest = |unplanned| run_batch(&body, &plan.with_unplanned(unplanned));

    let accepted = ingest(UnplannedEvents::Accept);
    assert_eq!(accepted.accepted.len(), 3);
    assert!(accepted.schema_violations.is_empty());

    let flagged = ingest(UnplannedEvents::Flag);
    assert_eq!(flagged.accepted.len(), 3);
    assert_eq!(flagged.schema_flagged, 1);
    let listed = &payload(&flagged.accepted[1])["context"]["footfall"]["schemaViolations"];
    assert_eq!(
        listed[0], "event \"Order Complete\" is not in the tracking plan",
        "{listed}"
    );
    let unplanned = |policy| SchemaViolation {
        kind: SchemaKind::Track,
        event: None,
        policy,
    };
    assert_eq!(
        flagged.schema_violations,
        [unplanned(SchemaPolicy::Flag)],
        "only track events have names in the plan: the page passes"
    );

    let rejected = ingest(UnplannedEvents::Reject);
    assert_eq!(rejected.accepted.len(), 2);
    assert_eq!(rejected.drop_causes, [DropCause::Schema]);
    let reason = rejected.results[1].reason.as_deref().unwrap();
    assert!(
        reason.contains("\"Order Complete\" is not in the tracking plan"),
        "{reason}"
    );
    assert_eq!(
        rejected.schema_violations,
        [unplanned(SchemaPolicy::Reject)]
    );
}

#[test]
fn pages_and_screens_are_checked_by_name_or_all_together() {
    let mut plan = SchemaRegistry::new();
    let files = [
        json!({"type": "page", "name": "Pricing", "policy": "reject",
               "schema": {"type": "object", "required": ["plan"]}}),
        json!({"type": "screen", "policy": "flag",
               "schema": {"type": "object", "required": ["feed"]}}),
    ];
    for file in files {
        plan.insert_file(&serde_json::from_value(file).unwrap())
            .unwrap();
    }
    let body = json!({"batch": [
        {"type": "page", "name": "Pricing", "userId": "u", "properties": {"path": "/pricing"}},
        {"type": "page", "name": "Home", "userId": "u"},
        {"type": "screen", "name": "Feed", "userId": "u"},
        {"type": "screen", "userId": "u", "properties": {"feed": "private"}}]});
    let out = run_batch(&body, &plan);
    let statuses = statuses(&out);
    use EventStatus::{Drop, Ok};
    assert_eq!(statuses, [Drop, Ok, Ok, Ok], "Home has no schema");
    let reason = out.results[0].reason.as_deref().unwrap();
    assert!(
        reason.starts_with("schema of page \"Pricing\": properties/:"),
        "{reason}"
    );
    let feed = payload(&out.accepted[1]);
    let listed = &feed["context"]["footfall"]["schemaViolations"];
    assert!(listed[0].as_str().unwrap().contains("\"feed\""), "{listed}");
    assert_eq!(
        out.schema_violations,
        [
            SchemaViolation {
                kind: SchemaKind::Page,
                event: Some("Pricing".into()),
                policy: SchemaPolicy::Reject
            },
            SchemaViolation {
                kind: SchemaKind::Screen,
                event: None,
                policy: SchemaPolicy::Flag
            }
        ]
    );
}

#[test]
fn a_projects_own_schema_checks_the_events_of_its_write_keys_only() {
    let scoped = |project: &str| {
        let file = json!({"event": "Signed Up", "project": project, "policy": "reject",
                          "schema": {"type": "object", "required": ["plan"]}});
        let mut plan = SchemaRegistry::new();
        plan.insert_file(&serde_json::from_value(file).unwrap())
            .unwrap();
        plan
    };
    let body = json!({"batch": [{"type": "track", "event": "Signed Up", "userId": "u"}]});
    let ingest = |plan: &SchemaRegistry| run_batch(&body, plan);
    let own = ingest(&scoped("p1"));
    assert_eq!(own.drop_causes, [DropCause::Schema], "wk is p1's key");
    let others = ingest(&scoped("p2"));
    assert_eq!(
        others.accepted.len(),
        1,
        "p2's plan does not check p1's events"
    );
    assert!(others.schema_violations.is_empty());
}

#[test]
fn resolves_the_write_key_from_auth_or_body() {
    let ing = ingestor(EnrichOptions::default());
    let body = br#"{"batch":[],"writeKey":"wk"}"#;
    assert_eq!(
        ing.parse(Endpoint::Batch, None, body)
            .unwrap()
            .source
            .project_id,
        "p1"
    );
    assert_eq!(
        ing.parse(Endpoint::Batch, Some("Bearer x"), body)
            .unwrap()
            .write_key,
        "wk"
    );
    let no_key = br#"{"batch":[]}"#;
    assert_eq!(
        ing.parse(Endpoint::Batch, None, no_key).unwrap_err(),
        IngestError::MissingWriteKey
    );
    let other = basic_authorization("nope");
    assert_eq!(
        ing.parse(Endpoint::Batch, Some(&other), no_key)
            .unwrap_err(),
        IngestError::UnknownWriteKey
    );
    // Known from the header alone, before the body is read, and whatever the body holds.
    assert_eq!(
        ing.refuse_unknown_header_key(Some(&other)),
        Err(IngestError::UnknownWriteKey)
    );
    assert_eq!(
        ing.parse(Endpoint::Batch, Some(&other), b"{not json")
            .unwrap_err(),
        IngestError::UnknownWriteKey
    );
    // A known key, a header that yields none (the body's key is used then), or no header: the body
    // decides.
    assert_eq!(
        ing.refuse_unknown_header_key(Some(&basic_authorization("wk"))),
        Ok(())
    );
    assert_eq!(ing.refuse_unknown_header_key(Some("Bearer x")), Ok(()));
    assert_eq!(ing.refuse_unknown_header_key(None), Ok(()));
    let single = br#"{"type":"track","event":"A","userId":"u","writeKey":"wk"}"#;
    assert!(ing
        .parse(Endpoint::Single(MessageType::Track), None, single)
        .is_ok());
}

#[test]
fn uses_forwarded_for_only_from_trusted_proxies() {
    let options = EnrichOptions {
        trusted_proxies: vec!["198.51.100.0/24".parse().unwrap()],
        ..Default::default()
    };
    let ing = ingestor(options);
    let body = br#"{"batch":[{"type":"page","userId":"u"}]}"#;
    let parsed = ing
        .parse(Endpoint::Batch, Some(&basic_authorization("wk")), body)
        .unwrap();
    let mut req = request("2026-11-22T10:00:00Z");
    req.forwarded_for = Some("9.9.9.9, 203.0.113.5");
    let out = ing.process(parsed, &req, &SchemaRegistry::new());
    assert_eq!(payload(&out.accepted[0])["context"]["ip"], "203.0.113.5");
}

struct FixedGeo;

impl GeoLookup for FixedGeo {
    fn lookup(&self, _ip: IpAddr) -> Option<Geo> {
        Some(Geo {
            country: Some("FR".into()),
            ..Geo::default()
        })
    }
}

#[test]
fn a_geo_the_platform_knows_locates_the_request_client_only() {
    let berlin = Geo {
        country: Some("DE".into()),
        city: Some("Berlin".into()),
        latitude: Some(52.52),
        ..Geo::default()
    };
    let body = serde_json::to_vec(&json!({"batch": [
        {"type": "page", "anonymousId": "a1"},
        {"type": "page", "anonymousId": "a1", "context": {"ip": "192.0.2.44"}}
    ]}))
    .unwrap();
    let auth = basic_authorization("wk");
    let mut info = request("2026-11-22T10:00:00Z");
    info.known_geo = Some(&berlin);

    let plain = ingestor(EnrichOptions::default());
    let out = plain.process(
        plain.parse(Endpoint::Batch, Some(&auth), &body).unwrap(),
        &info,
        &SchemaRegistry::new(),
    );
    let geo = payload(&out.accepted[0])["context"]["footfall"]["geo"].clone();
    assert_eq!(
        geo,
        json!({"country": "DE", "city": "Berlin", "latitude": 52.52})
    );
    assert!(
        payload(&out.accepted[1])["context"]["footfall"]
            .get("geo")
            .is_none(),
        "another address is not where the platform located the request"
    );

    let with_lookup = ingestor(EnrichOptions::default()).with_geo(Arc::new(FixedGeo));
    let out = with_lookup.process(
        with_lookup
            .parse(Endpoint::Batch, Some(&auth), &body)
            .unwrap(),
        &info,
        &SchemaRegistry::new(),
    );
    assert_eq!(
        payload(&out.accepted[0])["context"]["footfall"]["geo"]["country"],
        "DE"
    );
    assert_eq!(
        payload(&out.accepted[1])["context"]["footfall"]["geo"]["country"],
        "FR"
    );
}

#[test]
fn a_request_whose_every_message_was_refused_is_a_refusal() {
    let i = ingestor(EnrichOptions::default());
    let run_batch = |batch: Value| {
        run(
            &i,
            Endpoint::Batch,
            &json!({"batch": batch}),
            &SchemaRegistry::new(),
        )
    };
    let mixed = run_batch(json!([{"type": "page", "anonymousId": "a"}, {"type": "page"}]));
    assert_eq!(mixed.refusal(), None);
    let none = run_batch(json!([{"type": "page"}, {"type": "track", "userId": "u"}]));
    let (code, message) = none.refusal().unwrap();
    assert_eq!(code, footfall_protocol::ErrorCode::InvalidRequest);
    assert!(
        message.starts_with("all 2 messages were refused; the first: "),
        "{message}"
    );
    let big =
        json!({"type": "page", "anonymousId": "a", "properties": {"x": "y".repeat(33 * 1024)}});
    let (code, _) = run_batch(json!([big])).refusal().unwrap();
    assert_eq!(code, footfall_protocol::ErrorCode::MessageTooLarge);
    assert_eq!(
        run_batch(json!([])).refusal(),
        None,
        "an empty batch is not refused"
    );
}

#[test]
fn paths_name_their_endpoint_with_or_without_a_trailing_slash() {
    assert_eq!(
        Endpoint::from_path("/v1/batch"),
        Some((Endpoint::Batch, "batch"))
    );
    assert_eq!(
        Endpoint::from_path("/v1/p/"),
        Some((Endpoint::Single(MessageType::Page), "page"))
    );
    assert_eq!(Endpoint::from_path("/v2/batch"), None);
    assert_eq!(Endpoint::from_path("/v1/batch//"), None);
    assert_eq!(IngestError::UnknownWriteKey.status(), 401);
    assert_eq!(IngestError::TooLarge { limit: 1 }.status(), 413);
    assert_eq!(IngestError::InvalidJson("x".into()).status(), 400);
}

#[test]
fn a_batchs_own_context_and_integrations_apply_to_each_message_that_lacks_their_keys() {
    // analytics-java's shape: `context.library` once, beside `batch`.
    let body = json!({
        "batch": [
            {"type": "track", "event": "A", "userId": "u1", "messageId": "m1"},
            {"type": "track", "event": "B", "userId": "u1", "messageId": "m2",
             "context": {"library": {"name": "own"}, "locale": "fr-FR"},
             "integrations": {"Mixpanel": false}},
            {"type": "track", "event": "C", "userId": "u1", "messageId": "m3", "context": null},
        ],
        "context": {
            "library": {"name": "analytics-java", "version": "3.5.1"},
            "ip": "203.0.113.9",
            "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
        },
        "integrations": {"All": true, "Mixpanel": true}
    });
    let out = run(
        &ingestor(EnrichOptions::default()),
        Endpoint::Batch,
        &body,
        &SchemaRegistry::new(),
    );
    let events: Vec<Value> = out.accepted.iter().map(payload).collect();
    assert_eq!(events.len(), 3);

    let first = &events[0];
    assert_eq!(first["context"]["library"]["name"], "analytics-java");
    // The batch's ip and user agent are the message's: enrichment reads them.
    assert_eq!(first["context"]["ip"], "203.0.113.9");
    assert_eq!(
        first["context"]["footfall"]["ua"]["os"], "iPhone",
        "{first}"
    );
    assert_eq!(
        first["integrations"],
        json!({"All": true, "Mixpanel": true})
    );

    // A message's own keys win, key by key; the batch fills in the rest.
    let second = &events[1];
    assert_eq!(second["context"]["library"], json!({"name": "own"}));
    assert_eq!(second["context"]["locale"], "fr-FR");
    assert_eq!(second["context"]["ip"], "203.0.113.9");
    assert_eq!(
        second["integrations"],
        json!({"Mixpanel": false, "All": true})
    );
    assert_eq!(events[2]["context"]["library"]["version"], "3.5.1");
}

#[test]
fn a_batchs_own_context_that_is_not_an_object_refuses_the_request() {
    let ingestor = ingestor(EnrichOptions::default());
    let auth = basic_authorization("wk");
    for body in [
        br#"{"batch":[{"type":"track","event":"A","userId":"u"}],"context":"web"}"#.as_slice(),
        br#"{"batch":[{"type":"track","event":"A","userId":"u"}],"integrations":[1]}"#,
    ] {
        let error = ingestor
            .parse(Endpoint::Batch, Some(&auth), body)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("must be an object (the batch's own"),
            "{error}"
        );
    }
    // null is no context at all.
    let body = br#"{"batch":[{"type":"track","event":"A","userId":"u"}],"context":null}"#;
    let parsed = ingestor.parse(Endpoint::Batch, Some(&auth), body).unwrap();
    let out = ingestor.process(
        parsed,
        &request("2026-11-22T10:00:00Z"),
        &SchemaRegistry::new(),
    );
    assert_eq!(out.accepted.len(), 1);
}

#[test]
fn identify_and_group_traits_are_checked_against_their_schemas() {
    let mut plan = SchemaRegistry::new();
    let needs_plan =
        json!({"type": "object", "required": ["plan"], "properties": {"plan": {"type": "string"}}});
    plan.insert_traits(SchemaKind::Identify, &needs_plan, SchemaPolicy::Reject)
        .unwrap();
    plan.insert_traits(SchemaKind::Group, &needs_plan, SchemaPolicy::Flag)
        .unwrap();
    let body = json!({"batch": [
        {"type": "identify", "userId": "u", "traits": {"plan": 3}},
        {"type": "identify", "userId": "u", "traits": {"plan": "pro"}},
        {"type": "group", "userId": "u", "groupId": "g"},
        {"type": "track", "event": "Traits", "userId": "u", "properties": {"plan": 3}}]});
    let out = run_batch(&body, &plan);
    let statuses = statuses(&out);
    use EventStatus::{Drop, Ok};
    assert_eq!(statuses, [Drop, Ok, Ok, Ok]);
    let reason = out.results[0].reason.as_deref().unwrap();
    assert!(
        reason.starts_with("schema of identify traits: traits/plan:"),
        "{reason}"
    );
    let group = payload(&out.accepted[1]);
    let listed = &group["context"]["footfall"]["schemaViolations"];
    assert!(
        listed[0]
            .as_str()
            .unwrap()
            .contains("\"plan\" is a required property"),
        "an absent traits is checked as {{}}: {listed}"
    );
    let traits = |kind, policy| SchemaViolation {
        kind,
        event: None,
        policy,
    };
    assert_eq!(
        out.schema_violations,
        [
            traits(SchemaKind::Identify, SchemaPolicy::Reject),
            traits(SchemaKind::Group, SchemaPolicy::Flag)
        ],
        "track properties are not traits"
    );
}
