//! [`EventLog`], the writer's handle, with its [`AppendFuture`] and
//! [`Subscription`].

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::mpsc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use crate::config::LogConfig;
use crate::consumer;
use crate::error::{Error, ErrorKind, Result};
use crate::frame;
use crate::reader::{self, LogReader};
use crate::record::{AppendReceipt, Record};
use crate::shared::{closed_error, Shared};
use crate::stats::LogStats;
use crate::writer::{Command, Reply, RetentionReport, Writer};

/// The durable, append-only event log, open for writing.
///
/// Cheap to clone: every clone talks to the same writer thread. The writer
/// shuts down, after committing everything queued, when the last clone is
/// dropped (that drop blocks until then, and until the directory lock is
/// released); readers and subscriptions do not keep it alive.
#[derive(Clone)]
pub struct EventLog {
    inner: Arc<Inner>,
}

struct Inner {
    commands: Option<mpsc::Sender<Command>>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel lets the writer drain the queue and exit;
        // joining makes "dropped" mean "released the directory lock".
        drop(self.commands.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl EventLog {
    /// Opens (creating if needed) the log in `dir` and starts its writer
    /// thread.
    ///
    /// Recovery runs here: a torn, unacknowledged tail is truncated, and
    /// damage to acknowledged records fails with [`ErrorKind::Corrupt`].
    /// Only one `EventLog` may have a directory open at a time, across
    /// processes ([`ErrorKind::Locked`]).
    pub fn open(dir: impl AsRef<Path>, config: LogConfig) -> Result<EventLog> {
        let writer = Writer::open(dir.as_ref(), config)?;
        let shared = Arc::clone(writer.shared());
        let (commands, queue) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("eventlog-writer".to_owned())
            .spawn(move || writer.run(queue))
            .map_err(|e| Error::io("starting the writer thread", dir.as_ref(), e))?;
        Ok(EventLog {
            inner: Arc::new(Inner {
                commands: Some(commands),
                shared,
                thread: Some(thread),
            }),
        })
    }

    /// Queues `records` for the next commit group. The returned future
    /// resolves once they are written and fdatasynced, with the offsets they
    /// got.
    ///
    /// The append is queued when this is called, not when the future is
    /// first polled, and dropping the future does not withdraw it. Works
    /// with any executor or none: the future needs no tokio runtime.
    pub fn append(&self, records: Vec<Record>) -> AppendFuture {
        let (tx, rx) = oneshot::channel();
        match self.send_append(records, Reply::Async(tx)) {
            Ok(()) => AppendFuture {
                state: AppendState::Waiting(rx),
            },
            Err(e) => AppendFuture {
                state: AppendState::Done(Some(Err(e))),
            },
        }
    }

    /// Like [`append`](EventLog::append), blocking the calling thread until
    /// the records are durable. Do not call it from an async task; await
    /// `append` there.
    pub fn append_blocking(&self, records: Vec<Record>) -> Result<AppendReceipt> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send_append(records, Reply::Blocking(tx))?;
        rx.recv().unwrap_or_else(|_| Err(closed_error()))
    }

    fn send_append(&self, records: Vec<Record>, reply: Reply) -> Result<()> {
        if records.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "an append needs at least one record",
            ));
        }
        let bytes: u64 = records.iter().map(|r| frame::encoded_len(r) as u64).sum();
        let max = self.inner.shared.config.max_append_bytes;
        if bytes > max {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "an append of {} records takes {bytes} bytes, over max_append_bytes = {max}",
                    records.len()
                ),
            ));
        }
        // If the writer thread died, the reply is dropped with the command
        // and the waiter reports the log as closed.
        let _ = self.sender().send(Command::Append {
            records,
            bytes,
            reply,
        });
        Ok(())
    }

    fn sender(&self) -> &mpsc::Sender<Command> {
        self.inner
            .commands
            .as_ref()
            .expect("the sender lives until Inner is dropped")
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// One past the newest committed offset: the offset the next record
    /// will get, and the number of records ever committed.
    pub fn high_watermark(&self) -> u64 {
        self.shared().committed()
    }

    /// The oldest offset still on disk (retention moves it forward).
    pub fn earliest_offset(&self) -> u64 {
        self.shared().earliest()
    }

    /// A reader over this log in this process. It sees records as soon as
    /// they are committed and can block until new ones arrive
    /// ([`LogReader::wait_for`]).
    pub fn reader(&self) -> LogReader {
        LogReader::in_process(Arc::clone(self.shared()))
    }

    /// A handle that wakes when new records are committed, for tailing
    /// without polling.
    pub fn subscribe(&self) -> Subscription {
        Subscription {
            watch: self.shared().watch.clone(),
            shared: Arc::clone(self.shared()),
        }
    }

    /// Persists `offset` as the next offset `group` will read (everything
    /// below it is processed). With `protect_unconsumed`, retention keeps
    /// every segment holding offsets at or past the slowest group's offset.
    pub fn commit_consumer_offset(&self, group: &str, offset: u64) -> Result<()> {
        reader::check_commit(
            &self.shared().dir,
            offset,
            self.high_watermark(),
            self.earliest_offset(),
        )?;
        consumer::write(&self.shared().dir, group, offset)?;
        let _ = self.sender().send(Command::ConsumersChanged);
        Ok(())
    }

    /// The committed offset of `group`, or `None` if it never committed.
    pub fn consumer_offset(&self, group: &str) -> Result<Option<u64>> {
        consumer::read(&self.shared().dir, group)
    }

    /// Registers `group` at the earliest offset unless it is already
    /// registered; returns its committed offset. Registering before the
    /// first read is what makes `protect_unconsumed` hold data for a group.
    pub fn register_consumer(&self, group: &str) -> Result<u64> {
        if let Some(offset) = self.consumer_offset(group)? {
            return Ok(offset);
        }
        let earliest = self.earliest_offset();
        consumer::write(&self.shared().dir, group, earliest)?;
        Ok(earliest)
    }

    /// Unregisters `group`, so retention stops waiting for it. Returns
    /// whether it was registered.
    pub fn remove_consumer(&self, group: &str) -> Result<bool> {
        let removed = consumer::remove(&self.shared().dir, group)?;
        let _ = self.sender().send(Command::ConsumersChanged);
        Ok(removed)
    }

    /// Every registered consumer group and its committed offset.
    pub fn consumer_offsets(&self) -> Result<BTreeMap<String, u64>> {
        consumer::read_all(&self.shared().dir)
    }

    /// Applies retention now, instead of waiting for the next segment
    /// rotation or `retention_check_interval`.
    pub fn run_retention(&self) -> Result<RetentionReport> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.sender()
            .send(Command::Retention { reply: tx })
            .map_err(|_| closed_error())?;
        rx.recv().unwrap_or_else(|_| Err(closed_error()))
    }

    /// A snapshot of the log's counters.
    pub fn stats(&self) -> LogStats {
        self.shared().stats()
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.shared().dir
    }

    /// The configuration the log was opened with.
    pub fn config(&self) -> &LogConfig {
        &self.shared().config
    }
}

