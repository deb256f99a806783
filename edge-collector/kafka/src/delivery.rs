//! [`KafkaDelivery`]: the collector's sink core. Produces to Kafka when it
//! can, spills to a local [`EventLog`] when it cannot, and drains the spill
//! back to Kafka in order.
//!
//! # Modes
//!
//! - **Direct.** Each record is produced with the idempotent producer
//!   (`acks=all`); [`KafkaDelivery::deliver`] returns once every record is
//!   acknowledged. Records that fail with a retriable error (timeout, no
//!   broker) are appended to the spill log, in their original order, in the
//!   same critical section that ends the delivery's "direct in flight"
//!   count, and the mode becomes Spill.
//! - **Spill.** Entered on such a failure, or when the librdkafka error
//!   callback reports all brokers down. New records are appended to the
//!   spill log and acknowledged once it has fsynced them.
//!
//! The mode check and the enqueue into the spill log happen under one
//! mutex, and [`EventLog::append`] fixes a record's offset when it is
//! called, so the spill log's order is the order in which deliveries
//! decided to spill.
//!
//! # Drainer
//!
//! A background task forwards the spill log to Kafka in offset order. It
//! only reads while the mode is Spill **and no direct delivery is in
//! flight**, so a direct produce started before the switch can never land
//! after a spilled record that was acknowledged later. After Kafka
//! acknowledges a prefix it commits the consumer offset `kafka-drainer` in
//! the spill log (retention then frees those segments); on a retriable
//! error it waits (exponential backoff, 100 ms to 5 s) and resends from the
//! first unacknowledged record. While librdkafka reports all brokers down
//! it probes with a metadata request instead of sending. When everything is
//! forwarded and no spill append is pending, it switches back to Direct
//! under the same mutex, so no append can slip in between "empty" and
//! "direct". Under continuous load some append is nearly always pending,
//! so once the drainer has caught up it starts a *handover*: new deliveries
//! wait (one fsync plus one Kafka round trip, typically) until the pending
//! appends are forwarded and the mode is Direct; a Kafka failure during the
//! handover cancels it and they spill as before. On startup, a non-empty
//! backlog starts the delivery in Spill mode.
//!
//! # Guarantees
//!
//! - `Ok` means every record is durable: acknowledged by all in-sync
//!   replicas, or fdatasynced in the spill log.
//! - Per key, records delivered by successive `deliver` calls (the second
//!   started after the first returned) reach Kafka in that order; records
//!   within one call keep their order. Concurrent calls have no order
//!   between them.
//! - **Duplicates.** A produce that timed out may still have been written
//!   by the broker; it is spilled and sent again. A drain batch that fails
//!   part-way is resent from its first unacknowledged record, so later
//!   records of that batch that did land are sent twice. A crash between a
//!   Kafka ack and the offset commit resends that batch. Consumers
//!   deduplicate by `messageId`; a duplicate can appear after a later record
//!   of its key, never instead of it.
//! - **Losses** happen only when Kafka rejects a record permanently (too
//!   large, not authorised): on the direct path the delivery fails with
//!   [`DeliveryError::Fatal`]; on the drain path the record is skipped and
//!   counted in [`KafkaStats::drain_dropped_total`].
//!
//! # Spill format
//!
//! One log for both topics; each record's key is prefixed with one tag
//! byte, `e` (events topic) or `d` (dead-letter topic). The tag names the
//! role, not the topic, so renaming a topic in the configuration drains an
//! old backlog to the new name.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use footfall_eventlog::{AppendFuture, ErrorKind, EventLog, LogConfig, LogReader, Record};
use rdkafka::error::KafkaError;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::config::{ConfigError, KafkaConfig};
use crate::stats::{Counters, DeliveryMode, KafkaStats};
use crate::transport::{BatchFuture, OutgoingRecord, ProduceError, RdKafkaTransport, Transport};

