//! The HTTP surface: routes, CORS and the handlers.
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/batch` (`/v1/import`) | a Segment batch envelope |
//! | `POST /v1/{track,page,screen,identify,group,alias}` | one message, `type` set by the path |
//! | `POST /v1/{t,p,s,i,g,a,b}` | the short aliases analytics.js uses (`b`: a batch) |
//! | `GET /v1/pixel/{type}?data=…` | Segment's Pixel API: one message in base64, answered with a 1×1 GIF ([`footfall_ingest::pixel`]) |
//! | `GET /pixel/v1/{track,page}?writeKey=…&event=…` | RudderStack's: one message of query parameters, answered with the GIF |
//! | `POST /beacon/v1/batch?writeKey=…` | a batch from RudderStack's beacon, the key in the query |
//! | `POST /edge/v1/records` | records an edge worker already processed (see [`footfall_ingest::relay`]); only with an edge secret |
//! | `GET /health` | liveness: 200 while the process serves |
//! | `GET /ready` | readiness: 200 when the sink takes events, else 503 with the reason (shutting down, a failed log, or one over its disk budget for 5 s after each refused append; on Kafka, a spill log over its budget while Kafka is down: an outage alone spills and stays ready) |
//! | `GET /metrics` | Prometheus text format |
//! | `GET /v1/projects/{write key}/settings` | the source settings Segment's SDKs load first ([`footfall_ingest::segment_settings`]), naming this collector as where to send |
//! | `GET /sourceConfig/?writeKey=…` | the source config RudderStack's SDKs load first ([`footfall_ingest::rudderstack_source_config`]) |
//! | `GET /live-events` | the events stored and dropped, as Server-Sent Events ([`crate::live_events`]); only with a live events token |
//!
//! Every API path also answers with a trailing slash. The body may be JSON of any `Content-Type`
//! (`text/plain` from `sendBeacon`, `application/x-www-form-urlencoded` from rudder-node), gzipped or not.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Version};
use axum::middleware::{self as layers, Next};
use axum::response::sse::{KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use footfall_ingest::relay::{MAX_RELAY_BYTES, RELAY_PATH};
use footfall_ingest::{
    decode_body, is_compressed, Endpoint, Record, RequestInfo, Source, MAX_WIRE_BYTES,
};
use footfall_protocol::limits::MAX_BATCH_BYTES;
use footfall_protocol::{BatchResponse, EventResult};
use tower_http::cors::{AllowHeaders, Any, CorsLayer};

use crate::live_events::Filter;
use crate::memory::{footprint, Reservation};
use crate::metrics::{self, DropCause, SourceOutcome};
use crate::state::{Inner, Settings};
use crate::{AppState, Error};

/// The collector's routes over `state`, ready for `oneshot` in tests or for [`crate::serve`].
pub fn router(state: AppState) -> Router {
    let mut api = Router::new();
    for (path, endpoint, label) in Endpoint::ROUTES {
        let handler = move |State(state): State<AppState>, request: Request| {
            ingest(state, endpoint, label, request)
        };
        api = api
            .route(path, post(handler))
            .route(&format!("{path}/"), post(handler));
    }
    api.route(RELAY_PATH, post(relay))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(render_metrics))
        .route("/live-events", get(live_events))
        .route("/v1/projects/{write_key}/settings", get(source_settings))
        .route("/v1/pixel/{kind}", get(segment_pixel))
        .route("/pixel/v1/{kind}", get(rudderstack_pixel))
        .route("/sourceConfig", get(rudderstack_source_config))
        .route("/sourceConfig/", get(rudderstack_source_config))
        .fallback(|| async { Error::NotFound })
        .layer(cors())
        .layer(layers::from_fn_with_state(
            state.clone(),
            close_when_shutting_down,
        ))
        .with_state(state)
}

/// Browsers may post from any origin, with Basic auth, gzip and the headers their SDKs add.
fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        // Whatever the page's SDK asks to send: beside auth, type and gzip, analytics.js adds
        // X-Retry-Count to every retry and RudderStack's SDK adds AnonymousId, and a fixed list
        // made the browser refuse those requests, so events that failed once were never sent again.
        // Nothing rides on cookies here (no credentials are allowed), so mirroring grants nothing.
        .allow_headers(AllowHeaders::mirror_request())
        // Browsers hide response headers from cross-origin scripts unless exposed; the web SDK must
        // read Retry-After to honour a 429 or 503, and analytics.js X-RateLimit-Reset after a 429.
        .expose_headers([header::RETRY_AFTER, crate::error::RATE_LIMIT_RESET])
        .max_age(std::time::Duration::from_secs(86_400))
}

async fn health() -> impl IntoResponse {
    Json(serde_json::json!({"status": "ok"}))
}

/// Once shutdown began, an HTTP/1 answer closes its connection, so that a keep-alive client (or
/// load balancer) opens its next one elsewhere instead of finding this one closed under it. HTTP/2
/// has no such header; hyper's GOAWAY at the end of the shutdown delay does that there.
async fn close_when_shutting_down(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let http1 = request.version() <= Version::HTTP_11;
    let mut response = next.run(request).await;
    if http1 && state.is_shutting_down() {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

async fn ready(State(state): State<AppState>) -> Response {
    let sink = &state.inner().sink;
    let readiness = if state.is_shutting_down() {
        Err("shutting down".to_owned())
    } else {
        sink.readiness()
    };
    match readiness {
        Ok(()) => Json(serde_json::json!({"status": "ready", "sink": sink.name()})).into_response(),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "not ready", "sink": sink.name(), "reason": reason})),
        )
            .into_response(),
    }
}

async fn render_metrics(State(state): State<AppState>) -> impl IntoResponse {
    state.inner().sink.export_metrics();
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
    // Described for the live events only while someone watches them.
    let watched = state.inner().live.is_watched().then(|| {
        let key = authorization(request.headers(), request.uri())
            .and_then(|auth| footfall_protocol::auth::write_key_from_authorization(&auth).ok());
        (request.uri().path().to_owned(), key)
    });
    let response = match handle(&state, endpoint, request).await {
        Ok(response) => response,
        Err(error) => {
            metrics::request_rejected(error.code());
            let described = watched
                .filter(|_| !matches!(error, Error::AllDropped { .. }))
                .map(|(path, key)| (path, key, error.to_string(), error.code()));
            let response = error.into_response();
            if let Some((path, key, message, code)) = described {
                let settings = state.settings();
                let source = key.as_deref().and_then(|k| settings.ingestor.source(k));
                let refusal = serde_json::json!({
                    "path": path,
                    "status": response.status().as_u16(),
                    "code": code,
                    "message": message,
                    "writeKey": key,
                });
                state.inner().live.refused(source, &refusal);
            }
            response
        }
    };
    metrics::request_duration(
        label,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /v1/pixel/{type}?data=<base64 JSON>`: Segment's Pixel API.
