//! Retention: persons grouped into cohorts by the period of their first cohort event in the range,
//! and, for each later period, how many of them did the returning event.
//!
//! SQL shape: one row per person and period in which they did either event:
//!
//! ```text
//! SELECT e.person_id, bucket(e.ts_ms),
//!        max(event = cohort_event), max(event = return_event)
//! FROM <events deduplicated, resolved to persons> AS e
//! WHERE ts_ms >= bucket(from) AND ts_ms < to + periods * width AND event IN (cohort, return)
//! GROUP BY 1, 2 ORDER BY 1, 2
//! ```
//!
//! [`compute`] then builds the grid: period 0 is the cohort period itself.

mod params;
mod sql;
#[cfg(test)]
mod tests;

pub use params::{RawRetentionParams, RetentionParams};
pub use sql::build;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{Result, Store};

/// One cohort row of the grid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cohort {
    /// Cohort period start, Unix ms.
    pub period_ms: i64,
    /// Cohort period start, RFC 3339.
    pub period: String,
    /// Persons in the cohort.
    pub size: i64,
    /// Persons who did the returning event in period 0, 1, …, `periods` after the cohort period
    /// (future periods included as 0).
    pub returned: Vec<i64>,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Retention {
    /// `day` or `week`.
    pub interval: crate::query::Interval,
    /// Cohorts by period, empty ones included.
    pub cohorts: Vec<Cohort>,
}

/// One input row of [`compute`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonPeriod {
    /// The person.
    pub person: String,
    /// Period start, Unix ms.
    pub period_ms: i64,
    /// Did the cohort event in that period.
    pub cohort: bool,
    /// Did the returning event in that period.
    pub returned: bool,
}

/// Runs the query.
pub fn run(store: &dyn Store, params: &RetentionParams) -> Result<Retention> {
    let rows = store.select(&build(params, store.dialect()))?;
    let rows: Vec<PersonPeriod> = rows
        .into_iter()
        .map(|r| PersonPeriod {
            person: r[0].as_string(),
            period_ms: r[1].as_i64(),
            cohort: r[2].as_i64() != 0,
            returned: r[3].as_i64() != 0,
        })
        .collect();
    Ok(compute(params, &rows))
}

/// Rows ordered by person and period → grid.
pub fn compute(p: &RetentionParams, rows: &[PersonPeriod]) -> Retention {
    let width = p.interval.width_ms();
    let first = p.interval.bucket(p.from_ms);
    let mut grid: BTreeMap<i64, (i64, Vec<i64>)> = BTreeMap::new();
    let mut period = first;
    while period < p.to_ms {
        grid.insert(period, (0, vec![0; p.periods + 1]));
        period += width;
    }
    let mut start = 0;
    while start < rows.len() {
        let mut end = start;
        while end < rows.len() && rows[end].person == rows[start].person {
            end += 1;
        }
        let mine = &rows[start..end];
        if let Some(c) = mine.iter().find(|r| r.cohort && r.period_ms < p.to_ms) {
            if let Some((size, returned)) = grid.get_mut(&c.period_ms) {
                *size += 1;
                for r in mine
                    .iter()
                    .filter(|r| r.returned && r.period_ms >= c.period_ms)
                {
                    let k = ((r.period_ms - c.period_ms) / width) as usize;
                    if k <= p.periods {
                        returned[k] += 1;
                    }
                }
            }
        }
        start = end;
    }
    Retention {
        interval: p.interval,
        cohorts: grid
            .into_iter()
            .map(|(period_ms, (size, returned))| Cohort {
                period_ms,
                period: super::format_rfc3339_ms(period_ms),
                size,
                returned,
            })
            .collect(),
    }
}
