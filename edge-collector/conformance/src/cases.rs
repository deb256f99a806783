//! The cases: each sends requests to a [`Target`] and checks the answers and what the origin stored.
//!
//! They follow the collector's `tests/http.rs` and `tests/golden.rs` (same bodies, same expectations),
//! except that time is the server's real clock: expectations about `timestamp` and `receivedAt` are
//! checked relative to the `receivedAt` the server stamped.

use std::collections::HashMap;

use footfall_ingest::timestamp::parse_timestamp;
use footfall_protocol::format_rfc3339_millis;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::{gzip, Call, Target, BURST_KEY, CLIENT_IP, KEY};

fn batch(messages: Value) -> Value {
    json!({"batch": messages, "sentAt": "2026-11-22T10:00:00Z"})
}

fn track(id: &str) -> Value {
    json!({"type": "track", "event": "Viewed", "userId": "u1", "messageId": id, "timestamp": "2026-11-22T09:59:59Z"})
}

fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value}"))
}

fn millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn time_of(value: &Value) -> OffsetDateTime {
    parse_timestamp(text(value)).unwrap_or_else(|| panic!("not a timestamp: {value}"))
}

/// `POST /v1/{track,page,…}` and the short aliases store one message with the path's type.
pub async fn single_message_endpoints_force_their_type(target: &Target) {
    let mark = target.mark();
    let cases = [
        ("/v1/track", json!({"event": "A", "userId": "u"}), "track"),
        ("/v1/page", json!({"anonymousId": "a"}), "page"),
        (
            "/v1/screen",
            json!({"anonymousId": "a", "name": "Home"}),
            "screen",
        ),
        (
            "/v1/identify",
            json!({"userId": "u", "traits": {"plan": "pro"}}),
            "identify",
        ),
        ("/v1/group", json!({"userId": "u", "groupId": "g"}), "group"),
        (
            "/v1/alias",
            json!({"userId": "u", "previousId": "a"}),
            "alias",
        ),
        ("/v1/t", json!({"event": "A", "userId": "u"}), "track"),
        ("/v1/p/", json!({"anonymousId": "a"}), "page"),
        ("/v1/track/", json!({"event": "A", "userId": "u"}), "track"),
    ];
    for (path, body, _) in &cases {
        let reply = target.send(Call::post(path).json(body)).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.json());
        assert_eq!(reply.json()["results"][0]["status"], "ok", "{path}");
    }
    let stored = target.events_since(mark);
    let kinds: Vec<&str> = stored.iter().map(|e| text(&e["type"])).collect();
    let want: Vec<&str> = cases.iter().map(|(_, _, kind)| *kind).collect();
    assert_eq!(kinds, want);
}

/// One bad event among good ones: 200 with per-event results, the good ones stored, the bad ones in the
/// dead letters with their raw payload byte for byte and the reason.
pub async fn a_batch_answers_per_event_results_and_keeps_dead_letters_raw(target: &Target) {
    let mark = target.mark();
    let bad = json!({"type": "track", "userId": "u1", "messageId": "m2", "properties": {"a": 1}});
    let raw = r#"{"type":"group",  "userId":"u1","traits":{"n": 1.50}}"#;
    let body = format!(
        r#"{{"batch":[{},{bad},{raw},{}],"sentAt":"2026-11-22T10:00:00Z"}}"#,
        track("m1"),
        track("m3")
    );
    let reply = target.send(Call::post("/v1/batch/").body(body)).await;
    assert_eq!(reply.status, 200, "{}", reply.json());
    let answer = reply.json();
    assert_eq!(answer["success"], true);
    assert_eq!(
        answer["results"][0],
        json!({"messageId": "m1", "status": "ok"})
    );
    assert_eq!(answer["results"][1]["status"], "drop");
    assert!(
        text(&answer["results"][1]["reason"]).starts_with("event:"),
        "{answer}"
    );
    assert_eq!(answer["results"][2]["status"], "drop");
    assert_eq!(answer["results"][3]["messageId"], "m3");

    let events = target.events_since(mark);
    let ids: Vec<&str> = events.iter().map(|e| text(&e["messageId"])).collect();
    assert_eq!(ids, ["m1", "m3"]);
    let letters = target.dead_letters_since(mark);
    assert_eq!(letters.len(), 2);
    assert_eq!(letters[0]["payload"], bad);
    assert_eq!(letters[0]["writeKey"], KEY);
    assert!(text(&letters[0]["reason"]).contains("event"));
    let raw_letter = &target.raw_dead_letters_since(mark)[1];
    assert!(
        raw_letter.contains(&format!("\"payload\":{raw}")),
        "{raw_letter}"
    );
    assert!(raw_letter.contains("groupId: required"), "{raw_letter}");
}

