//! [`Analytics`]: the object Kotlin and Swift hold, and [`AnalyticsListener`], the one callback
//! interface.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use footfall_core::{Client, Storage, SystemClock};
use footfall_storage_sqlite::{Durability, SqliteStorage};

use crate::config::AnalyticsConfig;
use crate::error::{parse_object, FootfallError};
use crate::records::{AnalyticsStats, DroppedEvent, UploadSummary};
use crate::uploader::{self, Http, Shared};

/// Told by the uploader thread what became of events. Implement it in Kotlin or Swift to log drops or
/// feed the app's own telemetry. Calls come on the SDK's upload thread: return quickly.
#[uniffi::export(callback_interface)]
pub trait AnalyticsListener: Send + Sync {
    /// Events given up, with why: the queue overflowed, the collector refused them, retries ran out.
    fn on_dropped(&self, events: Vec<DroppedEvent>);
    /// An upload finished.
    fn on_upload(&self, summary: UploadSummary);
}

/// The SDK: records events to the SQLite queue and uploads them from a background thread.
///
/// Create one per app (two over the same database file would send events twice). Every method is
/// thread-safe; recording methods return once the event is in SQLite.
#[derive(uniffi::Object)]
pub struct Analytics {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Analytics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analytics").finish_non_exhaustive()
    }
}

#[uniffi::export]
impl Analytics {
    /// Opens the queue at `config.database_path` (restoring the anonymous id, user and queued events)
    /// and starts the upload thread.
    #[uniffi::constructor]
    pub fn new(config: AnalyticsConfig) -> Result<Arc<Self>, FootfallError> {
        let url = config
            .batch_url()
            .map_err(|reason| FootfallError::InvalidConfig { reason })?;
        let durability = if config.full_durability {
            Durability::Full
        } else {
            Durability::Normal
        };
        let storage = SqliteStorage::open_with(&config.database_path, durability)?
            .with_write_batching(config.write_batching());
        let checkpointer = storage.checkpointer()?;
        let engine_config = config.engine_config();
        let flush_at = engine_config.flush_at as u64;
        let client = Client::new(engine_config, storage, SystemClock, entropy())?;
        let http = Http::new(
            url,
            config.gzip,
            Duration::from_millis(config.http_timeout_ms),
        )
        .map_err(|reason| FootfallError::InvalidConfig { reason })?;
        let shared = Arc::new(Shared::new(client, flush_at));
        let thread = uploader::spawn(Arc::clone(&shared), http, checkpointer);
        Ok(Arc::new(Analytics {
            shared,
            thread: Mutex::new(Some(thread)),
        }))
    }

    /// Records that the user did something; `properties` is a JSON object or `null`. Returns the
    /// event's messageId, or `null` if the user opted out.
    #[uniffi::method(default(properties = None))]
    pub fn track(
        &self,
        event: String,
        properties: Option<String>,
    ) -> Result<Option<String>, FootfallError> {
        let properties = parse_object("properties", properties.as_deref())?;
        self.record(|c| c.track(&event, properties))
    }

    /// Records a screen view.
    #[uniffi::method(default(properties = None))]
    pub fn screen(
        &self,
        name: String,
        properties: Option<String>,
    ) -> Result<Option<String>, FootfallError> {
        let properties = parse_object("properties", properties.as_deref())?;
        self.record(|c| c.screen(&name, properties))
    }

    /// Says who the user is; `traits` (a JSON object) are merged into those given before.
    #[uniffi::method(default(traits = None))]
    pub fn identify(
        &self,
        user_id: Option<String>,
        traits: Option<String>,
    ) -> Result<Option<String>, FootfallError> {
        let traits = parse_object("traits", traits.as_deref())?;
        self.record(|c| c.identify(user_id.as_deref(), traits))
    }

    /// Associates the user with a group (a company, an account).
    #[uniffi::method(default(traits = None))]
    pub fn group(
        &self,
        group_id: String,
        traits: Option<String>,
    ) -> Result<Option<String>, FootfallError> {
        let traits = parse_object("traits", traits.as_deref())?;
        self.record(|c| c.group(&group_id, traits))
    }

    /// Merges the current identity into `user_id`, which becomes the current user.
    pub fn alias(&self, user_id: String) -> Result<Option<String>, FootfallError> {
        self.record(|c| c.alias(&user_id))
    }

    /// Forgets the user, on logout: a new anonymous id and session, no user id, no traits.
    pub fn reset(&self) -> Result<(), FootfallError> {
        Ok(self.shared.client().reset()?)
    }

    /// Properties (a JSON object) sent with every later `track` and `screen`.
    pub fn register(&self, properties: String) -> Result<(), FootfallError> {
        let properties = parse_object("properties", Some(&properties))?;
        Ok(self.shared.client().register(properties)?)
    }

    /// Stops sending a property set by `register`.
    pub fn unregister(&self, key: String) -> Result<(), FootfallError> {
        Ok(self.shared.client().unregister(&key)?)
    }

