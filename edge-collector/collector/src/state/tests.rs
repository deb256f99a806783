use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use footfall_ingest::{RateLimit, SchemaRegistry, Source, UnplannedEvents, WriteKeys};
use tower::ServiceExt as _;

use super::*;
use crate::{router, MemorySink, SinkConfig};

fn keys(names: &[&str]) -> WriteKeys {
    names
        .iter()
        .map(|name| {
            let source = Source {
                project_id: "shop".into(),
                source_id: (*name).into(),
            };
            ((*name).to_owned(), source)
        })
        .collect()
}

fn state(config: &Config) -> AppState {
    AppState::new(config, Arc::new(MemorySink::new())).unwrap()
}

/// The status of a one-event `POST /v1/track` with `write_key`.
async fn track(state: &AppState, write_key: &str) -> u16 {
    let request = Request::post("/v1/track")
        .header(
            "authorization",
            footfall_protocol::auth::basic_authorization(write_key),
        )
        .body(Body::from(r#"{"event":"Signed Up","userId":"u1"}"#))
        .unwrap();
    let response = router(state.clone()).oneshot(request).await.unwrap();
    response.status().as_u16()
}

fn limit(events_per_sec: u32, burst: u32) -> RateLimit {
    RateLimit {
        events_per_sec: NonZeroU32::new(events_per_sec).unwrap(),
        burst: NonZeroU32::new(burst).unwrap(),
    }
}

#[tokio::test]
async fn a_reload_adds_and_revokes_write_keys() {
    let state = state(&Config::new(keys(&["wk_old"])));
    assert_eq!(track(&state, "wk_old").await, 200);
    assert_eq!(track(&state, "wk_new").await, 401);

    let reloaded = state.reload(&Config::new(keys(&["wk_new"]))).unwrap();
    assert_eq!(reloaded.applied, ["write_keys"]);
    assert!(reloaded.need_restart.is_empty());
    assert_eq!(reloaded.write_keys, 1);
    assert_eq!(track(&state, "wk_new").await, 200);
    assert_eq!(
        track(&state, "wk_old").await,
        401,
        "a revoked key still works"
    );
}

#[tokio::test]
async fn settings_that_need_a_restart_are_reported_and_keep_their_old_values() {
    let before = Config::new(keys(&["wk"]));
    let state = state(&before);
    let mut after = before.clone();
    after.listen = "127.0.0.1:9999".parse::<SocketAddr>().unwrap();
    after.sink = SinkConfig::Log {
        events_dir: "/tmp/e".into(),
        dead_letter_dir: "/tmp/d".into(),
        max_disk_bytes: None,
    };
    after.retry_after = Duration::from_secs(30);
    after.max_request_memory_bytes = 64 << 20;
    // Read when shutdown begins, so a reload applies it; the drain deadline is the accept loop's.
    after.shutdown_delay = Duration::from_secs(7);
    after.connection_limits.drain_timeout = Duration::from_secs(3);

    let reloaded = state.reload(&after).unwrap();
    assert_eq!(
        reloaded.applied,
        ["retry_after_secs", "shutdown_delay_secs"]
    );
    let restart = [
        "listen",
        "sink",
        "shutdown_timeout_secs",
        "max_request_memory_bytes",
    ];
    assert_eq!(reloaded.need_restart, restart);
    let in_force = state.config();
    assert_eq!(in_force.listen, before.listen);
    assert_eq!(in_force.sink, SinkConfig::Memory);
    assert_eq!(
        in_force.max_request_memory_bytes,
        before.max_request_memory_bytes
    );
    assert_eq!(in_force.retry_after, Duration::from_secs(30));
    assert_eq!(in_force.shutdown_delay, Duration::from_secs(7));
    assert_eq!(
        in_force.connection_limits.drain_timeout,
        before.connection_limits.drain_timeout
    );

    // Still different from what is in force, so reported again; nothing else changed.
    let again = state.reload(&after).unwrap();
    assert!(again.applied.is_empty(), "{again:?}");
    assert_eq!(again.need_restart, restart);
}

#[tokio::test]
async fn an_unchanged_rate_limit_keeps_each_keys_spent_budget() {
    let mut config = Config::new(keys(&["wk"]));
    config.rate_limit = Some(limit(1, 2));
    let state = state(&config);
    assert_eq!(track(&state, "wk").await, 200);
    assert_eq!(track(&state, "wk").await, 200);
    assert_eq!(track(&state, "wk").await, 429);

    // A reload for another reason must not refill the budget, or every SIGHUP would let a burst through.
    let mut more_keys = config.clone();
    more_keys.write_keys = keys(&["wk", "wk_other"]);
    assert_eq!(state.reload(&more_keys).unwrap().applied, ["write_keys"]);
    assert_eq!(track(&state, "wk").await, 429);

    let mut higher = more_keys.clone();
    higher.rate_limit = Some(limit(1, 5));
    assert_eq!(state.reload(&higher).unwrap().applied, ["rate_limit"]);
    assert_eq!(track(&state, "wk").await, 200, "the new limit is in force");

    let mut off = higher.clone();
    off.rate_limit = None;
    state.reload(&off).unwrap();
    for _ in 0..10 {
        assert_eq!(track(&state, "wk").await, 200);
    }
}

#[tokio::test]
async fn a_geoip_database_that_cannot_be_read_refuses_the_whole_reload() {
    let state = state(&Config::new(keys(&["wk_old"])));
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(keys(&["wk_new"]));
    config.geoip_db = Some(dir.path().join("missing.mmdb"));
    let error = state.reload(&config).unwrap_err().to_string();
    assert!(
        error.contains("cannot read GeoIP database") && error.contains("missing.mmdb"),
        "{error}"
    );

    let garbage = dir.path().join("garbage.mmdb");
    std::fs::write(&garbage, b"not a MaxMind database").unwrap();
    config.geoip_db = Some(garbage);
    let error = state.reload(&config).unwrap_err().to_string();
    assert!(error.contains("invalid GeoIP database"), "{error}");

    assert_eq!(track(&state, "wk_old").await, 200, "the old keys stay");
    assert_eq!(
        track(&state, "wk_new").await,
        401,
        "nothing of the refused one applies"
    );
    assert_eq!(state.config().geoip_db, None);
}

#[tokio::test]
async fn an_edge_secret_is_rotated_with_the_previous_one_accepted_meanwhile() {
    let old = "o".repeat(32);
    let new = "n".repeat(32);
    let mut config = Config::new(keys(&["wk"]));
    config.edge_secret = Some(old.clone());
    let state = state(&config);
    let relay = |secret: &str| {
        Request::post(footfall_ingest::relay::RELAY_PATH)
            .header("authorization", format!("Bearer {secret}"))
            .body(Body::from("{}"))
            .unwrap()
    };
    let status = |request: Request<Body>| {
        let app = router(state.clone());
        async move { app.oneshot(request).await.unwrap().status().as_u16() }
    };
    // A body the relay cannot decode is a 400: the secret was accepted.
    assert_eq!(status(relay(&old)).await, 400);
    assert_eq!(status(relay(&new)).await, 401);

    // A rotation: the new secret, with the old one still accepted while the workers move over.
    config.edge_secret = Some(new.clone());
    config.edge_secret_previous = Some(old.clone());
    assert_eq!(state.reload(&config).unwrap().applied, ["edge_secret"]);
    assert_eq!(status(relay(&old)).await, 400);
    assert_eq!(status(relay(&new)).await, 400);
    assert_eq!(status(relay(&"x".repeat(32))).await, 401);

    config.edge_secret_previous = None;
    assert_eq!(state.reload(&config).unwrap().applied, ["edge_secret"]);
    assert_eq!(status(relay(&old)).await, 401);
    assert_eq!(status(relay(&new)).await, 400);

    config.edge_secret = None;
    state.reload(&config).unwrap();
    assert_eq!(status(relay(&new)).await, 404, "the relay is off");
}

#[tokio::test]
async fn a_reload_turns_the_live_events_on_and_changes_their_token() {
    let mut config = Config::new(keys(&["wk"]));
    let state = state(&config);
    let watch = |token: &str| {
        let request = Request::get("/live-events")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let app = router(state.clone());
        async move { app.oneshot(request).await.unwrap().status().as_u16() }
    };
    let (first, second) = ("a".repeat(32), "b".repeat(32));
    assert_eq!(watch(&first).await, 404, "off without a token");
    config.live_events_token = Some(first.clone());
    assert_eq!(
        state.reload(&config).unwrap().applied,
        ["live_events_token"]
    );
    assert_eq!(watch(&first).await, 200);
    config.live_events_token = Some(second.clone());
    state.reload(&config).unwrap();
    assert_eq!(watch(&first).await, 401);
    assert_eq!(watch(&second).await, 200);
}

#[tokio::test]
async fn a_keys_own_rate_limit_is_put_in_force_by_a_reload() {
    let mut config = Config::new(keys(&["web", "server"]));
    config.rate_limit = Some(limit(1, 1));
    let state = state(&config);
    assert_eq!(track(&state, "server").await, 200);
    assert_eq!(track(&state, "server").await, 429);

    // The server source gets a limit of its own; the web source keeps the default.
    config.key_rate_limits = [("server".to_owned(), Some(limit(1, 3)))].into();
    assert_eq!(state.reload(&config).unwrap().applied, ["rate_limits"]);
    for _ in 0..3 {
        assert_eq!(track(&state, "server").await, 200);
    }
    assert_eq!(track(&state, "server").await, 429);
    assert_eq!(track(&state, "web").await, 200);
    assert_eq!(track(&state, "web").await, 429);

    // And then none at all.
    config.key_rate_limits = [("server".to_owned(), None)].into();
    state.reload(&config).unwrap();
    for _ in 0..10 {
        assert_eq!(track(&state, "server").await, 200);
    }
}

#[tokio::test]
async fn a_reload_closes_the_tracking_plan_only_once_there_is_one() {
    // "Signed Up", the event `track` sends, has no schema: the plan has only "Planned".
    let dir = tempfile::tempdir().unwrap();
    let schema = r#"{"event": "Planned", "schema": {"type": "object"}}"#;
    std::fs::write(dir.path().join("planned.json"), schema).unwrap();
    let open = Config::new(keys(&["wk"]));
    let mut closed = open.clone();
    closed.schema_dir = Some(dir.path().to_owned());
    closed.unplanned_events = UnplannedEvents::Reject;

    // Without a schema directory in force, rejecting would refuse every track event: it waits for
    // the restart that turns the directory on.
    let without_plan = state(&open);
    let reloaded = without_plan.reload(&closed).unwrap();
    assert!(reloaded.applied.is_empty(), "{reloaded:?}");
    assert_eq!(reloaded.need_restart, ["unplanned_events", "schema_dir"]);
    assert_eq!(track(&without_plan, "wk").await, 200);

    let mut planned = closed.clone();
    planned.unplanned_events = UnplannedEvents::Accept;
    let with_plan = state(&planned);
    assert_eq!(track(&with_plan, "wk").await, 200);
    let reloaded = with_plan.reload(&closed).unwrap();
    assert_eq!(reloaded.applied, ["unplanned_events"]);
    assert_eq!(
        track(&with_plan, "wk").await,
        400,
        "refused: not in the plan"
    );
    assert_eq!(
        with_plan.schemas().get().unplanned(),
        UnplannedEvents::Reject
    );

    // A change of the directory's files keeps the policy in force.
    with_plan.schemas().replace(SchemaRegistry::new());
    assert_eq!(track(&with_plan, "wk").await, 400);
    with_plan.reload(&planned).unwrap();
    assert_eq!(track(&with_plan, "wk").await, 200);
}