async fn segment_pixel(
    State(state): State<AppState>,
    Path(kind): Path<String>,
    request: Request,
) -> Response {
    match kind.parse() {
        Ok(kind) => pixel(state, kind, request, footfall_ingest::pixel::message).await,
        Err(_) => Error::NotFound.into_response(),
    }
}

/// `GET /pixel/v1/{track,page}?writeKey=…&event=…&properties.x=…`: RudderStack's pixel.
async fn rudderstack_pixel(
    State(state): State<AppState>,
    Path(kind): Path<String>,
    request: Request,
) -> Response {
    use footfall_protocol::MessageType;
    match kind.parse() {
        Ok(kind @ (MessageType::Track | MessageType::Page)) => {
            let read = footfall_ingest::pixel::message_of_parameters;
            pixel(state, kind, request, read).await
        }
        _ => Error::NotFound.into_response(),
    }
}

/// One message sent as an image (an email's open), read from the query by `read`, stored as a
/// `POST /v1/{type}` of it would be, and answered with a transparent GIF once durable.
async fn pixel(
    state: AppState,
    kind: footfall_protocol::MessageType,
    request: Request,
    read: fn(Option<&str>) -> Result<Vec<u8>, footfall_ingest::IngestError>,
) -> Response {
    let message = match read(request.uri().query()) {
        Ok(message) => message,
        Err(error) => {
            let error = Error::from(error);
            metrics::request_rejected(error.code());
            return error.into_response();
        }
    };
    let (parts, _) = request.into_parts();
    let request = Request::from_parts(parts, Body::from(message));
    let answer = ingest(state, Endpoint::Single(kind), "pixel", request).await;
    if answer.status() != StatusCode::OK {
        return answer;
    }
    (
        [
            (header::CONTENT_TYPE, "image/gif"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        footfall_ingest::pixel::GIF,
    )
        .into_response()
}

/// A request's credentials: its `Authorization` header, else a write key in the query
/// (`?writeKey=`) as `Basic` credentials, as RudderStack's beacon sends it (`navigator.sendBeacon` can
/// set no header). The query is read only when there is one and no header.
fn authorization<'h>(headers: &'h HeaderMap, uri: &axum::http::Uri) -> Option<Cow<'h, str>> {
    if let Some(header) = header_str(headers, &header::AUTHORIZATION) {
        return Some(Cow::Borrowed(header));
    }
    uri.query()?;
    let Query(query) = Query::<WriteKeyQuery>::try_from_uri(uri).ok()?;
    query
        .write_key
        .filter(|key| !key.is_empty())
        .map(|key| Cow::Owned(footfall_protocol::auth::basic_authorization(&key)))
}

