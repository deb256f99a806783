//! `GET /live-events` over the router: off without a token, refused without it, and a watcher sees a
//! request's stored events and dead letters, and requests refused whole, as its filter asks, until
//! shutdown begins.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use common::*;
use footfall_collector::{router, AppState, MemorySink};
use footfall_protocol::auth::basic_authorization;
use http_body_util::BodyExt;
use serde_json::json;

const TOKEN: &str = "live-0123456789abcdef0123456789abcdef";

fn watch(query: &str, token: Option<&str>) -> Request<Body> {
    let mut request = Request::get(format!("/live-events{query}"));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.body(Body::empty()).unwrap()
}

/// The next SSE event of a live stream, comments (keep-alives) skipped; `None` when it ended.
async fn next_event(body: &mut Body) -> Option<String> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("an event within 10 s")?
            .unwrap();
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let text = String::from_utf8(data.to_vec()).unwrap();
        if !text.starts_with(':') {
            return Some(text);
        }
    }
}

#[tokio::test]
async fn live_events_are_off_without_a_token_and_refused_without_it() {
    let (app, _) = app_with(config());
    assert_eq!(send(&app, watch("", Some(TOKEN))).await.status(), 404);

    let mut config = config();
    config.live_events_token = Some(TOKEN.into());
    let (app, _) = app_with(config);
    assert_eq!(send(&app, watch("", None)).await.status(), 401);
    let wrong = send(&app, watch("", Some("live-not-the-token-0123456789abcdef"))).await;
    assert_eq!(wrong.status(), 401);
    assert!(json(wrong).await["message"]
        .as_str()
        .unwrap()
        .contains("Bearer <live events token>"));
    let bad_filter = send(&app, watch("?outcome=lost", Some(TOKEN))).await;
    assert_eq!(bad_filter.status(), 400);
    let message = json(bad_filter).await["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("outcome=accepted|dropped|refused"),
        "{message}"
    );
}

#[tokio::test]
async fn a_watcher_sees_what_is_stored_as_its_filter_asks_until_shutdown_begins() {
    let mut config = config();
    config.live_events_token = Some(TOKEN.into());
    let state = AppState::new(&config, std::sync::Arc::new(MemorySink::new()))
        .unwrap()
        .with_clock(now);
    let app = router(state.clone());

    let everything = send(&app, watch("", Some(TOKEN))).await;
    assert_eq!(everything.status(), 200);
    assert_eq!(
        everything.headers()["content-type"],
        "text/event-stream",
        "an EventSource reads it"
    );
    let mut everything = everything.into_body();
    let mut drops = send(&app, watch("?project=shop&outcome=dropped", Some(TOKEN)))
        .await
        .into_body();
    let mut others = send(&app, watch("?project=blog", Some(TOKEN)))
        .await
        .into_body();

    let body = json!({"batch": [
        {"type": "track", "event": "Signed Up", "userId": "u1", "messageId": "m-ok"},
        {"type": "track", "userId": "u1", "messageId": "m-bad"}]});
    let answer = send(
        &app,
        post("/v1/batch")
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status(), 200);

    let accepted = next_event(&mut everything).await.unwrap();
    assert!(
        accepted.starts_with("event: accepted\ndata: {"),
        "{accepted}"
    );
    assert!(accepted.contains(r#""messageId":"m-ok""#), "{accepted}");
    assert!(
        accepted.contains(r#""projectId":"shop""#),
        "enriched: {accepted}"
    );
    let dropped = next_event(&mut everything).await.unwrap();
    assert!(dropped.starts_with("event: dropped\ndata: {"), "{dropped}");
    assert!(dropped.contains("event: required on a track"), "{dropped}");
    let only_drop = next_event(&mut drops).await.unwrap();
    assert_eq!(only_drop, dropped, "the filter skipped the accepted event");

    // A request refused whole, with a key no source has: shown, with the key, to the unfiltered watcher.
    let typo = Request::post("/v1/batch")
        .header("authorization", basic_authorization("wk_tset"))
        .body(Body::from(body.to_string()))
        .unwrap();
    assert_eq!(send(&app, typo).await.status(), 401);
    let refused = next_event(&mut everything).await.unwrap();
    assert!(refused.starts_with("event: refused\ndata: {"), "{refused}");
    for part in [
        r#""status":401"#,
        r#""writeKey":"wk_tset""#,
        r#""path":"/v1/batch""#,
    ] {
        assert!(refused.contains(part), "{part} in {refused}");
    }

    let text = metrics_text(&app).await;
    assert!(
        text.contains("footfall_collector_live_event_watchers 3"),
        "{text}"
    );

    state.begin_shutdown();
    assert_eq!(next_event(&mut everything).await, None, "shutdown ends it");
    assert_eq!(
        next_event(&mut others).await,
        None,
        "the blog's watcher saw nothing of the shop's"
    );
}
