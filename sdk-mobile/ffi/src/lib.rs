//! Footfall's mobile SDK: the engine, a SQLite queue and an uploader thread, exposed to Kotlin and
//! Swift through UniFFI.
//!
//! # Overview
//!
//! The core decides; this crate does the platform's I/O (as in Glean: the core keeps the queue and says
//! what to upload, the platform sends it):
//!
//! * [`Analytics`] wraps a [`footfall_core::Client`] over a
//!   [`SqliteStorage`](footfall_storage_sqlite::SqliteStorage), behind a mutex. Recording calls
//!   (`track`, `screen`, `identify`, …) take properties as JSON strings, validate them and write the
//!   event to SQLite before returning.
//! * One background thread (`footfall.upload`) loops on the engine's `next_action`: it POSTs each batch
//!   with reqwest (rustls, optionally gzipped) and reports the outcome with `on_upload_result`. It
//!   sleeps while the engine says `Wait` or `Idle`, and wakes on a flush, on reaching `flush_at`, on
//!   lifecycle hooks and on a network change.
//! * Every dropped event is observable: counted in [`AnalyticsStats`], returned by
//!   [`Analytics::take_dropped`], or pushed to an [`AnalyticsListener`] if the app set one.
//!
//! Lifecycle: call [`Analytics::on_background`] when the app goes to the background (it flushes),
//! [`Analytics::set_network_available`] from the reachability monitor, and [`Analytics::shutdown`] to
//! stop the thread.
//!
//! # Example
//!
//! ```no_run
//! use footfall_mobile::{Analytics, AnalyticsConfig};
//!
//! let analytics = Analytics::new(AnalyticsConfig::new(
//!     "wk_live_123",
//!     "https://collector.example.com",
//!     "/data/data/com.example/files/footfall.sqlite",
//! ))?;
//! analytics.track("Order Completed".into(), Some(r#"{"revenue": 42.5}"#.into()))?;
//! analytics.on_background();
//! analytics.shutdown();
//! # Ok::<(), footfall_mobile::FootfallError>(())
//! ```

#![deny(missing_docs)]

mod analytics;
mod config;
mod error;
mod records;
mod uploader;

pub use analytics::{Analytics, AnalyticsListener};
pub use config::AnalyticsConfig;
pub use error::FootfallError;
pub use records::{AnalyticsStats, DropReason, DroppedEvent, UploadSummary};

uniffi::setup_scaffolding!();
