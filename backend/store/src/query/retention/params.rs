//! Raw retention parameters → validated.

use serde::Deserialize;

use crate::query::{check_name, check_project, check_range, Interval, TimeArg};
use crate::{Error, Result};

/// The most periods after the cohort period.
pub const MAX_PERIODS: usize = 52;

/// As received.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetentionParams {
    /// The event that puts a person in a cohort (their first one in the range).
    pub cohort_event: String,
    /// The returning event.
    pub return_event: String,
    /// Start of the cohort range (inclusive; rounded down to the period).
    pub from: TimeArg,
    /// End of the cohort range (exclusive).
    pub to: TimeArg,
    /// `day` or `week` (default `day`).
    #[serde(default)]
    pub interval: Option<String>,
    /// Periods after the cohort period (default 7, at most 52).
    #[serde(default)]
    pub periods: Option<usize>,
}

/// Validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionParams {
    /// The project.
    pub project: String,
    /// The cohort event.
    pub cohort_event: String,
    /// The returning event.
    pub return_event: String,
    /// Start, Unix ms.
    pub from_ms: i64,
    /// End, Unix ms.
    pub to_ms: i64,
    /// Day or week.
    pub interval: Interval,
    /// Periods after the cohort period.
    pub periods: usize,
}

impl RawRetentionParams {
    /// Validates for `project`.
    pub fn validate(self, project: &str) -> Result<RetentionParams> {
        check_project(project)?;
        check_name("cohort_event", &self.cohort_event)?;
        check_name("return_event", &self.return_event)?;
        let from_ms = self.from.millis("from")?;
        let to_ms = self.to.millis("to")?;
        check_range(from_ms, to_ms, 366)?;
        let interval = Interval::parse(
            "interval",
            self.interval.as_deref().unwrap_or("day"),
            &[Interval::Day, Interval::Week],
        )?;
        let periods = self.periods.unwrap_or(7);
        if periods > MAX_PERIODS {
            return Err(Error::invalid("periods", format!("at most {MAX_PERIODS}")));
        }
        Ok(RetentionParams {
            project: project.to_owned(),
            cohort_event: self.cohort_event,
            return_event: self.return_event,
            from_ms,
            to_ms,
            interval,
            periods,
        })
    }
}