/// Consumer group under which the drainer commits its spill-log position.
pub const DRAIN_GROUP: &str = "kafka-drainer";
const TAG_EVENTS: u8 = b'e';
const TAG_DEAD_LETTERS: u8 = b'd';
/// Per-record framing overhead in the spill log, rounded up.
const FRAME_OVERHEAD: u64 = 64;
const DRAIN_BATCH_RECORDS: usize = 1_000;
const DRAIN_BATCH_BYTES: usize = 4 << 20;
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How often a delivery waiting for a handover re-checks without a wake-up.
const HANDOVER_RECHECK: Duration = Duration::from_millis(50);
/// How long the idle drainer sleeps before re-checking without a wake-up.
const IDLE_RECHECK: Duration = Duration::from_millis(250);

/// How a successful [`KafkaDelivery::deliver`] made the records durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Delivered {
    /// Records acknowledged by Kafka.
    pub direct: usize,
    /// Records fsynced into the spill log, to be forwarded later.
    pub spilled: usize,
}

/// Why [`KafkaDelivery::deliver`] could not make every record durable.
///
/// On any error some records may already be durable; a client retry then
/// creates duplicates, which the backend removes by `messageId`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// A transient local failure (spill-log I/O error): answer 503 with
    /// `Retry-After`.
    #[error("delivery failed, retry later: {reason}")]
    Retriable {
        /// What failed.
        reason: String,
        /// Suggested `Retry-After`.
        retry_after: Duration,
    },
    /// Kafka is unreachable and the spill log's disk budget is full (or the
    /// disk itself is): answer 503 with `Retry-After`.
    #[error("Kafka is unreachable and the spill disk budget is exhausted")]
    DiskBudgetExceeded {
        /// Suggested `Retry-After`.
        retry_after: Duration,
    },
    /// Retrying cannot help: Kafka rejected a record (too large, not
    /// authorised) or the spill log is unusable (corrupt, poisoned, closed).
    #[error("delivery failed permanently: {reason}")]
    Fatal {
        /// What failed.
        reason: String,
    },
}

impl DeliveryError {
    /// The `Retry-After` to answer with, for the retriable errors.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            DeliveryError::Retriable { retry_after, .. }
            | DeliveryError::DiskBudgetExceeded { retry_after } => Some(*retry_after),
            DeliveryError::Fatal { .. } => None,
        }
    }
}

