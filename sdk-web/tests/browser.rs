//! The web storage and client in headless Chromium (wasm-bindgen-test): the storage conformance suite
//! over IndexedDB and over localStorage, a restart from the same database, and write-behind batching.
//!
//! Run by `scripts/test.d/20-web.sh`, or by hand:
//! `CHROMEDRIVER=/usr/bin/chromedriver cargo test -p footfall-web --target wasm32-unknown-unknown`
//! with `wasm-bindgen-test-runner` as the target's runner (see `.cargo`-free setup in docs/web.md).

#![cfg(target_arch = "wasm32")]

use footfall_core::storage::conformance;
use footfall_core::{NewEvent, Storage};
use footfall_web::{Backend, Core, WebStorage};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// A database name no earlier run used, so every test starts empty.
fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        js_sys::Date::now(),
        js_sys::Math::random()
    )
}

async fn fresh_stores(local: bool, n: usize) -> Vec<WebStorage> {
    let mut stores = Vec::new();
    for _ in 0..n {
        stores.push(WebStorage::open(&unique("conf"), local).await.unwrap());
    }
    stores
}

#[wasm_bindgen_test]
async fn indexeddb_storage_passes_the_conformance_suite() {
    // The suite's `fresh` is synchronous and opening IndexedDB is not, so the stores are opened first.
    let mut stores = fresh_stores(false, 9).await.into_iter();
    assert_eq!(stores.as_slice()[0].backend(), Backend::IndexedDb);
    conformance::run(|| stores.next().expect("enough fresh stores"));
}

#[wasm_bindgen_test]
async fn localstorage_storage_passes_the_conformance_suite() {
    let mut stores = fresh_stores(true, 9).await.into_iter();
    assert_eq!(stores.as_slice()[0].backend(), Backend::LocalStorage);
    conformance::run(|| stores.next().expect("enough fresh stores"));
}

/// `conformance::run_restart` does its two opens back to back, synchronously, which IndexedDB cannot
/// do; this is the same sequence with an asynchronous reopen of the same database in between.
async fn survives_a_reopen(local: bool) {
    let name = unique("restart");
    let mut first = WebStorage::open(&name, local).await.unwrap();
    let event = |id: &'static str, payload: &'static str| NewEvent {
        message_id: id,
        created_at: 1_700_000_000_000,
        payload,
    };
    let a = first.append(event("m-1", "{\"a\":1}")).unwrap();
    let b = first.append(event("m-2", "{\"b\":2}")).unwrap();
    first.record_attempt(&[a]).unwrap();
    first.acknowledge(&[b]).unwrap();
    first.store("anonymous_id", Some("anon-1")).unwrap();
    JsFuture::from(first.persist()).await.unwrap();
    drop(first);

    let mut second = WebStorage::open(&name, local).await.unwrap();
    assert_eq!(second.count(), 1, "queued events must survive a restart");
    assert_eq!(second.bytes(), 7, "queued bytes must survive a restart");
    let batch = second.read_batch(10, usize::MAX).unwrap();
    assert_eq!(batch[0].seq, a, "seqs must survive a restart");
    assert_eq!(
        batch[0].attempts, 1,
        "attempt counts must survive a restart"
    );
    assert_eq!(batch[0].message_id, "m-1");
    assert_eq!(
        second.load("anonymous_id").unwrap().as_deref(),
        Some("anon-1")
    );
    let c = second.append(event("m-3", "{}")).unwrap();
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
    let mut tab_a = WebStorage::open(&name, false).await.unwrap();
    tab_a
        .append(NewEvent {
            message_id: "a-1",
            created_at: 0,
            payload: "{}",
        })
        .unwrap();
    JsFuture::from(tab_a.persist()).await.unwrap();
    let tab_b = WebStorage::open(&name, false).await.unwrap();
    assert_eq!(tab_b.count(), 0, "tab A is alive: its queue stays its own");
    drop(tab_a);
    drop(tab_b);
    let tab_c = WebStorage::open(&name, false).await.unwrap();
    assert_eq!(tab_c.count(), 1, "tab A is gone: its queue is adopted");
}

#[wasm_bindgen_test]
async fn the_client_persists_a_thousand_tracks_in_one_commit() {
    let name = unique("client");
    let mut core = Core::open(name.clone(), "wk_test".into(), false, 20, 10_000)
        .await
        .unwrap();
    for i in 0..1000 {
        let id = core.track("Clicked", &format!("{{\"i\":{i}}}")).unwrap();
        assert!(id.is_some());
    }
    JsFuture::from(core.persist()).await.unwrap();
    drop(core);
    let reopened = WebStorage::open(&name, false).await.unwrap();
    // 1000 tracks (the page view is the npm package's, not the core's).
    assert_eq!(reopened.count(), 1000);
}

#[wasm_bindgen_test]
async fn an_upload_carries_the_write_key_in_the_body_for_sendbeacon() {
    let mut core = Core::open(unique("upload"), "wk_test".into(), false, 1, 10_000)
        .await
        .unwrap();
    let id = core.track("Clicked", "").unwrap().unwrap();
    let body = core.next(js_sys::Date::now()).unwrap().as_string().unwrap();
    assert!(
        body.starts_with("{\"writeKey\":\"wk_test\",\"batch\":["),
        "{body}"
    );
    assert!(body.contains(&id));
    let batch_id = core.batch_id();
    core.result(batch_id, 200, None, "{\"success\":true}".into())
        .unwrap();
    assert_eq!(core.stats()[1], 1.0, "one delivered");
}
