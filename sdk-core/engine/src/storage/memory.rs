//! The in-memory [`Storage`]: for tests, for servers that accept losing the queue on exit, and as the
//! shape every persistent implementation mirrors.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{NewEvent, Storage, StorageError, StoredEvent};

/// A queue in memory. Clones share one queue, as two handles to one database file would, which is how
/// tests simulate a process that crashes and restarts from its storage.
#[derive(Debug, Clone, Default)]
pub struct MemoryStorage {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    events: VecDeque<StoredEvent>,
    bytes: u64,
    last_seq: u64,
    values: HashMap<String, String>,
}

impl MemoryStorage {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the queue half-updated (each method mutates after
        // all fallible steps), so a poisoned lock is still safe to use.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The named values, for tests that compare two storages.
    pub fn values(&self) -> BTreeMap<String, String> {
        self.lock()
            .values
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

impl Storage for MemoryStorage {
    fn append(&mut self, event: NewEvent<'_>) -> Result<u64, StorageError> {
        let mut inner = self.lock();
        inner.last_seq += 1;
        let seq = inner.last_seq;
        inner.bytes += event.payload.len() as u64;
        inner.events.push_back(StoredEvent {
            seq,
            message_id: event.message_id.to_owned(),
            created_at: event.created_at,
            attempts: 0,
            payload: event.payload.to_owned(),
        });
        Ok(seq)
    }

    fn read_batch(
        &self,
        max_events: usize,
        max_bytes: usize,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        let inner = self.lock();
        let mut batch = Vec::new();
        let mut bytes = 0usize;
        for event in inner.events.iter().take(max_events) {
            if !batch.is_empty() && bytes + event.payload.len() > max_bytes {
                break;
            }
            bytes += event.payload.len();
            batch.push(event.clone());
        }
        Ok(batch)
    }

    fn acknowledge(&mut self, seqs: &[u64]) -> Result<(), StorageError> {
        let mut inner = self.lock();
        for seq in seqs {
            // The queue is sorted by seq and acknowledgements are almost always at its head, so a binary
            // search and a removal near the front cost far less than a scan of a long offline queue.
            if let Ok(index) = inner.events.binary_search_by_key(seq, |e| e.seq) {
                if let Some(event) = inner.events.remove(index) {
                    inner.bytes -= event.payload.len() as u64;
                }
            }
        }
        Ok(())
    }

    fn record_attempt(&mut self, seqs: &[u64]) -> Result<(), StorageError> {
        let mut inner = self.lock();
        for seq in seqs {
            if let Ok(index) = inner.events.binary_search_by_key(seq, |e| e.seq) {
                inner.events[index].attempts += 1;
            }
        }
        Ok(())
    }

    fn count(&self) -> u64 {
        self.lock().events.len() as u64
    }

    fn bytes(&self) -> u64 {
        self.lock().bytes
    }

    fn load(&self, key: &str) -> Result<Option<String>, StorageError> {
        Ok(self.lock().values.get(key).cloned())
    }

    fn store(&mut self, key: &str, value: Option<&str>) -> Result<(), StorageError> {
        let mut inner = self.lock();
        match value {
            Some(v) => inner.values.insert(key.to_owned(), v.to_owned()),
            None => inner.values.remove(key),
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_the_conformance_suite() {
        crate::storage::conformance::run(MemoryStorage::new);
    }

    #[test]
    fn survives_a_restart_through_a_clone() {
        let storage = MemoryStorage::new();
        crate::storage::conformance::run_restart(|| storage.clone());
    }
}
