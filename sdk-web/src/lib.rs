//! Footfall's web SDK: the [`footfall_core`] engine compiled to WebAssembly, with a persistent queue
//! in the browser.
//!
//! # Overview
//!
//! * [`WebStorage`] implements the engine's [`Storage`](footfall_core::Storage) as an in-memory
//!   mirror of the queue and values, with a journal of what changed. The npm package's JavaScript
//!   loads the mirror from IndexedDB (or localStorage) at start and writes the journal behind, once
//!   per turn of the event loop; the [`storage`] module documents the crash window and the tabs.
//! * [`Core`] is the class the package's `index.js` drives: recording calls take JSON text (from
//!   `JSON.stringify`), and `next`/`result` are the engine's upload conversation. `index.js` owns
//!   the browser side: `fetch` with `keepalive`, `sendBeacon` on `pagehide` and when the page is
//!   hidden, page views (SPA navigation included), UTM and referrer context, the cross-tab session,
//!   and IndexedDB (`js/io.js`).
//!
//! The module is built for size (`docs/web.md`, "Budgets"): footfall-core without serde or `std`, no
//! `core::fmt` on any path (errors are built as text by [`footfall_core::Error::message`]), a
//! handful of exports taking and returning numbers and strings, and, with the `npm` feature, no
//! standard library at all.
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
//! let storage = WebStorage::new();
//! let mut client = Client::new(Config::new("wk_123"), storage.clone(), ManualClock::new(0), 7)?;
//! client.track_json("Signed Up", r#"{"plan":"pro"}"#)?;
//! assert_eq!(storage.count(), 1);
//! // What the page must write to IndexedDB: the event, the ids and the session.
//! assert!(storage.take_op().is_some());
//! # Ok::<(), footfall_core::Error>(())
//! ```

#![cfg_attr(feature = "npm", no_std)]
#![deny(missing_docs)]

extern crate alloc;

mod core;
pub mod storage;

pub use crate::core::{BrowserClock, Core};
pub use storage::WebStorage;

/// A panic is a bug (no input reaches one: every error is a `Result`); in the shipped module it traps,
/// which keeps the panic machinery and its messages out of the wasm.
#[cfg(all(feature = "npm", target_arch = "wasm32"))]
#[panic_handler]
fn panic(_: &::core::panic::PanicInfo<'_>) -> ! {
    ::core::arch::wasm32::unreachable()
}

/// The standard library's own allocator on wasm32, taken directly since the module has no `std`.
#[cfg(all(feature = "npm", target_arch = "wasm32"))]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;
