//! The schema registry: a JSON Schema per `track` event name, each with a policy.
//!
//! A schema describes the `properties` object of a `track` event (an absent `properties` is checked as
//! `{}`). Events without a schema (not in the tracking plan) pass, unless [`UnplannedEvents`] says
//! otherwise. The policy decides what a violation does:
//!
//! * [`SchemaPolicy::Reject`]: the event is dropped to the dead letters, the schema errors as its reason;
//! * [`SchemaPolicy::Flag`]: the event is accepted and the errors are listed in
//!   `context.footfall.schemaViolations`.
//!
//! Schemas are compiled with `jsonschema` without its networking and file features, so a `$ref` must
//! point inside the schema. Loading them from files, and reloading, is the collector's job.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a schema violation does to the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SchemaPolicy {
    /// Drop the event to the dead letters.
    Reject,
    /// Accept the event and list the violations in `context.footfall.schemaViolations`.
    #[default]
    Flag,
}

/// What happens to a `track` event whose name has no schema: an event the tracking plan does not know,
/// often a typo (`Order Complete`) or an app that ships an event nobody planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnplannedEvents {
    /// Accepted as it is (the default, and what a registry without schemas does).
    #[default]
    Accept,
    /// Accepted, with `context.footfall.schemaViolations` saying it is not in the plan.
    Flag,
    /// Dropped to the dead letters (cause `schema`), the answer saying it is not in the plan.
    Reject,
}

impl UnplannedEvents {
    /// The policy applied to an unplanned event, `None` when it is accepted as it is.
    pub fn policy(self) -> Option<SchemaPolicy> {
        match self {
            UnplannedEvents::Accept => None,
            UnplannedEvents::Flag => Some(SchemaPolicy::Flag),
            UnplannedEvents::Reject => Some(SchemaPolicy::Reject),
        }
    }

    /// The setting's value, as written in a config file.
    pub fn as_str(self) -> &'static str {
        match self {
            UnplannedEvents::Accept => "accept",
            UnplannedEvents::Flag => "flag",
            UnplannedEvents::Reject => "reject",
        }
    }
}

impl std::str::FromStr for UnplannedEvents {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "accept" => Ok(UnplannedEvents::Accept),
            "flag" => Ok(UnplannedEvents::Flag),
            "reject" => Ok(UnplannedEvents::Reject),
            other => Err(format!(
                "{other:?} is not a policy for unplanned events: use accept, flag or reject"
            )),
        }
    }
}

/// A schema that does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the schema for event {event:?} is invalid: {reason}")]
pub struct SchemaError {
    /// The event name.
    pub event: String,
    /// What is wrong with it.
    pub reason: String,
}

struct Entry {
    validator: jsonschema::Validator,
    policy: SchemaPolicy,
}

/// What checking an event against the registry found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaOutcome {
    /// No schema, or the properties conform.
    Pass,
    /// The properties violate a `flag` schema: accept with these errors listed.
    Flag(Vec<String>),
    /// The properties violate a `reject` schema: drop, with this reason.
    Reject(String),
}

/// Compiled schemas by event name: the tracking plan, and what happens to events outside it.
#[derive(Default, Clone)]
pub struct SchemaRegistry {
    /// Shared, so that changing the unplanned policy does not compile the schemas again.
    schemas: HashMap<String, Arc<Entry>>,
    unplanned: UnplannedEvents,
}

impl std::fmt::Debug for SchemaRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaRegistry")
            .field("events", &self.schemas.keys().collect::<Vec<_>>())
            .field("unplanned", &self.unplanned)
            .finish()
    }
}

/// At most this many errors are reported per event.
const MAX_REPORTED_ERRORS: usize = 5;

impl SchemaRegistry {
    /// An empty registry: every event passes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Compiles and registers the schema of an event, replacing any previous one.
    pub fn insert(
        &mut self,
        event: &str,
        schema: &Value,
        policy: SchemaPolicy,
    ) -> Result<(), SchemaError> {
        let validator = jsonschema::validator_for(schema).map_err(|e| SchemaError {
            event: event.to_owned(),
            reason: e.to_string(),
        })?;
        self.schemas
            .insert(event.to_owned(), Arc::new(Entry { validator, policy }));
        Ok(())
    }

