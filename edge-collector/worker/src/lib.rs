//! Footfall's edge worker: the collector's front door as a Cloudflare Worker.
//!
//! # Overview
//!
//! SDK traffic terminates at the Cloudflare location nearest the user. The worker runs the same
//! `footfall_ingest` code as the native collector (write keys, the per-key rate limit, decoding,
//! validation, enrichment with the client IP from `CF-Connecting-IP` and geo from `request.cf`), so bad
//! input is refused before it crosses an ocean. It forwards what it accepted, and the dead letters,
//! gzipped, to the origin collector's `POST /edge/v1/records` (see [`footfall_ingest::relay`]), and
//! answers the client **only after the origin has acknowledged**: an acknowledged event is durable at
//! the origin, exactly as with the native collector alone.
//!
//! * [`config`]: the Wrangler vars and secrets, validated ([`EdgeConfig`]).
//! * [`edge`]: routing and the pipeline, ending in a [`Step`]: answer at the edge, or forward.
//! * [`origin`]: the origin's reply turned into the client's answer (merge, 429, 503 + Retry-After).
//! * [`geo`]: `request.cf` mapped into the collector's geo fields.
//! * [`answer`]: statuses, error bodies and CORS, as the collector answers them.
//!
//! Everything above is plain Rust with unit tests on the native host; only the glue that reads the
//! request, calls `fetch` and writes the response is built for `wasm32` (`#[event(fetch)]`).
//!
//! # Example
//!
//! ```
//! use footfall_edge_worker::{origin, Edge, EdgeConfig, EdgeRequest, Route, Step};
//!
//! let vars = |name: &str| match name {
//!     "ORIGIN_URL" => Some("https://collector.example.com".to_owned()),
//!     "ORIGIN_SECRET" => Some("0123456789abcdef0123456789abcdef".to_owned()),
//!     "WRITE_KEYS" => Some(r#"{"wk": {"projectId": "shop", "sourceId": "web"}}"#.to_owned()),
//!     _ => None,
//! };
//! let edge = Edge::new(EdgeConfig::from_vars(vars).unwrap());
//! let Route::Api(endpoint) = edge.route("POST", "/v1/track") else { unreachable!() };
//! let body = br#"{"event": "Signed Up", "userId": "u1", "writeKey": "wk"}"#;
//! let request = EdgeRequest {
//!     authorization: None, content_encoding: None, user_agent: None,
//!     connecting_ip: Some("203.0.113.9"), geo: None, body,
//!     now: std::time::Duration::from_secs(1_795_341_600),
//! };
//! let Step::Forward(forward) = edge.ingest(endpoint, &request) else { unreachable!() };
//! // ... POST forward.body to the origin, then:
//! let reply = origin::OriginReply::Answered { status: 200, retry_after: None, body: b"{\"success\":true}".to_vec() };
//! let answer = origin::client_answer(forward.pending, reply, edge.config.retry_after);
//! assert_eq!(answer.status, 200);
//! ```
#![deny(missing_docs)]

pub use answer::Answer;
pub use config::{ConfigError, EdgeConfig};
pub use edge::{Edge, EdgeRequest, Forward, Pending, Route, Step};

pub mod answer;
pub mod config;
pub mod edge;
pub mod geo;
pub mod origin;

#[cfg(target_arch = "wasm32")]
mod glue;
