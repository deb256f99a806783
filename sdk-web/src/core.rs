//! [`Core`]: the engine as the JavaScript package sees it. The package's `index.js` wraps it in the
//! analytics.js-style API and does the browser work (fetch, `sendBeacon`, page views, timers,
//! IndexedDB).
//!
//! The surface is kept small on purpose, because every export costs glue in the JavaScript bundle and
//! every value crossing the boundary costs time on the hot path:
//!
//! * arguments and results are numbers, booleans and strings only; properties and traits cross as the
//!   JSON text `JSON.stringify` makes, one string copy per call;
//! * a call that fails returns `undefined` (or `false`), and [`Core::error`] then gives the engine's
//!   message, so no exception object is built in Rust;
//! * rarely used calls share one export each: [`Core::rec`] for the recording calls other than
//!   `track`, [`Core::ctl`] for commands, [`Core::stat`] and [`Core::id`] for what the page reads.

use alloc::borrow::ToOwned;
use alloc::string::String;

use footfall_core::{json, Action, Client, Clock, Config, Error, Millis, UploadOutcome};
use wasm_bindgen::prelude::*;

use crate::storage::WebStorage;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = Date, js_name = now)]
    fn date_now() -> f64;
}

/// The browser's wall clock, `Date.now()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct BrowserClock;

impl Clock for BrowserClock {
    fn now(&self) -> Millis {
        date_now() as Millis
    }
}

/// The largest body `sendBeacon` and `fetch(…, {keepalive: true})` take in Chromium is 64 KiB, so
/// batches are cut to that.
const MAX_BATCH_BYTES: usize = 64 * 1024;

/// What [`Core::next`] returns when there is nothing to do until the next event, flush or network
/// change.
const IDLE: f64 = -1.0;
/// What [`Core::next`] returns when a batch is ready: take it with [`Core::body`].
const UPLOAD: f64 = -2.0;

type WebClient = Client<WebStorage, BrowserClock>;

/// One Footfall client over one store, driven by `index.js`.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Core {
    storage: WebStorage,
    /// `None` until [`Core::start`].
    client: Option<WebClient>,
    config: Option<Config>,
    seed: u64,
    /// `{"writeKey":"…",`: put in front of each batch body, since `sendBeacon` cannot send headers.
    body_prefix: String,
    context: String,
    body: String,
    batch_id: u64,
    in_flight: bool,
    reload_pending: bool,
    error: Option<String>,
    /// The messageId of the last `track`, read by `index.js` straight from memory (see
    /// [`Core::track`]).
    last_id: [u8; 36],
}

#[wasm_bindgen]
impl Core {
    /// An empty core: load the stored queue with [`ev`](Core::ev) and the values with
    /// [`shared`](Core::shared), then [`start`](Core::start).
    #[wasm_bindgen(constructor)]
    #[allow(clippy::new_without_default)] // a JavaScript constructor, not a Rust value type
    pub fn new() -> Core {
        Core {
            storage: WebStorage::new(),
            client: None,
            config: None,
            seed: 0,
            body_prefix: String::new(),
            context: String::new(),
            body: String::new(),
            batch_id: 0,
            in_flight: false,
            reload_pending: false,
            error: None,
            last_id: [0; 36],
        }
    }

    /// Loads one stored record of events (its key and text) before [`start`](Core::start).
    pub fn ev(&mut self, key: f64, record: &str) {
        self.storage.load_event(key as u64, record);
    }

    /// Starts the client over what was loaded: `lastSeq` is the store's high-water mark, `seed` a
    /// random number for ids and jitter. False if the configuration is refused (see
    /// [`error`](Core::error)).
    pub fn start(
        &mut self,
        #[wasm_bindgen(js_name = lastSeq)] last_seq: f64,
        #[wasm_bindgen(js_name = writeKey)] write_key: String,
        #[wasm_bindgen(js_name = flushAt)] flush_at: u32,
        #[wasm_bindgen(js_name = flushIntervalMs)] flush_interval_ms: u32,
        seed: f64,
    ) -> bool {
        self.storage.loaded(last_seq as u64);
        let config = Config {
            library_name: "footfall-web".to_owned(),
            library_version: env!("CARGO_PKG_VERSION").to_owned(),
            flush_at: flush_at.max(1) as usize,
            flush_interval: core::time::Duration::from_millis(flush_interval_ms.into()),
            max_batch_bytes: MAX_BATCH_BYTES,
            ..Config::new(write_key)
        };
        let mut prefix = String::from("{\"writeKey\":");
        json::write_string(&mut prefix, &config.write_key);
        prefix.push(',');
        self.body_prefix = prefix;
        self.seed = seed as u64;
        self.config = Some(config);
        self.reload().is_some()
    }

