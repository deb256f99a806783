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
//! A schema checks every project's events, or one project's (`"project"` in its file): one collector
//! can serve products with different plans. See [`SchemaRegistry::plan`].
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
/// With `"project": "shop"` it is that project's alone (see [`SchemaRegistry`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaFile {
    /// What it describes: `track` (the default), `identify` or `group`.
    #[serde(rename = "type", default)]
    pub kind: SchemaKind,
    /// The `track` event's name; none for `identify` and `group`.
    #[serde(default)]
    pub event: Option<String>,
    /// The project whose events it checks; none for every project's.
    #[serde(default)]
    pub project: Option<String>,
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

/// The schemas of one scope: every project's, or one project's own.
#[derive(Default, Clone)]
struct Schemas {
    /// By `track` event name. Shared, so that changing the unplanned policy does not compile the
    /// schemas again.
    events: HashMap<String, Arc<Entry>>,
    identify_traits: Option<Arc<Entry>>,
    group_traits: Option<Arc<Entry>>,
}

impl Schemas {
    fn len(&self) -> usize {
        self.events.len()
            + usize::from(self.identify_traits.is_some())
            + usize::from(self.group_traits.is_some())
    }

    fn traits(&self, kind: SchemaKind) -> Option<&Arc<Entry>> {
        match kind {
            SchemaKind::Identify => self.identify_traits.as_ref(),
            SchemaKind::Group => self.group_traits.as_ref(),
            SchemaKind::Track => None,
        }
    }
}

/// Compiled schemas: the tracking plan, and what happens to events outside it.
///
/// A schema is every project's, or one project's own. A project's own schema for an event (or for
/// `identify` or `group` traits) takes the place of every project's for that project's events: one
/// collector can serve products with different plans, which share the schemas they agree on.
#[derive(Default, Clone)]
pub struct SchemaRegistry {
    shared: Schemas,
    projects: HashMap<String, Schemas>,
    unplanned: UnplannedEvents,
}

impl std::fmt::Debug for SchemaRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut projects: Vec<_> = self.projects.keys().collect();
        projects.sort();
        f.debug_struct("SchemaRegistry")
            .field("events", &self.shared.events.keys().collect::<Vec<_>>())
            .field("identify_traits", &self.shared.identify_traits.is_some())
            .field("group_traits", &self.shared.group_traits.is_some())
            .field("projects", &projects)
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

    fn scope(&mut self, project: Option<&str>) -> &mut Schemas {
        match project {
            None => &mut self.shared,
            Some(project) => self.projects.entry(project.to_owned()).or_default(),
        }
    }

    /// Compiles and registers the schema of a `track` event for every project, replacing any
    /// previous one.
    pub fn insert(
        &mut self,
        event: &str,
        schema: &Value,
        policy: SchemaPolicy,
    ) -> Result<(), SchemaError> {
        self.insert_event(None, event, schema, policy)
    }

    fn insert_event(
        &mut self,
        project: Option<&str>,
        event: &str,
        schema: &Value,
        policy: SchemaPolicy,
    ) -> Result<(), SchemaError> {
        let entry = compile(event, schema, policy)?;
        self.scope(project).events.insert(event.to_owned(), entry);
        Ok(())
    }

    /// Compiles and registers the schema of the `traits` of `identify` or `group` messages
    /// (`kind`) for every project, replacing any previous one. A `track` kind is refused: it needs
    /// an event name.
    pub fn insert_traits(
        &mut self,
        kind: SchemaKind,
        schema: &Value,
        policy: SchemaPolicy,
    ) -> Result<(), SchemaError> {
        self.insert_traits_of(None, kind, schema, policy)
    }

    fn insert_traits_of(
        &mut self,
        project: Option<&str>,
        kind: SchemaKind,
        schema: &Value,
        policy: SchemaPolicy,
    ) -> Result<(), SchemaError> {
        let entry = compile(kind.as_str(), schema, policy)?;
        let scope = self.scope(project);
        match kind {
            SchemaKind::Identify => scope.identify_traits = Some(entry),
            SchemaKind::Group => scope.group_traits = Some(entry),
            SchemaKind::Track => {
                return Err(SchemaError {
                    event: String::new(),
                    reason: "a track schema needs the event's name".into(),
                })
            }
        }
        Ok(())
    }

    /// Registers what a schema file describes, for its project or for every project.
    pub fn insert_file(&mut self, file: &SchemaFile) -> Result<(), SchemaError> {
        let project = file.project.as_deref();
        if project.is_some_and(|p| p.trim().is_empty()) {
            return Err(SchemaError {
                event: file.event.clone().unwrap_or_default(),
                reason: "\"project\" is empty: name the project, or remove it for every project's \
                         events"
                    .into(),
            });
        }
        match (file.kind, &file.event) {
            (SchemaKind::Track, Some(event)) => {
                self.insert_event(project, event, &file.schema, file.policy)
            }
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
            (kind, None) => self.insert_traits_of(project, kind, &file.schema, file.policy),
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

    /// How many schemas are registered, traits schemas and every project's own included.
    pub fn len(&self) -> usize {
        self.shared.len() + self.projects.values().map(Schemas::len).sum::<usize>()
    }

    /// Whether no schema is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The projects that have schemas of their own, sorted.
    pub fn projects(&self) -> Vec<&str> {
        let mut projects: Vec<&str> = self.projects.keys().map(String::as_str).collect();
        projects.sort_unstable();
        projects
    }

    /// The projects with schemas of their own that no write key of `keys` belongs to: a project
    /// misspelt in a schema, whose schemas would check nothing.
    pub fn projects_without_keys(&self, keys: &crate::WriteKeys) -> Vec<&str> {
        let mut projects = self.projects();
        projects.retain(|project| !keys.iter().any(|(_, source)| source.project_id == *project));
        projects
    }

    /// The tracking plan that checks `project`'s events.
    pub fn plan(&self, project: &str) -> TrackingPlan<'_> {
        TrackingPlan {
            // Most collectors have no project's own schemas: skip hashing the name.
            own: (!self.projects.is_empty())
                .then(|| self.projects.get(project))
                .flatten(),
            shared: &self.shared,
            unplanned: self.unplanned,
        }
    }
}

