//! Footfall's web SDK: the [`footfall_core`] engine compiled to WebAssembly, with a persistent queue
//! in the browser.
//!
//! # Overview
//!
//! * [`WebStorage`] implements the engine's [`Storage`](footfall_core::Storage) over IndexedDB
//!   (localStorage when IndexedDB is refused, memory when both are): an in-memory mirror loaded at
//!   open and written behind in one transaction per turn of the event loop. The [`storage`] module
//!   documents the crash window and how tabs share the store.
//! * [`Core`] is the class the npm package's `index.js` drives: recording calls take JSON text, and
//!   `next`/`result` are the engine's upload conversation. `index.js` owns the browser side: `fetch`
//!   with `keepalive`, `sendBeacon` on `pagehide` and when the page is hidden, page views (SPA
//!   navigation included), UTM and referrer context, and the cross-tab session.
//!
//! The JavaScript and TypeScript API is in `sdk-web/npm/index.d.ts`; `docs/web.md` covers building,
//! testing and the size and speed budgets.
//!
//! # Example
//!
//! ```
//! use footfall_core::{Client, Config, ManualClock, Storage};
//! use footfall_web::WebStorage;
//!
//! // Off the browser a WebStorage keeps everything in memory; in the browser use
//! // `WebStorage::open("footfall", false).await`.
//! let storage = WebStorage::memory();
//! let mut client = Client::new(Config::new("wk_123"), storage.clone(), ManualClock::new(0), 7)?;
//! client.track("Signed Up", serde_json::json!({"plan": "pro"}))?;
//! assert_eq!(storage.count(), 1);
//! # Ok::<(), footfall_core::Error>(())
//! ```

#![deny(missing_docs)]

mod core;
pub mod storage;

pub use crate::core::{BrowserClock, Core};
pub use storage::{Backend, WebStorage};
