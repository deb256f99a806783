//! The Footfall SDK engine: one Rust core for every client (browser, iOS, Android, server).
//!
//! # Overview
//!
//! The engine decides; the platform does the I/O. A [`Client`] records events (`track`, `page`, `screen`,
//! `identify`, `group`, `alias`) into a bounded, persistent queue behind the [`Storage`] trait, keeps the
//! anonymous id, user id and session, and decides what to upload and when. The platform:
//!
//! * implements [`Storage`] (SQLite on mobile, IndexedDB on the web, [`MemoryStorage`] in tests) and
//!   supplies a [`Clock`];
//! * loops on [`Client::next_action`], sending each [`BatchRequest`] over HTTP and reporting the
//!   [`UploadOutcome`] through [`Client::on_upload_result`].
//!
//! The guarantees, each tested by a property test that crashes and restarts the engine at random:
//!
//! * every event is given a UUIDv7 messageId when recorded, and every retry sends it unchanged, so the
//!   collector can deduplicate;
//! * an accepted event is delivered, or it is dropped for a reason that is counted in [`Stats`] and
//!   reported by [`Client::take_dropped`]: never silently;
//! * the queue never exceeds its bounds in events or bytes.
//!
//! Properties, traits and context are JSON objects. The `*_json` methods ([`Client::track_json`], …)
//! take them as JSON text, check it and splice it into the message unchanged; with the `serde` feature
//! the methods without the suffix take a `serde_json::Value`.
//!
//! # Example
//!
//! ```
//! # #[cfg(feature = "std")] {
//! use footfall_core::{Action, Client, Config, ManualClock, MemoryStorage, UploadOutcome};
//!
//! let clock = ManualClock::new(1_795_000_000_000);
//! let mut client = Client::new(Config::new("wk_123"), MemoryStorage::new(), clock.clone(), 42)?;
//! client.identify_json(Some("user-7"), r#"{"plan": "pro"}"#)?;
//! client.track_json("Order Completed", r#"{"revenue": 42.50}"#)?;
//! client.flush();
//!
//! let Action::Upload(request) = client.next_action(clock.now())? else { panic!("an upload is due") };
//! assert_eq!(request.message_ids.len(), 2);
//! // … the platform POSTs request.body to the collector's request.path …
//! let report = client.on_upload_result(request.batch_id, UploadOutcome::response(200, None, r#"{"success":true}"#))?;
//! assert_eq!(report.delivered, 2);
//! assert_eq!(client.next_action(clock.now())?, Action::Idle);
//! # use footfall_core::Clock;
//! # }
//! # Ok::<(), footfall_core::Error>(())
//! ```
//!
//! # Features
//!
//! * `std` (default): [`SystemClock`] and [`MemoryStorage`]. Without it the crate is `no_std` and needs
//!   only `alloc`: the WebAssembly build, where it also leaves out `core::fmt` unless the platform
//!   formats an [`Error`] with `Display` ([`Error::message`] does without).
//! * `serde` (default): the recording methods that take a `serde_json::Value`.
//! * `http-date` (default): `Retry-After` as an HTTP date as well as delta-seconds.

#![no_std]
#![deny(missing_docs)]

extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

mod client;
mod clock;
mod config;
mod error;
mod ids;
pub mod json;
mod session;
mod stats;
pub mod storage;
pub mod upload;

pub use client::Client;
pub use clock::{Clock, ManualClock, Millis, SystemClock};
pub use config::{Config, MIN_BATCH_BYTES};
pub use error::{Error, ErrorKind};
pub use stats::{DropCounts, DropReason, DroppedEvent, Stats};
#[cfg(feature = "std")]
pub use storage::MemoryStorage;
pub use storage::{NewEvent, Storage, StorageError, StoredEvent};
pub use upload::{Action, BatchRequest, UploadOutcome, UploadReport};
