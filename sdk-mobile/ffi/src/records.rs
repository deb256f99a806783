//! The values handed to Kotlin and Swift: counters, dropped events and upload summaries.

/// A snapshot of the SDK's counters and queue, for the app's diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, uniffi::Record)]
pub struct AnalyticsStats {
    /// Events accepted since the SDK was created.
    pub accepted: u64,
    /// Events the collector confirmed.
    pub delivered: u64,
    /// Events dropped because the queue was full (oldest first).
    pub dropped_queue_full: u64,
    /// Events dropped after `max_attempts` failed uploads.
    pub dropped_max_attempts: u64,
    /// Events dropped for being older than the engine's `max_event_age`.
    pub dropped_max_age: u64,
    /// Events the collector refused for good.
    pub dropped_rejected: u64,
    /// Events discarded because the user opted out.
    pub dropped_opted_out: u64,
    /// Uploads started.
    pub uploads: u64,
    /// Uploads that failed and will be retried.
    pub upload_failures: u64,
    /// Events waiting in the queue now.
    pub queued_events: u64,
    /// Bytes of events waiting in the queue now.
    pub queued_bytes: u64,
}

impl From<footfall_core::Stats> for AnalyticsStats {
    fn from(s: footfall_core::Stats) -> Self {
        AnalyticsStats {
            accepted: s.accepted,
            delivered: s.delivered,
            dropped_queue_full: s.dropped.queue_full,
            dropped_max_attempts: s.dropped.max_attempts,
            dropped_max_age: s.dropped.max_age,
            dropped_rejected: s.dropped.rejected,
            dropped_opted_out: s.dropped.opted_out,
            uploads: s.uploads,
            upload_failures: s.upload_failures,
            queued_events: s.queued_events,
            queued_bytes: s.queued_bytes,
        }
    }
}

/// Why an event was given up.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum DropReason {
    /// The queue was full, by count or bytes, and this was its oldest event.
    QueueFull,
    /// Its uploads failed `max_attempts` times.
    MaxAttempts,
    /// It was too old to be worth sending.
    MaxAge,
    /// The collector refused it for good.
    Rejected {
        /// The HTTP status of the answer.
        status: u16,
        /// The collector's reason, possibly empty.
        reason: String,
    },
    /// The user opted out while it was queued.
    OptedOut,
}

/// One event given up, with its messageId so the app can log it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DroppedEvent {
    /// The event's messageId.
    pub message_id: String,
    /// Why it was dropped.
    pub reason: DropReason,
}

impl From<footfall_core::DroppedEvent> for DroppedEvent {
    fn from(e: footfall_core::DroppedEvent) -> Self {
        use footfall_core::DropReason as Core;
        let reason = match e.reason {
            Core::QueueFull => DropReason::QueueFull,
            Core::MaxAttempts => DropReason::MaxAttempts,
            Core::MaxAge => DropReason::MaxAge,
            Core::Rejected { status, reason } => DropReason::Rejected { status, reason },
            Core::OptedOut => DropReason::OptedOut,
        };
        DroppedEvent {
            message_id: e.message_id,
            reason,
        }
    }
}

/// What came of one upload, for an [`AnalyticsListener`](crate::AnalyticsListener).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UploadSummary {
    /// The HTTP status, or `None` for a network error (offline, timeout, reset).
    pub status: Option<u16>,
    /// Events confirmed and removed from the queue.
    pub delivered: u32,
    /// Events kept for another attempt.
    pub retrying: u32,
    /// Events given up (each also reported by `on_dropped`).
    pub dropped: u32,
    /// How long the uploader waits before trying again, in milliseconds, if it backs off.
    pub retry_in_ms: Option<u64>,
}