/// The token of `Authorization: Bearer <token>`, empty when there is none.
fn bearer_token(headers: &HeaderMap) -> &str {
    header_str(headers, &header::AUTHORIZATION)
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
}

fn header_str<'h>(headers: &'h HeaderMap, name: &header::HeaderName) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// How much of a refused, oversized body is still read (and dropped) before the 413, and for how long.
/// A client is typically still sending when the answer is ready; if the server then closed with
/// unread bytes, the kernel would reset the connection and the client would see a network error
/// instead of the 413. Real clients retry network errors forever, but drop a batch on 413.
const DRAIN_MAX_BYTES: usize = 8 * 1024 * 1024;
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

fn content_length(headers: &HeaderMap) -> Option<usize> {
    header_str(headers, &header::CONTENT_LENGTH).and_then(|v| v.parse::<usize>().ok())
}

/// Reads a request's body and undoes its gzip, within the request memory budget
/// ([`crate::memory`]): at most `wire_limit` bytes as received and `decoded_limit` decoded. The
/// reservation is to be held until the request is answered, since its events live that long.
async fn read_and_decode(
    inner: &Inner,
    headers: &HeaderMap,
    body: Body,
    (wire_limit, decoded_limit): (usize, usize),
    stall: std::time::Duration,
) -> Result<(Reservation, bytes::Bytes), Error> {
    let encoding = header_str(headers, &header::CONTENT_ENCODING);
    let raw = read_body(content_length(headers), body, wire_limit, stall).await?;
    let compressed = is_compressed(&raw, encoding)?;
    let mut reservation = inner
        .memory
        .reserve(footprint(raw.len(), compressed.then_some(decoded_limit)))
        .await;
    let decoded = match decode_body(&raw, encoding, decoded_limit)? {
        Cow::Borrowed(_) => raw.clone(),
        Cow::Owned(decoded) => bytes::Bytes::from(decoded),
    };
    // From here on the compressed body is gone: the decoded text and its events remain.
    reservation.shrink_to(footprint(decoded.len(), None));
    Ok((reservation, decoded))
}

/// Reads a body of at most `limit` bytes. A body of which nothing arrives for `stall` (the idle
/// timeout) is given up with a 408, so that a client that stopped mid-body does not hold its request
/// for ever; a slow one that keeps sending is read to the end.
async fn read_body(
    declared: Option<usize>,
    body: Body,
    limit: usize,
    stall: std::time::Duration,
) -> Result<bytes::Bytes, Error> {
    use http_body_util::BodyExt as _;
    let mut body = body;
    if declared.is_some_and(|len| len > limit) {
        drain(&mut body, declared).await;
        return Err(Error::BodyTooLarge { limit });
    }
    let mut collected = bytes::BytesMut::with_capacity(declared.unwrap_or(0));
    loop {
        let Ok(next) = tokio::time::timeout(stall, body.frame()).await else {
            return Err(Error::BodyStalled { after: stall });
        };
        let Some(frame) = next else { break };
        let frame = frame.map_err(|e| Error::BodyRead(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue; // Trailers: nothing to keep.
        };
        if collected.len() + data.len() > limit {
            drain(&mut body, None).await;
            return Err(Error::BodyTooLarge { limit });
        }
        collected.extend_from_slice(&data);
    }
    Ok(collected.freeze())
}

/// Reads and drops the rest of a refused body, within [`DRAIN_MAX_BYTES`] and [`DRAIN_TIMEOUT`]; a
/// body declared larger than that is not read at all (its sender gets the reset).
async fn drain(body: &mut Body, declared: Option<usize>) {
    use http_body_util::BodyExt as _;
    if declared.is_some_and(|len| len > DRAIN_MAX_BYTES) {
        return;
    }
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, bytes::Buf::remaining);
            if seen > DRAIN_MAX_BYTES {
                break;
            }
        }
    })
    .await;
}