    /// The same schemas, with `unplanned` for the events that have none.
    pub fn with_unplanned(&self, unplanned: UnplannedEvents) -> SchemaRegistry {
        SchemaRegistry {
            schemas: self.schemas.clone(),
            unplanned,
        }
    }

    /// What happens to a `track` event that has no schema.
    pub fn unplanned(&self) -> UnplannedEvents {
        self.unplanned
    }

    /// Whether a schema is registered for `event`.
    pub fn has(&self, event: &str) -> bool {
        self.schemas.contains_key(event)
    }

    /// How many schemas are registered.
    pub fn len(&self) -> usize {
        self.schemas.len()
    }

    /// Whether no schema is registered.
    pub fn is_empty(&self) -> bool {
        self.schemas.is_empty()
    }

    /// Checks the properties of a `track` event named `event`.
    pub fn check(&self, event: &str, properties: &Value) -> SchemaOutcome {
        let Some(entry) = self.schemas.get(event) else {
            return SchemaOutcome::Pass;
        };
        let errors: Vec<String> = entry
            .validator
            .iter_errors(properties)
            .take(MAX_REPORTED_ERRORS)
            .map(|e| {
                let path = e.instance_path().to_string();
                let path = if path.is_empty() {
                    "/".to_owned()
                } else {
                    path
                };
                format!("properties{path}: {e}")
            })
            .collect();
        if errors.is_empty() {
            return SchemaOutcome::Pass;
        }
        match entry.policy {
            SchemaPolicy::Flag => SchemaOutcome::Flag(errors),
            SchemaPolicy::Reject => {
                SchemaOutcome::Reject(format!("schema of {event:?}: {}", errors.join("; ")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn registry(policy: SchemaPolicy) -> SchemaRegistry {
        let mut r = SchemaRegistry::new();
        let schema = json!({"type": "object", "required": ["plan"], "properties": {"plan": {"type": "string"}}});
        r.insert("Signed Up", &schema, policy).unwrap();
        r
    }

    #[test]
    fn passes_conforming_and_unknown_events() {
        let r = registry(SchemaPolicy::Reject);
        assert_eq!(
            r.check("Signed Up", &json!({"plan": "pro"})),
            SchemaOutcome::Pass
        );
        assert_eq!(r.check("Other", &json!({"plan": 1})), SchemaOutcome::Pass);
    }

    #[test]
    fn reports_violations_by_policy() {
        let SchemaOutcome::Reject(reason) =
            registry(SchemaPolicy::Reject).check("Signed Up", &json!({"plan": 1}))
        else {
            panic!("expected a rejection")
        };
        assert!(reason.contains("properties/plan"), "{reason}");
        let SchemaOutcome::Flag(errors) =
            registry(SchemaPolicy::Flag).check("Signed Up", &json!({}))
        else {
            panic!("expected a flag")
        };
        assert!(errors[0].contains("plan"), "{errors:?}");
    }

    #[test]
    fn the_unplanned_policy_reads_from_config_text_and_keeps_the_schemas() {
        for policy in [
            UnplannedEvents::Accept,
            UnplannedEvents::Flag,
            UnplannedEvents::Reject,
        ] {
            assert_eq!(policy.as_str().parse::<UnplannedEvents>(), Ok(policy));
        }
        let err = "block".parse::<UnplannedEvents>().unwrap_err();
        assert!(err.contains("accept, flag or reject"), "{err}");
        let strict = registry(SchemaPolicy::Reject).with_unplanned(UnplannedEvents::Reject);
        assert_eq!(strict.unplanned(), UnplannedEvents::Reject);
        assert!(strict.has("Signed Up"));
        assert_eq!(SchemaRegistry::new().unplanned(), UnplannedEvents::Accept);
    }

    #[test]
    fn refuses_a_schema_that_does_not_compile() {
        let err = SchemaRegistry::new()
            .insert("X", &json!({"type": 12}), SchemaPolicy::Flag)
            .unwrap_err();
        assert_eq!(err.event, "X");
    }
}