/// Why [`KafkaDelivery::new`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// librdkafka refused the producer configuration.
    #[error("creating the Kafka producer: {0}")]
    Kafka(#[from] KafkaError),
    /// The spill log could not be opened (locked, corrupt, I/O).
    #[error("opening the spill log: {0}")]
    Spill(#[from] footfall_eventlog::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dest {
    Events,
    DeadLetters,
}

/// The collector's Kafka sink. See the [module docs](self) for the design.
///
/// Dropping it stops the drainer; call [`shutdown`](KafkaDelivery::shutdown)
/// first to flush librdkafka's queue.
pub struct KafkaDelivery {
    inner: Arc<Inner>,
    stop: watch::Sender<bool>,
    drainer: Mutex<Option<JoinHandle<()>>>,
}

struct Inner {
    transport: Arc<dyn Transport>,
    spill: EventLog,
    events_topic: String,
    dead_letter_topic: String,
    retry_after: Duration,
    state: Mutex<State>,
    /// Wakes the drainer (single waiter: `notify_one` keeps a permit).
    wake: Notify,
    /// Wakes deliveries waiting for a handover to end.
    handover_done: Notify,
    counters: Counters,
    /// The drainer's next offset, for the backlog gauge.
    drained_next: AtomicU64,
    /// Why new records cannot be made durable now, for readiness: one of the `SPILL_*` values.
    spill_refusal: AtomicU8,
}

/// The spill log takes appends (or has not refused one since it last could).
const SPILL_ACCEPTING: u8 = 0;
/// The spill log refused an append for its disk budget, and neither a later append nor the drainer
/// has made room since.
const SPILL_FULL: u8 = 1;
/// The spill log failed for good (corrupt, poisoned, closed).
const SPILL_UNUSABLE: u8 = 2;

#[derive(Debug)]
struct State {
    mode: DeliveryMode,
    /// Deliveries whose direct produces have not all resolved.
    direct_in_flight: u64,
    /// Spill appends enqueued but not yet resolved.
    spill_pending: u64,
    /// The drainer has caught up and is waiting for pending appends to
    /// finish before switching to Direct; new deliveries wait meanwhile.
    handover: bool,
}

impl KafkaDelivery {
    /// Validates `config`, opens the spill log in `config.spill_dir` and
    /// creates the idempotent producer. Never waits for the brokers.
    /// Must be called inside a tokio runtime (it spawns the drainer).
    pub fn new(config: &KafkaConfig) -> Result<KafkaDelivery, BuildError> {
        config.validate()?;
        let transport = RdKafkaTransport::new(config)?;
        KafkaDelivery::with_transport(config, Arc::new(transport))
    }

    /// Like [`new`](KafkaDelivery::new) with another [`Transport`] (tests,
    /// or a custom producer).
    pub fn with_transport(
        config: &KafkaConfig,
        transport: Arc<dyn Transport>,
    ) -> Result<KafkaDelivery, BuildError> {
        config.validate()?;
        std::fs::create_dir_all(&config.spill_dir).map_err(|e| {
            BuildError::Config(ConfigError {
                field: "spill_dir",
                reason: format!("cannot create {}: {e}", config.spill_dir.display()),
            })
        })?;
        let mut log_config = LogConfig::default();
        log_config.segment_bytes = config.spill_segment_bytes();
        log_config.max_disk_bytes = Some(config.spill_max_bytes);
        log_config.protect_unconsumed = true;
        log_config.max_append_bytes = log_config.max_append_bytes.min(config.spill_max_bytes / 2);
        let spill = EventLog::open(&config.spill_dir, log_config)?;
        let next = spill.register_consumer(DRAIN_GROUP)?;
        let backlog = spill.high_watermark().saturating_sub(next);
        let mode = if backlog > 0 {
            tracing::warn!(
                backlog,
                dir = %config.spill_dir.display(),
                "spill log holds undelivered records; starting in spill mode"
            );
            DeliveryMode::Spill
        } else {
            DeliveryMode::Direct
        };
        let inner = Arc::new(Inner {
            transport,
            spill,
            events_topic: config.events_topic.clone(),
            dead_letter_topic: config.dead_letter_topic.clone(),
            retry_after: config.retry_after(),
            state: Mutex::new(State {
                mode,
                direct_in_flight: 0,
                spill_pending: 0,
                handover: false,
            }),
            wake: Notify::new(),
            handover_done: Notify::new(),
            counters: Counters::default(),
            drained_next: AtomicU64::new(next),
            spill_refusal: AtomicU8::new(SPILL_ACCEPTING),
        });
        let (stop, stopped) = watch::channel(false);
        let drainer = tokio::spawn(drain(Arc::clone(&inner), stopped, next));
        Ok(KafkaDelivery {
            inner,
            stop,
            drainer: Mutex::new(Some(drainer)),
        })
    }

    /// Makes `events` (to the events topic) and `dead_letters` (to the
    /// dead-letter topic) durable; `Ok` only when every record is
    /// acknowledged by Kafka or fsynced in the spill log.
    ///
    /// Each record's key must be the ordering key (write key + user id), so
    /// one user's events share a partition. The work runs in its own task:
    /// dropping the returned future does not abandon records half-way.
    pub async fn deliver(
        &self,
        events: Vec<Record>,
        dead_letters: Vec<Record>,
    ) -> Result<Delivered, DeliveryError> {
        let items: Vec<(Dest, Record)> = events
            .into_iter()
            .map(|r| (Dest::Events, r))
            .chain(dead_letters.into_iter().map(|r| (Dest::DeadLetters, r)))
            .collect();
        if items.is_empty() {
            return Ok(Delivered::default());
        }
        let inner = Arc::clone(&self.inner);
        match tokio::spawn(inner.deliver(items)).await {
            Ok(result) => result,
            Err(join) => Err(DeliveryError::Fatal {
                reason: format!("delivery task failed: {join}"),
            }),
        }
    }

    /// Why a delivery would be refused now, `None` while records can be made durable: the readiness
    /// probe's answer. Kafka being down is not a reason (records spill); a spill log over its disk
    /// budget is, until an append succeeds again or the drainer forwards part of the backlog (which
    /// lets retention free space), and so is a spill log that failed for good.
    pub fn refusal(&self) -> Option<&'static str> {
        match self.inner.spill_refusal.load(Ordering::Relaxed) {
            SPILL_ACCEPTING => None,
            SPILL_FULL => Some("Kafka is unreachable and the spill log is over its disk budget"),
            _ => Some("the spill log failed and needs an operator (see the collector's log)"),
        }
    }

    /// The current mode.
    pub fn mode(&self) -> DeliveryMode {
        self.inner.lock().mode
    }

    /// A snapshot of the counters and gauges.
    pub fn stats(&self) -> KafkaStats {
        let mut stats = self.inner.counters.snapshot();
        {
            let state = self.inner.lock();
            stats.mode = state.mode;
            stats.direct_in_flight = state.direct_in_flight;
        }
        let next = self.inner.drained_next.load(Ordering::Relaxed);
        stats.spill_backlog = self.inner.spill.high_watermark().saturating_sub(next);
        stats.spill_bytes = self.inner.spill.stats().log_bytes;
        stats.producer = self.inner.transport.producer_stats();
        stats.connection_errors = self.inner.transport.connection_errors();
        stats
    }

    /// Stops the drainer (the backlog stays on disk for the next start) and
    /// waits up to `timeout` for librdkafka to deliver what it has queued.
    pub async fn shutdown(&self, timeout: Duration) {
        let _ = self.stop.send(true);
        self.inner.wake.notify_one();
        let drainer = self.drainer.lock().expect("drainer mutex poisoned").take();
        if let Some(drainer) = drainer {
            let _ = tokio::time::timeout(timeout, drainer).await;
        }
        let transport = Arc::clone(&self.inner.transport);
        let _ = tokio::task::spawn_blocking(move || transport.flush(timeout)).await;
    }
}

