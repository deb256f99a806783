//! `router(state).oneshot(..)` tests: every endpoint and every error the collector answers.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use common::*;
use footfall_collector::config::RateLimit;
use footfall_collector::{router, AppState, MemorySink, SinkError};
use serde_json::json;

fn batch(messages: serde_json::Value) -> Body {
    Body::from(json!({"batch": messages, "sentAt": "2026-11-22T10:00:00Z"}).to_string())
}

fn track(id: &str) -> serde_json::Value {
    json!({"type": "track", "event": "Viewed", "userId": "u1", "messageId": id, "timestamp": "2026-11-22T09:59:59Z"})
}

#[tokio::test]
async fn every_single_message_endpoint_forces_its_type() {
    let (app, sink) = app_with(config());
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
    for (path, body, kind) in &cases {
        let response = send(&app, post(path).body(Body::from(body.to_string())).unwrap()).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let answer = json(response).await;
        assert_eq!(answer["results"][0]["status"], "ok", "{path}: {answer}");
        assert_eq!(events(&sink).last().unwrap()["type"], *kind, "{path}");
    }
    assert_eq!(sink.events().len(), cases.len());
}

#[tokio::test]
async fn batch_answers_per_event_results_with_one_bad_event_among_good_ones() {
    let (app, sink) = app_with(config());
    let bad = json!({"type": "track", "userId": "u1", "messageId": "m2", "properties": {"a": 1}});
    let body = batch(json!([track("m1"), bad, track("m3")]));
    let response = send(&app, post("/v1/batch/").body(body).unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer = json(response).await;
    assert_eq!(answer["success"], true);
    assert_eq!(
        answer["results"][0],
        json!({"messageId": "m1", "status": "ok"})
    );
    assert_eq!(answer["results"][1]["status"], "drop");
    assert!(answer["results"][1]["reason"]
        .as_str()
        .unwrap()
        .starts_with("event:"));
    assert_eq!(answer["results"][2]["messageId"], "m3");
    assert_eq!(sink.events().len(), 2);
    let letters = dead_letters(&sink);
    assert_eq!(
        letters[0]["payload"],
        json!({"type": "track", "userId": "u1", "messageId": "m2", "properties": {"a": 1}})
    );
    assert_eq!(letters[0]["writeKey"], KEY);
    assert!(letters[0]["reason"].as_str().unwrap().contains("event"));
}

#[tokio::test]
async fn dead_letters_keep_the_raw_payload_byte_for_byte() {
    let (app, sink) = app_with(config());
    let raw = r#"{"type":"group",  "userId":"u1","traits":{"n": 1.50}}"#;
    let body = format!(r#"{{"batch":[{raw},{}]}}"#, track("m1"));
    let response = send(&app, post("/v1/batch").body(Body::from(body)).unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let letter = String::from_utf8(sink.dead_letters()[0].payload.clone()).unwrap();
    assert!(letter.contains(&format!("\"payload\":{raw}")), "{letter}");
    assert!(letter.contains("groupId: required"), "{letter}");
}

#[tokio::test]
async fn a_batch_of_only_invalid_events_is_400_after_its_dead_letters_are_stored() {
    let (app, sink) = app_with(config());
    let body = batch(json!([{"type": "track", "userId": "u"}, {"type": "page"}]));
    let response = send(&app, post("/v1/batch").body(body).unwrap()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let answer = json(response).await;
    assert_eq!(answer["success"], false);
    assert_eq!(answer["code"], "invalid_request");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("all 2 messages"),
        "{answer}"
    );
    assert_eq!(sink.dead_letters().len(), 2);
}

#[tokio::test]
async fn malformed_json_and_invalid_utf8_are_400_with_code_and_message() {
    let (app, _) = app_with(config());
    for (body, code) in [
        (b"{\"batch\": [".to_vec(), "invalid_json"),
        (b"{\"batch\": [\"\xff\"]}".to_vec(), "invalid_json"),
        (b"{\"batch\": 3}".to_vec(), "invalid_request"),
        (b"[]".to_vec(), "invalid_request"),
    ] {
        let response = send(
            &app,
            post("/v1/batch").body(Body::from(body.clone())).unwrap(),
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{}",
            String::from_utf8_lossy(&body)
        );
        let answer = json(response).await;
        assert_eq!(answer["code"], code);
        assert!(answer["message"].as_str().unwrap().len() > 10);
    }
}

#[tokio::test]
async fn wrong_types_are_dropped_naming_the_field() {
    let (app, _) = app_with(config());
    let body = batch(
        json!([track("m1"), {"type": "identify", "userId": ["x"], "messageId": "m2"},
        {"type": "track", "event": "A", "userId": "u", "context": "web", "messageId": "m3"}]),
    );
    let answer = json(send(&app, post("/v1/batch").body(body).unwrap()).await).await;
    assert!(answer["results"][1]["reason"]
        .as_str()
        .unwrap()
        .starts_with("userId:"));
    assert!(answer["results"][2]["reason"]
        .as_str()
        .unwrap()
        .starts_with("context:"));
}

#[tokio::test]
async fn a_message_over_32_kb_is_dropped_and_alone_it_is_400_message_too_large() {
    let (app, sink) = app_with(config());
    let big = json!({"type": "track", "event": "A", "userId": "u", "properties": {"x": "y".repeat(33 * 1024)}});
    let response = send(
        &app,
        post("/v1/batch")
            .body(batch(json!([big.clone(), track("m2")])))
            .unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer = json(response).await;
    assert!(answer["results"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("32768"));
    let response = send(
        &app,
        post("/v1/track").body(Body::from(big.to_string())).unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(response).await["code"], "message_too_large");
    assert_eq!(sink.dead_letters().len(), 2);
}

#[tokio::test]
async fn a_batch_over_500_kb_is_413() {
    let (app, _) = app_with(config());
    let messages: Vec<_> = (0..30)
        .map(|i| json!({"type": "track", "event": "A", "userId": "u", "messageId": i.to_string(), "properties": {"x": "y".repeat(20_000)}}))
        .collect();
    let body = batch(json!(messages));
    let response = send(&app, post("/v1/batch").body(body).unwrap()).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json(response).await["code"], "batch_too_large");
    let huge = vec![b' '; 700 * 1024];
    let response = send(&app, post("/v1/batch").body(Body::from(huge)).unwrap()).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_gzip_bomb_is_413_without_inflating_it() {
    let (app, _) = app_with(config());
    let mut bomb_content = b"{\"batch\":[".to_vec();
    bomb_content.extend(std::iter::repeat_n(b' ', 64 * 1024 * 1024));
    let bomb = gzip(&bomb_content);
    assert!(bomb.len() < 500 * 1024);
    let request = post("/v1/batch")
        .header("content-encoding", "gzip")
        .body(Body::from(bomb))
        .unwrap();
    let response = send(&app, request).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json(response).await["code"], "batch_too_large");
}

#[tokio::test]
async fn gzip_labelled_form_urlencoded_is_read_as_json() {
    let (app, sink) = app_with(config());
    let body = json!({"batch": [track("m1")], "sentAt": "2026-11-22T10:00:00Z"}).to_string();
    let request = post("/v1/batch")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("content-encoding", "gzip")
        .body(Body::from(gzip(body.as_bytes())))
        .unwrap();
    assert_eq!(send(&app, request).await.status(), StatusCode::OK);
    assert_eq!(sink.events().len(), 1);
    let corrupt = post("/v1/batch")
        .header("content-encoding", "gzip")
        .body(Body::from(&b"\x1f\x8bnope"[..]))
        .unwrap();
    let response = send(&app, corrupt).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(response).await["code"], "invalid_encoding");
}

#[tokio::test]
async fn a_text_plain_beacon_with_the_write_key_in_the_body_is_accepted() {
    let (app, sink) = app_with(config());
    let body =
        json!({"type": "page", "anonymousId": "a1", "writeKey": KEY, "name": "Home"}).to_string();
    let request = Request::post("/v1/p")
        .header("content-type", "text/plain;charset=UTF-8")
        .body(Body::from(body))
        .unwrap();
    let response = send(&app, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(events(&sink)[0]["name"], "Home");
}

#[tokio::test]
async fn an_unknown_or_missing_write_key_is_401() {
    let (app, _) = app_with(config());
    let request = Request::post("/v1/batch")
        .header(
            "authorization",
            footfall_protocol::auth::basic_authorization("nope"),
        )
        .body(batch(json!([track("m1")])))
        .unwrap();
    let response = send(&app, request).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json(response).await["code"], "unauthorized");
    let response = send(
        &app,
        Request::post("/v1/batch").body(batch(json!([]))).unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_key_over_its_rate_limit_gets_429_with_retry_after() {
    let mut config = config();
    config.rate_limit = Some(RateLimit {
        events_per_sec: 1.try_into().unwrap(),
        burst: 2.try_into().unwrap(),
    });
    let (app, _) = app_with(config);
    let body = || batch(json!([track("m1"), track("m2")]));
    assert_eq!(
        send(&app, post("/v1/batch").body(body()).unwrap())
            .await
            .status(),
        StatusCode::OK
    );
    let response = send(&app, post("/v1/batch").body(body()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after));
    assert_eq!(json(response).await["code"], "rate_limited");
}

#[tokio::test]
async fn a_failing_sink_is_503_with_retry_after_and_not_ready() {
    let (app, sink) = app_with(config());
    sink.fail_with(Some(SinkError::Full("disk budget exceeded".into())));
    let response = send(
        &app,
        post("/v1/batch").body(batch(json!([track("m1")]))).unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "5");
    assert_eq!(json(response).await["code"], "unavailable");
    let ready = send(&app, Request::get("/ready").body(Body::empty()).unwrap()).await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    sink.fail_with(None);
    let ready = send(&app, Request::get("/ready").body(Body::empty()).unwrap()).await;
    assert_eq!(ready.status(), StatusCode::OK);
}

#[tokio::test]
async fn cors_preflight_allows_any_origin_with_auth_and_encoding_headers() {
    let (app, _) = app_with(config());
    let request = Request::options("/v1/batch")
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,content-encoding",
        )
        .body(Body::empty())
        .unwrap();
    let response = send(&app, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let allowed = response.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for header in ["authorization", "content-type", "content-encoding"] {
        assert!(allowed.contains(header), "{allowed}");
    }
    let post = post("/v1/batch")
        .header("origin", "https://shop.example")
        .body(batch(json!([track("m1")])))
        .unwrap();
    let answer = send(&app, post).await;
    assert_eq!(answer.headers()["access-control-allow-origin"], "*");
    let exposed = answer.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(exposed.contains("retry-after"), "{exposed}");
}

fn from_peer(peer: [u8; 4], forwarded_for: &str) -> Request<Body> {
    Request::post("/v1/page")
        .header(
            "authorization",
            footfall_protocol::auth::basic_authorization(KEY),
        )
        .header("x-forwarded-for", forwarded_for)
        .extension(ConnectInfo(std::net::SocketAddr::from((peer, 4000))))
        .body(Body::from(json!({"anonymousId": "a"}).to_string()))
        .unwrap()
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let mut config = config();
    config.enrich.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
    let (app, sink) = app_with(config);
    send(
        &app,
        from_peer([10, 0, 0, 2], "1.1.1.1, 198.51.100.23, 10.0.0.9"),
    )
    .await;
    send(&app, from_peer([198, 51, 100, 99], "1.1.1.1")).await;
    let stored = events(&sink);
    assert_eq!(stored[0]["context"]["ip"], "198.51.100.23");
    assert_eq!(stored[1]["context"]["ip"], "198.51.100.99");
}

#[tokio::test]
async fn client_ips_are_anonymized_when_configured() {
    let mut config = config();
    config.enrich.anonymize_ip = true;
    let (app, sink) = app_with(config);
    send(&app, from_peer([198, 51, 100, 99], "1.1.1.1")).await;
    assert_eq!(events(&sink)[0]["context"]["ip"], "198.51.100.0");
}

#[tokio::test]
async fn future_timestamps_are_clamped_and_flagged() {
    let (app, sink) = app_with(config());
    let body = json!({"batch": [{"type": "track", "event": "A", "userId": "u", "timestamp": "2026-11-24T10:00:00Z"}]});
    send(
        &app,
        post("/v1/batch")
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await;
    let event = &events(&sink)[0];
    assert_eq!(event["timestamp"], "2026-11-22T10:00:00.000Z");
    assert_eq!(event["originalTimestamp"], "2026-11-24T10:00:00Z");
    assert_eq!(event["context"]["footfall"]["clampedTimestamp"], true);
}

#[tokio::test]
async fn timestamps_are_corrected_for_client_clock_skew() {
    let (app, sink) = app_with(config());
    // The client's clock is 2 hours slow: it sent at 08:00 what the collector receives at 10:00.
    let body = json!({"batch": [{"type": "track", "event": "A", "userId": "u",
        "timestamp": "2026-11-22T07:59:30.250+00:00"}], "sentAt": "2026-11-22T08:00:00.000Z"});
    send(
        &app,
        post("/v1/batch")
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await;
    let event = &events(&sink)[0];
    assert_eq!(event["timestamp"], "2026-11-22T09:59:30.250Z");
    assert_eq!(event["receivedAt"], "2026-11-22T10:00:00.000Z");
}

fn write_schema(dir: &std::path::Path, name: &str, policy: &str) {
    let file = json!({"event": "Order Completed", "policy": policy,
        "schema": {"type": "object", "required": ["revenue"], "properties": {"revenue": {"type": "number"}}}});
    std::fs::write(dir.join(name), file.to_string()).unwrap();
}

fn order(revenue: serde_json::Value) -> Body {
    batch(
        json!([{"type": "track", "event": "Order Completed", "userId": "u", "properties": {"revenue": revenue}},
        track("other")]),
    )
}

#[tokio::test]
async fn schemas_reject_or_flag_violations() {
    let dir = tempfile::tempdir().unwrap();
    write_schema(dir.path(), "order.json", "reject");
    let mut config = config();
    config.schema_dir = Some(dir.path().to_owned());
    let (app, sink) = app_with(config.clone());
    let answer =
        json(send(&app, post("/v1/batch").body(order(json!("lots"))).unwrap()).await).await;
    assert_eq!(answer["results"][0]["status"], "drop");
    assert!(
        answer["results"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("revenue"),
        "{answer}"
    );
    assert_eq!(dead_letters(&sink)[0]["cause"], "schema");

    write_schema(dir.path(), "order.json", "flag");
    let (app, sink) = app_with(config);
    let answer =
        json(send(&app, post("/v1/batch").body(order(json!("lots"))).unwrap()).await).await;
    assert_eq!(answer["results"][0]["status"], "ok");
    let violations = &events(&sink)[0]["context"]["footfall"]["schemaViolations"];
    assert!(
        violations[0].as_str().unwrap().contains("revenue"),
        "{violations}"
    );
}

#[tokio::test]
async fn schemas_reload_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config();
    config.schema_dir = Some(dir.path().to_owned());
    let sink = std::sync::Arc::new(MemorySink::new());
    let state = AppState::new(&config, sink.clone()).unwrap();
    let reloader = footfall_collector::schemas::spawn_reloader(
        state.schemas().clone(),
        dir.path().to_owned(),
        Duration::from_millis(20),
    );
    let app = router(state);
    let answer =
        json(send(&app, post("/v1/batch").body(order(json!("lots"))).unwrap()).await).await;
    assert_eq!(answer["results"][0]["status"], "ok", "no schema yet");

    write_schema(dir.path(), "order.json", "reject");
    let mut rejected = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let answer =
            json(send(&app, post("/v1/batch").body(order(json!("lots"))).unwrap()).await).await;
        if answer["results"][0]["status"] == "drop" {
            rejected = true;
            break;
        }
    }
    reloader.abort();
    assert!(rejected, "the new schema was never loaded");
}

#[tokio::test]
async fn health_ready_and_metrics_answer() {
    let (app, _) = app_with(config());
    send(
        &app,
        post("/v1/batch")
            .body(batch(json!([track("m1"), {"type": "page"}])))
            .unwrap(),
    )
    .await;
    let health = send(&app, Request::get("/health").body(Body::empty()).unwrap()).await;
    assert_eq!(health.status(), StatusCode::OK);
    let ready = send(&app, Request::get("/ready").body(Body::empty()).unwrap()).await;
    assert_eq!(json(ready).await["sink"], "memory");
    let metrics = send(&app, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(metrics.status(), StatusCode::OK);
    let text = String::from_utf8(
        http_body_util::BodyExt::collect(metrics.into_body())
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert!(
        text.contains("footfall_collector_events_received_total"),
        "{text}"
    );
    assert!(
        text.contains("footfall_collector_events_dropped_total{cause=\"invalid\"}"),
        "{text}"
    );
    assert!(
        text.contains("footfall_collector_request_duration_seconds_bucket"),
        "{text}"
    );
}

#[tokio::test]
async fn unknown_paths_are_404_in_the_error_shape() {
    let (app, _) = app_with(config());
    let response = send(&app, post("/v2/batch").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(json(response).await["code"], "not_found");
}
