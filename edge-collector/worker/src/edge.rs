//! The worker's request logic, without I/O: route, then decode, authenticate, limit, validate and
//! enrich with `footfall_ingest` exactly as the native collector does, and decide what to forward.
//!
//! [`Edge::route`] sorts a request by method and path. [`Edge::ingest`] takes the body and ends in a
//! [`Step`]: either an [`Answer`] the edge gives on its own (400, 401, 413, 429: refused before anything
//! crosses to the origin), or a [`Forward`] holding the gzipped relay body for the origin's
//! `POST /edge/v1/records` and what to tell the client once the origin has acknowledged it
//! ([`crate::origin::client_answer`]). Nothing is ever answered 2xx here.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use flate2::write::GzEncoder;
use flate2::Compression;
use footfall_ingest::{
    decode_body, relay, Endpoint, EnrichOptions, Geo, Ingestor, RateLimits, RequestInfo,
    SchemaRegistry, MAX_WIRE_BYTES,
};
use footfall_protocol::limits::MAX_BATCH_BYTES;
use footfall_protocol::{ErrorCode, EventResult, MessageType};
use time::OffsetDateTime;

use crate::answer::Answer;
use crate::config::EdgeConfig;

/// What a request is, from its method and path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A CORS preflight.
    Preflight,
    /// `GET /health`.
    Health,
    /// `GET /v1/projects/{write key}/settings`: the source settings Segment's SDKs load first.
    SourceSettings(String),
    /// `GET /sourceConfig/`: the source config RudderStack's SDKs load first.
    SourceConfig,
    /// `GET /v1/pixel/{type}?data=…`: Segment's Pixel API, one message of this type.
    Pixel(MessageType),
    /// `GET /pixel/v1/{track,page}?writeKey=…&event=…`: RudderStack's pixel, the message's fields as
    /// the query's parameters.
    ParameterPixel(MessageType),
    /// `POST` to an API path.
    Api(Endpoint),
    /// An API path with another method.
    MethodNotAllowed,
    /// Anything else.
    NotFound,
}

/// The parts of an API request the pipeline reads.
#[derive(Debug, Clone, Copy)]
pub struct EdgeRequest<'a> {
    /// `Authorization`.
    pub authorization: Option<&'a str>,
    /// `Content-Encoding`.
    pub content_encoding: Option<&'a str>,
    /// `User-Agent`.
    pub user_agent: Option<&'a str>,
    /// `CF-Connecting-IP`: the client address as Cloudflare saw it.
    pub connecting_ip: Option<&'a str>,
    /// Where Cloudflare located the client (`request.cf`).
    pub geo: Option<&'a Geo>,
    /// The body as received.
    pub body: &'a [u8],
    /// The time of arrival, since the Unix epoch.
    pub now: Duration,
}

/// What the client is told once the origin has made the forwarded records durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// One result per message, in request order, as the edge decided.
    pub results: Vec<EventResult>,
    /// How many of them are accepted events (forwarded, waiting for the origin's results).
    pub accepted: usize,
    /// When every message was refused: the 400 to answer after the dead letters are durable.
    pub refusal: Option<(ErrorCode, String)>,
}

/// A relay to send to the origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// The gzipped relay body (see [`footfall_ingest::relay`]).
    pub body: Vec<u8>,
    /// How many records it holds (events and dead letters).
    pub records: usize,
    /// What to answer once the origin has acknowledged.
    pub pending: Pending,
}

/// The outcome of [`Edge::ingest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Answer now; nothing goes to the origin.
    Answer(Answer),
    /// Send the relay to the origin, then answer with [`crate::origin::client_answer`].
    Forward(Forward),
}

/// The worker's state in one isolate: the ingest logic, the schemas and the per-isolate rate limiter.
#[derive(Debug)]
pub struct Edge {
    ingestor: Ingestor,
    schemas: SchemaRegistry,
    limiter: Option<RateLimits>,
    /// The settings the I/O side needs: origin URL, secret, timeout, Retry-After.
    pub config: EdgeConfig,
}

/// The client address from `CF-Connecting-IP`; the unspecified address when it is missing or garbled
/// (never outside Cloudflare's network, where the header is always set and cannot be forged).
pub fn client_ip(connecting_ip: Option<&str>) -> IpAddr {
    connecting_ip
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    // The fastest level: the edge's CPU time is billed, and the hop is what the bytes are saved on.
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 4), Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

