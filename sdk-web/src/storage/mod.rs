//! [`WebStorage`]: the engine's [`Storage`] over IndexedDB, falling back to localStorage, then memory.
//!
//! # Write-behind
//!
//! The engine's storage calls are synchronous and IndexedDB is not, so the queue and the named values
//! live in an in-memory mirror, loaded once by [`WebStorage::open`]. Every change is applied to the
//! mirror at once and noted in a journal; the first change in a turn of the event loop schedules a
//! commit for the end of that turn (a microtask), which writes the current state of everything
//! journaled in **one** transaction. `track()` therefore does no storage I/O of its own, and ten
//! thousand calls in one turn cost one transaction.
//!
//! **Crash window:** a change is durable when its commit's transaction completes, normally within a
//! millisecond or two of the call. A tab killed in between (a crash, or the OS killing a background tab)
//! loses the events recorded in that turn. A normal close or reload does not: the page's `pagehide`
//! handler hands the batch to `sendBeacon` first.
//!
//! # Tabs
//!
//! Each tab owns its own queue inside the shared database, named by a random owner id and held by a
//! Web Lock; a tab that opens the store adopts the queues of tabs that are gone. The named values
//! (anonymous id, user, session, consent) are shared by all tabs: each commit that changes one
//! posts it on a `BroadcastChannel`, and the other tabs take it into their mirror. See `js/io.js`.

mod codec;
mod io;
mod mirror;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use footfall_core::{NewEvent, Storage, StorageError, StoredEvent};
use wasm_bindgen::JsValue;

use mirror::{Mirror, Op};

/// Where a [`WebStorage`] keeps its queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// IndexedDB: the normal case.
    IndexedDb,
    /// localStorage: IndexedDB is missing or refused (some private modes).
    LocalStorage,
    /// Nothing persists (storage is blocked altogether); the queue lives as long as the page.
    Memory,
}

/// The web SDK's [`Storage`]: an in-memory mirror written behind to IndexedDB or localStorage.
///
/// Clones share one store, as two handles to one database would. The store is closed, after its
/// pending writes, when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct WebStorage {
    shared: Rc<RefCell<Shared>>,
}

#[derive(Debug)]
struct Shared {
    mirror: Mirror,
    /// The JavaScript handle from `io.js`, or `None` for a storage that never persists (native tests).
    handle: Option<io::Handle>,
    backend: Backend,
    commit_scheduled: bool,
}

impl WebStorage {
    /// Opens the store called `name` (an IndexedDB database name), loading its queue and values.
    /// `local_only` skips IndexedDB and uses localStorage.
    pub async fn open(name: &str, local_only: bool) -> Result<WebStorage, StorageError> {
        let handle = io::open_store(name, local_only)
            .await
            .map_err(|e| StorageError::new(describe(&e)))?;
        let handle: io::Handle = wasm_bindgen::JsCast::unchecked_into(handle);
        let backend = match handle.kind().as_str() {
            "idb" => Backend::IndexedDb,
            "local" => Backend::LocalStorage,
            _ => Backend::Memory,
        };
        let events = handle.events();
        let mut stored = Vec::with_capacity(events.length() as usize / 2);
        for pair in events.to_vec().chunks_exact(2) {
            let (Some(seq), Some(text)) = (pair[0].as_f64(), pair[1].as_string()) else {
                continue;
            };
            // A record that does not decode is dropped: it cannot be sent anyway.
            if let Some(r) = codec::decode(&text) {
                stored.push(StoredEvent {
                    seq: seq as u64,
                    message_id: r.message_id,
                    created_at: r.created_at,
                    attempts: r.attempts,
                    payload: r.payload,
                });
            }
        }
        let values: HashMap<String, String> = handle
            .values()
            .to_vec()
            .chunks_exact(2)
            .filter_map(|pair| Some((pair[0].as_string()?, pair[1].as_string()?)))
            .collect();
        let last_seq = handle.last_seq() as u64;
        Ok(WebStorage::with(
            Mirror::restore(stored, values, last_seq),
            Some(handle),
            backend,
        ))
    }

    /// A storage that keeps everything in memory and never persists, for tests off the browser.
    pub fn memory() -> WebStorage {
        WebStorage::with(Mirror::default(), None, Backend::Memory)
    }

    fn with(mirror: Mirror, handle: Option<io::Handle>, backend: Backend) -> WebStorage {
        WebStorage {
            shared: Rc::new(RefCell::new(Shared {
                mirror,
                handle,
                backend,
                commit_scheduled: false,
            })),
        }
    }