/// Every message invalid: 400, answered only once the dead letters are stored.
pub async fn a_batch_of_only_invalid_messages_is_400_after_its_dead_letters_are_stored(
    target: &Target,
) {
    let mark = target.mark();
    let body = batch(json!([{"type": "track", "userId": "u"}, {"type": "page"}]));
    let reply = target.send(Call::post("/v1/batch").json(&body)).await;
    assert_eq!(reply.status, 400);
    let answer = reply.json();
    assert_eq!(answer["success"], false);
    assert_eq!(answer["code"], "invalid_request");
    assert!(
        text(&answer["message"]).contains("all 2 messages"),
        "{answer}"
    );
    assert_eq!(target.dead_letters_since(mark).len(), 2);
    assert!(target.events_since(mark).is_empty());
}

/// A number beyond a 64-bit float (`1e999`) is valid JSON, but serde_json, JavaScript and ClickHouse
/// cannot read it: the message is dropped naming the number, not acknowledged for the backend to
/// refuse later, and its dead letter keeps it as sent.
pub async fn a_number_beyond_a_64_bit_float_is_dropped_naming_it(target: &Target) {
    let mark = target.mark();
    let huge = r#"{"type":"track","event":"Big","userId":"u1","messageId":"m-huge","properties":{"n":1e999}}"#;
    let body = format!(r#"{{"batch":[{huge},{}]}}"#, track("m-fine"));
    let reply = target.send(Call::post("/v1/batch").body(body)).await;
    assert_eq!(reply.status, 200, "{}", reply.json());
    let answer = reply.json();
    assert_eq!(answer["results"][0]["status"], "drop", "{answer}");
    assert!(
        text(&answer["results"][0]["reason"]).starts_with("number 1e999: beyond a 64-bit float"),
        "{answer}"
    );
    assert_eq!(answer["results"][1]["status"], "ok");
    let ids: Vec<String> = target
        .events_since(mark)
        .iter()
        .map(|e| text(&e["messageId"]).to_owned())
        .collect();
    assert_eq!(ids, ["m-fine"]);
    let letters = target.raw_dead_letters_since(mark);
    assert_eq!(letters.len(), 1);
    assert!(
        letters[0].contains(&format!("\"payload\":{huge}")),
        "{}",
        letters[0]
    );
}

/// Segment's and RudderStack's SDKs load their source settings before sending (analytics.js from
/// `${cdnURL}/v1/projects/<key>/settings`, RudderStack's from `${configUrl}/sourceConfig/`): Segment's
/// name this server as where to send, and turn off analytics.js's own telemetry to Segment;
/// RudderStack's enable the source with no destination. An unknown key is 404.
pub async fn sdks_load_their_source_settings_from_here(target: &Target) {
    let reply = target
        .send(Call::bare("GET", &format!("/v1/projects/{KEY}/settings")))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let settings = reply.json();
    let segment = &settings["integrations"]["Segment.io"];
    let (scheme, host) = target.base().split_once("://").expect("a base URL");
    assert_eq!(segment["apiHost"], format!("{host}/v1"), "{settings}");
    assert_eq!(segment["protocol"], scheme);
    assert_eq!(segment["apiKey"], KEY);
    assert_eq!(settings["metrics"]["sampleRate"], 0);
    let unknown = target
        .send(Call::bare("GET", "/v1/projects/wk_nobody/settings"))
        .await;
    assert_eq!(unknown.status, 404);

    let rudder = target
        .send(Call::bare(
            "GET",
            &format!("/sourceConfig/?p=npm&v=3.0.0&build=modern&writeKey={KEY}"),
        ))
        .await;
    assert_eq!(rudder.status, 200, "{}", rudder.text());
    let source = &rudder.json()["source"];
    assert_eq!(source["writeKey"], KEY);
    assert_eq!(source["enabled"], true);
    assert_eq!(source["destinations"], json!([]));
}

/// RudderStack's beacon (`navigator.sendBeacon`, which sets no header) posts its batch to
/// `/beacon/v1/batch?writeKey=<key>`; an `Authorization` header, when sent, wins over the query.
pub async fn a_beacon_batch_names_its_write_key_in_the_query(target: &Target) {
    let mark = target.mark();
    let body = batch(json!([track("m-beacon")]));
    let beacon = target
        .send(
            Call::bare("POST", &format!("/beacon/v1/batch?writeKey={KEY}"))
                .header("content-type", "text/plain;charset=UTF-8")
                .json(&body),
        )
        .await;
    assert_eq!(beacon.status, 200, "{}", beacon.json());
    let ids: Vec<String> = target
        .events_since(mark)
        .iter()
        .map(|e| text(&e["messageId"]).to_owned())
        .collect();
    assert_eq!(ids, ["m-beacon"]);
    let header_wins = target
        .send(
            Call::bare("POST", &format!("/beacon/v1/batch?writeKey={KEY}"))
                .header(
                    "authorization",
                    &footfall_protocol::auth::basic_authorization("wk_unknown"),
                )
                .json(&body),
        )
        .await;
    assert_eq!(header_wins.status, 401);
}

/// Segment's Pixel API, for an email's open: `GET /v1/pixel/track?data=<base64 JSON>`, the write key
/// in the JSON, stores the message and answers a transparent GIF; bad data gets the usual error.
/// RudderStack's `GET /pixel/v1/page?writeKey=…&name=…` does the same with the fields as parameters.
pub async fn a_pixel_request_stores_its_message_and_answers_a_gif(target: &Target) {
    use base64::Engine as _;
    let mark = target.mark();
    let message = json!({"event": "Email Opened", "userId": "u-mail", "messageId": "m-pixel",
        "properties": {"campaign": "winter??>>"}, "writeKey": KEY});
    let data = base64::engine::general_purpose::URL_SAFE.encode(message.to_string());
    let reply = target
        .send(Call::bare("GET", &format!("/v1/pixel/track?data={data}")))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("image/gif"));
    assert!(reply.body.starts_with(b"GIF89a"));
    let events = target.events_since(mark);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "track");
    assert_eq!(events[0]["messageId"], "m-pixel");
    assert_eq!(events[0]["properties"]["campaign"], "winter??>>");

    let bad = target
        .send(Call::bare("GET", "/v1/pixel/track?data=not*base64"))
        .await;
    assert_eq!(bad.status, 400);
    assert!(text(&bad.json()["message"]).starts_with("data: not base64"));

    // RudderStack's: the fields as parameters, the write key among them.
    let mark = target.mark();
    let rudder = target
        .send(Call::bare(
            "GET",
            &format!(
                "/pixel/v1/page?writeKey={KEY}&anonymousId=a-mail&name=Newsletter\
                 &properties.campaign=winter+sale&messageId=m-rudder-pixel"
            ),
        ))
        .await;
    assert_eq!(rudder.status, 200, "{}", rudder.text());
    assert!(rudder.body.starts_with(b"GIF89a"));
    let events = target.events_since(mark);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "page");
    assert_eq!(events[0]["name"], "Newsletter");
    assert_eq!(events[0]["properties"]["campaign"], "winter sale");
}

