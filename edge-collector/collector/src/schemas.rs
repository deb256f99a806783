//! Loading the schema registry from a directory, and reloading it without a restart.
//!
//! Each `*.json` file in the directory holds one schema ([`footfall_ingest::SchemaFile`]): a `track`
//! event's properties, with `"type": "page"` or `"screen"` (and a `"name"`, or none for every one) a
//! page's or screen's, or with `"type": "identify"` or `"group"` the traits of those messages:
//!
//! ```json
//! {"event": "Order Completed", "policy": "reject",
//!  "schema": {"type": "object", "required": ["revenue"], "properties": {"revenue": {"type": "number"}}}}
//! ```
//!
//! `policy` is `reject` or `flag` (the default); see `footfall_ingest::SchemaRegistry`.
//!
//! A file checks every project's events, unless it is one project's: it says `"project": "shop"`, or
//! it sits in a subdirectory named after the project (`shop/order-completed.json`). A project's own
//! schema for an event takes the place of every project's for that project. Subdirectories whose names
//! start with `.` are skipped: Kubernetes mounts a ConfigMap's files through `..data` and a dated
//! `..2026_…` directory, next to links at the top level. The directory is
//! polled: when a file's name, size or modification time changes, the whole directory is loaded again
//! and swapped in atomically. A directory that fails to load (bad JSON, a schema that does not compile)
//! leaves the previous registry in force and is logged, naming the file, and counted
//! (`footfall_collector_schema_reloads_total{result="refused"}`, and
//! `footfall_collector_schema_last_reload_successful` at 0 until a reload succeeds), so that an alert
//! can tell the data steward who dropped the file in.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use footfall_ingest::{SchemaFile, SchemaRegistry, UnplannedEvents, WriteKeys};

use crate::{AppState, Error};

/// The registry in force, swapped as a whole on reload.
#[derive(Debug, Default)]
pub struct SchemaStore {
    current: RwLock<Arc<SchemaRegistry>>,
}

impl SchemaStore {
    /// A store holding `registry`.
    pub fn new(registry: SchemaRegistry) -> Self {
        Self {
            current: RwLock::new(Arc::new(registry)),
        }
    }

    /// The registry in force.
    pub fn get(&self) -> Arc<SchemaRegistry> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replaces the schemas, keeping the policy for unplanned events in force.
    pub fn replace(&self, registry: SchemaRegistry) {
        let mut current = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *current = Arc::new(registry.with_unplanned(current.unplanned()));
    }

    /// Puts a new policy for unplanned events in force (a reload), keeping the schemas.
    pub fn set_unplanned(&self, unplanned: UnplannedEvents) {
        let mut current = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *current = Arc::new(current.with_unplanned(unplanned));
    }
}

/// Loads every `*.json` schema file of `dir` and of its projects' subdirectories.
pub fn load_dir(dir: &Path) -> Result<SchemaRegistry, Error> {
    let mut registry = SchemaRegistry::new();
    for (path, folder_project) in json_files(dir)? {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::Startup(format!("cannot read schema {}: {e}", path.display())))?;
        let mut file: SchemaFile = serde_json::from_str(&text)
            .map_err(|e| Error::Startup(format!("invalid schema file {}: {e}", path.display())))?;
        if let Some(folder_project) = folder_project {
            match &file.project {
                Some(named) if *named != folder_project => {
                    return Err(Error::Startup(format!(
                    "{}: the file says \"project\": {named:?}, but it is in {folder_project:?}'s \
                         directory",
                    path.display()
                )))
                }
                _ => file.project = Some(folder_project),
            }
        }
        registry
            .insert_file(&file)
            .map_err(|e| Error::Startup(format!("{}: {e}", path.display())))?;
    }
    Ok(registry)
}

