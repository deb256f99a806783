//! Raw session-stats parameters → validated.

use serde::Deserialize;

use crate::query::{check_project, check_range, TimeArg};
use crate::Result;

/// As received.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSessionParams {
    /// Sessions starting at or after this time.
    pub from: TimeArg,
    /// Sessions starting before this time.
    pub to: TimeArg,
}

/// Validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionParams {
    /// The project.
    pub project: String,
    /// Start, Unix ms.
    pub from_ms: i64,
    /// End, Unix ms.
    pub to_ms: i64,
}

impl RawSessionParams {
    /// Validates for `project`.
    pub fn validate(self, project: &str) -> Result<SessionParams> {
        check_project(project)?;
        let from_ms = self.from.millis("from")?;
        let to_ms = self.to.millis("to")?;
        check_range(from_ms, to_ms, 3660)?;
        Ok(SessionParams {
            project: project.to_owned(),
            from_ms,
            to_ms,
        })
    }
}
