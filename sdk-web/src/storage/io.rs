//! Bindings to `js/io.js`, the IndexedDB and localStorage calls under [`WebStorage`](super::WebStorage).

use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/io.js")]
extern "C" {
    /// The opened store, as `openStore` returns it.
    #[derive(Debug, Clone)]
    pub(crate) type Handle;

    /// `"idb"`, `"local"` or `"memory"`.
    #[wasm_bindgen(method, getter = k)]
    pub(crate) fn kind(this: &Handle) -> String;
    /// This tab's owner id.
    #[wasm_bindgen(method, getter = o)]
    pub(crate) fn owner(this: &Handle) -> String;
    /// The queue at open, flat: seq, encoded record, seq, …
    #[wasm_bindgen(method, getter = e)]
    pub(crate) fn events(this: &Handle) -> js_sys::Array;
    /// The values at open, flat: key, value, key, …
    #[wasm_bindgen(method, getter = v)]
    pub(crate) fn values(this: &Handle) -> js_sys::Array;
    /// The highest seq used in the store before.
    #[wasm_bindgen(method, getter = s)]
    pub(crate) fn last_seq(this: &Handle) -> f64;

    #[wasm_bindgen(catch, js_name = openStore)]
    pub(crate) async fn open_store(name: &str, local_only: bool) -> Result<JsValue, JsValue>;
    pub(crate) fn commit(handle: &Handle, ops: &js_sys::Array) -> js_sys::Promise;
    pub(crate) fn settled(handle: &Handle) -> js_sys::Promise;
    pub(crate) fn release(handle: &Handle);
}
