//! What the engine did: counters for every delivery and every drop, so no event disappears unseen.

use alloc::string::String;
use alloc::vec::Vec;

/// Why an accepted event was given up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropReason {
    /// The queue was full by count or bytes, and this was its oldest event.
    QueueFull,
    /// Uploads failed `max_attempts` times.
    MaxAttempts,
    /// It was older than `max_event_age` before it could be delivered.
    MaxAge,
    /// The collector refused it for good: a 4xx for its batch, or a per-event `drop`.
    Rejected {
        /// The HTTP status of the answer.
        status: u16,
        /// The collector's reason, when it gave one.
        reason: String,
    },
    /// The user opted out while it was queued.
    OptedOut,
}

/// One event given up, with its id so the app can log or report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedEvent {
    /// The event's messageId.
    pub message_id: String,
    /// Why.
    pub reason: DropReason,
}

/// Drops by reason, since the client was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounts {
    /// See [`DropReason::QueueFull`].
    pub queue_full: u64,
    /// See [`DropReason::MaxAttempts`].
    pub max_attempts: u64,
    /// See [`DropReason::MaxAge`].
    pub max_age: u64,
    /// See [`DropReason::Rejected`].
    pub rejected: u64,
    /// See [`DropReason::OptedOut`].
    pub opted_out: u64,
}

impl DropCounts {
    /// Every drop, whatever the reason.
    pub fn total(&self) -> u64 {
        self.queue_full + self.max_attempts + self.max_age + self.rejected + self.opted_out
    }
}

/// A snapshot of the engine's counters and queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events accepted by `track`, `page`, … since the client was created.
    pub accepted: u64,
    /// Events the collector confirmed as durable.
    pub delivered: u64,
    /// Events given up, by reason.
    pub dropped: DropCounts,
    /// Uploads started.
    pub uploads: u64,
    /// Uploads that failed and will be retried (network errors, 5xx, 429, 413 splits).
    pub upload_failures: u64,
    /// Events waiting in the queue now.
    pub queued_events: u64,
    /// Bytes of events waiting in the queue now.
    pub queued_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn the_journal_keeps_the_latest_drops_oldest_first() {
        let mut r = Recorder::default();
        for i in 0..DROP_JOURNAL_CAPACITY + 5 {
            r.dropped(i.to_string(), DropReason::QueueFull);
        }
        let journal = r.take_journal();
        assert_eq!(journal.len(), DROP_JOURNAL_CAPACITY);
        assert_eq!(journal[0].message_id, "5");
        assert_eq!(journal[DROP_JOURNAL_CAPACITY - 1].message_id, "1004");
        assert_eq!(r.stats.dropped.queue_full, 1005);
        r.dropped("x".to_string(), DropReason::MaxAge);
        assert_eq!(r.take_journal()[0].message_id, "x");
    }
}

/// The most drop notices kept for [`Client::take_dropped`](crate::Client::take_dropped); older ones
/// are still counted in [`Stats::dropped`].
pub(crate) const DROP_JOURNAL_CAPACITY: usize = 1000;

#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub(crate) stats: Stats,
    /// A ring of the latest drops: once full, `oldest` is where the next one overwrites. A `Vec`
    /// rather than a `VecDeque` keeps the WebAssembly build smaller.
    journal: Vec<DroppedEvent>,
    oldest: usize,
}

impl Recorder {
    pub(crate) fn dropped(&mut self, message_id: String, reason: DropReason) {
        let counts = &mut self.stats.dropped;
        match reason {
            DropReason::QueueFull => counts.queue_full += 1,
            DropReason::MaxAttempts => counts.max_attempts += 1,
            DropReason::MaxAge => counts.max_age += 1,
            DropReason::Rejected { .. } => counts.rejected += 1,
            DropReason::OptedOut => counts.opted_out += 1,
        }
        let event = DroppedEvent { message_id, reason };
        if self.journal.len() < DROP_JOURNAL_CAPACITY {
            self.journal.push(event);
        } else if let Some(slot) = self.journal.get_mut(self.oldest) {
            *slot = event;
            self.oldest = (self.oldest + 1) % DROP_JOURNAL_CAPACITY;
        }
    }

    /// The journal, oldest first, emptied.
    pub(crate) fn take_journal(&mut self) -> Vec<DroppedEvent> {
        let mut journal = core::mem::take(&mut self.journal);
        journal.rotate_left(core::mem::take(&mut self.oldest));
        journal
    }
}
