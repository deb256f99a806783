//! The schema registry: a JSON Schema per `track` event name, per `page` or `screen` name (and one for
//! every page or screen without its own), and one for the `traits` of `identify` and of `group`
//! messages, each with a policy. That is the tracking plan.
//!
//! A `track`, `page` or `screen` schema describes the message's `properties` object (an absent
//! `properties` is checked as `{}`); `track` events without a schema (not in the tracking plan) pass,
//! unless [`UnplannedEvents`] says otherwise. A traits schema describes `traits` (absent: `{}`). The
//! policy decides what a violation does:
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
    /// The `properties` of `page` messages: those with one name, or every page's.
    Page,
    /// The `properties` of `screen` messages: those with one name, or every screen's.
    Screen,
    /// The `traits` of `identify` messages.
    Identify,
    /// The `traits` of `group` messages.
    Group,
}

impl SchemaKind {
    const ALL: [SchemaKind; 5] = [
        SchemaKind::Track,
        SchemaKind::Page,
        SchemaKind::Screen,
        SchemaKind::Identify,
        SchemaKind::Group,
    ];

    /// The message type, as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaKind::Track => "track",
            SchemaKind::Page => "page",
            SchemaKind::Screen => "screen",
            SchemaKind::Identify => "identify",
            SchemaKind::Group => "group",
        }
    }

    /// The message's field that the schema describes.
    pub fn field(self) -> &'static str {
        match self {
            SchemaKind::Track | SchemaKind::Page | SchemaKind::Screen => "properties",
            SchemaKind::Identify | SchemaKind::Group => "traits",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One schema as the collector's schema files and the edge worker's `SCHEMAS` write it:
/// `{"event": "Order Completed", "policy": "reject", "schema": {…}}` for a `track` event,
/// `{"type": "page", "name": "Pricing", …}` for the properties of the pages named so (without `name`,
/// of every page; `screen` alike), or `{"type": "identify", "policy": "flag", "schema": {…}}` for the
/// traits of `identify` (or `group`). With `"project": "shop"` it is that project's alone (see
/// [`SchemaRegistry`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaFile {
    /// What it describes: `track` (the default), `page`, `screen`, `identify` or `group`.
    #[serde(rename = "type", default)]
    pub kind: SchemaKind,
    /// The `track` event's name.
    #[serde(default)]
    pub event: Option<String>,
    /// The page's or screen's name; none for every page's (or screen's).
    #[serde(default)]
    pub name: Option<String>,
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
    /// The event's, page's or screen's name, or the message type for a schema without one.
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

/// The schemas of one message type in one scope: by name (`track`, `page`, `screen`), and for every
/// message of the type (`page`, `screen`, `identify`, `group`). Entries are shared, so that changing
/// the unplanned policy does not compile them again.
#[derive(Default, Clone)]
struct ByName {
    named: HashMap<String, Arc<Entry>>,
    every: Option<Arc<Entry>>,
}

impl ByName {
    fn len(&self) -> usize {
        self.named.len() + usize::from(self.every.is_some())
    }
}

/// The schemas of one scope: every project's, or one project's own; by [`SchemaKind`].
#[derive(Default, Clone)]
struct Schemas([ByName; SchemaKind::ALL.len()]);

impl Schemas {
    fn len(&self) -> usize {
        self.0.iter().map(ByName::len).sum()
    }

    fn of(&self, kind: SchemaKind) -> &ByName {
        &self.0[kind.index()]
    }
}

/// Compiled schemas: the tracking plan, and what happens to events outside it.
///
/// A schema is every project's, or one project's own. A project's own schema for an event (a page,
/// a screen, or `identify` or `group` traits) takes the place of every project's for that project's
/// messages: one collector can serve products with different plans, which share the schemas they
/// agree on.
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
        let shared = &self.shared;
        f.debug_struct("SchemaRegistry")
            .field(
                "events",
                &shared
                    .of(SchemaKind::Track)
                    .named
                    .keys()
                    .collect::<Vec<_>>(),
            )
            .field("schemas", &shared.len())
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

    /// Compiles and registers the schema of a `track` event for every project, replacing any
    /// previous one.
    pub fn insert(
        &mut self,
        event: &str,
        schema: &Value,
        policy: SchemaPolicy,
    ) -> Result<(), SchemaError> {
        self.insert_file(&SchemaFile {
            kind: SchemaKind::Track,
            event: Some(event.to_owned()),
            name: None,
            project: None,
            policy,
            schema: schema.clone(),
        })
    }

    /// Compiles and registers the schema of every message of `kind` (the `traits` of `identify`
    /// or `group`, the properties of every `page` or `screen`) for every project, replacing any
    /// previous one. A `track` kind is refused: it needs an event name.
    pub fn insert_traits(
        &mut self,
        kind: SchemaKind,
        schema: &Value,
        policy: SchemaPolicy,
    ) -> Result<(), SchemaError> {
        self.insert_file(&SchemaFile {
            kind,
            event: None,
            name: None,
            project: None,
            policy,
            schema: schema.clone(),
        })
    }

    /// Registers what a schema file describes, for its project or for every project, replacing any
    /// schema for the same messages.
    pub fn insert_file(&mut self, file: &SchemaFile) -> Result<(), SchemaError> {
        let kind = file.kind.as_str();
        let refuse = |named: &Option<String>, reason: String| {
            Err(SchemaError {
                event: named.clone().unwrap_or_else(|| kind.to_owned()),
                reason,
            })
        };
        if file.project.as_deref().is_some_and(|p| p.trim().is_empty()) {
            return refuse(
                &file.event.clone().or(file.name.clone()),
                "\"project\" is empty: name the project, or remove it for every project's events"
                    .into(),
            );
        }
        let name = match (file.kind, &file.event, &file.name) {
            (SchemaKind::Track, Some(event), None) => Some(event),
            (SchemaKind::Track, None, None) => {
                return refuse(
                    &None,
                    "\"event\" is missing: a track schema names its event (or set \"type\" to \
                     \"page\", \"screen\", \"identify\" or \"group\")"
                        .into(),
                )
            }
            (SchemaKind::Track, _, Some(_)) => {
                return refuse(
                    &file.event,
                    "a track schema names its event with \"event\", not \"name\"".into(),
                )
            }
            (SchemaKind::Page | SchemaKind::Screen, None, name) => name.as_ref(),
            (SchemaKind::Page | SchemaKind::Screen, Some(event), _) => {
                return refuse(
                    &Some(event.clone()),
                    format!(
                        "a {kind} schema names its {kind} with \"name\", as the message does, not \
                         \"event\""
                    ),
                )
            }
            (SchemaKind::Identify | SchemaKind::Group, None, None) => None,
            (SchemaKind::Identify | SchemaKind::Group, event, name) => {
                return refuse(
                    &event.clone().or(name.clone()),
                    format!(
                        "a {kind} schema describes traits, for every message of that type: \
                         remove \"event\" and \"name\""
                    ),
                )
            }
        };
        let entry = compile(name.map_or(kind, String::as_str), &file.schema, file.policy)?;
        let scope = match file.project.as_deref() {
            None => &mut self.shared,
            Some(project) => self.projects.entry(project.to_owned()).or_default(),
        };
        let by_name = &mut scope.0[file.kind.index()];
        match name {
            Some(name) => {
                by_name.named.insert(name.clone(), entry);
            }
            None => by_name.every = Some(entry),
        }
        Ok(())
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

    /// How many schemas are registered, of every kind and every project's own included.
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

/// The schemas that check one project's messages: its own, then every project's.
#[derive(Clone, Copy)]
pub struct TrackingPlan<'r> {
    own: Option<&'r Schemas>,
    shared: &'r Schemas,
    unplanned: UnplannedEvents,
}

/// The schema that applies to a message, found by [`TrackingPlan::schema`].
#[derive(Clone, Copy)]
pub struct PlannedSchema<'r> {
    entry: &'r Entry,
    kind: SchemaKind,
    name: Option<&'r str>,
}