impl Drop for KafkaDelivery {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.inner.wake.notify_one();
    }
}

impl fmt::Debug for KafkaDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaDelivery")
            .field("state", &*self.inner.lock())
            .field("spill", &self.inner.spill)
            .finish_non_exhaustive()
    }
}

/// What a delivery does, decided under the state lock.
enum Path {
    Direct(BatchFuture),
    Spill(Result<PendingSpill, DeliveryError>),
    Wait,
}

/// Spill appends enqueued by one delivery, awaited outside the lock.
struct PendingSpill {
    appends: Vec<AppendFuture>,
    records: usize,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State half-updated
        // (every update is a single field write), so poisoning is ignored.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn topic(&self, dest: Dest) -> &str {
        match dest {
            Dest::Events => &self.events_topic,
            Dest::DeadLetters => &self.dead_letter_topic,
        }
    }

    fn outgoing<'a>(&'a self, items: &'a [(Dest, Record)]) -> Vec<OutgoingRecord<'a>> {
        items
            .iter()
            .map(|(dest, record)| OutgoingRecord {
                topic: self.topic(*dest),
                key: &record.key,
                payload: &record.payload,
            })
            .collect()
    }

    /// Ends a handover without switching (Kafka failed again): waiting
    /// deliveries go back to spilling.
    fn cancel_handover(&self) {
        let was = std::mem::replace(&mut self.lock().handover, false);
        if was {
            self.handover_done.notify_waiters();
        }
    }

    fn switch_to_spill(&self, state: &mut State, reason: &str) {
        if state.mode == DeliveryMode::Direct {
            state.mode = DeliveryMode::Spill;
            Counters::add(&self.counters.mode_switches, 1);
            tracing::warn!(%reason, "Kafka unreachable: switching to spill mode");
        }
    }

    async fn deliver(
        self: Arc<Self>,
        items: Vec<(Dest, Record)>,
    ) -> Result<Delivered, DeliveryError> {
        let sends = loop {
            let handover_done = self.handover_done.notified();
            tokio::pin!(handover_done);
            handover_done.as_mut().enable();
            let path = {
                let mut state = self.lock();
                if state.mode == DeliveryMode::Direct && self.transport.brokers_down() {
                    self.switch_to_spill(&mut state, "librdkafka reports all brokers down");
                }
                match state.mode {
                    DeliveryMode::Spill if state.handover => Path::Wait,
                    DeliveryMode::Spill => Path::Spill(self.enqueue_spill(&mut state, &items)),
                    DeliveryMode::Direct => {
                        state.direct_in_flight += 1;
                        // Enqueued under the lock: cheap, and no mode change
                        // can interleave with one delivery's records.
                        Path::Direct(self.transport.send_batch(&self.outgoing(&items)))
                    }
                }
            };
            match path {
                Path::Direct(sends) => break sends,
                Path::Spill(pending) => {
                    self.wake.notify_one();
                    let spilled = self.finish_spill(pending?).await?;
                    return Ok(Delivered { direct: 0, spilled });
                }
                // The drainer is finishing the backlog; re-check when it is
                // done (or soon, whatever happens).
                Path::Wait => {
                    let _ = tokio::time::timeout(HANDOVER_RECHECK, handover_done).await;
                }
            }
        };
        let mut guard = InFlight {
            inner: &self,
            armed: true,
        };

        let mut failures = sends.await;
        let direct = items.len().saturating_sub(failures.len());
        let mut retry = Vec::new();
        let mut last_retriable: Option<ProduceError> = None;
        let mut rejected: Option<(usize, ProduceError)> = None;
        if !failures.is_empty() {
            // Spilled in their original order.
            failures.sort_unstable_by_key(|(index, _)| *index);
            let mut items: Vec<Option<(Dest, Record)>> = items.into_iter().map(Some).collect();
            for (index, error) in failures {
                let Some((dest, record)) = items.get_mut(index).and_then(Option::take) else {
                    continue;
                };
                self.counters.produce_error(error.kind);
                if error.kind.is_retriable() {
                    retry.push((dest, record));
                    last_retriable = Some(error);
                } else {
                    tracing::error!(%error, topic = self.topic(dest), "Kafka rejected a record");
                    let count = rejected.as_ref().map_or(0, |(n, _)| *n);
                    rejected = Some((count + 1, error));
                }
            }
        }
        Counters::add(&self.counters.produced, direct as u64);

        // End "in flight" and enqueue the failures in one critical section,
        // so the drainer never sees zero in flight before they are spilled.
        let (pending, spilling) = {
            let mut state = self.lock();
            guard.armed = false;
            state.direct_in_flight -= 1;
            let pending = if retry.is_empty() {
                None
            } else {
                let reason = last_retriable.map_or_else(String::new, |e| e.to_string());
                self.switch_to_spill(&mut state, &reason);
                Some(self.enqueue_spill(&mut state, &retry))
            };
            (pending, state.mode == DeliveryMode::Spill)
        };
        // The drainer waits for the last direct delivery to end only while spilling; in direct mode
        // it has nothing to do, and waking it for every request cost a task wake-up and a timer.
        if spilling {
            self.wake.notify_one();
        }
        let spilled = match pending {
            Some(pending) => self.finish_spill(pending?).await?,
            None => 0,
        };
        if let Some((count, error)) = rejected {
            Counters::add(&self.counters.rejected, count as u64);
            return Err(DeliveryError::Fatal {
                reason: format!("Kafka rejected {count} record(s): {error}"),
            });
        }
        Ok(Delivered { direct, spilled })
    }

    /// Enqueues `items` into the spill log (offsets are fixed now), in
    /// chunks that fit `max_append_bytes`. Call with the state lock held.
    fn enqueue_spill(
        &self,
        state: &mut State,
        items: &[(Dest, Record)],
    ) -> Result<PendingSpill, DeliveryError> {
        let max = self.spill.config().max_append_bytes;
        let mut chunks: Vec<Vec<Record>> = Vec::new();
        let mut current = Vec::new();
        let mut bytes = 0u64;
        for (dest, record) in items {
            let size = encoded_size(record);
            if size > max {
                return Err(DeliveryError::Fatal {
                    reason: format!(
                        "a record of {size} bytes exceeds the spill log's max append of {max} bytes"
                    ),
                });
            }
            if bytes + size > max {
                chunks.push(std::mem::take(&mut current));
                bytes = 0;
            }
            bytes += size;
            current.push(encode(*dest, record));
        }
        chunks.push(current);
        let appends: Vec<AppendFuture> = chunks.into_iter().map(|c| self.spill.append(c)).collect();
        state.spill_pending += appends.len() as u64;
        Ok(PendingSpill {
            appends,
            records: items.len(),
        })
    }

    /// A full spill log may take appends again; an unusable one stays unusable.
    fn spill_has_room(&self) {
        let _ = self.spill_refusal.compare_exchange(
            SPILL_FULL,
            SPILL_ACCEPTING,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// Awaits the appends of `pending`, releasing each from the pending
    /// count; returns how many records are durable.
    async fn finish_spill(&self, pending: PendingSpill) -> Result<usize, DeliveryError> {
        let mut first_error = None;
        for append in pending.appends {
            let result = append.await;
            self.lock().spill_pending -= 1;
            if let Err(error) = result {
                first_error.get_or_insert(error);
            }
        }
        self.wake.notify_one();
        let Some(error) = first_error else {
            Counters::add(&self.counters.spilled, pending.records as u64);
            self.spill_has_room();
            return Ok(pending.records);
        };
        Err(match error.kind() {
            ErrorKind::DiskBudgetExceeded | ErrorKind::DiskFull => {
                Counters::add(&self.counters.disk_budget_rejections, 1);
                let _ = self.spill_refusal.compare_exchange(
                    SPILL_ACCEPTING,
                    SPILL_FULL,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
                tracing::warn!(%error, "spill log full: refusing records");
                DeliveryError::DiskBudgetExceeded {
                    retry_after: self.retry_after,
                }
            }
            ErrorKind::Io => {
                tracing::error!(%error, "spill log append failed");
                DeliveryError::Retriable {
                    reason: error.to_string(),
                    retry_after: self.retry_after,
                }
            }
            _ => {
                tracing::error!(%error, "spill log unusable");
                self.spill_refusal.store(SPILL_UNUSABLE, Ordering::Relaxed);
                DeliveryError::Fatal {
                    reason: error.to_string(),
                }
            }
        })
    }
}

/// Releases a delivery's "direct in flight" slot if its task panics.
struct InFlight<'a> {
    inner: &'a Inner,
    armed: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.inner.lock().direct_in_flight -= 1;
            self.inner.wake.notify_one();
        }
    }
}