    /// Records an event. Returns the length of its messageId, whose bytes are then at
    /// [`idp`](Core::idp), or 0 when opted out or refused (then [`error`](Core::error) says why).
    ///
    /// The id is not returned as a string because decoding a short string from wasm memory with
    /// `TextDecoder` costs more than the rest of the call; `index.js` reads the 36 ASCII bytes itself.
    pub fn track(&mut self, event: &str, properties: &str) -> usize {
        let Some(Some(id)) = self.with(|c| c.track_json(event, properties)) else {
            return 0;
        };
        let n = id.len().min(self.last_id.len());
        self.last_id[..n].copy_from_slice(&id.as_bytes()[..n]);
        n
    }

    /// Where [`track`](Core::track) leaves the messageId, in wasm memory. The address does not change
    /// for the life of the core.
    pub fn idp(&self) -> usize {
        self.last_id.as_ptr() as usize
    }

    /// The other recording calls, by `kind`: 0 `page(a = category, b = name, json)`, 1
    /// `identify(a = userId, json)`, 2 `group(a = groupId, json)`, 3 `alias(a = userId)`, 4 the
    /// context sent with every event (`json`; returns `""`). Results as for [`track`](Core::track).
    pub fn rec(
        &mut self,
        kind: u8,
        a: Option<String>,
        b: Option<String>,
        json: &str,
    ) -> Option<String> {
        let a = a.as_deref();
        match kind {
            0 => self.with(|c| c.page_json(a, b.as_deref(), json))?,
            1 => self.with(|c| c.identify_json(a, json))?,
            2 => self.with(|c| c.group_json(a.unwrap_or_default(), json))?,
            3 => self.with(|c| c.alias(a.unwrap_or_default()))?,
            _ => {
                self.with(|c| c.set_context_json(json))?;
                json.clone_into(&mut self.context);
                Some(String::new())
            }
        }
    }

    /// A command: 0 flush, 1 online, 2 offline, 3 opt out, 4 opt in, 5 reset (logout). False if it
    /// failed (see [`error`](Core::error)).
    pub fn ctl(&mut self, command: u8) -> bool {
        self.with(|c| {
            match command {
                0 => c.flush(),
                1 | 2 => c.set_network_available(command == 1),
                3 | 4 => c.set_opted_out(command == 3)?,
                _ => c.reset()?,
            }
            Ok(())
        })
        .is_some()
    }

    /// What to do now: -1 idle (until the next event, flush or network change), -2 a batch is ready
    /// (take it with [`body`](Core::body), its id is `stat(7)`), or else ask again after that many
    /// milliseconds.
    pub fn next(&mut self, now: f64) -> f64 {
        if self.reload_pending && !self.in_flight {
            self.reload();
        }
        let action = self.with(|c| c.next_action(now as Millis));
        match action {
            None | Some(Action::Idle) => IDLE,
            Some(Action::Wait(wait)) => wait.as_millis() as f64,
            Some(Action::Upload(request)) => {
                self.batch_id = request.batch_id;
                self.in_flight = true;
                let mut body = String::with_capacity(self.body_prefix.len() + request.body.len());
                body.push_str(&self.body_prefix);
                body.push_str(request.body.get(1..).unwrap_or_default());
                self.body = body;
                UPLOAD
            }
        }
    }

    /// The body of the batch [`next`](Core::next) made ready, to POST to `/v1/batch`.
    pub fn body(&mut self) -> String {
        core::mem::take(&mut self.body)
    }

