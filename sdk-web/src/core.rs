//! [`Core`]: the engine as the JavaScript package sees it. The package's `index.js` wraps it in the
//! analytics.js-style API and does the browser work (fetch, `sendBeacon`, page views, timers).
//!
//! Properties and traits cross the boundary as JSON text (`JSON.stringify` on the JavaScript side):
//! one string copy per call, instead of one boundary crossing per property that converting a JavaScript
//! object field by field costs.

use footfall_core::{Action, Client, Clock, Config, Millis, UploadOutcome};
use serde_json::Value;
use wasm_bindgen::prelude::*;

use crate::storage::{Backend, WebStorage};

/// The browser's wall clock, `Date.now()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct BrowserClock;

impl Clock for BrowserClock {
    fn now(&self) -> Millis {
        js_sys::Date::now() as Millis
    }
}

/// The largest body `sendBeacon` and `fetch(…, {keepalive: true})` take in Chromium is 64 KiB, so
/// batches are cut to the smallest size the engine allows, which is that.
const MAX_BATCH_BYTES: usize = 64 * 1024;

/// One Footfall client over one store, driven by `index.js`.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Core {
    client: Client<WebStorage, BrowserClock>,
    storage: WebStorage,
    config: Config,
    /// `{"writeKey":"…",`: put in front of each batch body, since `sendBeacon` cannot send headers.
    body_prefix: String,
    context: Value,
    batch_id: u64,
    in_flight: bool,
    reload_pending: bool,
}

#[wasm_bindgen]
impl Core {
    /// Opens the store `name` (IndexedDB, or localStorage when `localOnly` or IndexedDB is refused) and
    /// a client over it.
    pub async fn open(
        name: String,
        #[wasm_bindgen(js_name = writeKey)] write_key: String,
        #[wasm_bindgen(js_name = localOnly)] local_only: bool,
        #[wasm_bindgen(js_name = flushAt)] flush_at: u32,
        #[wasm_bindgen(js_name = flushIntervalMs)] flush_interval_ms: u32,
    ) -> Result<Core, JsError> {
        let storage = WebStorage::open(&name, local_only).await.map_err(error)?;
        let config = Config {
            library_name: "footfall-web".to_owned(),
            library_version: env!("CARGO_PKG_VERSION").to_owned(),
            flush_at: flush_at.max(1) as usize,
            flush_interval: std::time::Duration::from_millis(flush_interval_ms.into()),
            max_batch_bytes: MAX_BATCH_BYTES,
            ..Config::new(write_key)
        };
        let client =
            Client::new(config.clone(), storage.clone(), BrowserClock, seed()).map_err(error)?;
        let mut body_prefix = String::from("{\"writeKey\":");
        body_prefix.push_str(&Value::String(config.write_key.clone()).to_string());
        body_prefix.push(',');
        Ok(Core {
            client,
            storage,
            config,
            body_prefix,
            context: Value::Null,
            batch_id: 0,
            in_flight: false,
            reload_pending: false,
        })
    }

    /// Records an event; returns its messageId, or `undefined` when opted out.
    pub fn track(&mut self, event: &str, properties: &str) -> Result<Option<String>, JsError> {
        self.client.track(event, json(properties)?).map_err(error)
    }

    /// Records a page view.
    pub fn page(
        &mut self,
        category: Option<String>,
        name: Option<String>,
        properties: &str,
    ) -> Result<Option<String>, JsError> {
        self.client
            .page(category.as_deref(), name.as_deref(), json(properties)?)
            .map_err(error)
    }

    /// Says who the user is.
    pub fn identify(
        &mut self,
        #[wasm_bindgen(js_name = userId)] user_id: Option<String>,
        traits: &str,
    ) -> Result<Option<String>, JsError> {
        self.client
            .identify(user_id.as_deref(), json(traits)?)
            .map_err(error)
    }

    /// Associates the user with a group.
    pub fn group(
        &mut self,
        #[wasm_bindgen(js_name = groupId)] group_id: &str,
        traits: &str,
    ) -> Result<Option<String>, JsError> {
        self.client.group(group_id, json(traits)?).map_err(error)
    }

    /// Merges the current identity into `userId`.
    pub fn alias(
        &mut self,
        #[wasm_bindgen(js_name = userId)] user_id: &str,
    ) -> Result<Option<String>, JsError> {
        self.client.alias(user_id).map_err(error)
    }

    /// Forgets the user (logout).
    pub fn reset(&mut self) -> Result<(), JsError> {
        self.client.reset().map_err(error)
    }

    /// Sets the context sent with every event (page, campaign, userAgent, locale, …), as JSON.
    #[wasm_bindgen(js_name = setContext)]
    pub fn set_context(&mut self, context: &str) -> Result<(), JsError> {
        self.context = json(context)?;
        self.client.set_context(self.context.clone()).map_err(error)
    }

    /// Consent: while opted out nothing is recorded and the queue is emptied.
    #[wasm_bindgen(js_name = setOptedOut)]
    pub fn set_opted_out(&mut self, opted_out: bool) -> Result<(), JsError> {
        self.client.set_opted_out(opted_out).map_err(error)
    }

    /// Whether the user opted out.
    #[wasm_bindgen(getter, js_name = optedOut)]
    pub fn opted_out(&self) -> bool {
        self.client.is_opted_out()
    }

    /// Asks for everything queued to be sent now.
    pub fn flush(&mut self) {
        self.client.flush();
    }