impl fmt::Debug for EventLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLog")
            .field("dir", &self.dir())
            .field("high_watermark", &self.high_watermark())
            .finish_non_exhaustive()
    }
}

/// The outcome of [`EventLog::append`]: resolves once the records are
/// durable.
#[must_use = "the records are queued either way; await the future to know they are durable"]
pub struct AppendFuture {
    state: AppendState,
}

enum AppendState {
    /// Rejected before queuing; `None` once taken.
    Done(Option<Result<AppendReceipt>>),
    Waiting(oneshot::Receiver<Result<AppendReceipt>>),
}

impl Future for AppendFuture {
    type Output = Result<AppendReceipt>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            AppendState::Done(result) => {
                Poll::Ready(result.take().expect("AppendFuture polled after completion"))
            }
            AppendState::Waiting(rx) => Pin::new(rx)
                .poll(cx)
                .map(|reply| reply.unwrap_or_else(|_| Err(closed_error()))),
        }
    }
}

impl fmt::Debug for AppendFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppendFuture").finish_non_exhaustive()
    }
}

/// Wakes a tailing consumer when new records are committed.
///
/// Created by [`EventLog::subscribe`]. Works in async code (`wait_for`)
/// and in plain threads (`wait_for_blocking`); neither polls.
pub struct Subscription {
    watch: watch::Receiver<u64>,
    shared: Arc<Shared>,
}

impl Subscription {
    /// One past the newest committed offset.
    pub fn high_watermark(&self) -> u64 {
        self.shared.committed()
    }

    /// Resolves once the record at `offset` is committed, with the high
    /// watermark then. A consumer that has read everything below `next`
    /// calls `wait_for(next)`. Fails with [`ErrorKind::Closed`] if the log
    /// shuts down first.
    pub async fn wait_for(&mut self, offset: u64) -> Result<u64> {
        match self.watch.wait_for(|&committed| committed > offset).await {
            Ok(committed) => Ok(*committed),
            Err(_) => Err(closed_error()),
        }
    }

    /// Blocks until the record at `offset` is committed (returning the high
    /// watermark) or `timeout` passes (returning `None`).
    pub fn wait_for_blocking(&self, offset: u64, timeout: Duration) -> Result<Option<u64>> {
        self.shared.wait_past(offset, timeout)
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("high_watermark", &self.high_watermark())
            .finish()
    }
}
