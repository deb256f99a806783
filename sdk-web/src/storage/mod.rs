//! [`WebStorage`]: the engine's [`Storage`] as an in-memory mirror that the page writes behind to
//! IndexedDB, falling back to localStorage, then memory.
//!
//! # Write-behind
//!
//! The engine's storage calls are synchronous and IndexedDB is not, so the queue and the named values
//! live in an in-memory mirror, loaded once at start ([`WebStorage::load_event`],
//! [`WebStorage::set_shared_value`], [`WebStorage::loaded`]). Every change is applied to the mirror at
//! once and noted in a journal. The package's `index.js` runs its delivery loop in a microtask after
//! any call that may change something, and that loop first takes the journal ([`WebStorage::take_op`])
//! and writes it in **one** transaction (`js/io.js`). `track()` therefore does no storage I/O of its
//! own, and ten thousand calls in one turn cost one transaction.
//!
//! Taking the journal from JavaScript, rather than having Rust call IndexedDB, keeps promises, closures
//! and an async executor out of the WebAssembly module.
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
mod mirror;

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use footfall_core::{NewEvent, Storage, StorageError, StoredEvent};

use mirror::Mirror;
pub use mirror::Op;

/// The web SDK's [`Storage`]: an in-memory mirror with a journal of changes for the page to persist.
///
/// Clones share one store, as two handles to one database would.
#[derive(Debug, Clone, Default)]
pub struct WebStorage {
    mirror: Rc<RefCell<Mirror>>,
}

impl WebStorage {
    /// An empty store. Nothing persists unless someone takes its journal and writes it.
    pub fn new() -> WebStorage {
        WebStorage::default()
    }

    /// Adds a record of events as the backend holds it (its key and text as `js/io.js` keeps it),
    /// before the store is used. False if the record is damaged: the events that cannot be read are
    /// dropped (they could not be sent anyway).
    pub fn load_event(&self, key: u64, record: &str) -> bool {
        self.mirror.borrow_mut().load_record(key, record)
    }

    /// Ends loading: `last_seq` is the highest seq the backend says was ever used, so that none is
    /// reused.
    pub fn loaded(&self, last_seq: u64) {
        self.mirror.borrow_mut().loaded(last_seq);
    }

    /// Takes a value as the backend holds it, or as another tab changed it, without journaling it
    /// back.
    pub fn set_shared_value(&self, key: &str, value: Option<&str>) {
        self.mirror.borrow_mut().set_shared_value(key, value);
    }

    /// The next change to persist, each item at its current state; `None` when everything so far has
    /// been taken. Take them all and write them in one transaction.
    pub fn take_op(&self) -> Option<Op> {
        self.mirror.borrow_mut().take_op()
    }

    /// Whether there are changes not taken yet.
    pub fn is_dirty(&self) -> bool {
        self.mirror.borrow().is_dirty()
    }
}

impl Storage for WebStorage {
    fn append(&mut self, event: NewEvent<'_>) -> Result<u64, StorageError> {
        Ok(self.mirror.borrow_mut().append(event))
    }

    fn read_batch(
        &self,
        max_events: usize,
        max_bytes: usize,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        Ok(self.mirror.borrow().read_batch(max_events, max_bytes))
    }

    fn acknowledge(&mut self, seqs: &[u64]) -> Result<(), StorageError> {
        self.mirror.borrow_mut().acknowledge(seqs);
        Ok(())
    }

    fn record_attempt(&mut self, seqs: &[u64]) -> Result<(), StorageError> {
        self.mirror.borrow_mut().record_attempt(seqs);
        Ok(())
    }

    fn count(&self) -> u64 {
        self.mirror.borrow().count()
    }

    fn bytes(&self) -> u64 {
        self.mirror.borrow().bytes()
    }

    fn load(&self, key: &str) -> Result<Option<String>, StorageError> {
        Ok(self.mirror.borrow().load(key))
    }

    fn store(&mut self, key: &str, value: Option<&str>) -> Result<(), StorageError> {
        self.mirror.borrow_mut().store(key, value);
        Ok(())
    }

    fn append_owned(
        &mut self,
        message_id: String,
        created_at: footfall_core::Millis,
        payload: String,
    ) -> Result<u64, StorageError> {
        Ok(self
            .mirror
            .borrow_mut()
            .append_owned(message_id, created_at, payload))
    }

    fn evict_oldest(&mut self) -> Result<Option<(u64, String)>, StorageError> {
        Ok(self.mirror.borrow_mut().evict_oldest())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mirror_passes_the_conformance_suite() {
        footfall_core::storage::conformance::run(WebStorage::new);
        let storage = WebStorage::new();
        footfall_core::storage::conformance::run_restart(|| storage.clone());
    }
}
