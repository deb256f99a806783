//! Footfall's backend storage: one query layer over two stores.
//!
//! # Overview
//!
//! * [`model`]: the rows the processor writes ([`EventRow`], [`IdentityRow`], [`SessionRow`],
//!   [`DeadLetterRow`]).
//! * [`Store`]: what a store does: idempotent writes, plus [`Store::select`], which runs one
//!   [`Sql`] built by a query module and returns plain [`Cell`] rows. Every query is built once per
//!   [`Dialect`] by [`sql::SqlBuilder`], which binds user input as DuckDB parameters or as escaped
//!   ClickHouse literals ([`escape`]): input is never formatted into SQL text.
//! * [`DuckStore`]: the embedded default, one DuckDB file ([`duckdb`]).
//! * [`ClickHouseStore`]: ClickHouse over HTTP with batched RowBinary inserts; its migrations
//!   ([`clickhouse`]) run as-is on ClickHouse 18.16 and current.
//! * [`query`]: trends, funnel, retention, timeline and session stats: validated params, SQL
//!   builders, and the deterministic Rust step that turns rows into answers (funnel, retention).
//! * [`conformance`]: a generated dataset and every query over it, run against each store.
//!
//! # Example
//!
//! ```
//! use footfall_store::{DuckStore, EventRow, Store};
//! use footfall_store::query::trends::{self, RawTrendsParams};
//!
//! let store = DuckStore::open_in_memory().unwrap();
//! let row = EventRow::track("shop", "m1", "Order Completed", "anon-1", "", 3_600_000);
//! assert_eq!(store.insert_events(&[row.clone(), row]).unwrap(), 1); // deduplicated on messageId
//! let params = RawTrendsParams { from: 0.into(), to: 7_200_000.into(), interval: "hour".into(), ..Default::default() }
//!     .validate("shop").unwrap();
//! let answer = trends::run(&store, &params).unwrap();
//! assert_eq!(answer.series[0].count, 1);
//! ```
#![deny(missing_docs)]

pub use self::clickhouse::ClickHouseStore;
#[cfg(feature = "duckdb")]
pub use self::duckdb::DuckStore;
pub use cell::{Cell, CellRef};
pub use error::{Error, Result};
pub use model::{
    DeadLetterRow, EventRow, EventWindow, IdentityRow, SessionInputRow, SessionRow, SessionScope,
};
pub use sql::{Column, Dialect, Sql};
pub use store::Store;

mod cell;
pub mod clickhouse;
pub mod conformance;
#[cfg(feature = "duckdb")]
pub mod duckdb;
mod error;
pub mod escape;
pub mod model;
pub mod query;
pub mod sessionize;
pub mod sql;
mod store;
