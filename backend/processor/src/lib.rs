//! Footfall's backend processor: from the durable log to the store, at least once, into
//! idempotent storage, so counts come out exact.
//!
//! # Overview
//!
//! * [`parse`]: the collector's enriched event JSON → [`footfall_store::EventRow`] (+ an identity
//!   operation), and its dead-letter JSON → [`footfall_store::DeadLetterRow`].
//! * [`DedupWindow`]: a bounded window of recent messageIds that drops most repeats before they
//!   are written; the store's own deduplication (primary key / `ReplacingMergeTree` + distinct
//!   counts) makes the result exact.
//! * [`IdentityMap`]: identify and alias build a versioned map from anonymousId to userId;
//!   merging two users who are both already identified is refused and reported as a dead letter
//!   with cause `identity_conflict`.
//! * [`Processor::process`]: one batch: identities, events, dead letters, then the sessions of
//!   every person the batch touched are recomputed from their stored events ([`sessions`]: the
//!   start days the batch can change, or the whole history after an identity link; idempotent,
//!   so late events land in their session). Only then may the source commit its offset.
//! * [`sources`]: [`sources::Source`] and the embedded-log source; [`run`] is the loop with
//!   exponential backoff while the store is down.
//! * [`replay`]: dead-letter replay and time-range reprocessing.
//!
//! # Example
//!
//! ```
//! use footfall_processor::{Processor, SourceRecord};
//! use footfall_store::{DuckStore, Store};
//! use std::sync::Arc;
//!
//! let store = Arc::new(DuckStore::open_in_memory().unwrap());
//! let mut processor = Processor::new(store.clone()).unwrap();
//! let event = br#"{"type":"track","event":"Order Completed","anonymousId":"a1","messageId":"m1",
//!   "timestamp":"2026-11-23T10:00:00.000Z","receivedAt":"2026-11-23T10:00:01.000Z",
//!   "context":{"footfall":{"projectId":"shop","sourceId":"web"}}}"#;
//! let batch = vec![SourceRecord::event(0, event.to_vec()), SourceRecord::event(1, event.to_vec())];
//! let report = processor.process(&batch).unwrap();
//! assert_eq!((report.stored, report.duplicates), (1, 1));
//! ```
#![deny(missing_docs)]

pub use dedup::DedupWindow;
pub use error::{Error, Result};
pub use identity::{IdentityMap, Link};
pub use processor::{BatchReport, Processor, SourceRecord};
pub use sources::{run, RunOptions};

mod dedup;
mod error;
mod identity;
pub mod parse;
mod processor;
pub mod replay;
pub mod sessions;
pub mod sources;