impl<'r> TrackingPlan<'r> {
    /// The schema for a message of `kind` named `name` (a `track` event's, a page's or a screen's
    /// name), if the plan has one. The most specific applies: the project's own for the name, every
    /// project's for the name, then the project's own for every message of the kind, every project's.
    pub fn schema(&self, kind: SchemaKind, name: Option<&str>) -> Option<PlannedSchema<'r>> {
        let scopes = || {
            self.own
                .into_iter()
                .chain([self.shared])
                .map(|s| s.of(kind))
        };
        let named = name.and_then(|name| {
            scopes().find_map(|by_name| {
                let (name, entry) = by_name.named.get_key_value(name)?;
                Some((entry, Some(name.as_str())))
            })
        });
        let (entry, name) =
            named.or_else(|| scopes().find_map(|by_name| Some((by_name.every.as_ref()?, None))))?;
        Some(PlannedSchema { entry, kind, name })
    }

    /// Whether the `track` event `event` has a schema.
    pub fn has(&self, event: &str) -> bool {
        self.schema(SchemaKind::Track, Some(event)).is_some()
    }

    /// Whether every message of `kind` has a schema (the traits of `identify` or `group`, or every
    /// page's or screen's properties).
    pub fn has_traits(&self, kind: SchemaKind) -> bool {
        self.schema(kind, None).is_some()
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
        self.schema(kind, None)
            .map_or(SchemaOutcome::Pass, |schema| schema.check(traits))
    }

    /// Checks the properties of a `track` event named `event`.
    pub fn check(&self, event: &str, properties: &Value) -> SchemaOutcome {
        self.schema(SchemaKind::Track, Some(event))
            .map_or(SchemaOutcome::Pass, |schema| schema.check(properties))
    }
}

