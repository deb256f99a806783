//! Write keys: which project and source a request belongs to.
//!
//! A write key is a public, per-source identifier (it ships inside web pages), not a secret: it routes
//! events and lets the collector refuse traffic for sources that do not exist (401).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// The project and source a write key stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Source {
    /// The project (workspace) the events belong to.
    pub project_id: String,
    /// The source (website, app, server) within the project.
    pub source_id: String,
}

/// The registry of known write keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteKeys {
    keys: HashMap<String, Source>,
}

impl WriteKeys {
    /// An empty registry: every key is unknown.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a key, replacing any previous registration.
    pub fn insert(&mut self, write_key: impl Into<String>, source: Source) -> &mut Self {
        self.keys.insert(write_key.into(), source);
        self
    }

    /// The source of a key, `None` when the key is unknown.
    pub fn resolve(&self, write_key: &str) -> Option<&Source> {
        self.keys.get(write_key)
    }

    /// Every key and its source, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Source)> {
        self.keys.iter().map(|(key, source)| (key.as_str(), source))
    }

    /// How many keys are registered.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is registered.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl FromIterator<(String, Source)> for WriteKeys {
    fn from_iter<T: IntoIterator<Item = (String, Source)>>(iter: T) -> Self {
        Self {
            keys: iter.into_iter().collect(),
        }
    }
}
