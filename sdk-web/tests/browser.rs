//! The web storage and client in headless Chromium (wasm-bindgen-test): the storage conformance suite
//! over IndexedDB and over localStorage, a restart from the same database, tabs, and write-behind
//! batching.
//!
//! `index.js` carries the queue between `js/io.js` and the core; [`Store`] here does the same from
//! Rust, through the same calls ([`WebStorage::load_event`], [`WebStorage::take_op`], `openStore`,
//! `commit`), so these tests cover the path the package runs.
//!
//! Run by `scripts/test.d/20-web.sh`, or by hand:
//! `CHROMEDRIVER=/usr/bin/chromedriver cargo test -p footfall-web --target wasm32-unknown-unknown`
//! with `wasm-bindgen-test-runner` as the target's runner (see docs/web.md).

#![cfg(target_arch = "wasm32")]

use footfall_core::storage::conformance;
use footfall_core::{NewEvent, Storage};
use footfall_web::{Core, WebStorage};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(module = "/js/io.js")]
extern "C" {
    #[wasm_bindgen(js_name = openStore)]
    async fn open_store(name: &str, local: bool) -> JsValue;
    fn commit(handle: &JsValue, ops: &js_sys::Array) -> js_sys::Promise;
    fn release(handle: &JsValue);
}

/// A store opened through `io.js`, loaded into a [`WebStorage`] as `index.js` does.
struct Store {
    storage: WebStorage,
    handle: JsValue,
}

impl Store {
    async fn open(name: &str, local: bool) -> Store {
        let handle = open_store(name, local).await;
        let storage = WebStorage::new();
        load(
            &handle,
            |seq, text| {
                storage.load_event(seq, text);
            },
            |key, value| storage.set_shared_value(key, Some(value)),
        );
        storage.loaded(field(&handle, "s").as_f64().unwrap() as u64);
        Store { storage, handle }
    }

    fn kind(&self) -> String {
        field(&self.handle, "k").as_string().unwrap()
    }

    /// Writes what changed, as `index.js` does once per turn, and waits until it is durable.
    async fn persist(&self) {
        let ops = js_sys::Array::new();
        while let Some(op) = self.storage.take_op() {
            ops.push(&op.to_text().into());
        }
        JsFuture::from(commit(&self.handle, &ops)).await.unwrap();
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        release(&self.handle);
    }
}

fn field(handle: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(handle, &name.into()).unwrap()
}

/// Feeds the events (`e`: seq, record, …) and values (`v`: key, value, …) `openStore` read.
fn load(handle: &JsValue, mut event: impl FnMut(u64, &str), mut value: impl FnMut(&str, &str)) {
    let events: js_sys::Array = field(handle, "e").into();
    for pair in events.to_vec().chunks_exact(2) {
        event(
            pair[0].as_f64().unwrap() as u64,
            &pair[1].as_string().unwrap(),
        );
    }
    let values: js_sys::Array = field(handle, "v").into();
    for pair in values.to_vec().chunks_exact(2) {
        value(&pair[0].as_string().unwrap(), &pair[1].as_string().unwrap());
    }
}

/// A database name no earlier run used, so every test starts empty.
fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        js_sys::Date::now(),
        js_sys::Math::random()
    )
}

async fn fresh_stores(local: bool, n: usize) -> Vec<Store> {
    let mut stores = Vec::new();
    for _ in 0..n {
        stores.push(Store::open(&unique("conf"), local).await);
    }
    stores
}

#[wasm_bindgen_test]
async fn indexeddb_storage_passes_the_conformance_suite() {
    // The suite's `fresh` is synchronous and opening IndexedDB is not, so the stores are opened first.
    let stores = fresh_stores(false, 10).await;
    assert_eq!(stores[0].kind(), "idb");
    let mut fresh = stores.iter().map(|s| s.storage.clone());
    conformance::run(|| fresh.next().expect("enough fresh stores"));
    for store in &stores {
        store.persist().await;
    }
}

#[wasm_bindgen_test]
async fn localstorage_storage_passes_the_conformance_suite() {
    let stores = fresh_stores(true, 10).await;
    assert_eq!(stores[0].kind(), "local");
    let mut fresh = stores.iter().map(|s| s.storage.clone());
    conformance::run(|| fresh.next().expect("enough fresh stores"));
    for store in &stores {
        store.persist().await;
    }
}

/// `conformance::run_restart` does its two opens back to back, synchronously, which IndexedDB cannot
/// do; this is the same sequence with an asynchronous reopen of the same database in between.
async fn survives_a_reopen(local: bool) {
    let name = unique("restart");
    let first = Store::open(&name, local).await;
    let mut storage = first.storage.clone();
    let event = |id: &'static str, payload: &'static str| NewEvent {
        message_id: id,
        created_at: 1_700_000_000_000,
        payload,
    };
    let a = storage.append(event("m-1", "{\"a\":1}")).unwrap();
    let b = storage.append(event("m-2", "{\"b\":2}")).unwrap();
    storage.record_attempt(&[a]).unwrap();
    storage.acknowledge(&[b]).unwrap();
    storage.store("anonymous_id", Some("anon-1")).unwrap();
    first.persist().await;
    drop(first);

    let second = Store::open(&name, local).await;
    let mut storage = second.storage.clone();
    assert_eq!(storage.count(), 1, "queued events must survive a restart");
    assert_eq!(storage.bytes(), 7, "queued bytes must survive a restart");
    let batch = storage.read_batch(10, usize::MAX).unwrap();
    assert_eq!(batch[0].seq, a, "seqs must survive a restart");
    assert_eq!(
        batch[0].attempts, 1,
        "attempt counts must survive a restart"
    );
    assert_eq!(batch[0].message_id, "m-1");
    assert_eq!(
        storage.load("anonymous_id").unwrap().as_deref(),
        Some("anon-1")
    );
    let c = storage.append(event("m-3", "{}")).unwrap();
    assert!(c > b, "a seq after a restart must exceed every earlier seq");
}

