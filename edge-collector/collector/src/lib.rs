//! Footfall's edge collector: a Segment-compatible HTTP API that acknowledges only durable events.
//!
//! # Overview
//!
//! Real Segment and RudderStack clients post batches to `/v1/batch` (and single messages to
//! `/v1/track` and friends). The collector decodes and validates each message with `footfall_ingest`,
//! hands the good ones and the dead letters to an [`EventSink`], and answers `200` with one
//! [`footfall_protocol::EventResult`] per message **only after the sink has made them durable**.
//!
//! * [`router`] builds the axum `Router` over an [`AppState`] (testable with `oneshot`);
//!   [`serve`] runs it on a listener until a shutdown future resolves, finishing requests in flight.
//! * [`Config`] is the validated configuration, from flags, `FOOTFALL_COLLECTOR_*` variables and a TOML
//!   file ([`config`]).
//! * [`Error`] is the one error type; its `IntoResponse` is the only place statuses are chosen
//!   (400, 401, 413, 429 + Retry-After, 503 + Retry-After): see [`error`].
//! * [`sinks`]: the [`EventSink`] trait and its durability contract, with [`MemorySink`].
//! * [`metrics`]: Prometheus metrics at `/metrics`.
//! * [`schemas`]: the schema registry loaded from a directory and reloaded when it changes.
//! * [`check`]: `--check-config`, the start-up checks without starting, and the effective settings.
//! * [`reload_on_hangup`]: a new configuration without a restart, on `SIGHUP` ([`AppState::reload`]).
//! * [`tls`]: HTTPS on the same port when a certificate is configured, renewed on `SIGHUP`; HTTP/2
//!   over TLS (ALPN) and with prior knowledge on the plain port.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use axum::body::Body;
//! use axum::http::Request;
//! use footfall_collector::{router, AppState, Config, MemorySink};
//! use footfall_ingest::{Source, WriteKeys};
//! use tower::ServiceExt;
//!
//! # tokio_test_block_on(async {
//! let mut keys = WriteKeys::new();
//! keys.insert("wk", Source { project_id: "shop".into(), source_id: "web".into() });
//! let sink = Arc::new(MemorySink::new());
//! let state = AppState::new(&Config::new(keys), sink.clone()).unwrap();
//!
//! let request = Request::post("/v1/track")
//!     .header("authorization", footfall_protocol::auth::basic_authorization("wk"))
//!     .body(Body::from(r#"{"event":"Signed Up","userId":"u1"}"#))
//!     .unwrap();
//! let response = router(state).oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 200);
//! assert_eq!(sink.events().len(), 1);
//! # });
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
//! # }
//! ```
#![deny(missing_docs)]

use std::future::Future;
use std::sync::Arc;

use axum::serve::ListenerExt as _;

pub use check::{check, CheckReport, Https};
pub use config::{Args, Config, LogFormat, SinkConfig};
pub use connections::{serve_connections, ConnectionLimits};
pub use error::Error;
pub use reload::{reload_on_hangup, reload_with};
pub use router::router;
pub use sinks::kafka::KafkaSink;
pub use sinks::log::LogSink;
pub use sinks::memory::MemorySink;
pub use sinks::{EventSink, SinkError};
pub use state::{AppState, Reloaded};

mod check;
pub mod config;
mod connections;
pub mod error;
mod limiter;
pub mod live_events;
mod memory;
pub mod metrics;
mod reload;
mod router;
pub mod schemas;
pub mod signals;
pub mod sinks;
mod state;
pub mod tls;

/// Serves the collector on `listener` until `shutdown` resolves, then finishes requests in flight.
///
/// The sink is built from `config.sink`.
pub async fn serve<F>(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: F,
) -> Result<(), Error>
where
    F: Future<Output = ()> + Send + 'static,
{
    let sink = open_sink(&config.sink)?;
    let served = serve_with_sink(config, Arc::clone(&sink), listener, shutdown).await;
    sink.close(SINK_CLOSE_TIMEOUT).await;
    served
}

/// How long a shutting-down collector gives its sink to end its background work
/// ([`EventSink::close`]), after the requests in flight.
pub const SINK_CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(4);