async fn handle(state: &AppState, endpoint: Endpoint, request: Request) -> Result<Response, Error> {
    let inner = state.inner();
    let settings = state.settings();
    let (parts, mut body) = request.into_parts();
    let headers = &parts.headers;
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| {
            addr.ip()
        });
    let received_at = (inner.clock)();

    let credentials = authorization(headers, &parts.uri);
    let authorization = credentials.as_deref();
    if let Err(refusal) = settings.ingestor.refuse_unknown_header_key(authorization) {
        // Before the body is read: a client without a key holds none of the request memory.
        drain(&mut body, content_length(headers)).await;
        return Err(refusal.into());
    }
    let stall = settings.config.connection_limits.idle_timeout;
    let limits = (MAX_WIRE_BYTES, MAX_BATCH_BYTES);
    let (_reservation, decoded) = read_and_decode(inner, headers, body, limits, stall).await?;
    let parsed = settings.ingestor.parse(endpoint, authorization, &decoded)?;
    let received = parsed.len();
    let source = parsed.source.clone();
    admit(&settings, &parsed.write_key, &source, received)?;

    let forwarded_for = join_forwarded_for(headers);
    let info = RequestInfo {
        peer,
        forwarded_for: forwarded_for.as_deref(),
        user_agent: header_str(headers, &header::USER_AGENT),
        received_at,
        known_geo: None,
    };
    let schemas = inner.schemas.get();
    let processed = settings.ingestor.process(parsed, &info, &schemas);
    // The events own their bytes now: the body goes before the wait for the sink, which may be long.
    drop(decoded);
    for cause in &processed.drop_causes {
        metrics::events_dropped(DropCause::from(*cause), 1);
    }
    metrics::events_flagged("clamped_timestamp", processed.clamped);
    metrics::events_flagged("schema", processed.schema_flagged);
    metrics::schema_violations(&source.project_id, &processed.schema_violations);

    let accepted = processed.accepted.len();
    let refusal = processed.refusal();
    if accepted > 0 || !processed.dead_letters.is_empty() {
        deliver(
            inner,
            &settings,
            &source,
            processed.accepted,
            processed.dead_letters,
            received,
        )
        .await?;
    }
    metrics::events_accepted(accepted);
    if let Some((code, message)) = refusal {
        return Err(Error::AllDropped { code, message });
    }
    Ok(batch_answer(processed.results))
}

/// Counts what a request brought and spends its write key's rate-limit tokens: a request over the
/// key's rate is refused whole, so a client's retry resends exactly what was refused.
fn admit(
    settings: &Settings,
    write_key: &str,
    source: &Source,
    received: usize,
) -> Result<(), Error> {
    metrics::events_received(received);
    if let Some(limiter) = &settings.limiter {
        if let Err(retry_after) = limiter.check(write_key, received) {
            metrics::events_dropped(DropCause::RateLimited, received);
            metrics::source_events(source, SourceOutcome::RateLimited, received);
            return Err(Error::RateLimited { retry_after });
        }
    }
    Ok(())
}

