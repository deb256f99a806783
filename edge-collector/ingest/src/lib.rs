//! Request-independent ingestion for the Footfall edge collector.
//!
//! # Overview
//!
//! This crate holds everything the collector does to a request that does not depend on a server: it has
//! no async runtime, no file system, no threads and no clock (the time of arrival is a parameter), so the
//! same code can run in a Cloudflare Worker (wasm32-unknown-unknown).
//!
//! * [`decode_body`] undoes `Content-Encoding: gzip` whatever `Content-Type` says, capped at a limit
//!   so that a gzip bomb stops early ([`IngestError::TooLarge`]).
//! * [`Ingestor::parse`] reads the body down to raw messages and resolves the write key against
//!   [`WriteKeys`]; [`Ingestor::process`] validates each message on its own and enriches the good ones.
//!   The result is a [`Processed`]: accepted [`Record`]s, dead-letter [`Record`]s with the raw payload
//!   and reason, and one [`footfall_protocol::EventResult`] per message in request order.
//! * Enrichment: skew-corrected `timestamp` ([`timestamp`]), client IP from the peer or trusted
//!   proxies, optionally anonymized ([`ip`]), user agent ([`useragent`]) and geo ([`GeoLookup`], with
//!   a MaxMind implementation behind the `maxmind` feature).
//! * [`SchemaRegistry`]: JSON Schemas per `track` event name with a `reject` or `flag` policy.
//! * [`KeyLimiter`]: the per-write-key rate limit (GCRA, in events), with the time as a parameter.
//! * [`Endpoint::from_path`] and [`IngestError::status`]: the routes and statuses every front door
//!   (the native collector, the edge worker) answers with, and [`relay`]: what the edge worker sends
//!   the origin collector.
//!
//! [`IngestError`] is the only error: a request refused as a whole. A bad message is never an error, it is
//! a dropped event with a reason.
//!
//! # Example
//!
//! ```
//! use footfall_ingest::{decode_body, EnrichOptions, Endpoint, Ingestor, RequestInfo, SchemaRegistry, Source, WriteKeys};
//! use footfall_protocol::{auth::basic_authorization, limits::MAX_BATCH_BYTES, EventStatus};
//!
//! let mut keys = WriteKeys::new();
//! keys.insert("wk_1", Source { project_id: "shop".into(), source_id: "web".into() });
//! let ingestor = Ingestor::new(keys, EnrichOptions::default());
//!
//! let body = br#"{"batch":[{"type":"track","event":"Signed Up","userId":"u1","messageId":"m1"},
//!                           {"type":"track","userId":"u1","messageId":"m2"}]}"#;
//! let body = decode_body(body, None, MAX_BATCH_BYTES).unwrap();
//! let auth = basic_authorization("wk_1");
//! let parsed = ingestor.parse(Endpoint::Batch, Some(&auth), &body).unwrap();
//! let request = RequestInfo {
//!     peer: "203.0.113.9".parse().unwrap(),
//!     forwarded_for: None,
//!     user_agent: None,
//!     received_at: time::OffsetDateTime::UNIX_EPOCH,
//!     known_geo: None,
//! };
//! let out = ingestor.process(parsed, &request, &SchemaRegistry::new());
//! assert_eq!(out.accepted.len(), 1);
//! assert_eq!(out.accepted[0].key, b"wk_1:u1");
//! assert_eq!(out.results[1].status, EventStatus::Drop);
//! assert_eq!(out.results[1].reason.as_deref(), Some("event: required on a track, and must not be empty"));
//! ```
#![deny(missing_docs)]

/// The largest body accepted on the wire. Compressed bodies are smaller than their content, and the
/// decoded size is checked against the 500 KB limit; the margin covers incompressible gzip overhead.
pub const MAX_WIRE_BYTES: usize = footfall_protocol::limits::MAX_BATCH_BYTES + 64 * 1024;

pub use decode::{decode_body, is_compressed};
pub use error::IngestError;
#[cfg(feature = "maxmind")]
pub use geo::MaxMindGeo;
pub use geo::{Geo, GeoLookup};
pub use keys::{Source, WriteKeys};
pub use limit::{KeyLimiter, KeyRateLimit, RateLimit, RateLimits};
pub use number_range::number_beyond_f64;
pub use pipeline::{
    DropCause, Endpoint, EnrichOptions, Ingestor, Parsed, Processed, Record, RequestInfo,
    SchemaViolation,
};
pub use schema::{
    PlannedSchema, SchemaError, SchemaFile, SchemaKind, SchemaOutcome, SchemaPolicy,
    SchemaRegistry, TrackingPlan, UnplannedEvents,
};
pub use sdk_settings::{
    rudderstack_source_config, segment_settings, settings_write_key, NO_SUCH_SOURCE,
};

mod decode;
mod envelope;
mod error;
mod geo;
pub mod ip;
mod keys;
mod limit;
mod number_range;
mod pipeline;
pub mod pixel;
pub mod relay;
mod schema;
mod sdk_settings;
pub mod timestamp;
pub mod useragent;
