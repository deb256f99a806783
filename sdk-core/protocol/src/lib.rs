//! The Footfall wire protocol, shared by every SDK and by the collector.
//!
//! # Overview
//!
//! Footfall speaks [Segment's HTTP Tracking API] so that existing Segment and RudderStack clients work
//! unchanged, and adds one thing Segment lacks: a per-event result in every batch response, so that a
//! client resends only the events that failed.
//!
//! * [`Message`] is one event (`track`, `page`, `screen`, `identify`, `group` or `alias`), owned and
//!   lenient, as a collector reads it. Unknown fields are kept in [`Message::extra`].
//! * [`MessageRef`] is the same wire shape, borrowed, as an SDK writes it without copying.
//! * [`Batch`] is the `POST /v1/batch` envelope.
//! * [`BatchResponse`] and [`EventResult`] carry the per-event outcome: [`EventStatus::Ok`],
//!   [`EventStatus::Retry`] or [`EventStatus::Drop`] with a reason.
//! * [`ErrorBody`] is the Segment-style error body (`code` and `message`), which real clients read to
//!   decide not to retry a 400.
//! * [`auth`] encodes and decodes the write key in HTTP Basic auth.
//! * [`limits`] holds Segment's size limits.
//!
//! The full protocol, with examples of every request and response, is in `docs/protocol.md`.
//!
//! # Example
//!
//! ```
//! # #[cfg(feature = "serde")] {
//! use footfall_protocol::{Batch, EventStatus, BatchResponse};
//!
//! let body = r#"{"batch":[{"type":"track","event":"Signed Up","messageId":"m-1",
//!                "anonymousId":"a-1","properties":{"plan":"pro"}}],"sentAt":"2026-11-22T10:00:00.000Z"}"#;
//! let batch: Batch = serde_json::from_str(body).unwrap();
//! assert_eq!(batch.batch[0].event.as_deref(), Some("Signed Up"));
//!
//! let answer = BatchResponse::from_results(vec![footfall_protocol::EventResult::ok("m-1")]);
//! assert_eq!(answer.results[0].status, EventStatus::Ok);
//! # }
//! ```
//!
//! # Features
//!
//! `serde` (on by default) adds everything that needs serde: [`Message`], [`MessageRef`], [`Batch`],
//! [`BatchResponse`], [`EventResult`], [`ErrorBody`] and reading a write key from a header. Without it
//! the crate is `no_std` with no dependencies and keeps what an SDK that writes JSON by hand needs:
//! [`MessageType`], [`EventStatus`], [`ErrorCode`], [`limits`], the timestamp format and
//! [`auth::basic_authorization`].
//!
//! [Segment's HTTP Tracking API]: https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/

#![no_std]

extern crate alloc;
#[cfg(any(feature = "serde", test))]
extern crate std;

pub mod auth;
#[cfg(feature = "serde")]
mod batch;
#[cfg(feature = "serde")]
pub mod json;
pub mod limits;
mod message;
mod response;
mod timestamp;

#[cfg(feature = "serde")]
pub use batch::Batch;
#[cfg(feature = "serde")]
pub use message::{Message, MessageRef};
pub use message::{MessageType, UnknownMessageType};
#[cfg(feature = "serde")]
pub use response::{BatchResponse, ErrorBody, EventResult};
pub use response::{ErrorCode, EventStatus};
pub use timestamp::{format_rfc3339_millis, rfc3339_millis_bytes, write_rfc3339_millis};
