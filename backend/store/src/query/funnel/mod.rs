//! Funnels: ordered steps within a conversion window; conversion and drop-off per step, median
//! time between steps, and a breakdown.
//!
//! SQL shape ([`build`]): one row per person (and first-step breakdown value) with the person's
//! step events packed into sorted integers, so the engine does the scan, the identity join and the
//! grouping, and only a few bytes per step event cross to Rust:
//!
//! ```text
//! SELECT e.person_id, <first-step breakdown value or ''> AS breakdown,
//!        sorted list of k = ((ts_ms - from) << 4 | step code) joined by ','
//! FROM <events of the project in [from, to + window) with a step name, resolved to persons> AS e
//! GROUP BY person_id, breakdown  -- rows in any order; on DuckDB, k is computed in an inner query
//! ```
//!
//! [`compute`] follows ClickHouse's `windowFunnel(window)` semantics: each first-step event in
//! `[from, to)` may start a chain; later steps must follow in order, not earlier than the previous
//! step and at most `window` after the chain's start. A person counts at the deepest step any chain
//! reaches; the first chain reaching that depth gives the step times and the breakdown value.
//! The same Rust runs for both stores, so their answers are identical.

mod compute;
mod params;
mod sql;
#[cfg(test)]
mod tests;

pub use compute::compute;
pub use params::{FunnelParams, RawFunnelParams};
pub use sql::build;

use serde::Serialize;

use crate::{Result, Store};

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

/// Runs the query.
pub fn run(store: &dyn Store, params: &FunnelParams) -> Result<Funnel> {
    let sql = build(params, store.dialect());
    if params.breakdown.is_some() {
        // A person has a row per first-step value, in any order: collect them to bring them
        // together.
        return from_rows(params, &store.select(&sql)?);
    }
    // One row per person: streamed, a million rows without a copy of each.
    let mut persons = PersonRows::new(params);
    store.select_each(&sql, &mut |row| persons.row(row))?;
    Ok(persons.finish())
}

/// The funnel from the rows of [`build`]'s query.
pub(crate) fn from_rows(params: &FunnelParams, rows: &[Vec<crate::Cell>]) -> Result<Funnel> {
    let mut ordered: Vec<&Vec<crate::Cell>> = rows.iter().collect();
    if params.breakdown.is_some() {
        ordered.sort_by(|a, b| a.first().cmp(&b.first()));
    }
    let mut persons = PersonRows::new(params);
    let mut cells = Vec::new();
    for row in ordered {
        cells.clear();
        cells.extend(row.iter().map(crate::CellRef::from));
        persons.row(&cells)?;
    }
    Ok(persons.finish())
}

/// Feeds [`build`]'s rows, a person's rows next to each other, to the accumulator.
struct PersonRows<'p> {
    params: &'p FunnelParams,
    funnel: compute::Accumulator<'p>,
    /// The person whose step events are in `hits`, if any.
    person: Option<String>,
    hits: Vec<compute::Hit>,
}

impl<'p> PersonRows<'p> {
    fn new(params: &'p FunnelParams) -> Self {
        Self {
            params,
            funnel: compute::Accumulator::new(params),
            person: None,
            hits: Vec::new(),
        }
    }

    fn row(&mut self, row: &[crate::CellRef<'_>]) -> Result<()> {
        let [who, breakdown, packed] = row else {
            return Err(crate::Error::Shape(format!(
                "a funnel row has {} columns, not 3",
                row.len()
            )));
        };
        let who = who.text();
        match &mut self.person {
            Some(current) if *current == *who => {}
            Some(current) => {
                self.funnel.add_person(&mut self.hits);
                current.clear();
                current.push_str(&who);
            }
            None => self.person = Some(who.into_owned()),
        }
        let breakdown = self.funnel.intern(&breakdown.text());
        for key in packed.text().split(',').filter(|k| !k.is_empty()) {
            let key: i64 = key.parse().map_err(|_| {
                crate::Error::Shape(format!("a funnel step key is not an integer: {key:?}"))
            })?;
            self.hits.push(compute::Hit {
                ts_ms: self.params.from_ms + (key >> STEP_BITS),
                code: (key & ((1 << STEP_BITS) - 1)) as u8,
                breakdown,
            });
        }
        Ok(())
    }

    fn finish(mut self) -> Funnel {
        if self.person.is_some() {
            self.funnel.add_person(&mut self.hits);
        }
        self.funnel.finish()
    }
}