/// Bodies that are not a Segment request: 400 with a code and a message, nothing stored.
pub async fn malformed_json_and_invalid_utf8_are_400_with_code_and_message(target: &Target) {
    let mark = target.mark();
    for (body, code) in [
        (b"{\"batch\": [".to_vec(), "invalid_json"),
        (b"{\"batch\": [\"\xff\"]}".to_vec(), "invalid_json"),
        (b"{\"batch\": 3}".to_vec(), "invalid_request"),
        (b"[]".to_vec(), "invalid_request"),
    ] {
        let shown = String::from_utf8_lossy(&body).into_owned();
        let reply = target.send(Call::post("/v1/batch").body(body)).await;
        assert_eq!(reply.status, 400, "{shown}");
        let answer = reply.json();
        assert_eq!(answer["code"], code, "{shown}");
        assert!(text(&answer["message"]).len() > 10);
    }
    assert!(target.events_since(mark).is_empty());
    assert!(target.dead_letters_since(mark).is_empty());
}

/// A message over 32 KB is dropped to the dead letters; alone, the answer is 400 `message_too_large`.
pub async fn a_message_over_32_kb_is_dropped_and_alone_it_is_400(target: &Target) {
    let mark = target.mark();
    let big = json!({"type": "track", "event": "A", "userId": "u", "properties": {"x": "y".repeat(33 * 1024)}});
    let reply = target
        .send(Call::post("/v1/batch").json(&batch(json!([big.clone(), track("m2")]))))
        .await;
    assert_eq!(reply.status, 200);
    assert!(text(&reply.json()["results"][0]["reason"]).contains("32768"));
    let reply = target.send(Call::post("/v1/track").json(&big)).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["code"], "message_too_large");
    assert_eq!(target.dead_letters_since(mark).len(), 2);
    assert_eq!(target.events_since(mark).len(), 1);
}

