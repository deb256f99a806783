//! Trends: counts and unique persons per event per interval, optionally broken down by a property.
//!
//! SQL shape (both dialects):
//!
//! ```text
//! SELECT e.event, bucket(e.ts_ms), <breakdown property or ''>,
//!        count(DISTINCT message_id), count(DISTINCT person_id)
//! FROM <events deduplicated, resolved to persons> AS e
//! WHERE ts_ms >= from AND ts_ms < to [AND event IN (...)]
//! GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
//! ```

mod params;
mod sql;
#[cfg(test)]
mod tests;

pub use params::{RawTrendsParams, TrendsParams};
pub use sql::build;

use serde::Serialize;

use crate::{Result, Store};

/// One point of a series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrendPoint {
    /// The event name.
    pub event: String,
    /// Bucket start, Unix ms.
    pub bucket_ms: i64,
    /// Bucket start, RFC 3339.
    pub bucket: String,
    /// The breakdown value (`""` when the property is absent or not a string); absent without a
    /// breakdown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breakdown: Option<String>,
    /// Distinct events.
    pub count: i64,
    /// Distinct persons.
    pub persons: i64,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trends {
    /// Points ordered by event, bucket and breakdown; empty buckets are left out.
    pub series: Vec<TrendPoint>,
}

/// Runs the query.
pub fn run(store: &dyn Store, params: &TrendsParams) -> Result<Trends> {
    let rows = store.select(&build(params, store.dialect()))?;
    let series = rows
        .into_iter()
        .map(|r| TrendPoint {
            event: r[0].as_string(),
            bucket_ms: r[1].as_i64(),
            bucket: super::format_rfc3339_ms(r[1].as_i64()),
            breakdown: params.breakdown.as_ref().map(|_| r[2].as_string()),
            count: r[3].as_i64(),
            persons: r[4].as_i64(),
        })
        .collect();
    Ok(Trends { series })
}