/// Hands a request's events and dead letters to the sink. `Ok` means they are durable; a failure
/// counts every event of the request as dropped, because the client is told to resend them all.
async fn deliver(
    inner: &Inner,
    settings: &Settings,
    source: &Source,
    events: Vec<Record>,
    dead_letters: Vec<Record>,
    received: usize,
) -> Result<(), Error> {
    let (accepted, invalid) = (events.len(), dead_letters.len());
    let live = inner.live.copy(source, &events, &dead_letters);
    let start = Instant::now();
    let sent = inner.sink.send(events, dead_letters).await;
    metrics::sink_wait(inner.sink.name(), start.elapsed().as_secs_f64());
    if sent.is_ok() {
        metrics::source_events(source, SourceOutcome::Accepted, accepted);
        metrics::source_events(source, SourceOutcome::Invalid, invalid);
        if let Some(live) = live {
            inner.live.publish(live);
        }
    }
    sent.map_err(|error| {
        metrics::events_dropped(DropCause::SinkUnavailable, received);
        metrics::source_events(source, SourceOutcome::Unavailable, received);
        Error::Sink {
            error,
            retry_after: settings.config.retry_after,
        }
    })
}

async fn relay(State(state): State<AppState>, request: Request) -> Response {
    let start = Instant::now();
    let response = match handle_relay(&state, request).await {
        Ok(response) => response,
        Err(error) => {
            metrics::request_rejected(error.code());
            error.into_response()
        }
    };
    metrics::request_duration(
        "edge",
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /v1/projects/{write key}/settings`: the source settings that Segment's SDKs load before
/// sending, so that pointing their CDN setting (`cdnURL`, `cdnHost`) at the collector is all a switch
/// takes.
async fn source_settings(
    State(state): State<AppState>,
    Path(write_key): Path<String>,
    request: Request,
) -> Result<Response, Error> {
    let settings = state.settings();
    let Some(source) = settings.ingestor.source(&write_key) else {
        return Err(Error::NoSuchSource);
    };
    metrics::sdk_settings_served(&source.project_id, "segment");
    let config = &settings.config;
    let (protocol, host_and_path, cache) = match &config.public_url {
        Some(url) => (
            url.protocol,
            url.host_and_path.clone(),
            "public, max-age=300",
        ),
        None => {
            let (protocol, host) = requested_address(&state, &request);
            // Read from the request: a shared cache must not serve one client's Host to another.
            (protocol, host, "private, max-age=300")
        }
    };
    let api_host = format!("{host_and_path}/v1");
    let body = footfall_ingest::segment_settings(&write_key, &api_host, protocol);
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if config.public_url.is_none() {
        headers.insert(
            header::VARY,
            HeaderValue::from_static("Host, X-Forwarded-Host, X-Forwarded-Proto"),
        );
    }
    Ok(response)
}

/// A query's `writeKey`, as RudderStack's `GET /sourceConfig/` and its beacon send it (their other
/// parameters are ignored).
#[derive(Debug, Default, serde::Deserialize)]
struct WriteKeyQuery {
    #[serde(rename = "writeKey")]
    write_key: Option<String>,
}

/// `GET /sourceConfig/?writeKey=<key>` (older SDKs send the key in Basic auth instead): the source
/// config that RudderStack's SDKs load from their control plane (`configUrl`) before sending.
async fn rudderstack_source_config(
    State(state): State<AppState>,
    query: Result<Query<WriteKeyQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let from_query = query.ok().and_then(|Query(q)| q.write_key);
    let authorization = header_str(&headers, &header::AUTHORIZATION);
    let Some(write_key) = footfall_ingest::settings_write_key(from_query.as_deref(), authorization)
    else {
        return Err(footfall_ingest::IngestError::MissingWriteKey.into());
    };
    let settings = state.settings();
    let Some(source) = settings.ingestor.source(&write_key) else {
        return Err(Error::NoSuchSource);
    };
    metrics::sdk_settings_served(&source.project_id, "rudderstack");
    let body = footfall_ingest::rudderstack_source_config(&write_key, source);
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    Ok(response)
}

/// The scheme and host a request was sent to: `X-Forwarded-Proto` and `X-Forwarded-Host` when a
/// trusted proxy sent it, else the collector's own scheme and the `Host` header (the URI's authority
/// over HTTP/2).
fn requested_address(state: &AppState, request: &Request) -> (&'static str, String) {
    let settings = state.settings();
    let headers = request.headers();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let trusted = &settings.config.enrich.trusted_proxies;
    let from_proxy = peer.is_some_and(|peer| footfall_ingest::ip::is_trusted_proxy(&peer, trusted));
    let forwarded = |name: &str| {
        from_proxy
            .then(|| headers.get(name)?.to_str().ok())
            .flatten()
            .and_then(|value| value.split(',').next())
            .map(str::trim)
            .filter(|value| !value.is_empty())
    };
    let protocol = match forwarded("x-forwarded-proto") {
        Some(proto) if proto.eq_ignore_ascii_case("https") => "https",
        Some(proto) if proto.eq_ignore_ascii_case("http") => "http",
        _ if state.inner().tls.is_some() => "https",
        _ => "http",
    };
    let host = forwarded("x-forwarded-host")
        .or_else(|| header_str(headers, &header::HOST))
        .or_else(|| request.uri().authority().map(|a| a.as_str()))
        // Only a host and port: anything else in the header is not written into the settings.
        .filter(|host| {
            !host.contains('@')
                && host
                    .parse::<http::uri::Authority>()
                    .is_ok_and(|a| a.as_str() == *host)
        })
        .unwrap_or("localhost");
    (protocol, host.to_owned())
}

/// `GET /live-events`: a stream of what is stored, for whoever has the live events token.
async fn live_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    filter: Result<Query<Filter>, QueryRejection>,
) -> Result<Response, Error> {
    let settings = state.settings();
    let Some(token) = &settings.config.live_events_token else {
        return Err(Error::NotFound);
    };
    let given = bearer_token(&headers);
    if !same_secret(given.as_bytes(), token.as_bytes()) {
        return Err(Error::LiveEventsUnauthorized);
    }
    let Query(filter) = filter.map_err(|rejection| {
        Error::Ingest(footfall_ingest::IngestError::InvalidRequest(format!(
            "live events: {} (the filters are project, source and outcome=accepted|dropped|refused)",
            rejection.body_text()
        )))
    })?;
    let stream = state
        .inner()
        .live
        .watch(filter)
        .map_err(|_| Error::TooManyWatchers {
            retry_after: settings.config.retry_after,
        })?;
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// Compares without an early exit, so the time taken does not tell how much of a guess was right.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// `POST /edge/v1/records`: what an edge worker already decoded, validated and enriched, made durable
/// as it is. The edge secret is the trust: the records carry the client IP and geo the edge saw, which
/// the origin must not replace with the worker's address.
async fn handle_relay(state: &AppState, request: Request) -> Result<Response, Error> {
    let inner = state.inner();
    let settings = state.settings();
    let Some(secret) = &settings.config.edge_secret else {
        return Err(Error::NotFound);
    };
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let given = bearer_token(headers);
    let previous = settings
        .config
        .edge_secret_previous
        .as_deref()
        .unwrap_or_default();
    // Both compared every time, so the time taken does not tell which one matched.
    let current_matches = same_secret(given.as_bytes(), secret.as_bytes());
    let previous_matches =
        !previous.is_empty() && same_secret(given.as_bytes(), previous.as_bytes());
    if !(current_matches | previous_matches) {
        return Err(Error::EdgeUnauthorized);
    }
    let stall = settings.config.connection_limits.idle_timeout;
    let limits = (MAX_RELAY_BYTES, MAX_RELAY_BYTES);
    let (_reservation, decoded) = read_and_decode(inner, headers, body, limits, stall).await?;
    let batch = footfall_ingest::relay::decode(&decoded)?;
    drop(decoded);
    let Some(source) = settings.ingestor.source(&batch.write_key) else {
        // The edge and the origin disagree on the keys; the worker turns this into a retry.
        return Err(footfall_ingest::IngestError::UnknownWriteKey.into());
    };
    let received = batch.events.len() + batch.dead_letters.len();
    admit(&settings, &batch.write_key, source, received)?;
    for cause in &batch.drop_causes {
        metrics::events_dropped(DropCause::from(*cause), 1);
    }
    let (ids, events): (Vec<String>, Vec<_>) = batch.events.into_iter().unzip();
    let accepted = events.len();
    if received > 0 {
        deliver(
            inner,
            &settings,
            source,
            events,
            batch.dead_letters,
            received,
        )
        .await?;
    }
    metrics::events_accepted(accepted);
    Ok(batch_answer(ids.into_iter().map(EventResult::ok).collect()))
}

/// The 200 of a processed request, with its per-event results.
fn batch_answer(results: Vec<EventResult>) -> Response {
    let body = BatchResponse::from_results(results).to_json();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
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