impl Edge {
    /// The state for `config`.
    pub fn new(mut config: EdgeConfig) -> Self {
        let options = EnrichOptions {
            // CF-Connecting-IP is the client; no proxy stands between Cloudflare and the worker.
            trusted_proxies: Vec::new(),
            anonymize_ip: config.anonymize_ip,
        };
        let write_keys = std::mem::take(&mut config.write_keys);
        let schemas = std::mem::take(&mut config.schemas);
        Self {
            ingestor: Ingestor::new(write_keys, options),
            schemas,
            limiter: RateLimits::new(config.rate_limit, &config.key_rate_limits),
            config,
        }
    }

    /// Sorts a request by method and path.
    pub fn route(&self, method: &str, path: &str) -> Route {
        let api = Endpoint::from_path(path);
        let pixel_of = path
            .strip_prefix("/v1/pixel/")
            .and_then(|kind| kind.parse::<MessageType>().ok());
        let settings_of = path
            .strip_prefix("/v1/projects/")
            .and_then(|rest| rest.strip_suffix("/settings"))
            .filter(|key| !key.is_empty() && !key.contains('/'));
        match (method, path, api, pixel_of, settings_of) {
            ("OPTIONS", ..) => Route::Preflight,
            ("GET" | "HEAD", "/health", ..) => Route::Health,
            ("GET" | "HEAD", "/sourceConfig" | "/sourceConfig/", ..) => Route::SourceConfig,
            ("GET", _, _, Some(kind), _) => Route::Pixel(kind),
            ("GET", "/pixel/v1/track", ..) => Route::ParameterPixel(MessageType::Track),
            ("GET", "/pixel/v1/page", ..) => Route::ParameterPixel(MessageType::Page),
            ("GET" | "HEAD", _, _, _, Some(key)) => Route::SourceSettings(key.to_owned()),
            ("POST", _, Some((endpoint, _)), ..) => Route::Api(endpoint),
            (_, _, Some(_), ..) => Route::MethodNotAllowed,
            _ => Route::NotFound,
        }
    }

    /// The source settings for `write_key` ([`footfall_ingest::segment_settings`]), naming this worker,
    /// reached at `scheme://host` (the request's URL, which Cloudflare routed here), as where to send.
    pub fn source_settings(&self, write_key: &str, scheme: &str, host: &str) -> Answer {
        if self.ingestor.source(write_key).is_none() {
            return no_such_source();
        }
        let protocol = if scheme == "http" { "http" } else { "https" };
        let settings =
            footfall_ingest::segment_settings(write_key, &format!("{host}/v1"), protocol);
        let mut answer = Answer::json(200, &settings);
        answer
            .headers
            .push(("cache-control", "public, max-age=300".to_owned()));
        answer
    }

    /// RudderStack's source config for the write key of the query (`writeKey`) or, from older
    /// SDKs, of the `Authorization` header ([`footfall_ingest::rudderstack_source_config`]).
    pub fn source_config(&self, query_key: Option<&str>, authorization: Option<&str>) -> Answer {
        let Some(key) = footfall_ingest::settings_write_key(query_key, authorization) else {
            return Answer::error(
                401,
                ErrorCode::Unauthorized,
                "the write key is missing: give it as ?writeKey= or in Basic auth",
                None,
            );
        };
        let Some(source) = self.ingestor.source(&key) else {
            return no_such_source();
        };
        let mut answer = Answer::json(
            200,
            &footfall_ingest::rudderstack_source_config(&key, source),
        );
        answer
            .headers
            .push(("cache-control", "public, max-age=300".to_owned()));
        answer
    }

    /// Whether a declared `Content-Length` is already too large to read.
    pub fn too_large(content_length: Option<&str>) -> Option<Answer> {
        let declared = content_length.and_then(|v| v.trim().parse::<usize>().ok())?;
        (declared > MAX_WIRE_BYTES).then(body_too_large)
    }

    /// Runs the pipeline on an API request.
    pub fn ingest(&self, endpoint: Endpoint, request: &EdgeRequest<'_>) -> Step {
        match self.ingest_inner(endpoint, request) {
            Ok(step) => step,
            Err(answer) => Step::Answer(answer),
        }
    }

