use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use footfall_processor::Processor;
use footfall_store::{DeadLetterRow, DuckStore, EventRow, Store};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::*;

fn app() -> Router {
    let store = Arc::new(DuckStore::open_in_memory().unwrap());
    store
        .insert_events(&[
            EventRow::track("shop", "m1", "View", "a1", "", 1000)
                .with_properties(json!({"plan": "pro"})),
            EventRow::track("shop", "m2", "Buy", "a1", "u1", 2000),
            EventRow::track("other", "m3", "View", "a9", "", 1000),
        ])
        .unwrap();
    store
        .insert_dead_letters(&[DeadLetterRow {
            id: "dl-1".into(),
            project_id: "shop".into(),
            received_ms: 1,
            cause: "schema".into(),
            reason: "bad".into(),
            payload: r#"{"type":"track","event":"Fixed","anonymousId":"a1"}"#.into(),
            replayed_ms: 0,
        }])
        .unwrap();
    let mut keys = ReadKeys::default();
    keys.insert("rk", "shop");
    let processor = Arc::new(Mutex::new(Processor::new(store.clone()).unwrap()));
    api_router(AppState::new(store, keys).with_processor(processor))
}

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    let req = req
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn reads_need_a_read_key() {
    let app = app();
    let body = json!({"from": 0, "to": 3_600_000});
    assert_eq!(
        call(&app, "POST", "/v1/query/sessions", None, Some(body.clone()))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(
            &app,
            "POST",
            "/v1/query/sessions",
            Some("wk_write"),
            Some(body.clone())
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&app, "POST", "/v1/query/sessions", Some("rk"), Some(body))
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn trends_are_scoped_to_the_key_project() {
    let (status, body) = call(&app(), "POST", "/v1/query/trends", Some("rk"), Some(json!({"from": 0, "to": 3_600_000, "interval": "hour", "events": ["View"], "breakdown": "plan"}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["series"],
        json!([{"event": "View", "bucket_ms": 0, "bucket": "1970-01-01T00:00:00.000Z", "breakdown": "pro", "count": 1, "persons": 1}])
    );
}

#[tokio::test]
async fn invalid_parameters_are_named() {
    let (status, body) = call(
        &app(),
        "POST",
        "/v1/query/funnel",
        Some("rk"),
        Some(json!({"steps": ["View"], "from": 0, "to": 10})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["param"], "steps");
    let (status, body) = call(
        &app(),
        "POST",
        "/v1/query/funnel",
        Some("rk"),
        Some(json!({"steps": ["a", "b"], "from": 0, "to": 10, "bogus": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unknown field `bogus`"));
}

#[tokio::test]
async fn funnel_retention_and_timeline_answer() {
    let app = app();
    let (s, f) = call(
        &app,
        "POST",
        "/v1/query/funnel",
        Some("rk"),
        Some(json!({"steps": ["View", "Buy"], "from": 0, "to": 3_600_000})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(f["total"][1]["count"], 0, "a1 is not linked to u1 yet: {f}");
    let (s, r) = call(
        &app,
        "POST",
        "/v1/query/retention",
        Some("rk"),
        Some(json!({"cohort_event": "View", "return_event": "Buy", "from": 0, "to": 86_400_000})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["cohorts"][0]["size"], 1);
    let (s, t) = call(
        &app,
        "GET",
        "/v1/persons/a1/timeline?limit=10",
        Some("rk"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(t["events"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn dead_letters_list_show_and_replay() {
    let app = app();
    let (_, list) = call(&app, "GET", "/v1/dead-letters", Some("rk"), None).await;
    assert_eq!(list["dead_letters"][0]["id"], "dl-1");
    assert_eq!(
        call(&app, "GET", "/v1/dead-letters/dl-1", Some("rk"), None)
            .await
            .1["reason"],
        "bad"
    );
    assert_eq!(
        call(&app, "GET", "/v1/dead-letters/nope", Some("rk"), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (s, r) = call(
        &app,
        "POST",
        "/v1/dead-letters/dl-1/replay",
        Some("rk"),
        None,
    )
    .await;
    assert_eq!((s, r["stored"].clone()), (StatusCode::OK, json!(1)));
    let (_, list) = call(&app, "GET", "/v1/dead-letters", Some("rk"), None).await;
    assert_eq!(list["dead_letters"], json!([]));
}