    /// Where the queue is kept.
    pub fn backend(&self) -> Backend {
        self.shared.borrow().backend
    }

    /// The id of this tab's queue inside the store.
    pub fn owner(&self) -> String {
        self.shared
            .borrow()
            .handle
            .as_ref()
            .map_or_else(String::new, |h| h.owner())
    }

    /// Commits pending changes now; the promise resolves when every change so far is durable.
    pub fn persist(&self) -> js_sys::Promise {
        let mut shared = self.shared.borrow_mut();
        shared.commit();
        match &shared.handle {
            Some(h) => io::settled(h),
            None => js_sys::Promise::resolve(&JsValue::UNDEFINED),
        }
    }

    /// Takes a value that another tab changed, without writing it back.
    pub fn set_shared_value(&self, key: &str, value: Option<&str>) {
        self.shared.borrow_mut().mirror.set_shared_value(key, value);
    }

    fn changed(&self) {
        let mut shared = self.shared.borrow_mut();
        if shared.commit_scheduled || shared.handle.is_none() {
            return;
        }
        shared.commit_scheduled = true;
        let weak: Weak<RefCell<Shared>> = Rc::downgrade(&self.shared);
        wasm_bindgen_futures::spawn_local(async move {
            if let Some(shared) = weak.upgrade() {
                shared.borrow_mut().commit();
            }
        });
    }
}

impl Shared {
    fn commit(&mut self) {
        self.commit_scheduled = false;
        let Some(handle) = &self.handle else {
            return;
        };
        if !self.mirror.is_dirty() {
            return;
        }
        let ops = js_sys::Array::new();
        for op in self.mirror.take_ops() {
            match op {
                Op::PutEvent(seq, text) => {
                    ops.push(&0.into());
                    ops.push(&(seq as f64).into());
                    ops.push(&text.into());
                }
                Op::DeleteEvent(seq) => {
                    ops.push(&1.into());
                    ops.push(&(seq as f64).into());
                }
                Op::PutValue(key, value) => {
                    ops.push(&2.into());
                    ops.push(&key.into());
                    ops.push(&value.into());
                }
                Op::DeleteValue(key) => {
                    ops.push(&3.into());
                    ops.push(&key.into());
                }
                Op::LastSeq(seq) => {
                    ops.push(&4.into());
                    ops.push(&(seq as f64).into());
                }
            }
        }
        // The promise is kept by io.js; `persist` and `release` wait on it.
        let _ = io::commit(handle, &ops);
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.commit();
        if let Some(handle) = &self.handle {
            io::release(handle);
        }
    }
}

fn describe(e: &JsValue) -> String {
    e.as_string()
        .or_else(|| js_sys::Reflect::get(e, &"message".into()).ok()?.as_string())
        .unwrap_or_else(|| "the browser refused to open storage".to_owned())
}

impl Storage for WebStorage {
    fn append(&mut self, event: NewEvent<'_>) -> Result<u64, StorageError> {
        let seq = self.shared.borrow_mut().mirror.append(event);
        self.changed();
        Ok(seq)
    }

    fn read_batch(
        &self,
        max_events: usize,
        max_bytes: usize,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        Ok(self
            .shared
            .borrow()
            .mirror
            .read_batch(max_events, max_bytes))
    }

    fn acknowledge(&mut self, seqs: &[u64]) -> Result<(), StorageError> {
        self.shared.borrow_mut().mirror.acknowledge(seqs);
        self.changed();
        Ok(())
    }

    fn record_attempt(&mut self, seqs: &[u64]) -> Result<(), StorageError> {
        self.shared.borrow_mut().mirror.record_attempt(seqs);
        self.changed();
        Ok(())
    }

    fn count(&self) -> u64 {
        self.shared.borrow().mirror.count()
    }

    fn bytes(&self) -> u64 {
        self.shared.borrow().mirror.bytes()
    }

    fn load(&self, key: &str) -> Result<Option<String>, StorageError> {
        Ok(self.shared.borrow().mirror.load(key))
    }

    fn store(&mut self, key: &str, value: Option<&str>) -> Result<(), StorageError> {
        self.shared.borrow_mut().mirror.store(key, value);
        self.changed();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mirror_passes_the_conformance_suite() {
        footfall_core::storage::conformance::run(WebStorage::memory);
        let storage = WebStorage::memory();
        footfall_core::storage::conformance::run_restart(|| storage.clone());
    }
}