/// Builds the sink `config` describes: opens the logs, or starts the Kafka delivery (which must run
/// inside a tokio runtime). For embedders that keep a handle on the sink, for `/metrics` say.
pub fn open_sink(config: &SinkConfig) -> Result<Arc<dyn EventSink>, Error> {
    Ok(match config {
        // Bounded, so that a long benchmark does not exhaust memory.
        SinkConfig::Memory => Arc::new(MemorySink::with_capacity(10_000)),
        SinkConfig::Log {
            events_dir,
            dead_letter_dir,
            max_disk_bytes,
        } => {
            let mut log_config = footfall_eventlog::LogConfig::default();
            log_config.max_disk_bytes = *max_disk_bytes;
            let sink = LogSink::open(events_dir, dead_letter_dir, log_config)
                .map_err(|e| Error::Startup(e.to_string()))?;
            Arc::new(sink)
        }
        SinkConfig::Kafka(kafka) => {
            Arc::new(KafkaSink::new(kafka).map_err(|e| Error::Startup(e.to_string()))?)
        }
    })
}

/// `listener`, with TCP_NODELAY on every connection it accepts, for an HTTP server.
///
/// Request/response traffic: an answer should leave when it is written, never wait under Nagle's
/// algorithm (axum does not set it). Measured into Kafka at half of peak load, it also lowered the
/// p99 (median of nine alternating runs 18 → 9.2 ms, `docs/benchmarks.md`).
pub fn without_nagle(
    listener: tokio::net::TcpListener,
) -> axum::serve::TapIo<tokio::net::TcpListener, fn(&mut tokio::net::TcpStream)> {
    listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY on an accepted connection");
        }
    })
}

/// [`serve`] with a given sink (tests, embedding).
pub async fn serve_with_sink<F>(
    config: Config,
    sink: Arc<dyn EventSink>,
    listener: tokio::net::TcpListener,
    shutdown: F,
) -> Result<(), Error>
where
    F: Future<Output = ()> + Send + 'static,
{
    let state = AppState::new(&config, sink)?;
    serve_state(state, listener, shutdown).await
}

/// [`serve`] over a state already built, for a caller that keeps a handle on it to reload it
/// ([`reload_on_hangup`]).
///
/// When `shutdown` resolves, the collector first stops being ready ([`AppState::begin_shutdown`])
/// and keeps serving for the configured `shutdown_delay`, so that load balancers stop sending to
/// it; then it stops accepting and lets the requests in flight finish, for at most the connection
/// limits' `drain_timeout`. The sink stays open: the caller closes it ([`EventSink::close`]).
pub async fn serve_state<F>(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: F,
) -> Result<(), Error>
where
    F: Future<Output = ()> + Send + 'static,
{
    let config = state.config();
    let reloader = config
        .schema_dir
        .map(|dir| schemas::spawn_reloader(state.clone(), dir, config.schema_reload));
    let tls = state.inner().tls.clone();
    let limits = config.connection_limits;
    let app = router(state.clone());
    let shutdown = async move {
        shutdown.await;
        state.begin_shutdown();
        // Read now, so that a reload since the start counts.
        let delay = state.config().shutdown_delay;
        if !delay.is_zero() {
            tracing::info!(
                delay_secs = delay.as_secs(),
                "shutting down: /ready answers 503 now; serving on until load balancers stop sending"
            );
            tokio::time::sleep(delay).await;
        }
        tracing::info!(
            drain_timeout_secs = limits.drain_timeout.as_secs(),
            "shutting down: no longer accepting connections; finishing requests in flight"
        );
    };
    match tls {
        Some(cert) => {
            let listener =
                tls::TlsListener::new(without_nagle(listener), tls::server_config(cert)?);
            serve_connections(listener, "collector", app, limits, shutdown).await;
        }
        None => {
            serve_connections(without_nagle(listener), "collector", app, limits, shutdown).await
        }
    }
    if let Some(reloader) = reloader {
        reloader.abort();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::serve::Listener as _;

    use super::*;

    #[tokio::test]
    async fn accepted_connections_have_nagle_off() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut listener = without_nagle(listener);
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (accepted, peer) = listener.accept().await;
        assert_eq!(peer, client.local_addr().unwrap());
        assert!(accepted.nodelay().unwrap(), "TCP_NODELAY is not set");
        // The plain listener leaves it off, so the wrapper is what sets it.
        let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _client = tokio::net::TcpStream::connect(plain.local_addr().unwrap())
            .await
            .unwrap();
        let (accepted, _) = plain.accept().await.unwrap();
        assert!(!accepted.nodelay().unwrap());
    }
}