/// A batch over 500 KB, or a body over the wire limit, is 413 `batch_too_large`.
pub async fn a_batch_over_500_kb_is_413(target: &Target) {
    let mark = target.mark();
    let messages: Vec<_> = (0..30)
        .map(|i| json!({"type": "track", "event": "A", "userId": "u", "messageId": i.to_string(), "properties": {"x": "y".repeat(20_000)}}))
        .collect();
    let reply = target
        .send(Call::post("/v1/batch").json(&batch(json!(messages))))
        .await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.json()["code"], "batch_too_large");
    let reply = target
        .send(Call::post("/v1/batch").body(vec![b' '; 700 * 1024]))
        .await;
    assert_eq!(reply.status, 413);
    assert!(target.events_since(mark).is_empty());
}

/// A small gzip body that inflates past 500 KB is refused without inflating it all.
pub async fn a_gzip_bomb_is_413(target: &Target) {
    let mut content = b"{\"batch\":[".to_vec();
    content.extend(std::iter::repeat_n(b' ', 8 * 1024 * 1024));
    let bomb = gzip(&content);
    assert!(bomb.len() < 100 * 1024);
    let reply = target
        .send(
            Call::post("/v1/batch")
                .header("content-encoding", "gzip")
                .body(bomb),
        )
        .await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.json()["code"], "batch_too_large");
}

/// rudder-sdk-node's gzipped JSON labelled `application/x-www-form-urlencoded`; corrupt gzip is 400.
pub async fn gzip_labelled_form_urlencoded_is_read_as_json(target: &Target) {
    let mark = target.mark();
    let body = batch(json!([track("m1")])).to_string();
    let reply = target
        .send(
            Call::post("/v1/batch")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("content-encoding", "gzip")
                .body(gzip(body.as_bytes())),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.json());
    assert_eq!(target.events_since(mark).len(), 1);
    let reply = target
        .send(
            Call::post("/v1/batch")
                .header("content-encoding", "gzip")
                .body(&b"\x1f\x8bnope"[..]),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["code"], "invalid_encoding");
}

