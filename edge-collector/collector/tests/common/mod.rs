//! Shared helpers for the collector's integration tests.
#![allow(dead_code)]

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use footfall_collector::{router, AppState, Config, MemorySink};
use footfall_ingest::{Source, WriteKeys};
use http_body_util::BodyExt;
use serde_json::Value;
use time::OffsetDateTime;
use tower::ServiceExt;

/// The write key every test uses.
pub const KEY: &str = "wk_test";

/// The fixed time of arrival in tests.
pub fn now() -> OffsetDateTime {
    footfall_ingest::timestamp::parse_timestamp("2026-11-22T10:00:00Z").unwrap()
}

/// A config knowing [`KEY`] (project `shop`, source `web`).
pub fn config() -> Config {
    let mut keys = WriteKeys::new();
    keys.insert(
        KEY,
        Source {
            project_id: "shop".into(),
            source_id: "web".into(),
        },
    );
    Config::new(keys)
}

/// A router over a memory sink, with the fixed clock.
pub fn app_with(config: Config) -> (axum::Router, Arc<MemorySink>) {
    let sink = Arc::new(MemorySink::new());
    let state = AppState::new(&config, sink.clone())
        .unwrap()
        .with_clock(now);
    (router(state), sink)
}

/// A request builder for `POST path` with Basic auth for [`KEY`], from peer 203.0.113.10.
pub fn post(path: &str) -> axum::http::request::Builder {
    Request::post(path)
        .header(
            "authorization",
            footfall_protocol::auth::basic_authorization(KEY),
        )
        .extension(ConnectInfo(SocketAddr::from(([203, 0, 113, 10], 5555))))
}

/// Sends a request.
pub async fn send(app: &axum::Router, request: Request<Body>) -> Response<Body> {
    app.clone().oneshot(request).await.unwrap()
}

/// The app's `/metrics`, as text.
pub async fn metrics_text(app: &axum::Router) -> String {
    let metrics = send(app, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(metrics.status(), 200);
    let bytes = metrics.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Reads a body as JSON.
pub async fn json(response: Response<Body>) -> Value {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)))
}

/// Gzips bytes.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// The stored events as JSON.
pub fn events(sink: &MemorySink) -> Vec<Value> {
    sink.events()
        .iter()
        .map(|r| serde_json::from_slice(&r.payload).unwrap())
        .collect()
}

/// The stored dead letters as JSON.
pub fn dead_letters(sink: &MemorySink) -> Vec<Value> {
    sink.dead_letters()
        .iter()
        .map(|r| serde_json::from_slice(&r.payload).unwrap())
        .collect()
}

/// The collector binary started by a test, killed when dropped, so that a failed test leaves no
/// process behind.
pub struct CollectorProcess(pub std::process::Child);

impl CollectorProcess {
    /// Starts `footfall-collector` with `args`, its stderr shown and `RUST_LOG=warn`.
    pub fn start<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_footfall-collector"))
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("the collector binary starts");
        Self(child)
    }

    /// SIGKILL: no shutdown hook runs, nothing is flushed.
    pub fn kill_minus_nine(mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }

    /// SIGHUP: the collector reloads its configuration.
    pub fn hang_up(&self) {
        self.signal("HUP");
    }

    /// SIGTERM: the collector shuts down.
    pub fn terminate(&self) {
        self.signal("TERM");
    }

    fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &self.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.0.try_wait().unwrap().is_none()
    }

    /// How the process ended, once it has.
    pub fn exit_code(&mut self) -> Option<i32> {
        self.0.try_wait().unwrap().and_then(|status| status.code())
    }
}

impl Drop for CollectorProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