/// The schemas that check one project's events: its own, then every project's.
#[derive(Clone, Copy)]
pub struct TrackingPlan<'r> {
    own: Option<&'r Schemas>,
    shared: &'r Schemas,
    unplanned: UnplannedEvents,
}

impl TrackingPlan<'_> {
    fn event(&self, event: &str) -> Option<&Arc<Entry>> {
        self.own
            .and_then(|own| own.events.get(event))
            .or_else(|| self.shared.events.get(event))
    }

    fn traits(&self, kind: SchemaKind) -> Option<&Arc<Entry>> {
        self.own
            .and_then(|own| own.traits(kind))
            .or_else(|| self.shared.traits(kind))
    }

    /// Whether a schema is registered for the `track` event `event`.
    pub fn has(&self, event: &str) -> bool {
        self.event(event).is_some()
    }

    /// Whether the traits of `kind` messages have a schema.
    pub fn has_traits(&self, kind: SchemaKind) -> bool {
        self.traits(kind).is_some()
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
        match self.traits(kind) {
            None => SchemaOutcome::Pass,
            Some(entry) => outcome(entry, traits, "traits", || {
                format!("schema of {} traits", kind.as_str())
            }),
        }
    }

    /// Checks the properties of a `track` event named `event`.
    pub fn check(&self, event: &str, properties: &Value) -> SchemaOutcome {
        match self.event(event) {
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
            r.plan("p").check("Signed Up", &json!({"plan": "pro"})),
            SchemaOutcome::Pass
        );
        assert_eq!(
            r.plan("p").check("Other", &json!({"plan": 1})),
            SchemaOutcome::Pass
        );
    }

    #[test]
    fn reports_violations_by_policy() {
        let SchemaOutcome::Reject(reason) = registry(SchemaPolicy::Reject)
            .plan("p")
            .check("Signed Up", &json!({"plan": 1}))
        else {
            panic!("expected a rejection")
        };
        assert!(reason.contains("properties/plan"), "{reason}");
        let SchemaOutcome::Flag(errors) = registry(SchemaPolicy::Flag)
            .plan("p")
            .check("Signed Up", &json!({}))
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
        assert!(strict.plan("p").has("Signed Up"));
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
        assert!(plan.plan("p").has("Signed Up"));
        assert!(plan.plan("p").has_traits(SchemaKind::Identify));
        assert!(!plan.plan("p").has_traits(SchemaKind::Group));
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
    fn a_projects_own_schemas_take_the_place_of_every_projects_for_its_events_alone() {
        let file = |text: &str| serde_json::from_str::<SchemaFile>(text).unwrap();
        let mut plan = SchemaRegistry::new();
        for text in [
            r#"{"event": "Signed Up", "policy": "reject", "schema": {"required": ["plan"]}}"#,
            r#"{"event": "Signed Up", "project": "shop", "policy": "reject", "schema": {"required": ["store"]}}"#,
            r#"{"event": "Checkout", "project": "shop", "schema": {}}"#,
            r#"{"type": "identify", "project": "blog", "policy": "reject", "schema": {"required": ["email"]}}"#,
        ] {
            plan.insert_file(&file(text)).unwrap();
        }
        let (shop, blog, other) = (plan.plan("shop"), plan.plan("blog"), plan.plan("other"));
        let rejected = |outcome: SchemaOutcome| match outcome {
            SchemaOutcome::Reject(reason) => reason,
            outcome => panic!("expected a rejection, got {outcome:?}"),
        };
        let signed_up = json!({"plan": "pro"});
        assert!(rejected(shop.check("Signed Up", &signed_up)).contains("\"store\" is a required"));
        assert_eq!(blog.check("Signed Up", &signed_up), SchemaOutcome::Pass);
        assert!(rejected(other.check("Signed Up", &json!({}))).contains("\"plan\""));
        assert!(shop.has("Checkout") && !blog.has("Checkout") && !other.has("Checkout"));
        assert!(blog.has_traits(SchemaKind::Identify) && !shop.has_traits(SchemaKind::Identify));
        assert!(rejected(blog.check_traits(SchemaKind::Identify, &json!({}))).contains("email"));
        assert_eq!(plan.len(), 4);
        assert_eq!(plan.projects(), ["blog", "shop"]);

        let empty = plan
            .insert_file(&file(r#"{"event": "X", "project": " ", "schema": {}}"#))
            .unwrap_err();
        assert!(empty.reason.contains("\"project\" is empty"), "{empty}");
    }

    #[test]
    fn refuses_a_schema_that_does_not_compile() {
        let err = SchemaRegistry::new()
            .insert("X", &json!({"type": 12}), SchemaPolicy::Flag)
            .unwrap_err();
        assert_eq!(err.event, "X");
    }
}
