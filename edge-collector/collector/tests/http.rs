//! `router(state).oneshot(..)` tests of what needs the collector's insides: a failing sink, trusted
//! proxies, IP anonymization, schemas, field-level drop reasons, health and metrics. Everything a
//! client can see over HTTP (each endpoint, each error status, CORS, gzip, beacons, clock skew, rate
//! limits) is in the black-box suite `footfall-conformance`, run against this collector by its
//! `tests/native.rs` and through the edge worker by `tests/edge.rs`.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use common::*;
use footfall_collector::config::RateLimit;
use footfall_collector::{router, AppState, MemorySink, SinkError};
use footfall_ingest::Source;
use footfall_protocol::auth::basic_authorization;
use serde_json::json;

fn batch(messages: serde_json::Value) -> Body {
    Body::from(json!({"batch": messages, "sentAt": "2026-11-22T10:00:00Z"}).to_string())
}

fn track(id: &str) -> serde_json::Value {
    json!({"type": "track", "event": "Viewed", "userId": "u1", "messageId": id, "timestamp": "2026-11-22T09:59:59Z"})
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
    let body = json(ready).await;
    assert_eq!(body["status"], "not ready");
    assert!(
        body["reason"]
            .as_str()
            .is_some_and(|why| why.contains("disk budget exceeded")),
        "the probe says why: {body}"
    );
    sink.fail_with(None);
    let ready = send(&app, Request::get("/ready").body(Body::empty()).unwrap()).await;
    assert_eq!(ready.status(), StatusCode::OK);
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

/// A schema for the track event `event` (`revenue` must be a number) in `dir/name`. Each test names
/// its own event, so that the per-schema counters it reads are its own.
fn write_schema(dir: &std::path::Path, name: &str, event: &str, policy: &str) {
    let file = json!({"event": event, "policy": policy,
        "schema": {"type": "object", "required": ["revenue"], "properties": {"revenue": {"type": "number"}}}});
    std::fs::write(dir.join(name), file.to_string()).unwrap();
}

fn order(event: &str, revenue: serde_json::Value) -> Body {
    batch(
        json!([{"type": "track", "event": event, "userId": "u", "properties": {"revenue": revenue}},
        track("other")]),
    )
}

/// The value of one series on the app's `/metrics`, 0 when it is absent.
async fn sample(app: &axum::Router, series: &str) -> f64 {
    metrics_text(app)
        .await
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn schemas_reject_or_flag_violations() {
    let dir = tempfile::tempdir().unwrap();
    write_schema(dir.path(), "order.json", "Order Completed", "reject");
    let mut config = config();
    config.schema_dir = Some(dir.path().to_owned());
    let (app, sink) = app_with(config.clone());
    let order = |revenue| order("Order Completed", revenue);
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
    let violations = |policy: &str| {
        format!(
            r#"footfall_collector_schema_violations_total{{project="shop",type="track",event="Order Completed",policy="{policy}"}}"#
        )
    };
    assert_eq!(sample(&app, &violations("reject")).await, 1.0);
    send(&app, post("/v1/batch").body(order(json!(12.5))).unwrap()).await;
    assert_eq!(
        sample(&app, &violations("reject")).await,
        1.0,
        "a conforming event is no violation"
    );

    write_schema(dir.path(), "order.json", "Order Completed", "flag");
    let (app, sink) = app_with(config.clone());
    let answer =
        json(send(&app, post("/v1/batch").body(order(json!("lots"))).unwrap()).await).await;
    assert_eq!(answer["results"][0]["status"], "ok");
    let listed = &events(&sink)[0]["context"]["footfall"]["schemaViolations"];
    assert!(listed[0].as_str().unwrap().contains("revenue"), "{listed}");
    assert_eq!(sample(&app, &violations("flag")).await, 1.0);
    assert_eq!(sample(&app, &violations("reject")).await, 1.0);

    // The traits of identify messages, from a file with "type" instead of "event".
    let traits = json!({"type": "identify", "policy": "reject",
        "schema": {"type": "object", "required": ["plan"]}});
    std::fs::write(dir.path().join("identify.json"), traits.to_string()).unwrap();
    let (app, sink) = app_with(config);
    let identify = json!({"type": "identify", "userId": "u", "traits": {"name": "Ada"}});
    let answer = json(
        send(
            &app,
            post("/v1/batch").body(batch(json!([identify]))).unwrap(),
        )
        .await,
    )
    .await;
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.contains("schema of identify traits: traits/: "),
        "{answer}"
    );
    assert_eq!(dead_letters(&sink)[0]["cause"], "schema");
    let identify_violations = r#"footfall_collector_schema_violations_total{project="shop",type="identify",event="",policy="reject"}"#;
    assert_eq!(sample(&app, identify_violations).await, 1.0);
}

/// `GET /v1/projects/{key}/settings` from `peer`, with `headers`.
async fn source_settings(
    app: &axum::Router,
    key: &str,
    peer: [u8; 4],
    headers: &[(&str, &str)],
) -> axum::http::Response<Body> {
    let mut request = Request::get(format!("/v1/projects/{key}/settings"))
        .extension(ConnectInfo(SocketAddr::from((peer, 5555))));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send(app, request.body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn segments_sdks_load_source_settings_that_name_this_collector() {
    let mut config = config();
    config.enrich.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
    let (app, _) = app_with(config.clone());

    let unknown = source_settings(&app, "wk_nobody", [203, 0, 113, 9], &[]).await;
    assert_eq!(unknown.status(), 404);

    let direct = source_settings(
        &app,
        KEY,
        [203, 0, 113, 9],
        &[
            ("host", "collector.test:8080"),
            ("origin", "https://shop.test"),
            // From a client, not a trusted proxy: ignored.
            ("x-forwarded-host", "evil.test"),
        ],
    )
    .await;
    assert_eq!(direct.status(), 200);
    let headers = direct.headers().clone();
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(headers["cache-control"], "private, max-age=300");
    assert!(headers["vary"].to_str().unwrap().contains("Host"));
    let settings = json(direct).await;
    let segment = &settings["integrations"]["Segment.io"];
    assert_eq!(segment["apiKey"], KEY);
    assert_eq!(segment["apiHost"], "collector.test:8080/v1");
    assert_eq!(segment["protocol"], "http");
    assert_eq!(
        settings["metrics"]["sampleRate"], 0,
        "no telemetry to Segment"
    );
    let served = r#"footfall_collector_sdk_settings_served_total{project="shop",sdk="segment"}"#;
    assert!(sample(&app, served).await >= 1.0, "counted");

    let proxied = source_settings(
        &app,
        KEY,
        [10, 1, 2, 3],
        &[
            ("host", "10.1.2.4:8080"),
            ("x-forwarded-host", "events.shop.test"),
            ("x-forwarded-proto", "https"),
        ],
    )
    .await;
    let segment = json(proxied).await["integrations"]["Segment.io"].clone();
    assert_eq!(segment["apiHost"], "events.shop.test/v1");
    assert_eq!(segment["protocol"], "https");

    let junk = source_settings(&app, KEY, [203, 0, 113, 9], &[("host", "a@evil.test")]).await;
    let segment = json(junk).await["integrations"]["Segment.io"].clone();
    assert_eq!(
        segment["apiHost"], "localhost/v1",
        "only a host and port is believed"
    );

    config.public_url = Some(
        footfall_collector::config::PublicUrl::parse("https://collector.shop.test/footfall")
            .unwrap(),
    );
    let (app, _) = app_with(config);
    let configured = source_settings(&app, KEY, [203, 0, 113, 9], &[("host", "x.test")]).await;
    assert_eq!(configured.headers()["cache-control"], "public, max-age=300");
    let segment = json(configured).await["integrations"]["Segment.io"].clone();
    assert_eq!(segment["apiHost"], "collector.shop.test/footfall/v1");
    assert_eq!(segment["protocol"], "https");
}

#[tokio::test]
async fn rudderstacks_sdks_load_their_source_config_by_key_in_the_query_or_basic_auth() {
    let (app, _) = app_with(config());
    let get = |path: &str, auth: Option<String>| {
        let mut request = Request::get(path);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        send(&app, request.body(Body::empty()).unwrap())
    };
    let by_query = get(
        &format!("/sourceConfig/?p=npm&v=3.11.0&build=modern&writeKey={KEY}&lockIntegrationsVersion=false"),
        None,
    )
    .await;
    assert_eq!(by_query.status(), 200);
    let config = json(by_query).await;
    assert_eq!(config["source"]["writeKey"], KEY);
    assert_eq!(config["source"]["id"], "web");
    assert_eq!(config["source"]["enabled"], true);
    assert_eq!(config["source"]["destinations"], json!([]));

    let served =
        r#"footfall_collector_sdk_settings_served_total{project="shop",sdk="rudderstack"}"#;
    assert!(sample(&app, served).await >= 1.0, "counted");
    let by_auth = get("/sourceConfig?p=android", Some(basic_authorization(KEY))).await;
    assert_eq!(json(by_auth).await["source"]["workspaceId"], "shop");
    assert_eq!(
        get("/sourceConfig/?writeKey=wk_nobody", None)
            .await
            .status(),
        404
    );
    assert_eq!(get("/sourceConfig/", None).await.status(), 401);
}

#[tokio::test]
async fn page_schemas_are_counted_by_the_page_they_are_for() {
    let dir = tempfile::tempdir().unwrap();
    let pricing = json!({"type": "page", "name": "Pricing", "policy": "reject",
        "schema": {"type": "object", "required": ["plan"]}});
    std::fs::write(dir.path().join("pricing.json"), pricing.to_string()).unwrap();
    let every = json!({"type": "page", "schema": {"type": "object", "required": ["path"]}});
    std::fs::write(dir.path().join("every-page.json"), every.to_string()).unwrap();
    let mut config = config();
    config.schema_dir = Some(dir.path().to_owned());
    let (app, sink) = app_with(config);
    let pages = json!([
        {"type": "page", "name": "Pricing", "userId": "u", "properties": {"path": "/pricing"}},
        {"type": "page", "name": "Home", "userId": "u"}]);
    let answer = json(send(&app, post("/v1/batch").body(batch(pages)).unwrap()).await).await;
    assert_eq!(answer["results"][0]["status"], "drop", "{answer}");
    assert_eq!(answer["results"][1]["status"], "ok", "flagged: {answer}");
    let home = &events(&sink)[0];
    assert_eq!(home["name"], "Home");
    assert!(home["context"]["footfall"]["schemaViolations"][0]
        .as_str()
        .unwrap()
        .contains("\"path\""));
    let series = |event: &str, policy: &str| {
        format!(
            r#"footfall_collector_schema_violations_total{{project="shop",type="page",event="{event}",policy="{policy}"}}"#
        )
    };
    assert_eq!(sample(&app, &series("Pricing", "reject")).await, 1.0);
    assert_eq!(sample(&app, &series("", "flag")).await, 1.0);
}

#[tokio::test]
async fn a_projects_directory_holds_its_own_schemas() {
    let dir = tempfile::tempdir().unwrap();
    // Every project's: revenue is a number. (Not "Order Completed": the metrics are the process's, and
    // another test counts that one's.) The blog's own: revenue is not asked for.
    write_schema(dir.path(), "order.json", "Order Placed", "reject");
    std::fs::create_dir(dir.path().join("blog")).unwrap();
    let optional =
        json!({"event": "Order Placed", "policy": "reject", "schema": {"type": "object"}});
    std::fs::write(dir.path().join("blog/order.json"), optional.to_string()).unwrap();
    // What a Kubernetes ConfigMap mount adds: skipped, or its broken file would stop the start.
    std::fs::create_dir(dir.path().join("..data")).unwrap();
    std::fs::write(dir.path().join("..data/broken.json"), "{").unwrap();

    let mut config = config();
    config.write_keys.insert(
        "wk_blog",
        Source {
            project_id: "blog".into(),
            source_id: "web".into(),
        },
    );
    config.schema_dir = Some(dir.path().to_owned());
    let (app, sink) = app_with(config.clone());
    let lots = || order("Order Placed", json!("lots"));
    let shop = json(send(&app, post("/v1/batch").body(lots()).unwrap()).await).await;
    assert_eq!(shop["results"][0]["status"], "drop", "{shop}");
    let blog = Request::post("/v1/batch")
        .header("authorization", basic_authorization("wk_blog"))
        .extension(ConnectInfo(SocketAddr::from(([203, 0, 113, 10], 5555))))
        .body(lots())
        .unwrap();
    let blog = json(send(&app, blog).await).await;
    assert_eq!(blog["results"][0]["status"], "ok", "{blog}");
    assert_eq!(events(&sink).len(), 3);
    let blog_violations = r#"footfall_collector_schema_violations_total{project="blog",type="track",event="Order Placed",policy="reject"}"#;
    assert_eq!(sample(&app, blog_violations).await, 0.0);

    // A file that names another project than its directory's is refused, naming both.
    let misplaced = json!({"event": "X", "project": "shop", "schema": {}});
    std::fs::write(dir.path().join("blog/x.json"), misplaced.to_string()).unwrap();
    let sink = std::sync::Arc::new(MemorySink::new());
    let error = AppState::new(&config, sink).unwrap_err().to_string();
    assert!(
        error.contains(r#""project": "shop", but it is in "blog"'s directory"#),
        "{error}"
    );
}

#[tokio::test]
async fn unplanned_events_are_counted_without_their_names() {
    let dir = tempfile::tempdir().unwrap();
    write_schema(dir.path(), "order.json", "Order Planned", "reject");
    let mut config = config();
    config.schema_dir = Some(dir.path().to_owned());
    config.unplanned_events = footfall_ingest::UnplannedEvents::Reject;
    let (app, sink) = app_with(config);
    let unplanned = r#"footfall_collector_unplanned_events_total{project="shop",policy="reject"}"#;
    let before = sample(&app, unplanned).await;
    // Both of its events are unplanned ("Viewed" has no schema either): a 400 naming the first.
    let answer = json(
        send(
            &app,
            post("/v1/batch")
                .body(order("Order Typo", json!(5)))
                .unwrap(),
        )
        .await,
    )
    .await;
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.contains(r#""Order Typo" is not in the tracking plan"#),
        "{answer}"
    );
    assert_eq!(dead_letters(&sink).len(), 2);
    assert_eq!(sample(&app, unplanned).await, before + 2.0);
    assert!(
        !metrics_text(&app).await.contains("Order Typo"),
        "an unplanned event's name became a label"
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
        state.clone(),
        dir.path().to_owned(),
        Duration::from_millis(20),
    );
    let app = router(state);
    let order = |revenue| order("Order Reloaded", revenue);
    let status = |app: axum::Router| async move {
        let answer = send(&app, post("/v1/batch").body(order(json!("lots"))).unwrap()).await;
        json(answer).await["results"][0]["status"].clone()
    };
    assert_eq!(status(app.clone()).await, "ok", "no schema yet");

    let reloads =
        |result: &str| format!(r#"footfall_collector_schema_reloads_total{{result="{result}"}}"#);
    let applied_before = sample(&app, &reloads("applied")).await;
    write_schema(dir.path(), "order.json", "Order Reloaded", "reject");
    let mut rejected = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if status(app.clone()).await == "drop" {
            rejected = true;
            break;
        }
    }
    assert!(rejected, "the new schema was never loaded");
    assert!(sample(&app, &reloads("applied")).await > applied_before);

    // A file that does not compile: refused and counted, and the schemas in force stay.
    let refused_before = sample(&app, &reloads("refused")).await;
    std::fs::write(dir.path().join("broken.json"), "{\"event\": ").unwrap();
    let mut refused = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if sample(&app, &reloads("refused")).await > refused_before {
            refused = true;
            break;
        }
    }
    reloader.abort();
    assert!(refused, "the broken file was never counted");
    assert_eq!(
        status(app.clone()).await,
        "drop",
        "the previous schemas stay"
    );
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
    let text = metrics_text(&app).await;
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

/// The value of one series in the Prometheus text, 0 when absent.
fn series(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name_and_labels)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn each_sources_events_are_counted_by_outcome() {
    // A source of its own: the recorder is shared by every test in this binary.
    let mut config = config();
    config.write_keys.insert(
        "wk_counted",
        footfall_ingest::Source {
            project_id: "shop".into(),
            source_id: "counted".into(),
        },
    );
    config.rate_limit = Some(RateLimit {
        events_per_sec: std::num::NonZeroU32::new(1).unwrap(),
        burst: std::num::NonZeroU32::new(3).unwrap(),
    });
    let (app, sink) = app_with(config);
    let request = |body: serde_json::Value| {
        Request::post("/v1/batch")
            .header(
                "authorization",
                footfall_protocol::auth::basic_authorization("wk_counted"),
            )
            .body(batch(body))
            .unwrap()
    };
    let invalid = json!({"type": "track", "userId": "u1", "messageId": "bad"});
    let answer = send(&app, request(json!([track("a1"), track("a2"), invalid]))).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let limited = send(&app, request(json!([track("a3"), track("a4")]))).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    sink.fail_with(Some(SinkError::Retriable("broker busy".into())));
    // The limiter's budget is spent; a sink failure needs a key without one.
    let failed = send(
        &app,
        post("/v1/batch").body(batch(json!([track("b1")]))).unwrap(),
    )
    .await;
    assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);

    let text = metrics_text(&app).await;
    let counted = |outcome: &str| {
        series(
            &text,
            &format!("footfall_collector_source_events_total{{project=\"shop\",source=\"counted\",outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!(counted("accepted"), 2.0, "{text}");
    assert_eq!(counted("invalid"), 1.0);
    assert_eq!(counted("rate_limited"), 2.0);
    assert!(
        series(
            &text,
            "footfall_collector_source_events_total{project=\"shop\",source=\"web\",outcome=\"unavailable\"}"
        ) >= 1.0,
        "{text}"
    );
}