/// `navigator.sendBeacon`: `text/plain`, no `Authorization`, the write key in the body.
pub async fn a_text_plain_beacon_with_the_write_key_in_the_body_is_accepted(target: &Target) {
    let mark = target.mark();
    let body = json!({"type": "page", "anonymousId": "a1", "writeKey": KEY, "name": "Home"});
    let reply = target
        .send(
            Call::bare("POST", "/v1/p")
                .header("content-type", "text/plain;charset=UTF-8")
                .json(&body),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.json());
    assert_eq!(target.events_since(mark)[0]["name"], "Home");
}

/// 401 for an unknown write key and for none at all; nothing reaches the log.
pub async fn an_unknown_or_missing_write_key_is_401_and_nothing_is_stored(target: &Target) {
    let mark = target.mark();
    let unknown_key = || {
        Call::post("/v1/batch").header(
            "authorization",
            &footfall_protocol::auth::basic_authorization("nope"),
        )
    };
    let reply = target
        .send(unknown_key().json(&batch(json!([track("m1")]))))
        .await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["code"], "unauthorized");
    // The header's key wins over the body's, so the body is not even read: 401, not 400 for it.
    let reply = target.send(unknown_key().body("{not json")).await;
    assert_eq!(reply.status, 401, "{}", reply.json());
    let reply = target
        .send(
            Call::post("/v1/batch")
                .without("authorization")
                .json(&batch(json!([track("m1")]))),
        )
        .await;
    assert_eq!(reply.status, 401);
    assert!(target.events_since(mark).is_empty());
    assert!(target.dead_letters_since(mark).is_empty());
}

/// Browsers may post from any origin with Basic auth, gzip and the headers SDKs add (analytics.js's
/// `X-Retry-Count` on every retry, RudderStack's `AnonymousId`), and read `Retry-After`.
pub async fn cors_preflight_allows_any_origin_with_auth_and_encoding_headers(target: &Target) {
    let reply = target
        .send(
            Call::bare("OPTIONS", "/v1/batch")
                .header("origin", "https://shop.example")
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "authorization,content-type,content-encoding,x-retry-count,anonymousid",
                ),
        )
        .await;
    assert!(
        reply.status == 200 || reply.status == 204,
        "{}",
        reply.status
    );
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    let allowed = reply
        .header("access-control-allow-headers")
        .unwrap_or("")
        .to_lowercase();
    for header in [
        "authorization",
        "content-type",
        "content-encoding",
        "x-retry-count",
        "anonymousid",
    ] {
        assert!(allowed.contains(header), "{allowed}");
    }
    let reply = target
        .send(
            Call::post("/v1/batch")
                .header("origin", "https://shop.example")
                .json(&batch(json!([track("m1")]))),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    let exposed = reply
        .header("access-control-expose-headers")
        .unwrap_or("")
        .to_lowercase();
    assert!(exposed.contains("retry-after"), "{exposed}");
    assert!(exposed.contains("x-ratelimit-reset"), "{exposed}");
}