    /// The browser went online or offline.
    #[wasm_bindgen(js_name = setNetwork)]
    pub fn set_network(&mut self, online: bool) {
        self.client.set_network_available(online);
    }

    /// What to do now: `undefined` (idle until the next event, flush or network change), a number
    /// (ask again after that many milliseconds), or a string (a batch body to POST to `/v1/batch`,
    /// whose id is then [`batchId`](Core::batch_id)).
    pub fn next(&mut self, now: f64) -> Result<JsValue, JsError> {
        if self.reload_pending && !self.in_flight {
            self.reload()?;
        }
        Ok(
            match self.client.next_action(now as Millis).map_err(error)? {
                Action::Idle => JsValue::UNDEFINED,
                Action::Wait(wait) => JsValue::from(wait.as_millis() as f64),
                Action::Upload(request) => {
                    self.batch_id = request.batch_id;
                    self.in_flight = true;
                    let mut body =
                        String::with_capacity(self.body_prefix.len() + request.body.len());
                    body.push_str(&self.body_prefix);
                    body.push_str(&request.body[1..]);
                    JsValue::from(body)
                }
            },
        )
    }

    /// The id of the batch last returned by [`next`](Core::next).
    #[wasm_bindgen(getter, js_name = batchId)]
    pub fn batch_id(&self) -> f64 {
        self.batch_id as f64
    }

    /// Reports how the upload `batchId` ended: `status` 0 for a network error, else the HTTP status
    /// with its `Retry-After` header and body. Returns how long the engine will wait before the next
    /// upload, in milliseconds, if it decided to wait.
    pub fn result(
        &mut self,
        #[wasm_bindgen(js_name = batchId)] batch_id: f64,
        status: u16,
        #[wasm_bindgen(js_name = retryAfter)] retry_after: Option<String>,
        body: String,
    ) -> Result<Option<f64>, JsError> {
        let outcome = if status == 0 {
            UploadOutcome::NetworkError
        } else {
            UploadOutcome::Response {
                status,
                retry_after,
                body,
            }
        };
        if batch_id as u64 == self.batch_id {
            self.in_flight = false;
        }
        let report = self
            .client
            .on_upload_result(batch_id as u64, outcome)
            .map_err(error)?;
        Ok(report.wait.map(|w| w.as_millis() as f64))
    }

    /// The persistent anonymous id.
    #[wasm_bindgen(getter, js_name = anonymousId)]
    pub fn anonymous_id(&self) -> String {
        self.client.anonymous_id().to_owned()
    }

    /// The user id, if identified.
    #[wasm_bindgen(getter, js_name = userId)]
    pub fn user_id(&self) -> Option<String> {
        self.client.user_id().map(str::to_owned)
    }

    /// The session id, if a session is running.
    #[wasm_bindgen(getter, js_name = sessionId)]
    pub fn session_id(&self) -> Option<String> {
        self.client.session_id().map(str::to_owned)
    }

    /// The counters, as `[accepted, delivered, dropped, uploads, uploadFailures, queuedEvents]`.
    pub fn stats(&self) -> Vec<f64> {
        let s = self.client.stats();
        [
            s.accepted,
            s.delivered,
            s.dropped.total(),
            s.uploads,
            s.upload_failures,
            s.queued_events,
        ]
        .map(|n| n as f64)
        .to_vec()
    }

    /// Commits pending storage writes now; resolves when they are durable.
    pub fn persist(&self) -> js_sys::Promise {
        self.storage.persist()
    }

    /// Where the queue is kept: `"indexeddb"`, `"localstorage"` or `"memory"`.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        match self.storage.backend() {
            Backend::IndexedDb => "indexeddb",
            Backend::LocalStorage => "localstorage",
            Backend::Memory => "memory",
        }
        .to_owned()
    }

    /// This tab's queue id; `BroadcastChannel` messages from it are this tab's own.
    #[wasm_bindgen(getter)]
    pub fn owner(&self) -> String {
        self.storage.owner()
    }

    /// Another tab changed a shared value (session, anonymous id, user, consent): take it, and reopen
    /// the client over it as soon as no upload is in flight.
    #[wasm_bindgen(js_name = sharedValue)]
    pub fn shared_value(&mut self, key: &str, value: Option<String>) -> Result<(), JsError> {
        self.storage.set_shared_value(key, value.as_deref());
        self.reload_pending = true;
        if !self.in_flight {
            self.reload()?;
        }
        Ok(())
    }
}

impl Core {
    /// Rebuilds the client from the store, so it picks up values other tabs wrote. Counters restart.
    fn reload(&mut self) -> Result<(), JsError> {
        self.reload_pending = false;
        let mut client = Client::new(
            self.config.clone(),
            self.storage.clone(),
            BrowserClock,
            seed(),
        )
        .map_err(error)?;
        client.set_context(self.context.clone()).map_err(error)?;
        if client.is_opted_out() {
            // Opting out in another tab empties this tab's queue too.
            client.set_opted_out(true).map_err(error)?;
        }
        self.client = client;
        Ok(())
    }
}

fn seed() -> u64 {
    // Math.random is enough here: the seed spreads ids and jitter, it guards nothing.
    (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64
}

fn json(text: &str) -> Result<Value, JsError> {
    if text.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(text).map_err(|e| JsError::new(&e.to_string()))
}

fn error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}
