//! The schema registry: a JSON Schema per `track` event name, and one for the `traits` of `identify`
//! and of `group` messages, each with a policy. That is the tracking plan.
//!
//! A `track` schema describes the event's `properties` object (an absent `properties` is checked as
//! `{}`); `track` events without a schema (not in the tracking plan) pass, unless [`UnplannedEvents`]
//! says otherwise. A traits schema describes `traits` (absent: `{}`). The policy decides what a
//! violation does:
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

/// Which messages a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SchemaKind {
    /// The `properties` of `track` events with one name.
    #[default]
    Track,
    /// The `traits` of `identify` messages.
    Identify,
    /// The `traits` of `group` messages.
    Group,
}

impl SchemaKind {
    /// The message type, as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaKind::Track => "track",
            SchemaKind::Identify => "identify",
            SchemaKind::Group => "group",
        }
    }
}

/// One schema as the collector's schema files and the edge worker's `SCHEMAS` write it:
/// `{"event": "Order Completed", "policy": "reject", "schema": {…}}` for a `track` event, or
/// `{"type": "identify", "policy": "flag", "schema": {…}}` for the traits of `identify` (or `group`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaFile {
    /// What it describes: `track` (the default), `identify` or `group`.
    #[serde(rename = "type", default)]
    pub kind: SchemaKind,
    /// The `track` event's name; none for `identify` and `group`.
    #[serde(default)]
    pub event: Option<String>,
    /// What a violation does.
    #[serde(default)]
    pub policy: SchemaPolicy,
    /// The JSON Schema.
    pub schema: Value,
}

/// A schema that does not compile, or a schema file that does not say what it describes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the schema for {event:?} is invalid: {reason}")]
pub struct SchemaError {
    /// The event name (`identify` or `group` for a traits schema).
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

/// Compiled schemas: the tracking plan, and what happens to events outside it.
#[derive(Default, Clone)]
pub struct SchemaRegistry {
    /// By `track` event name. Shared, so that changing the unplanned policy does not compile the
    /// schemas again.
    schemas: HashMap<String, Arc<Entry>>,
    identify_traits: Option<Arc<Entry>>,
    group_traits: Option<Arc<Entry>>,
    unplanned: UnplannedEvents,
}

impl std::fmt::Debug for SchemaRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaRegistry")
            .field("events", &self.schemas.keys().collect::<Vec<_>>())
            .field("identify_traits", &self.identify_traits.is_some())
            .field("group_traits", &self.group_traits.is_some())
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

    /// Compiles and registers the schema of a `track` event, replacing any previous one.
    pub fn insert(
        &mut self,
        event: &str,
        schema: &Value,
        policy: SchemaPolicy,
    ) -> Result<(), SchemaError> {
        let entry = compile(event, schema, policy)?;
        self.schemas.insert(event.to_owned(), entry);
        Ok(())
    }

    /// Compiles and registers the schema of the `traits` of `identify` or `group` messages
    /// (`kind`), replacing any previous one. A `track` kind is refused: it needs an event name.
    pub fn insert_traits(
        &mut self,
        kind: SchemaKind,
        schema: &Value,
        policy: SchemaPolicy,
    ) -> Result<(), SchemaError> {
        let entry = compile(kind.as_str(), schema, policy)?;
        match kind {
            SchemaKind::Identify => self.identify_traits = Some(entry),
            SchemaKind::Group => self.group_traits = Some(entry),
            SchemaKind::Track => {
                return Err(SchemaError {
                    event: String::new(),
                    reason: "a track schema needs the event's name".into(),
                })
            }
        }
        Ok(())
    }

    /// Registers what a schema file describes.
    pub fn insert_file(&mut self, file: &SchemaFile) -> Result<(), SchemaError> {
        match (file.kind, &file.event) {
            (SchemaKind::Track, Some(event)) => self.insert(event, &file.schema, file.policy),
            (SchemaKind::Track, None) => Err(SchemaError {
                event: String::new(),
                reason: "\"event\" is missing: a track schema names its event \
                         (or set \"type\": \"identify\" or \"group\" for traits)"
                    .into(),
            }),
            (kind, Some(event)) => Err(SchemaError {
                event: event.clone(),
                reason: format!(
                    "a {} schema describes traits, for every message of that type: \
                     remove \"event\"",
                    kind.as_str()
                ),
            }),
            (kind, None) => self.insert_traits(kind, &file.schema, file.policy),
        }
    }