    fn ingest_inner(&self, endpoint: Endpoint, request: &EdgeRequest<'_>) -> Result<Step, Answer> {
        if request.body.len() > MAX_WIRE_BYTES {
            return Err(body_too_large());
        }
        let refused = |e: footfall_ingest::IngestError| {
            Answer::error(e.status(), e.code(), e.to_string(), None)
        };
        let decoded = decode_body(request.body, request.content_encoding, MAX_BATCH_BYTES)
            .map_err(refused)?;
        let parsed = self
            .ingestor
            .parse(endpoint, request.authorization, &decoded)
            .map_err(refused)?;
        if let Some(limiter) = &self.limiter {
            if let Err(retry_after) = limiter.check(&parsed.write_key, parsed.len(), request.now) {
                return Err(Answer::error(
                    429,
                    ErrorCode::RateLimited,
                    format!(
                        "rate limit exceeded for this write key; retry after {} s",
                        crate::answer::retry_after_secs(retry_after)
                    ),
                    Some(retry_after),
                ));
            }
        }
        let write_key = parsed.write_key.clone();
        let nanos = i128::try_from(request.now.as_nanos()).unwrap_or(i128::MAX);
        let received_at =
            OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let info = RequestInfo {
            peer: client_ip(request.connecting_ip),
            forwarded_for: None,
            user_agent: request.user_agent,
            received_at,
            known_geo: request.geo,
        };
        let processed = self.ingestor.process(parsed, &info, &self.schemas);
        let records = processed.accepted.len() + processed.dead_letters.len();
        let pending = Pending {
            accepted: processed.accepted.len(),
            refusal: processed.refusal(),
            results: Vec::new(),
        };
        if records == 0 {
            // An empty batch: nothing to make durable, so nothing to wait for.
            return Err(Answer::json(
                200,
                &footfall_protocol::BatchResponse::from_results(processed.results),
            ));
        }
        let body = gzip(&relay::encode(&write_key, &processed));
        Ok(Step::Forward(Forward {
            body,
            records,
            pending: Pending {
                results: processed.results,
                ..pending
            },
        }))
    }
}

fn no_such_source() -> Answer {
    Answer::error(
        404,
        ErrorCode::NotFound,
        footfall_ingest::NO_SUCH_SOURCE,
        None,
    )
}

