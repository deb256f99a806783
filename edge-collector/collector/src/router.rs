//! The HTTP surface: routes, CORS and the handlers.
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/batch` (`/v1/import`) | a Segment batch envelope |
//! | `POST /v1/{track,page,screen,identify,group,alias}` | one message, `type` set by the path |
//! | `POST /v1/{t,p,s,i,g,a}` | the short aliases analytics.js uses |
//! | `GET /health` | liveness: 200 while the process serves |
//! | `GET /ready` | readiness: 200 when the sink takes events, else 503 |
//! | `GET /metrics` | Prometheus text format |
//!
//! Every API path also answers with a trailing slash. The body may be JSON of any `Content-Type`
//! (`text/plain` from `sendBeacon`, `application/x-www-form-urlencoded` from rudder-node), gzipped or not.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use footfall_ingest::{decode_body, Endpoint, RequestInfo};
use footfall_protocol::limits::MAX_BATCH_BYTES;
use footfall_protocol::{BatchResponse, ErrorCode, EventStatus, MessageType};
use tower_http::cors::{Any, CorsLayer};

use crate::metrics::{self, DropCause};
use crate::{AppState, Error};

/// The largest body accepted on the wire. Compressed bodies are smaller than their content, and the
/// decoded size is checked against the 500 KB limit; the margin covers incompressible gzip overhead.
pub const MAX_WIRE_BYTES: usize = MAX_BATCH_BYTES + 64 * 1024;

const ENDPOINTS: [(&str, Endpoint, &str); 15] = [
    ("/v1/batch", Endpoint::Batch, "batch"),
    ("/v1/import", Endpoint::Batch, "batch"),
    ("/v1/track", Endpoint::Single(MessageType::Track), "track"),
    ("/v1/page", Endpoint::Single(MessageType::Page), "page"),
    (
        "/v1/screen",
        Endpoint::Single(MessageType::Screen),
        "screen",
    ),
    (
        "/v1/identify",
        Endpoint::Single(MessageType::Identify),
        "identify",
    ),
    ("/v1/group", Endpoint::Single(MessageType::Group), "group"),
    ("/v1/alias", Endpoint::Single(MessageType::Alias), "alias"),
    ("/v1/t", Endpoint::Single(MessageType::Track), "track"),
    ("/v1/p", Endpoint::Single(MessageType::Page), "page"),
    ("/v1/s", Endpoint::Single(MessageType::Screen), "screen"),
    ("/v1/i", Endpoint::Single(MessageType::Identify), "identify"),
    ("/v1/g", Endpoint::Single(MessageType::Group), "group"),
    ("/v1/a", Endpoint::Single(MessageType::Alias), "alias"),
    ("/v1/b", Endpoint::Batch, "batch"),
];

/// The collector's routes over `state`, ready for `oneshot` in tests or for [`crate::serve`].
pub fn router(state: AppState) -> Router {
    let mut api = Router::new();
    for (path, endpoint, label) in ENDPOINTS {
        let handler = move |State(state): State<AppState>, request: Request| {
            ingest(state, endpoint, label, request)
        };
        api = api
            .route(path, post(handler))
            .route(&format!("{path}/"), post(handler));
    }
    api.route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(render_metrics))
        .fallback(|| async { Error::NotFound })
        .layer(cors())
        .with_state(state)
}

/// Browsers may post from any origin, with Basic auth and gzip.
fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::CONTENT_ENCODING,
        ])
        // Browsers hide response headers from cross-origin scripts unless exposed; the web SDK must
        // read Retry-After to honour a 429 or 503.
        .expose_headers([header::RETRY_AFTER])
        .max_age(std::time::Duration::from_secs(86_400))
}

async fn health() -> impl IntoResponse {
    Json(serde_json::json!({"status": "ok"}))
}

async fn ready(State(state): State<AppState>) -> Response {
    let sink = &state.inner().sink;
    if sink.is_ready() {
        Json(serde_json::json!({"status": "ready", "sink": sink.name()})).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "not ready", "sink": sink.name()})),
        )
            .into_response()
    }
}

async fn render_metrics(State(state): State<AppState>) -> impl IntoResponse {
    let content_type = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
    (
        [(header::CONTENT_TYPE, content_type)],
        state.inner().metrics.render(),
    )
}

async fn ingest(
    state: AppState,
    endpoint: Endpoint,
    label: &'static str,
    request: Request,
) -> Response {
    let start = Instant::now();
    let response = match handle(&state, endpoint, request).await {
        Ok(response) => response,
        Err(error) => {
            metrics::request_rejected(error.code());
            error.into_response()
        }
    };
    metrics::request_duration(
        label,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

fn header_str<'h>(headers: &'h HeaderMap, name: &header::HeaderName) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn read_body(headers: &HeaderMap, body: Body) -> Result<bytes::Bytes, Error> {
    let declared =
        header_str(headers, &header::CONTENT_LENGTH).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_WIRE_BYTES) {
        return Err(Error::BodyTooLarge {
            limit: MAX_WIRE_BYTES,
        });
    }
    axum::body::to_bytes(body, MAX_WIRE_BYTES)
        .await
        .map_err(|e| {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if too_large {
                Error::BodyTooLarge {
                    limit: MAX_WIRE_BYTES,
                }
            } else {
                Error::BodyRead(e.to_string())
            }
        })
}

async fn handle(state: &AppState, endpoint: Endpoint, request: Request) -> Result<Response, Error> {
    let inner = state.inner();
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| {
            addr.ip()
        });
    let received_at = (inner.clock)();

    let raw = read_body(headers, body).await?;
    let decoded = decode_body(
        &raw,
        header_str(headers, &header::CONTENT_ENCODING),
        MAX_BATCH_BYTES,
    )?;
    let parsed = inner.ingestor.parse(
        endpoint,
        header_str(headers, &header::AUTHORIZATION),
        &decoded,
    )?;
    let received = parsed.len();
    metrics::events_received(received);
    if let Some(limiter) = &inner.limiter {
        if let Err(retry_after) = limiter.check(&parsed.write_key, received) {
            metrics::events_dropped(DropCause::RateLimited, received);
            return Err(Error::RateLimited { retry_after });
        }
    }

    let forwarded_for = join_forwarded_for(headers);
    let info = RequestInfo {
        peer,
        forwarded_for: forwarded_for.as_deref(),
        user_agent: header_str(headers, &header::USER_AGENT),
        received_at,
    };
    let schemas = inner.schemas.get();
    let processed = inner.ingestor.process(parsed, &info, &schemas);
    for cause in &processed.drop_causes {
        metrics::events_dropped(DropCause::from(*cause), 1);
    }
    metrics::events_flagged("clamped_timestamp", processed.clamped);
    metrics::events_flagged("schema", processed.schema_flagged);

    let accepted = processed.accepted.len();
    let all_dropped = accepted == 0 && !processed.dead_letters.is_empty();
    let all_too_large = processed
        .drop_causes
        .iter()
        .all(|c| *c == footfall_ingest::DropCause::TooLarge);
    if accepted > 0 || !processed.dead_letters.is_empty() {
        inner
            .sink
            .send(processed.accepted, processed.dead_letters)
            .await
            .map_err(|error| {
                metrics::events_dropped(DropCause::SinkUnavailable, received);
                Error::Sink {
                    error,
                    retry_after: inner.retry_after,
                }
            })?;
    }
    metrics::events_accepted(accepted);
    if all_dropped {
        let first = processed
            .results
            .iter()
            .find(|r| r.status == EventStatus::Drop);
        let reason = first
            .and_then(|r| r.reason.as_deref())
            .unwrap_or("invalid message");
        let total = processed.results.len();
        return Err(Error::AllDropped {
            code: if all_too_large {
                ErrorCode::MessageTooLarge
            } else {
                ErrorCode::InvalidRequest
            },
            message: if total == 1 {
                reason.to_owned()
            } else {
                format!("all {total} messages were refused; the first: {reason}")
            },
        });
    }
    Ok(Json(BatchResponse::from_results(processed.results)).into_response())
}

/// All `X-Forwarded-For` values, in order, joined with commas.
fn join_forwarded_for(headers: &HeaderMap) -> Option<String> {
    let mut values = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    let first = values.next()?;
    let mut joined = first.to_owned();
    for value in values {
        joined.push(',');
        joined.push_str(value);
    }
    Some(joined)
}