    /// The same schemas, with `unplanned` for the events that have none.
    pub fn with_unplanned(&self, unplanned: UnplannedEvents) -> SchemaRegistry {
        SchemaRegistry {
            unplanned,
            ..self.clone()
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

    /// How many schemas are registered, traits schemas included.
    pub fn len(&self) -> usize {
        self.schemas.len()
            + usize::from(self.identify_traits.is_some())
            + usize::from(self.group_traits.is_some())
    }

    /// Whether no schema is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the traits of `kind` messages have a schema.
    pub fn has_traits(&self, kind: SchemaKind) -> bool {
        self.traits_entry(kind).is_some()
    }

    fn traits_entry(&self, kind: SchemaKind) -> Option<&Arc<Entry>> {
        match kind {
            SchemaKind::Identify => self.identify_traits.as_ref(),
            SchemaKind::Group => self.group_traits.as_ref(),
            SchemaKind::Track => None,
        }
    }

    /// What [`UnplannedEvents`] does to a `track` event named `event` that has no schema.
    pub fn check_unplanned(&self, event: &str) -> SchemaOutcome {
        let reason = || format!("event {event:?} is not in the tracking plan");
        match self.unplanned {
            UnplannedEvents::Accept => SchemaOutcome::Pass,
            UnplannedEvents::Flag => SchemaOutcome::Flag(vec![reason()]),
            UnplannedEvents::Reject => SchemaOutcome::Reject(format!(
                "{}: it has no schema, and unplanned events are rejected",
                reason()
            )),
        }
    }

    /// Checks the `traits` of an `identify` or `group` message (`kind`).
    pub fn check_traits(&self, kind: SchemaKind, traits: &Value) -> SchemaOutcome {
        match self.traits_entry(kind) {
            None => SchemaOutcome::Pass,
            Some(entry) => outcome(entry, traits, "traits", || {
                format!("schema of {} traits", kind.as_str())
            }),
        }
    }

    /// Checks the properties of a `track` event named `event`.
    pub fn check(&self, event: &str, properties: &Value) -> SchemaOutcome {
        match self.schemas.get(event) {
            None => SchemaOutcome::Pass,
            Some(entry) => outcome(entry, properties, "properties", || {
                format!("schema of {event:?}")
            }),
        }
    }
}

fn compile(name: &str, schema: &Value, policy: SchemaPolicy) -> Result<Arc<Entry>, SchemaError> {
    let validator = jsonschema::validator_for(schema).map_err(|e| SchemaError {
        event: name.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(Arc::new(Entry { validator, policy }))
}

/// Validates `value` (the message's `field`) and applies the entry's policy; `which` names the
/// schema in a rejection.
fn outcome(
    entry: &Entry,
    value: &Value,
    field: &str,
    which: impl FnOnce() -> String,
) -> SchemaOutcome {
    let errors: Vec<String> = entry
        .validator
        .iter_errors(value)
        .take(MAX_REPORTED_ERRORS)
        .map(|e| {
            let path = e.instance_path().to_string();
            let path = if path.is_empty() {
                "/".to_owned()
            } else {
                path
            };
            format!("{field}{path}: {e}")
        })
        .collect();
    if errors.is_empty() {
        return SchemaOutcome::Pass;
    }
    match entry.policy {
        SchemaPolicy::Flag => SchemaOutcome::Flag(errors),
        SchemaPolicy::Reject => {
            SchemaOutcome::Reject(format!("{}: {}", which(), errors.join("; ")))
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
    fn a_schema_file_says_what_it_describes() {
        let file = |text: &str| serde_json::from_str::<SchemaFile>(text).unwrap();
        let mut plan = SchemaRegistry::new();
        plan.insert_file(&file(r#"{"event": "Signed Up", "schema": {}}"#))
            .unwrap();
        plan.insert_file(&file(
            r#"{"type": "identify", "policy": "reject", "schema": {}}"#,
        ))
        .unwrap();
        assert!(plan.has("Signed Up"));
        assert!(plan.has_traits(SchemaKind::Identify));
        assert!(!plan.has_traits(SchemaKind::Group));
        assert_eq!(plan.len(), 2);

        let unnamed = plan.insert_file(&file(r#"{"schema": {}}"#)).unwrap_err();
        assert!(unnamed.reason.contains("\"event\" is missing"), "{unnamed}");
        let named = plan
            .insert_file(&file(r#"{"type": "group", "event": "X", "schema": {}}"#))
            .unwrap_err();
        assert!(named.reason.contains("remove \"event\""), "{named}");
        let unknown = serde_json::from_str::<SchemaFile>(r#"{"type": "page", "schema": {}}"#);
        assert!(unknown.is_err(), "page schemas are not supported");
    }

    #[test]
    fn refuses_a_schema_that_does_not_compile() {
        let err = SchemaRegistry::new()
            .insert("X", &json!({"type": 12}), SchemaPolicy::Flag)
            .unwrap_err();
        assert_eq!(err.event, "X");
    }
}
