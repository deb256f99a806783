//! Raw funnel parameters → validated.

use serde::Deserialize;

use crate::query::{check_name, check_project, check_range, TimeArg};
use crate::{Error, Result};

/// The most steps.
pub const MAX_STEPS: usize = 10;
/// The longest conversion window: 90 days.
pub const MAX_WINDOW_SECONDS: i64 = 90 * 86_400;

/// As received.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFunnelParams {
    /// Event names, in order (2 to 10).
    pub steps: Vec<String>,
    /// Start of the range in which the first step must happen (inclusive).
    pub from: TimeArg,
    /// End of that range (exclusive).
    pub to: TimeArg,
    /// Conversion window in seconds, from the first step (default 1 day).
    #[serde(default)]
    pub window_seconds: Option<i64>,
    /// A top-level property of the first step's event to break down by.
    #[serde(default)]
    pub breakdown: Option<String>,
}

/// Validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunnelParams {
    /// The project.
    pub project: String,
    /// Event names in order.
    pub steps: Vec<String>,
    /// Start, Unix ms.
    pub from_ms: i64,
    /// End, Unix ms.
    pub to_ms: i64,
    /// Window, ms.
    pub window_ms: i64,
    /// The breakdown property.
    pub breakdown: Option<String>,
}

impl RawFunnelParams {
    /// Validates for `project`.
    pub fn validate(self, project: &str) -> Result<FunnelParams> {
        check_project(project)?;
        if self.steps.len() < 2 || self.steps.len() > MAX_STEPS {
            return Err(Error::invalid(
                "steps",
                format!("between 2 and {MAX_STEPS} event names"),
            ));
        }
        for s in &self.steps {
            check_name("steps", s)?;
        }
        let from_ms = self.from.millis("from")?;
        let to_ms = self.to.millis("to")?;
        check_range(from_ms, to_ms, 3660)?;
        let window = self.window_seconds.unwrap_or(86_400);
        if !(1..=MAX_WINDOW_SECONDS).contains(&window) {
            return Err(Error::invalid(
                "window_seconds",
                format!("between 1 and {MAX_WINDOW_SECONDS}"),
            ));
        }
        if let Some(b) = &self.breakdown {
            check_name("breakdown", b)?;
        }
        Ok(FunnelParams {
            project: project.to_owned(),
            steps: self.steps,
            from_ms,
            to_ms,
            window_ms: window * 1000,
            breakdown: self.breakdown,
        })
    }
}