fn body_too_large() -> Answer {
    Answer::error(
        413,
        ErrorCode::BatchTooLarge,
        format!("the request body is over {MAX_WIRE_BYTES} bytes"),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use footfall_protocol::auth::basic_authorization;
    use footfall_protocol::EventStatus;
    use serde_json::json;

    pub(crate) fn edge(extra: &[(&str, &str)]) -> Edge {
        let mut vars: Vec<(String, String)> = vec![
            ("ORIGIN_URL".into(), "http://127.0.0.1:9".into()),
            (
                "ORIGIN_SECRET".into(),
                "0123456789abcdef0123456789abcdef".into(),
            ),
            (
                "WRITE_KEYS".into(),
                r#"{"wk": {"projectId": "shop", "sourceId": "web"}}"#.into(),
            ),
        ];
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config = EdgeConfig::from_vars(|name| {
            vars.iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
        .unwrap();
        Edge::new(config)
    }

    fn request<'a>(auth: Option<&'a str>, body: &'a [u8]) -> EdgeRequest<'a> {
        EdgeRequest {
            authorization: auth,
            content_encoding: None,
            user_agent: None,
            connecting_ip: Some("203.0.113.10"),
            geo: None,
            body,
            now: Duration::from_secs(1_795_341_600),
        }
    }

    fn relay_of(forward: &Forward) -> relay::RelayBatch {
        let json = decode_body(&forward.body, Some("gzip"), relay::MAX_RELAY_BYTES).unwrap();
        relay::decode(&json).unwrap()
    }

    #[test]
    fn routes_by_method_and_path_as_the_collector() {
        let e = edge(&[]);
        assert_eq!(e.route("POST", "/v1/batch/"), Route::Api(Endpoint::Batch));
        assert_eq!(e.route("OPTIONS", "/v1/batch"), Route::Preflight);
        assert_eq!(e.route("GET", "/health"), Route::Health);
        assert_eq!(e.route("GET", "/v1/track"), Route::MethodNotAllowed);
        assert_eq!(e.route("POST", "/v2/batch"), Route::NotFound);
        assert_eq!(
            e.route("GET", "/v1/projects/wk/settings"),
            Route::SourceSettings("wk".into())
        );
        assert_eq!(e.route("GET", "/v1/projects//settings"), Route::NotFound);
        assert_eq!(e.route("GET", "/sourceConfig/"), Route::SourceConfig);
        assert_eq!(
            e.route("GET", "/v1/pixel/track"),
            Route::Pixel(MessageType::Track)
        );
        assert_eq!(e.route("GET", "/v1/pixel/purchase"), Route::NotFound);
        assert_eq!(
            e.route("GET", "/pixel/v1/page"),
            Route::ParameterPixel(MessageType::Page)
        );
        assert_eq!(e.route("GET", "/pixel/v1/identify"), Route::NotFound);
    }

    #[test]
    fn source_settings_name_the_worker_for_known_keys_only() {
        let e = edge(&[]);
        let answer = e.source_settings("wk", "https", "edge.example.com");
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("cache-control"), Some("public, max-age=300"));
        let settings: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        let segment = &settings["integrations"]["Segment.io"];
        assert_eq!(segment["apiHost"], "edge.example.com/v1");
        assert_eq!(segment["protocol"], "https");
        assert_eq!(settings["metrics"]["sampleRate"], 0);
        assert_eq!(e.source_settings("wk_other", "https", "x").status, 404);
    }

    #[test]
    fn rudderstacks_source_config_is_found_by_the_query_or_basic_auth() {
        let e = edge(&[]);
        let by_query = e.source_config(Some("wk"), None);
        assert_eq!(by_query.status, 200);
        let config: serde_json::Value = serde_json::from_slice(&by_query.body).unwrap();
        assert_eq!(config["source"]["workspaceId"], "shop");
        assert_eq!(
            e.source_config(None, Some(&basic_authorization("wk")))
                .status,
            200
        );
        assert_eq!(e.source_config(Some("nobody"), None).status, 404);
        assert_eq!(e.source_config(None, None).status, 401);
    }

    #[test]
    fn forwards_accepted_events_and_dead_letters_enriched_at_the_edge() {
        let e = edge(&[]);
        let berlin = Geo {
            country: Some("DE".into()),
            city: Some("Berlin".into()),
            ..Geo::default()
        };
        let body = json!({"batch": [
            {"type": "track", "event": "A", "userId": "u1", "messageId": "m1"},
            {"type": "track", "userId": "u1", "messageId": "m2"}
        ], "sentAt": "2026-11-22T10:00:00Z"})
        .to_string();
        let auth = basic_authorization("wk");
        let mut req = request(Some(&auth), body.as_bytes());
        req.geo = Some(&berlin);
        let Step::Forward(forward) = e.ingest(Endpoint::Batch, &req) else {
            panic!("a good event is forwarded")
        };
        assert_eq!(forward.records, 2);
        assert_eq!(forward.pending.accepted, 1);
        assert_eq!(forward.pending.results[1].status, EventStatus::Drop);
        assert_eq!(forward.pending.refusal, None);
        let batch = relay_of(&forward);
        assert_eq!(batch.write_key, "wk");
        assert_eq!(batch.events[0].0, "m1");
        let event: serde_json::Value = serde_json::from_slice(&batch.events[0].1.payload).unwrap();
        assert_eq!(event["context"]["ip"], "203.0.113.10");
        assert_eq!(
            event["context"]["footfall"]["geo"],
            json!({"country": "DE", "city": "Berlin"})
        );
        assert_eq!(event["receivedAt"], "2026-11-22T10:00:00.000Z");
        let letter: serde_json::Value =
            serde_json::from_slice(&batch.dead_letters[0].payload).unwrap();
        assert_eq!(letter["messageId"], "m2");
        assert_eq!(
            letter["payload"],
            json!({"type": "track", "userId": "u1", "messageId": "m2"})
        );
    }

    #[test]
    fn a_batch_of_only_invalid_messages_still_forwards_its_dead_letters() {
        let e = edge(&[]);
        let body = br#"{"batch":[{"type":"page"}],"writeKey":"wk"}"#;
        let Step::Forward(forward) = e.ingest(Endpoint::Batch, &request(None, body)) else {
            panic!("dead letters must reach the origin")
        };
        assert_eq!(forward.pending.accepted, 0);
        assert_eq!(
            forward.pending.refusal.as_ref().unwrap().0,
            ErrorCode::InvalidRequest
        );
        assert_eq!(relay_of(&forward).dead_letters.len(), 1);
    }

    #[test]
    fn refuses_bad_requests_at_the_edge_with_the_collectors_statuses() {
        let e = edge(&[]);
        let answer = |auth: Option<&str>, body: &[u8], encoding: Option<&str>| {
            let mut req = request(auth, body);
            req.content_encoding = encoding;
            match e.ingest(Endpoint::Batch, &req) {
                Step::Answer(a) => {
                    let body: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
                    (a.status, body["code"].as_str().unwrap_or("").to_owned())
                }
                Step::Forward(_) => (0, "forwarded".into()),
            }
        };
        let good = br#"{"batch":[{"type":"page","anonymousId":"a"}]}"#;
        let unknown = basic_authorization("nope");
        assert_eq!(
            answer(Some(&unknown), good, None),
            (401, "unauthorized".into())
        );
        assert_eq!(answer(None, good, None), (401, "unauthorized".into()));
        let known = basic_authorization("wk");
        assert_eq!(
            answer(Some(&known), b"{\"batch\": [", None),
            (400, "invalid_json".into())
        );
        assert_eq!(
            answer(Some(&known), b"\x1f\x8bnope", Some("gzip")),
            (400, "invalid_encoding".into())
        );
        assert_eq!(
            answer(Some(&known), good, Some("br")),
            (400, "invalid_encoding".into())
        );
        let big = vec![b' '; MAX_WIRE_BYTES + 1];
        assert_eq!(
            answer(Some(&known), &big, None),
            (413, "batch_too_large".into())
        );
        let over_batch = vec![b' '; MAX_BATCH_BYTES + 1];
        assert_eq!(
            answer(Some(&known), &over_batch, None),
            (413, "batch_too_large".into())
        );
        assert!(Edge::too_large(Some("900000")).is_some());
        assert!(Edge::too_large(Some("1000")).is_none());
        let empty = br#"{"batch":[]}"#;
        assert_eq!(
            answer(Some(&known), empty, None),
            (200, String::new()),
            "nothing to store"
        );
    }

    #[test]
    fn limits_each_write_key_in_this_isolate() {
        let e = edge(&[
            ("RATE_LIMIT_EVENTS_PER_SEC", "1"),
            ("RATE_LIMIT_BURST", "2"),
        ]);
        let auth = basic_authorization("wk");
        let body =
            br#"{"batch":[{"type":"page","anonymousId":"a"},{"type":"page","anonymousId":"b"}]}"#;
        assert!(matches!(
            e.ingest(Endpoint::Batch, &request(Some(&auth), body)),
            Step::Forward(_)
        ));
        let Step::Answer(limited) = e.ingest(Endpoint::Batch, &request(Some(&auth), body)) else {
            panic!("over the burst")
        };
        assert_eq!(limited.status, 429);
        assert_eq!(limited.header("retry-after"), Some("2"));
        assert_eq!(
            limited.header("x-ratelimit-reset"),
            Some("2"),
            "analytics.js reads it"
        );
    }

    #[test]
    fn a_write_keys_own_limit_replaces_the_default_in_this_isolate() {
        let e = edge(&[
            ("RATE_LIMIT_EVENTS_PER_SEC", "1"),
            ("RATE_LIMIT_BURST", "2"),
            ("RATE_LIMITS", r#"{"wk": {"events_per_sec": 0}}"#),
        ]);
        let auth = basic_authorization("wk");
        let body =
            br#"{"batch":[{"type":"page","anonymousId":"a"},{"type":"page","anonymousId":"b"}]}"#;
        for _ in 0..5 {
            assert!(
                matches!(
                    e.ingest(Endpoint::Batch, &request(Some(&auth), body)),
                    Step::Forward(_)
                ),
                "the exempt key is never limited"
            );
        }
    }

    #[test]
    fn a_missing_or_garbled_connecting_ip_is_the_unspecified_address() {
        assert_eq!(
            client_ip(Some(" 2001:db8::1 ")),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(Some("nope")), IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(client_ip(None), IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    }
}
