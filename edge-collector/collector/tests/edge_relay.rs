//! `POST /edge/v1/records`: the origin side of the edge worker. Records an edge already processed are
//! stored byte for byte, only with the edge secret, under the origin's own limits.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use footfall_collector::config::RateLimit;
use footfall_collector::{Config, SinkError};
use serde_json::json;

const SECRET: &str = "an-edge-secret-of-at-least-32-characters";

fn edge_config() -> Config {
    let mut config = config();
    config.edge_secret = Some(SECRET.to_owned());
    config
}

fn relay(secret: &str, body: &serde_json::Value) -> Request<Body> {
    Request::post("/edge/v1/records")
        .header("authorization", format!("Bearer {secret}"))
        .header("content-encoding", "gzip")
        .body(Body::from(gzip(body.to_string().as_bytes())))
        .unwrap()
}

/// What an edge sends for one good event and one refused message.
fn body(write_key: &str) -> serde_json::Value {
    json!({"writeKey": write_key,
        "events": [{"messageId": "m1", "key": "wk_test:u1",
            "payload": {"type": "track", "event": "A", "messageId": "m1", "context": {"ip": "198.51.100.4", "footfall": {"geo": {"country": "DE"}}}}}],
        "deadLetters": [{"key": "wk_test", "cause": "invalid", "payload": {"writeKey": "wk_test", "reason": "event: required", "payload": {"type": "track"}}}]})
}

#[tokio::test]
async fn stores_what_the_edge_processed_as_it_is_and_answers_per_event() {
    let (app, sink) = app_with(edge_config());
    let response = send(&app, relay(SECRET, &body(KEY))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json(response).await,
        json!({"success": true, "results": [{"messageId": "m1", "status": "ok"}]})
    );
    let stored = &sink.events()[0];
    assert_eq!(stored.key, b"wk_test:u1");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&stored.payload).unwrap(),
        body(KEY)["events"][0]["payload"],
        "the client IP and geo the edge saw are kept, not re-enriched from the worker's address"
    );
    assert_eq!(dead_letters(&sink)[0]["reason"], "event: required");
}

#[tokio::test]
async fn is_off_without_an_edge_secret_and_refuses_a_wrong_one() {
    let (app, sink) = app_with(config());
    let response = send(&app, relay(SECRET, &body(KEY))).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let (app, _) = app_with(edge_config());
    for secret in [
        "",
        "an-edge-secret-of-at-least-32-characterz",
        "an-edge-secret",
    ] {
        let response = send(&app, relay(secret, &body(KEY))).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{secret:?}");
        assert_eq!(json(response).await["code"], "unauthorized");
    }
    let basic = Request::post("/edge/v1/records")
        .header(
            "authorization",
            footfall_protocol::auth::basic_authorization(KEY),
        )
        .body(Body::from(body(KEY).to_string()))
        .unwrap();
    assert_eq!(
        send(&app, basic).await.status(),
        StatusCode::UNAUTHORIZED,
        "a write key is not the edge secret"
    );
    assert!(sink.events().is_empty());
}

#[tokio::test]
async fn refuses_an_unknown_write_key_and_a_body_that_is_not_a_relay_batch() {
    let (app, sink) = app_with(edge_config());
    let response = send(&app, relay(SECRET, &body("wk_other"))).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = send(&app, relay(SECRET, &json!({"batch": []}))).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(response).await["code"], "invalid_request");
    assert!(sink.events().is_empty() && sink.dead_letters().is_empty());
}

#[tokio::test]
async fn applies_the_origin_rate_limit_and_answers_503_when_the_sink_fails() {
    let mut config = edge_config();
    config.rate_limit = Some(RateLimit {
        events_per_sec: 1.try_into().unwrap(),
        burst: 2.try_into().unwrap(),
    });
    let (app, sink) = app_with(config);
    assert_eq!(
        send(&app, relay(SECRET, &body(KEY))).await.status(),
        StatusCode::OK
    );
    let limited = send(&app, relay(SECRET, &body(KEY))).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key("retry-after"));

    let (app, sink_failing) = app_with(edge_config());
    sink_failing.fail_with(Some(SinkError::Retriable("busy".into())));
    let failed = send(&app, relay(SECRET, &body(KEY))).await;
    assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(failed.headers()["retry-after"], "5");
    assert_eq!(sink.events().len(), 1, "only the first, allowed, request");
}