    /// Reports how the upload `batchId` ended: `status` 0 for a network error, else the HTTP status
    /// with its `Retry-After` header and body. Returns how long the engine will wait before the next
    /// upload in milliseconds, or -1.
    pub fn result(
        &mut self,
        #[wasm_bindgen(js_name = batchId)] batch_id: f64,
        status: u16,
        #[wasm_bindgen(js_name = retryAfter)] retry_after: Option<String>,
        body: &str,
    ) -> f64 {
        let outcome = if status == 0 {
            UploadOutcome::NetworkError
        } else {
            UploadOutcome::Response {
                status,
                retry_after,
                body: body.to_owned(),
            }
        };
        if batch_id as u64 == self.batch_id {
            self.in_flight = false;
        }
        let report = self.with(|c| c.on_upload_result(batch_id as u64, outcome));
        report
            .and_then(|r| r.wait)
            .map_or(-1.0, |w| w.as_millis() as f64)
    }

    /// An id: 0 the anonymous id, 1 the user id, 2 the session id; `undefined` if there is none.
    pub fn id(&self, which: u8) -> Option<String> {
        let c = self.client.as_ref()?;
        match which {
            0 => Some(c.anonymous_id()),
            1 => c.user_id(),
            _ => c.session_id(),
        }
        .map(str::to_owned)
    }

    /// A number: 0 accepted, 1 delivered, 2 dropped, 3 uploads, 4 upload failures, 5 queued events
    /// (all since start), 6 whether the user opted out (1 or 0), 7 the id of the batch last made
    /// ready.
    pub fn stat(&self, which: u8) -> f64 {
        let Some(c) = &self.client else {
            return 0.0;
        };
        let s = c.stats();
        (match which {
            0 => s.accepted,
            1 => s.delivered,
            2 => s.dropped.total(),
            3 => s.uploads,
            4 => s.upload_failures,
            5 => s.queued_events,
            6 => u64::from(c.is_opted_out()),
            _ => self.batch_id,
        }) as f64
    }

    /// The next change to write to the store, as `js/io.js` reads it; `undefined` once all are taken.
    pub fn op(&mut self) -> Option<String> {
        self.storage.take_op().map(|op| op.to_text())
    }

    /// A stored value at load, or one another tab changed (session, anonymous id, user, consent):
    /// taken as is. After start the client is rebuilt over it as soon as no upload is in flight.
    pub fn shared(&mut self, key: &str, value: Option<String>) {
        self.storage.set_shared_value(key, value.as_deref());
        if self.client.is_some() {
            self.reload_pending = true;
            if !self.in_flight {
                self.reload();
            }
        }
    }

    /// Why the last call that returned `undefined` or `false` failed; `undefined` if it did not (an
    /// opted-out user's calls record nothing without failing).
    pub fn error(&mut self) -> Option<String> {
        self.error.take()
    }
}

impl Core {
    /// Runs `call` on the client, keeping the error's message for [`Core::error`].
    fn with<T>(&mut self, call: impl FnOnce(&mut WebClient) -> Result<T, Error>) -> Option<T> {
        let Some(client) = &mut self.client else {
            self.error = Some("footfall: not started".to_owned());
            return None;
        };
        match call(client) {
            Ok(value) => Some(value),
            Err(e) => {
                self.error = Some(e.message());
                None
            }
        }
    }

    /// (Re)builds the client from the store, so it picks up values other tabs wrote. Counters restart.
    fn reload(&mut self) -> Option<()> {
        self.reload_pending = false;
        let config = self.config.clone()?;
        // A new seed each time, so a rebuilt client does not repeat the ids of the one it replaces.
        self.seed = self
            .seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let built = Client::new(config, self.storage.clone(), BrowserClock, self.seed).and_then(
            |mut client| {
                client.set_context_json(&self.context)?;
                if client.is_opted_out() {
                    // Opting out in another tab empties this tab's queue too.
                    client.set_opted_out(true)?;
                }
                Ok(client)
            },
        );
        match built {
            Ok(client) => {
                self.client = Some(client);
                Some(())
            }
            Err(e) => {
                self.error = Some(e.message());
                None
            }
        }
    }

    /// The messageId [`Core::track`] left, for Rust callers (the tests).
    pub fn last_message_id(&self, len: usize) -> &str {
        core::str::from_utf8(self.last_id.get(..len).unwrap_or_default()).unwrap_or_default()
    }
}
