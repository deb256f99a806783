//! Footfall's query API: HTTP JSON over the store, described in `docs/openapi.yaml`.
//!
//! # Overview
//!
//! * [`api_router`] merges one router per query module ([`http::trends`], [`http::funnel`],
//!   [`http::retention`], [`http::timeline`], [`http::sessions`]) and [`http::dead_letters`].
//! * Reads need a read key (`Authorization: Bearer <key>`), separate from the collector's write
//!   keys; each read key is bound to one project ([`ReadKeys`]).
//! * [`ApiError`] is the one error type; its `IntoResponse` chooses every status:
//!   400 (with the parameter named), 401, 404, 503, 500.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use footfall_api::{api_router, AppState, ReadKeys};
//! use footfall_store::DuckStore;
//!
//! let store = Arc::new(DuckStore::open_in_memory().unwrap());
//! let mut keys = ReadKeys::default();
//! keys.insert("rk_secret", "shop");
//! let app: axum::Router = api_router(AppState::new(store, keys));
//! ```
#![deny(missing_docs)]

pub use http::error::ApiError;
pub use http::extract::{ReadKeys, ReadProject};
pub use http::{api_router, AppState};

pub mod http;