/// The `*.json` files of `dir`, with no project, then those of each project's subdirectory, with
/// its name; sorted, so that a load does not depend on the order the file system lists them in.
fn json_files(dir: &Path) -> Result<Vec<(PathBuf, Option<String>)>, Error> {
    let unreadable = |dir: &Path, e: std::io::Error| {
        Error::Startup(format!(
            "cannot read schema directory {}: {e}",
            dir.display()
        ))
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| unreadable(dir, e))? {
        let Ok(entry) = entry else { continue };
        let path = entry.path();
        // Through links, as ConfigMap mounts make them.
        if path.is_dir() {
            let Some(project) = path.file_name().and_then(|name| name.to_str()) else {
                continue;
            };
            if project.starts_with('.') {
                continue;
            }
            for inner in std::fs::read_dir(&path).map_err(|e| unreadable(&path, e))? {
                let Ok(inner) = inner else { continue };
                let inner = inner.path();
                if is_json_file(&inner) {
                    files.push((inner, Some(project.to_owned())));
                }
            }
        } else if is_json_file(&path) {
            files.push((path, None));
        }
    }
    files.sort();
    Ok(files)
}

fn is_json_file(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "json") && !path.is_dir()
}

type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

fn fingerprint(dir: &Path) -> Fingerprint {
    json_files(dir)
        .unwrap_or_default()
        .into_iter()
        .map(|(path, _)| {
            let meta = std::fs::metadata(&path).ok();
            let len = meta.as_ref().map_or(0, std::fs::Metadata::len);
            let modified = meta.and_then(|m| m.modified().ok());
            (path, len, modified)
        })
        .collect()
}

/// Logs a warning for each project with schemas of its own that no write key belongs to.
pub fn warn_of_projects_without_keys(registry: &SchemaRegistry, keys: &WriteKeys) {
    for project in registry.projects_without_keys(keys) {
        tracing::warn!(
            project,
            "schemas for a project that no write key belongs to: they check no event \
             (a misspelt project, or keys still to come)"
        );
    }
}

/// Polls `dir` every `every` and swaps a new registry into `state`'s store when the files change.
///
/// The task runs until aborted. The baseline is the directory as it is when this is called, which should
/// be what the store holds.
pub fn spawn_reloader(
    state: AppState,
    dir: PathBuf,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    let store = state.schemas().clone();
    // Taken now, not in the task, so that a change made right after this call is seen as a change.
    let mut last = fingerprint(&dir);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let (dir, previous) = (dir.clone(), last.clone());
            let checked = tokio::task::spawn_blocking(move || {
                let now = fingerprint(&dir);
                let loaded = (now != previous).then(|| load_dir(&dir));
                (now, loaded)
            })
            .await;
            let Ok((now, loaded)) = checked else {
                continue;
            };
            match loaded {
                None => {}
                Some(Ok(registry)) => {
                    tracing::info!(schemas = registry.len(), "schema registry reloaded");
                    warn_of_projects_without_keys(&registry, &state.config().write_keys);
                    crate::metrics::schemas_in_force(registry.len());
                    crate::metrics::schemas_reloaded(true);
                    store.replace(registry);
                }
                Some(Err(error)) => {
                    tracing::error!(%error, "schema reload failed; keeping the previous schemas");
                    crate::metrics::schemas_reloaded(false);
                }
            }
            last = now;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use footfall_ingest::Source;

    #[test]
    fn a_file_in_a_projects_directory_is_seen_and_names_a_project_without_keys() {
        let dir = tempfile::tempdir().unwrap();
        let schema = r#"{"event": "Signed Up", "schema": {}}"#;
        std::fs::write(dir.path().join("signed-up.json"), schema).unwrap();
        let before = fingerprint(dir.path());

        std::fs::create_dir(dir.path().join("sohp")).unwrap();
        std::fs::write(dir.path().join("sohp/signed-up.json"), schema).unwrap();
        assert_ne!(fingerprint(dir.path()), before, "a reload would miss it");

        let registry = load_dir(dir.path()).unwrap();
        assert_eq!(registry.projects(), ["sohp"]);
        let mut keys = WriteKeys::new();
        let source = |project: &str| Source {
            project_id: project.into(),
            source_id: "web".into(),
        };
        keys.insert("wk_shop", source("shop"));
        assert_eq!(registry.projects_without_keys(&keys), ["sohp"]);
        keys.insert("wk_typo", source("sohp"));
        assert!(registry.projects_without_keys(&keys).is_empty());
    }
}
