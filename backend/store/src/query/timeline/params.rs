//! Raw timeline parameters → validated.

use serde::Deserialize;

use crate::query::{check_name, check_project};
use crate::{Error, Result};

/// The most events returned.
pub const MAX_LIMIT: usize = 10_000;

/// As received.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTimelineParams {
    /// A userId or an anonymous id.
    pub person: String,
    /// The most events (default 1000).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineParams {
    /// The project.
    pub project: String,
    /// The id.
    pub person: String,
    /// The most events.
    pub limit: usize,
}

impl RawTimelineParams {
    /// Validates for `project`.
    pub fn validate(self, project: &str) -> Result<TimelineParams> {
        check_project(project)?;
        check_name("person", &self.person)?;
        let limit = self.limit.unwrap_or(1000);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Error::invalid(
                "limit",
                format!("between 1 and {MAX_LIMIT}"),
            ));
        }
        Ok(TimelineParams {
            project: project.to_owned(),
            person: self.person,
            limit,
        })
    }
}