fn encoded_size(record: &Record) -> u64 {
    (record.key.len() + 1 + record.payload.len()) as u64 + FRAME_OVERHEAD
}

fn encode(dest: Dest, record: &Record) -> Record {
    let tag = match dest {
        Dest::Events => TAG_EVENTS,
        Dest::DeadLetters => TAG_DEAD_LETTERS,
    };
    let mut key = Vec::with_capacity(record.key.len() + 1);
    key.push(tag);
    key.extend_from_slice(&record.key);
    Record {
        key,
        payload: record.payload.clone(),
    }
}

fn decode(key: &[u8]) -> Option<(Dest, &[u8])> {
    match key.split_first() {
        Some((&TAG_EVENTS, rest)) => Some((Dest::Events, rest)),
        Some((&TAG_DEAD_LETTERS, rest)) => Some((Dest::DeadLetters, rest)),
        _ => None,
    }
}

struct Backoff(Duration);

impl Backoff {
    fn next(&mut self) -> Duration {
        let now = self.0;
        self.0 = (self.0 * 2).min(BACKOFF_MAX);
        now
    }

    fn reset(&mut self) {
        self.0 = BACKOFF_MIN;
    }
}

/// Sleeps for `duration`, the next wake-up, or shutdown, whichever is first.
async fn pause(inner: &Inner, stop: &mut watch::Receiver<bool>, duration: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(duration) => {}
        _ = inner.wake.notified() => {}
        _ = stop.changed() => {}
    }
}