impl<'r> PlannedSchema<'r> {
    /// The name the schema is for; `None` for one that checks every message of its kind.
    pub fn name(&self) -> Option<&'r str> {
        self.name
    }

    /// Validates the message's [`SchemaKind::field`] (`value`) and applies the policy.
    pub fn check(&self, value: &Value) -> SchemaOutcome {
        let which = || match (self.kind, self.name) {
            (SchemaKind::Track, Some(event)) => format!("schema of {event:?}"),
            (kind, Some(name)) => format!("schema of {} {name:?}", kind.as_str()),
            (kind, None) => format!("schema of {} {}", kind.as_str(), kind.field()),
        };
        outcome(self.entry, value, self.kind.field(), which)
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
        let unknown = serde_json::from_str::<SchemaFile>(r#"{"type": "alias", "schema": {}}"#);
        assert!(unknown.is_err(), "alias messages have no properties");
        let page_event = plan
            .insert_file(&file(r#"{"type": "page", "event": "Home", "schema": {}}"#))
            .unwrap_err();
        assert!(page_event.reason.contains("with \"name\""), "{page_event}");
        let track_name = plan
            .insert_file(&file(r#"{"event": "X", "name": "X", "schema": {}}"#))
            .unwrap_err();
        assert!(track_name.reason.contains("not \"name\""), "{track_name}");
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
    fn a_page_or_screen_is_checked_by_its_names_schema_else_by_every_ones() {
        let file = |text: &str| serde_json::from_str::<SchemaFile>(text).unwrap();
        let mut plan = SchemaRegistry::new();
        for text in [
            r#"{"type": "page", "policy": "reject", "schema": {"required": ["path"]}}"#,
            r#"{"type": "page", "name": "Pricing", "policy": "reject", "schema": {"required": ["plan"]}}"#,
            r#"{"type": "screen", "name": "Home", "project": "app", "schema": {"required": ["feed"]}}"#,
        ] {
            plan.insert_file(&file(text)).unwrap();
        }
        let shop = plan.plan("shop");
        let reason = |schema: Option<PlannedSchema<'_>>, value: Value| match schema
            .expect("a schema applies")
            .check(&value)
        {
            SchemaOutcome::Reject(reason) => reason,
            SchemaOutcome::Flag(errors) => errors.join("; "),
            SchemaOutcome::Pass => String::new(),
        };
        let pricing = shop.schema(SchemaKind::Page, Some("Pricing"));
        assert_eq!(pricing.unwrap().name(), Some("Pricing"));
        assert!(reason(pricing, json!({"path": "/"}))
            .starts_with("schema of page \"Pricing\": properties/: \"plan\""));
        let home = shop.schema(SchemaKind::Page, Some("Home"));
        assert_eq!(
            home.unwrap().name(),
            None,
            "no schema for Home: every page's"
        );
        assert!(
            reason(home, json!({})).starts_with("schema of page properties: properties/: \"path\"")
        );
        assert!(
            shop.schema(SchemaKind::Page, None).is_some(),
            "an unnamed page"
        );
        assert!(
            shop.schema(SchemaKind::Screen, Some("Home")).is_none(),
            "app's alone"
        );
        let app_home = plan.plan("app").schema(SchemaKind::Screen, Some("Home"));
        assert!(reason(app_home, json!({})).contains("\"feed\""), "flagged");
        assert!(plan
            .plan("app")
            .schema(SchemaKind::Screen, Some("Other"))
            .is_none());
        assert_eq!(plan.len(), 3);
    }

    #[test]
    fn refuses_a_schema_that_does_not_compile() {
        let err = SchemaRegistry::new()
            .insert("X", &json!({"type": 12}), SchemaPolicy::Flag)
            .unwrap_err();
        assert_eq!(err.event, "X");
    }
}