/// `context.ip` is the client's address, `context.footfall` names the source and the user agent (and
/// the geo, where the front door knows it).
pub async fn events_are_enriched_with_the_client_ip_user_agent_and_source(target: &Target) {
    let mark = target.mark();
    let ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    let reply = target
        .send(
            Call::post("/v1/batch")
                .header("user-agent", ua)
                .json(&json!({"batch": [{"type": "page", "anonymousId": "a1", "name": "Home"}]})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.json());
    let id = text(&reply.json()["results"][0]["messageId"]).to_owned();
    let event = &target.events_since(mark)[0];
    assert_eq!(
        event["messageId"],
        id.as_str(),
        "a generated id is answered and stored"
    );
    assert_eq!(event["context"]["ip"], CLIENT_IP);
    let footfall = &event["context"]["footfall"];
    assert_eq!(footfall["projectId"], "shop");
    assert_eq!(footfall["sourceId"], "web");
    assert_eq!(footfall["ua"]["browser"], "Chrome");
    match &target.expect_geo {
        Some(geo) => assert_eq!(&footfall["geo"], geo, "{event}"),
        None => assert!(footfall.get("geo").is_none(), "{event}"),
    }
}

/// `timestamp = receivedAt − (sentAt − timestamp)`; more than 23 h ahead is clamped and flagged.
pub async fn timestamps_are_corrected_for_clock_skew_and_future_ones_clamped(target: &Target) {
    let mark = target.mark();
    let now = OffsetDateTime::now_utc();
    let at = |offset: time::Duration| format_rfc3339_millis(millis(now + offset));
    // The client's clock is 2 hours slow.
    let skewed = json!({"batch": [{"type": "track", "event": "A", "userId": "u",
        "timestamp": at(time::Duration::seconds(-7200) - time::Duration::milliseconds(29_750))}],
        "sentAt": at(time::Duration::seconds(-7200))});
    let future = json!({"batch": [{"type": "track", "event": "B", "userId": "u",
        "timestamp": at(time::Duration::hours(48))}]});
    for body in [&skewed, &future] {
        let reply = target.send(Call::post("/v1/batch").json(body)).await;
        assert_eq!(reply.status, 200, "{}", reply.json());
    }
    let events = target.events_since(mark);
    let received = time_of(&events[0]["receivedAt"]);
    assert_eq!(
        received - time_of(&events[0]["timestamp"]),
        time::Duration::milliseconds(29_750)
    );
    assert!(
        (received - now).abs() < time::Duration::minutes(5),
        "the server's clock is used"
    );
    assert_eq!(events[1]["timestamp"], events[1]["receivedAt"]);
    assert_eq!(
        events[1]["originalTimestamp"],
        future["batch"][0]["timestamp"]
    );
    assert_eq!(events[1]["context"]["footfall"]["clampedTimestamp"], true);
}

/// Paths outside the API are 404 in the error shape.
pub async fn unknown_paths_are_404(target: &Target) {
    let reply = target.send(Call::post("/v2/batch")).await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["code"], "not_found");
}

/// A key over its budget gets 429 + `Retry-After` (and `X-RateLimit-Reset`), and the events are not
/// stored.
pub async fn a_key_over_its_rate_limit_gets_429_with_retry_after(target: &Target) {
    let mark = target.mark();
    let messages: Vec<_> = (0..1000)
        .map(|i| json!({"type": "page", "anonymousId": format!("a{i}")}))
        .collect();
    let body = json!({"batch": messages});
    let call = || {
        Call::post("/v1/batch")
            .header(
                "authorization",
                &footfall_protocol::auth::basic_authorization(BURST_KEY),
            )
            .json(&body)
    };
    let first = target.send(call()).await;
    assert_eq!(
        first.status,
        200,
        "the burst is 1000 events: {}",
        first.json()
    );
    let limited = target.send(call()).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.json()["code"], "rate_limited");
    let after: u64 = limited
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!((1..=11).contains(&after), "{after}");
    assert_eq!(
        limited.header("x-ratelimit-reset"),
        Some(after.to_string().as_str()),
        "analytics.js waits for X-RateLimit-Reset, not Retry-After"
    );
    assert_eq!(target.events_since(mark).len(), 1000);
}

/// Whether every field of `expected` is in `actual` with the same value, recursively for objects.
fn contains(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => e
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|av| contains(av, v))),
        _ => actual == expected,
    }
}

/// The fixtures were recorded with the clock at this instant.
const FIXTURE_NOW: &str = "2026-11-22T10:00:00Z";

/// Moves an expected record's `timestamp` and `receivedAt` to the server's clock: what the fixture says
/// at `FIXTURE_NOW` becomes the same offset from the `receivedAt` actually stored.
fn at_server_time(expected: &Value, actual: &Value) -> Value {
    let mut expected = expected.clone();
    let (Some(received), Some(fixture_now)) = (
        actual.get("receivedAt").map(time_of),
        parse_timestamp(FIXTURE_NOW),
    ) else {
        return expected;
    };
    if let Some(fields) = expected.as_object_mut() {
        for name in ["timestamp", "receivedAt"] {
            if let Some(value) = fields.get_mut(name) {
                let shifted = received + (time_of(value) - fixture_now);
                *value = Value::String(format_rfc3339_millis(millis(shifted)));
            }
        }
    }
    expected
}