#[wasm_bindgen_test]
async fn indexeddb_storage_survives_a_reopen() {
    survives_a_reopen(false).await;
}

#[wasm_bindgen_test]
async fn localstorage_storage_survives_a_reopen() {
    survives_a_reopen(true).await;
}

#[wasm_bindgen_test]
async fn a_live_tabs_queue_is_not_adopted_but_a_closed_ones_is() {
    let name = unique("tabs");
    let tab_a = Store::open(&name, false).await;
    tab_a
        .storage
        .clone()
        .append(NewEvent {
            message_id: "a-1",
            created_at: 0,
            payload: "{}",
        })
        .unwrap();
    tab_a.persist().await;
    let tab_b = Store::open(&name, false).await;
    assert_eq!(
        tab_b.storage.count(),
        0,
        "tab A is alive: its queue stays its own"
    );
    drop(tab_a);
    drop(tab_b);
    let tab_c = Store::open(&name, false).await;
    assert_eq!(
        tab_c.storage.count(),
        1,
        "tab A is gone: its queue is adopted"
    );
}

fn uuid_version(id: &str) -> char {
    id.chars().nth(14).unwrap_or('?')
}

/// A started core over a freshly opened store, as `load()` in `index.js` makes it.
async fn core(name: &str, flush_at: u32) -> (Core, JsValue) {
    let handle = open_store(name, false).await;
    let mut core = Core::new();
    load(&handle, |seq, text| core.ev(seq as f64, text), |_, _| {});
    assert!(core.start(0.0, "wk_test".into(), flush_at, 10_000, 42.0));
    (core, handle)
}

#[wasm_bindgen_test]
async fn the_client_persists_a_thousand_tracks_in_one_commit() {
    let name = unique("client");
    let (mut core, handle) = core(&name, 20).await;
    for i in 0..1000 {
        let len = core.track("Clicked", &format!("{{\"i\":{i}}}"));
        assert_eq!(len, 36, "a UUID's length");
    }
    let ops = js_sys::Array::new();
    while let Some(op) = core.op() {
        ops.push(&op.into());
    }
    // 1000 events in 16 chunks of at most 64, the anonymous id and the session, the high-water mark.
    assert_eq!(ops.length(), 16 + 2 + 1);
    JsFuture::from(commit(&handle, &ops)).await.unwrap();
    release(&handle);
    let reopened = Store::open(&name, false).await;
    // 1000 tracks (the page view is the npm package's, not the core's).
    assert_eq!(reopened.storage.count(), 1000);
}

#[wasm_bindgen_test]
async fn an_upload_carries_the_write_key_in_the_body_for_sendbeacon() {
    let (mut core, handle) = core(&unique("upload"), 1).await;
    let len = core.track("Clicked", "");
    let id = core.last_message_id(len).to_owned();
    assert_eq!(uuid_version(&id), '7');
    assert_eq!(core.next(js_sys::Date::now()), -2.0, "a batch is ready");
    let body = core.body();
    assert!(
        body.starts_with("{\"writeKey\":\"wk_test\",\"batch\":["),
        "{body}"
    );
    assert!(body.contains(&id));
    let batch_id = core.stat(7);
    assert_eq!(core.result(batch_id, 200, None, "{\"success\":true}"), -1.0);
    assert_eq!(core.stat(1), 1.0, "one delivered");
    release(&handle);
}

#[wasm_bindgen_test]
async fn invalid_calls_fail_with_the_engines_message() {
    let (mut core, handle) = core(&unique("errors"), 20).await;
    assert_eq!(core.track(" ", ""), 0);
    assert_eq!(
        core.error().as_deref(),
        Some("the event name must not be empty")
    );
    assert_eq!(core.track("Clicked", "[1]"), 0);
    assert_eq!(
        core.error().as_deref(),
        Some("properties must be a JSON object, not array")
    );
    let big = format!("{{\"blob\":\"{}\"}}", "x".repeat(33_000));
    assert_eq!(core.track("Big", &big), 0);
    assert!(core
        .error()
        .unwrap()
        .contains("over the limit of 32768 bytes"));
    assert_eq!(core.rec(2, Some(String::new()), None, ""), None);
    assert_eq!(core.error().as_deref(), Some("groupId must not be empty"));
    assert!(core.ctl(3), "opt out");
    assert_eq!(core.track("Clicked", ""), 0);
    assert_eq!(core.error(), None, "opted out is not an error");
    assert_eq!(core.stat(0), 0.0);
    release(&handle);
}