/// Sleeps for `duration` unless shutdown comes first (ignores wake-ups).
async fn sleep_unless_stopped(stop: &mut watch::Receiver<bool>, duration: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(duration) => {}
        _ = stop.changed() => {}
    }
}

async fn read_batch(
    reader: LogReader,
    from: u64,
) -> (LogReader, footfall_eventlog::Result<Vec<(u64, Record)>>) {
    let mut reader = reader;
    match tokio::task::spawn_blocking(move || {
        let result = reader.read(from, DRAIN_BATCH_RECORDS, DRAIN_BATCH_BYTES);
        (reader, result)
    })
    .await
    {
        Ok(out) => out,
        Err(join) => panic!("spill reader task failed: {join}"),
    }
}

/// The drainer task: see the module docs.
async fn drain(inner: Arc<Inner>, mut stop: watch::Receiver<bool>, mut next: u64) {
    let mut reader = Some(inner.spill.reader());
    let mut backoff = Backoff(BACKOFF_MIN);
    while !*stop.borrow() {
        let ready = {
            let state = inner.lock();
            state.mode == DeliveryMode::Spill && state.direct_in_flight == 0
        };
        if !ready {
            pause(&inner, &mut stop, IDLE_RECHECK).await;
            continue;
        }
        if inner.transport.brokers_down() {
            if let Err(error) = inner.transport.probe(&inner.events_topic).await {
                inner.cancel_handover();
                tracing::debug!(%error, "Kafka still unreachable");
                sleep_unless_stopped(&mut stop, backoff.next()).await;
                continue;
            }
            tracing::info!("Kafka answers again; draining the spill log");
        }

        let (back, batch) = read_batch(reader.take().expect("reader is returned"), next).await;
        reader = Some(back);
        let batch = match batch {
            Ok(batch) => batch,
            Err(error) => {
                if let ErrorKind::OffsetOutOfRange { earliest, .. } = error.kind() {
                    if *earliest > next {
                        // Retention never deletes unconsumed segments, so
                        // this means someone removed files by hand.
                        tracing::error!(%error, lost = earliest - next, "spill records vanished");
                        Counters::add(&inner.counters.drain_dropped, earliest - next);
                        next = *earliest;
                        continue;
                    }
                }
                inner.cancel_handover();
                tracing::error!(%error, "reading the spill log failed");
                sleep_unless_stopped(&mut stop, backoff.next()).await;
                continue;
            }
        };

        if batch.is_empty() {
            // Caught up. Under continuous load some append is almost always
            // pending, so hold new deliveries back (handover) until the
            // pending ones are committed and forwarded, then switch.
            let switched = {
                let mut state = inner.lock();
                let drained = state.spill_pending == 0
                    && state.direct_in_flight == 0
                    && inner.spill.high_watermark() == next;
                if drained {
                    state.mode = DeliveryMode::Direct;
                    state.handover = false;
                    Counters::add(&inner.counters.mode_switches, 1);
                } else {
                    state.handover = true;
                }
                drained
            };
            if switched {
                inner.handover_done.notify_waiters();
                tracing::info!(offset = next, "spill log drained: back to direct delivery");
                backoff.reset();
            } else {
                pause(&inner, &mut stop, Duration::from_millis(20)).await;
            }
            continue;
        }

        // Enqueue the whole batch in offset order, then collect the results.
        // `outcomes[i]` is batch[i]'s: None for an unknown tag, else Ok until
        // a failure says otherwise.
        let mut outgoing = Vec::with_capacity(batch.len());
        let mut sent_index = Vec::with_capacity(batch.len());
        let mut outcomes: Vec<Option<Result<(), ProduceError>>> = Vec::with_capacity(batch.len());
        for (i, (_, record)) in batch.iter().enumerate() {
            match decode(&record.key) {
                Some((dest, key)) => {
                    outgoing.push(OutgoingRecord {
                        topic: inner.topic(dest),
                        key,
                        payload: &record.payload,
                    });
                    sent_index.push(i);
                    outcomes.push(Some(Ok(())));
                }
                None => outcomes.push(None),
            }
        }
        let failures = inner.transport.send_batch(&outgoing).await;
        drop(outgoing);
        for (index, error) in failures {
            if let Some(slot) = sent_index.get(index).and_then(|&i| outcomes.get_mut(i)) {
                *slot = Some(Err(error));
            }
        }
        let mut acked_to = next;
        let mut drained = 0u64;
        let mut failure: Option<ProduceError> = None;
        for ((offset, _), outcome) in batch.iter().zip(outcomes) {
            let Some(outcome) = outcome else {
                tracing::error!(offset, "spill record with an unknown topic tag; dropped");
                Counters::add(&inner.counters.drain_dropped, 1);
                if failure.is_none() {
                    acked_to = offset + 1;
                }
                continue;
            };
            match outcome {
                Ok(()) => {
                    if failure.is_none() {
                        acked_to = offset + 1;
                        drained += 1;
                    }
                }
                Err(error) => {
                    inner.counters.produce_error(error.kind);
                    if error.kind.is_retriable() {
                        failure.get_or_insert(error);
                    } else if failure.is_none() {
                        tracing::error!(%error, offset, "Kafka rejected a spilled record; dropped");
                        Counters::add(&inner.counters.drain_dropped, 1);
                        acked_to = offset + 1;
                    }
                }
            }
        }
        if acked_to > next {
            let log = inner.spill.clone();
            let committed = tokio::task::spawn_blocking(move || {
                log.commit_consumer_offset(DRAIN_GROUP, acked_to)
            })
            .await;
            match committed {
                Ok(Ok(())) => {}
                // Not fatal: the position is also kept in memory; a crash
                // before the next successful commit resends (duplicates).
                Ok(Err(error)) => tracing::error!(%error, "committing the drain offset failed"),
                Err(join) => tracing::error!(%join, "committing the drain offset failed"),
            }
            Counters::add(&inner.counters.drained, drained);
            inner.spill_has_room();
            next = acked_to;
            inner.drained_next.store(next, Ordering::Relaxed);
        }
        if let Some(error) = failure {
            inner.cancel_handover();
            let wait = backoff.next();
            tracing::warn!(%error, offset = next, retry_in = ?wait, "forwarding the spill log failed");
            sleep_unless_stopped(&mut stop, wait).await;
        } else {
            backoff.reset();
        }
    }
    inner.cancel_handover();
    tracing::debug!(offset = next, "spill drainer stopped");
}

#[cfg(test)]
#[path = "delivery_tests.rs"]
mod tests;
