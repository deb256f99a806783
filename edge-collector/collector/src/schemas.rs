//! Loading the schema registry from a directory, and reloading it without a restart.
//!
//! Each `*.json` file in the directory holds one schema ([`footfall_ingest::SchemaFile`]): a `track`
//! event's properties, or with `"type": "identify"` or `"group"` the traits of those messages:
//!
//! ```json
//! {"event": "Order Completed", "policy": "reject",
//!  "schema": {"type": "object", "required": ["revenue"], "properties": {"revenue": {"type": "number"}}}}
//! ```
//!
//! `policy` is `reject` or `flag` (the default); see `footfall_ingest::SchemaRegistry`. The directory is
//! polled: when a file's name, size or modification time changes, the whole directory is loaded again
//! and swapped in atomically. A directory that fails to load (bad JSON, a schema that does not compile)
//! leaves the previous registry in force and is logged, naming the file, and counted
//! (`footfall_collector_schema_reloads_total{result="refused"}`, and
//! `footfall_collector_schema_last_reload_successful` at 0 until a reload succeeds), so that an alert
//! can tell the data steward who dropped the file in.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use footfall_ingest::{SchemaFile, SchemaRegistry, UnplannedEvents};

use crate::Error;

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

/// Loads every `*.json` schema file of `dir`.
pub fn load_dir(dir: &Path) -> Result<SchemaRegistry, Error> {
    let mut registry = SchemaRegistry::new();
    for path in json_files(dir)? {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::Startup(format!("cannot read schema {}: {e}", path.display())))?;
        let file: SchemaFile = serde_json::from_str(&text)
            .map_err(|e| Error::Startup(format!("invalid schema file {}: {e}", path.display())))?;
        registry
            .insert_file(&file)
            .map_err(|e| Error::Startup(format!("{}: {e}", path.display())))?;
    }
    Ok(registry)
}

fn json_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Error::Startup(format!(
            "cannot read schema directory {}: {e}",
            dir.display()
        ))
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    Ok(files)
}

type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

fn fingerprint(dir: &Path) -> Fingerprint {
    json_files(dir)
        .unwrap_or_default()
        .into_iter()
        .map(|path| {
            let meta = std::fs::metadata(&path).ok();
            let len = meta.as_ref().map_or(0, std::fs::Metadata::len);
            let modified = meta.and_then(|m| m.modified().ok());
            (path, len, modified)
        })
        .collect()
}

/// Polls `dir` every `every` and swaps a new registry into `store` when the files change.
///
/// The task runs until aborted. The baseline is the directory as it is when this is called, which should
/// be what the store holds.
pub fn spawn_reloader(
    store: Arc<SchemaStore>,
    dir: PathBuf,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
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
