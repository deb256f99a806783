//! Raw trends parameters (as the API and CLI receive them) → validated.

use serde::Deserialize;

use crate::query::{check_name, check_project, check_range, Interval, TimeArg};
use crate::{Error, Result};

/// The most event names in one query.
pub const MAX_EVENTS: usize = 20;

/// As received.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrendsParams {
    /// Event names; empty means every event.
    #[serde(default)]
    pub events: Vec<String>,
    /// Start of the range (inclusive).
    pub from: TimeArg,
    /// End of the range (exclusive).
    pub to: TimeArg,
    /// `hour`, `day` or `week`.
    #[serde(default = "default_interval")]
    pub interval: String,
    /// A top-level property to break down by.
    #[serde(default)]
    pub breakdown: Option<String>,
}

fn default_interval() -> String {
    "day".into()
}

/// Validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrendsParams {
    /// The project.
    pub project: String,
    /// Event names; empty means every event.
    pub events: Vec<String>,
    /// Start, Unix ms (inclusive).
    pub from_ms: i64,
    /// End, Unix ms (exclusive).
    pub to_ms: i64,
    /// The bucket.
    pub interval: Interval,
    /// The breakdown property.
    pub breakdown: Option<String>,
}

impl RawTrendsParams {
    /// Validates for `project`.
    pub fn validate(self, project: &str) -> Result<TrendsParams> {
        check_project(project)?;
        let from_ms = self.from.millis("from")?;
        let to_ms = self.to.millis("to")?;
        let interval = Interval::parse(
            "interval",
            &self.interval,
            &[Interval::Hour, Interval::Day, Interval::Week],
        )?;
        let max_days = if interval == Interval::Hour { 31 } else { 3660 };
        check_range(from_ms, to_ms, max_days)?;
        if self.events.len() > MAX_EVENTS {
            return Err(Error::invalid(
                "events",
                format!("at most {MAX_EVENTS} events"),
            ));
        }
        for e in &self.events {
            check_name("events", e)?;
        }
        if let Some(b) = &self.breakdown {
            check_name("breakdown", b)?;
        }
        Ok(TrendsParams {
            project: project.to_owned(),
            events: self.events,
            from_ms,
            to_ms,
            interval,
            breakdown: self.breakdown,
        })
    }
}
