//! The upload thread: ask the engine, send over HTTP, report back, sleep until there is work.
//!
//! The engine decides everything (batches, retries, backoff, drops); this loop only does the I/O, as
//! Glean's platform uploaders do. The wire format is `POST <endpoint>/v1/batch` with the engine's JSON
//! body, gzipped when configured (`Content-Encoding: gzip`).

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use footfall_core::{Action, BatchRequest, Client, Clock, Storage, SystemClock, UploadOutcome};
use footfall_storage_sqlite::{Checkpointer, SqliteStorage};

use crate::analytics::AnalyticsListener;
use crate::records::{DroppedEvent, UploadSummary};

/// How long to wait before asking again after the storage failed (disk full, database locked).
const STORAGE_RETRY: Duration = Duration::from_secs(5);

/// The least time between two WAL checkpoints.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

type Engine = Client<SqliteStorage, SystemClock>;

/// What the app's threads and the upload thread share.
pub(crate) struct Shared {
    client: Mutex<Engine>,
    signal: Mutex<Signal>,
    wakeup: Condvar,
    /// Set, under the client lock, when the engine said `Idle` with the queue empty: the next recorded
    /// event must wake the thread, since nothing else will.
    pub(crate) idle: AtomicBool,
    pub(crate) flush_at: u64,
    pub(crate) listener: Mutex<Option<Arc<dyn AnalyticsListener>>>,
}

#[derive(Default)]
struct Signal {
    woken: bool,
    stopping: bool,
}

impl Shared {
    pub(crate) fn new(client: Engine, flush_at: u64) -> Self {
        Shared {
            client: Mutex::new(client),
            signal: Mutex::new(Signal::default()),
            wakeup: Condvar::new(),
            idle: AtomicBool::new(false),
            flush_at,
            listener: Mutex::new(None),
        }
    }

    /// The engine. A panic while it was held cannot leave SQLite half-written (every call is a
    /// transaction), so a poisoned lock is simply taken over.
    pub(crate) fn client(&self) -> MutexGuard<'_, Engine> {
        self.client.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn signal(&self) -> MutexGuard<'_, Signal> {
        self.signal.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes the upload thread ask the engine again now.
    pub(crate) fn wake(&self) {
        self.signal().woken = true;
        self.wakeup.notify_one();
    }

    pub(crate) fn stop(&self) {
        self.signal().stopping = true;
        self.wakeup.notify_one();
    }

    /// Sleeps until woken, stopped, or `limit` (forever if `None`) has passed.
    fn sleep(&self, limit: Option<Duration>) {
        let signal = self.signal();
        let mut signal = match limit {
            Some(limit) => {
                self.wakeup
                    .wait_timeout_while(signal, limit, |s| !s.woken && !s.stopping)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => self
                .wakeup
                .wait_while(signal, |s| !s.woken && !s.stopping)
                .unwrap_or_else(PoisonError::into_inner),
        };
        signal.woken = false;
        self.idle.store(false, Ordering::Release);
    }

    fn stopping(&self) -> bool {
        self.signal().stopping
    }

    fn listener(&self) -> Option<Arc<dyn AnalyticsListener>> {
        self.listener
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Hands the engine's drop journal to the listener, if there is one.
    fn report_drops(&self) {
        let Some(listener) = self.listener() else {
            return;
        };
        let dropped = self.client().take_dropped();
        if !dropped.is_empty() {
            listener.on_dropped(dropped.into_iter().map(DroppedEvent::from).collect());
        }
    }
}

/// Starts the `footfall.upload` thread.
pub(crate) fn spawn(
    shared: Arc<Shared>,
    http: Http,
    checkpointer: Option<Checkpointer>,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("footfall.upload".to_owned())
        .spawn(move || run(&shared, &http, checkpointer.as_ref()))
        .expect("the OS refused to start the upload thread")
}

/// The loop: ask → upload → report, or sleep as long as the engine (and the open write batch) says.
/// Between rounds it commits a write batch that is due and checkpoints the WAL, off the app's threads.
fn run(shared: &Shared, http: &Http, checkpointer: Option<&Checkpointer>) {
    let mut last_checkpoint: Option<std::time::Instant> = None;
    while !shared.stopping() {
        let (action, commit_due) = {
            let mut client = shared.client();
            // A failed commit (disk full) rolls the batch back and the queue is recounted; the app's
            // next write fails the same way and returns the error.
            let _ = client.storage().commit_if_due();
            let action = client.next_action(SystemClock.now());
            // Idle with events queued means offline: recording more changes nothing until the network
            // hint comes back, so only an empty queue asks the next event to wake this thread.
            if matches!(action, Ok(Action::Idle)) && client.storage().count() == 0 {
                shared.idle.store(true, Ordering::Release);
            }
            (action, client.storage().commit_due_in())
        };
        if let Some(checkpointer) = checkpointer {
            if last_checkpoint.is_none_or(|at| at.elapsed() >= CHECKPOINT_EVERY) {
                let _ = checkpointer.run();
                last_checkpoint = Some(std::time::Instant::now());
            }
        }
        let until = |limit: Option<Duration>| match (limit, commit_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match action {
            Ok(Action::Upload(request)) => {
                let outcome = http.send(&request);
                let status = match &outcome {
                    UploadOutcome::Response { status, .. } => Some(*status),
                    UploadOutcome::NetworkError => None,
                };
                let report = shared.client().on_upload_result(request.batch_id, outcome);
                if let (Ok(report), Some(listener)) = (report, shared.listener()) {
                    listener.on_upload(UploadSummary {
                        status,
                        delivered: report.delivered as u32,
                        retrying: report.retrying as u32,
                        dropped: report.dropped as u32,
                        retry_in_ms: report.wait.map(|w| w.as_millis() as u64),
                    });
                }
            }
            Ok(Action::Wait(pause)) => shared.sleep(until(Some(pause))),
            Ok(Action::Idle) => shared.sleep(until(None)),
            Err(_) => shared.sleep(until(Some(STORAGE_RETRY))),
        }
        shared.report_drops();
    }
    // Leave the database file compact for the next launch (Analytics::shutdown committed first).
    if let Some(checkpointer) = checkpointer {
        let _ = checkpointer.run();
    }
}

/// The HTTP side: one reqwest client (rustls), reused for every upload.
pub(crate) struct Http {
    client: reqwest::blocking::Client,
    url: String,
    gzip: bool,
}

impl Http {
    pub(crate) fn new(url: String, gzip: bool, timeout: Duration) -> Result<Self, String> {
        let client = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("footfall-mobile/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot create the HTTP client: {e}"))?;
        Ok(Http { client, url, gzip })
    }

    /// Sends one batch and says what happened; a failure to connect or read is a `NetworkError`.
    fn send(&self, request: &BatchRequest) -> UploadOutcome {
        let mut builder = self
            .client
            .post(&self.url)
            .header(reqwest::header::AUTHORIZATION, &request.authorization)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        builder = match self.gzip.then(|| gzip(request.body.as_bytes())).flatten() {
            Some(body) => builder
                .header(reqwest::header::CONTENT_ENCODING, "gzip")
                .body(body),
            None => builder.body(request.body.clone()),
        };
        match builder.send() {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body = response.text().unwrap_or_default();
                UploadOutcome::Response {
                    status,
                    retry_after,
                    body,
                }
            }
            Err(_) => UploadOutcome::NetworkError,
        }
    }
}

/// The body gzipped, or `None` if compression failed (then it is sent plain).
fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    encoder.write_all(body).ok()?;
    encoder.finish().ok()
}