/// The golden replay: request bodies shaped like the real Segment and RudderStack clients
/// (`collector/tests/fixtures/real_clients.jsonl`), with what must come out.
pub async fn real_client_requests_are_accepted_unchanged(target: &Target) {
    let fixtures = include_str!("../../collector/tests/fixtures/real_clients.jsonl");
    let mut replayed = 0;
    for line in fixtures.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).expect("a fixture line is JSON");
        let client = text(&case["client"]);
        let mark = target.mark();
        let body = serde_json::to_vec(&case["body"]).expect("JSON");
        let body = if case["gzip"] == true {
            gzip(&body)
        } else {
            body
        };
        let mut call = Call::post(text(&case["path"]));
        for (name, value) in case["headers"].as_object().expect("headers") {
            if name != "authorization" {
                call = call.header(name, text(value));
            }
        }
        let reply = target.send(call.body(body)).await;
        let expect = &case["expect"];
        assert_eq!(
            u64::from(reply.status),
            expect["status"].as_u64().unwrap_or(0),
            "{client}"
        );
        let answer = reply.json();
        let statuses: Vec<&str> = answer["results"]
            .as_array()
            .map(|r| r.iter().map(|r| text(&r["status"])).collect())
            .unwrap_or_default();
        let expected: Vec<&str> = expect["results"]
            .as_array()
            .map(|r| r.iter().map(text).collect())
            .unwrap_or_default();
        assert_eq!(statuses, expected, "{client}: {answer}");

        let stored = target.events_since(mark);
        for (i, want) in expect["stored"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let want = at_server_time(want, &stored[i]);
            assert!(
                contains(&stored[i], &want),
                "{client}: event {i}\n got {}\nwant {want}",
                stored[i]
            );
        }
        let letters = target.dead_letters_since(mark);
        for (i, want) in expect
            .get("dead_letters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let want = at_server_time(want, &letters[i]);
            assert!(
                contains(&letters[i], &want),
                "{client}: dead letter {i}\n got {}\nwant {want}",
                letters[i]
            );
        }
        replayed += 1;
    }
    assert_eq!(replayed, 6);
}

/// Concurrent clients: every event answered `ok` is in the log, once.
pub async fn every_acknowledged_event_is_in_the_log(target: &Target) {
    let mark = target.mark();
    let run = format!("{:x}", OffsetDateTime::now_utc().unix_timestamp_nanos());
    let senders: Vec<_> = (0..4)
        .map(|sender| {
            let target = target.clone();
            let run = run.clone();
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for batch_no in 0..5 {
                    let messages: Vec<_> = (0..20)
                        .map(|i| {
                            json!({"type": "track", "event": "Load", "userId": format!("u{sender}"),
                            "messageId": format!("{run}-s{sender}-b{batch_no}-e{i}")})
                        })
                        .collect();
                    let reply = target
                        .send(Call::post("/v1/batch").json(&json!({"batch": messages})))
                        .await;
                    assert_eq!(reply.status, 200, "{}", reply.json());
                    for result in reply.json()["results"].as_array().into_iter().flatten() {
                        if result["status"] == "ok" {
                            acked.push(text(&result["messageId"]).to_owned());
                        }
                    }
                }
                acked
            })
        })
        .collect();
    let mut acked = Vec::new();
    for sender in senders {
        acked.extend(sender.await.expect("a sender finished"));
    }
    assert_eq!(acked.len(), 400);
    let mut stored: HashMap<String, usize> = HashMap::new();
    for event in target.events_since(mark) {
        *stored
            .entry(text(&event["messageId"]).to_owned())
            .or_default() += 1;
    }
    for id in &acked {
        assert_eq!(
            stored.get(id),
            Some(&1),
            "acknowledged event {id} is not in the log once"
        );
    }
}
