//! Funnels: ordered steps within a conversion window; conversion and drop-off per step, median
//! time between steps, and a breakdown.
//!
//! SQL shape ([`build`]): each step event packed into an integer beside the distinct id it was
//! sent under (the userId, else the anonymousId) and its first-step breakdown value, so the
//! engine only scans and filters, and a few bytes per step event cross to Rust:
//!
//! ```text
//! SELECT <userId, else anonymousId> AS distinct_id, <first-step breakdown value or ''> AS breakdown,
//!        k = ((ts_ms - from) << 4 | step code) << 1 | anonymous
//! FROM events WHERE <project, time in [from, to + window), a step name>
//! -- ClickHouse: a row per step event, in RowBinary, in any order.
//! -- DuckDB: GROUP BY distinct_id, breakdown, with k joined as text 'k,k,…' (computed in an
//! --         inner query), which its embedded reader hands over faster than a row per event.
//! ```
//!
//! [`run`] then resolves each id to a person through the project's identity map
//! ([`identity_map`]): an event with a userId is that user's; an anonymous event belongs to the
//! user its anonymousId maps to, else to the anonymousId. The anonymous bit of each key says which
//! rule applies, because a userId may be spelled like someone's anonymousId. Each person's events
//! are gathered as the rows stream in, and computed once the last row is in.
//!
//! [`compute`] follows ClickHouse's `windowFunnel(window)` semantics: each first-step event in
//! `[from, to)` may start a chain; later steps must follow in order, not earlier than the previous
//! step and at most `window` after the chain's start. A person counts at the deepest step any chain
//! reaches; the first chain reaching that depth gives the step times and the breakdown value.
//! The same Rust runs for both stores, so their answers are identical.

mod compute;
mod params;
mod persons;
mod sql;
#[cfg(test)]
mod tests;

pub use compute::compute;
pub use params::{FunnelParams, RawFunnelParams};
pub use sql::{build, identity_map};

use serde::Serialize;

use crate::{Error, Result, Store};

/// One step of a funnel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelStep {
    /// 1-based step number.
    pub step: usize,
    /// The event name.
    pub event: String,
    /// Persons who reached this step.
    pub count: i64,
    /// `count / first step count` (1 for the first step, 0 when nobody entered).
    pub conversion: f64,
    /// `count / previous step count`.
    pub conversion_from_previous: f64,
    /// Persons who reached the previous step but not this one.
    pub dropoff: i64,
    /// Median ms from the previous step, among persons who reached this step.
    pub median_ms_from_previous: Option<i64>,
}

/// The funnel for one breakdown value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelBreakdown {
    /// The breakdown value (`""` without a breakdown or when absent).
    pub breakdown: String,
    /// The steps.
    pub steps: Vec<FunnelStep>,
}

/// The answer: the total first, then one funnel per breakdown value (sorted) when asked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Funnel {
    /// All persons.
    pub total: Vec<FunnelStep>,
    /// Per breakdown value; empty without a breakdown.
    pub breakdowns: Vec<FunnelBreakdown>,
}

/// One input row of [`compute`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepEvent {
    /// The person.
    pub person: String,
    /// Event time, Unix ms.
    pub ts_ms: i64,
    /// The event name.
    pub event: String,
    /// The breakdown value.
    pub breakdown: String,
}

/// Bits of a packed step event that hold the step code (so at most 16 distinct step names).
pub(crate) const STEP_BITS: u32 = 4;
const _: () = assert!(params::MAX_STEPS <= 1 << STEP_BITS);

/// Rows per batch, for tests that cross batches.
#[cfg(test)]
pub(crate) const BATCH_ROWS: usize = persons::RowBatch::ROWS;

/// Batches of rows read ahead of the thread that resolves them.
const BATCHES_AHEAD: usize = 4;

/// Runs the query: its rows, streamed, resolved through the identity map.
///
/// Three threads, because the engine's answer comes fast enough to keep two busy: one reads the
/// map, while the engine starts on the step events; one reads and parses the rows (this one); one
/// resolves them to persons, gathers each person's events, and computes the funnel once the last
/// row is in. The parsed rows go over in batches ([`persons::RowBatch`]), and the batches come
/// back empty to be refilled. (Letting 256 batches queue while the map loads, instead of 4, made
/// no difference that showed over this machine's noise.)
pub fn run(store: &dyn Store, params: &FunnelParams) -> Result<Funnel> {
    let ids = persons::IdHasher::default();
    std::thread::scope(|threads| {
        let loading =
            threads.spawn(move || persons::IdentityMap::load(store, &params.project, ids));
        let (full, filled) = std::sync::mpsc::sync_channel::<persons::RowBatch>(BATCHES_AHEAD);
        let (empty, emptied) = std::sync::mpsc::channel::<persons::RowBatch>();
        let resolving = threads.spawn(move || -> Result<Funnel> {
            let identities = loading
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))?;
            let mut persons = persons::PersonRows::new(params, identities);
            for mut batch in filled {
                persons.resolve(&mut batch);
                // The reader may be done already; the batch is then just dropped.
                let _ = empty.send(batch);
            }
            Ok(persons.finish())
        });
        let mut batch = persons::RowBatch::new(ids);
        let hand_on = |batch: persons::RowBatch| {
            full.send(batch).map_err(|_| {
                // The resolver's own error (reading the map) is the answer; see below.
                Error::Shape("the funnel's resolving thread stopped".into())
            })
        };
        let read = store
            .select_each(&build(params, store.dialect()), &mut |row| {
                batch.push(row)?;
                if batch.len() >= persons::RowBatch::ROWS {
                    let next = emptied
                        .try_recv()
                        .unwrap_or_else(|_| persons::RowBatch::new(ids));
                    hand_on(std::mem::replace(&mut batch, next))?;
                }
                Ok(())
            })
            .and_then(|()| hand_on(batch));
        drop(full);
        let funnel = resolving
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        // A failed map is the first error: the reader only stopped because the resolver did.
        let funnel = funnel?;
        read?;
        Ok(funnel)
    })
}