    /// The device context (a JSON object: `device`, `os`, `app`, `locale`, …) sent with every event.
    pub fn set_context(&self, context: String) -> Result<(), FootfallError> {
        let context = parse_object("context", Some(&context))?;
        Ok(self.shared.client().set_context(context)?)
    }

    /// Consent: while opted out nothing is recorded and queued events are discarded (and reported).
    pub fn set_opted_out(&self, opted_out: bool) -> Result<(), FootfallError> {
        self.shared.client().set_opted_out(opted_out)?;
        // The discarded events reach a listener from the upload thread.
        self.shared.wake();
        Ok(())
    }

    /// Whether the user opted out.
    pub fn is_opted_out(&self) -> bool {
        self.shared.client().is_opted_out()
    }

    /// The persistent anonymous id.
    pub fn anonymous_id(&self) -> String {
        self.shared.client().anonymous_id().to_owned()
    }

    /// The current user id, if identified.
    pub fn user_id(&self) -> Option<String> {
        self.shared.client().user_id().map(str::to_owned)
    }

    /// The current session id, if a session is running.
    pub fn session_id(&self) -> Option<String> {
        self.shared.client().session_id().map(str::to_owned)
    }

    /// Commits grouped writes and asks for everything queued to be uploaded now (unless a backoff is in
    /// force). Returns at once.
    pub fn flush(&self) {
        let mut client = self.shared.client();
        // A failed commit is reported by the next write, which fails the same way.
        let _ = client.storage().commit();
        client.flush();
        drop(client);
        self.shared.wake();
    }

    /// Flushes and waits until the queue is empty or `timeout_ms` has passed; true if it emptied.
    /// For command-line tools and tests: never call it on an app's main thread.
    pub fn flush_and_wait(&self, timeout_ms: u64) -> bool {
        self.flush();
        let deadline = Instant::now() + Duration::from_millis(timeout_ms);
        loop {
            if self.shared.client().storage().count() == 0 {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The app went to the background: commits grouped writes (a backgrounded app may be killed at any
    /// time) and uploads what is queued while the OS still lets it run.
    pub fn on_background(&self) -> Result<(), FootfallError> {
        let mut client = self.shared.client();
        client.storage().commit()?;
        client.on_background();
        drop(client);
        self.shared.wake();
        Ok(())
    }

    /// The app came to the foreground: the uploader looks at the queue again.
    pub fn on_foreground(&self) {
        self.shared.wake();
    }

    /// A hint from the reachability monitor. Offline, the uploader sleeps instead of burning retries;
    /// back online, it ends any network backoff and flushes.
    pub fn set_network_available(&self, available: bool) {
        self.shared.client().set_network_available(available);
        self.shared.wake();
    }

    /// The counters and the queue's size.
    pub fn stats(&self) -> AnalyticsStats {
        self.shared.client().stats().into()
    }

    /// The events given up since the last call, with their reasons (the most recent 1000). With a
    /// listener set, drops go to the listener instead.
    pub fn take_dropped(&self) -> Vec<DroppedEvent> {
        self.shared
            .client()
            .take_dropped()
            .into_iter()
            .map(Into::into)
            .collect()
    }

    /// Sends drop and upload notices to `listener`, from the upload thread.
    pub fn set_listener(&self, listener: Box<dyn AnalyticsListener>) {
        *self
            .shared
            .listener
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Arc::from(listener));
        self.shared.wake();
    }

    /// Commits grouped writes and stops the upload thread, after the upload in progress (if any)
    /// finishes. Recording still works (each event is then committed by the next `flush`,
    /// `on_background` or `shutdown`, or when the object is destroyed): events stay queued for the next
    /// launch. Idempotent; also done when the object is destroyed.
    pub fn shutdown(&self) {
        let _ = self.shared.client().storage().commit();
        self.shared.stop();
        let handle = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            // A listener calling shutdown from the upload thread must not wait for itself.
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
    }
}

impl Analytics {
    /// Runs one recording call, then wakes the uploader if it has something new to schedule: the queue
    /// was empty (so the uploader is idle), it has just reached `flush_at`, or the event opened a
    /// write batch that must be committed within its delay.
    fn record(
        &self,
        call: impl FnOnce(
            &mut Client<SqliteStorage, SystemClock>,
        ) -> Result<Option<String>, footfall_core::Error>,
    ) -> Result<Option<String>, FootfallError> {
        let mut client = self.shared.client();
        let message_id = call(&mut client)?;
        let count = client.storage().count();
        let opened_batch = client.storage().uncommitted() == 1;
        drop(client);
        if self.shared.idle.load(Ordering::Acquire) || count == self.shared.flush_at || opened_batch
        {
            self.shared.wake();
        }
        Ok(message_id)
    }
}

impl Drop for Analytics {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A seed for the engine's id generator from the OS's per-process randomness.
fn entropy() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    hasher.write_u32(std::process::id());
    hasher.finish()
}
