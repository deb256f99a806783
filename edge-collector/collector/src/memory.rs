//! The memory that requests in progress may hold at once.
//!
//! Each request's size is bounded (500 KB of batch, 16 MiB from an edge worker), but their number is
//! not: 10 000 connections, HTTP/2 streams on top, could each hold a body decompressed to 500 KB and
//! its events while the sink is slow, and the kernel would end the collector with every request in
//! it. So once its body has arrived, a request reserves what it will hold, and one that finds the
//! budget spent waits, before decompressing or parsing anything, until others finish. Its client sees
//! a slow answer, never an error for an event it did not send wrong: the collector refuses work with
//! 503 only when its disk budget is full.
//!
//! The reservation is made once the body is in, not from `Content-Length` before it is read, so that
//! a client trickling a body holds none of the budget: a few hundred such clients would otherwise
//! stall every other. What the budget bounds is what the collector makes of bodies (a small gzip
//! body decodes to 500 KB) and the pile-up of requests waiting for a slow sink. The worst case is
//! reserved (the decoded limit, for a compressed body) and cut down to the real size once decoded;
//! each request takes its reservation whole, so no two can each hold part and wait for the other.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget: bytes of request memory, shared by every request.
#[derive(Debug, Clone)]
pub(crate) struct RequestMemory {
    permits: Arc<Semaphore>,
    /// Reservations are capped at this, so that a request larger than the whole budget still runs,
    /// alone.
    budget: u32,
    /// When a wait was last logged (seconds since the epoch), so that an overload logs once a
    /// minute, not once a request.
    last_warned: Arc<AtomicU64>,
}

/// At most one warning about waiting requests in this long.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// What one request holds of the budget, given back when it is dropped.
#[derive(Debug)]
pub(crate) struct Reservation {
    permit: OwnedSemaphorePermit,
}

/// What a request holds at its peak, for a body of `wire` bytes as received that decodes to `decoded`
/// bytes when it is compressed. Two copies of its text at each step: the text and the events built
/// from it, then (the body dropped) the events and the sink's copy of them, since librdkafka copies
/// each record. A compressed body adds itself while it is decoded.
pub(crate) fn footprint(wire: usize, decoded: Option<usize>) -> usize {
    wire.saturating_add(decoded.map_or(wire, |d| d.saturating_mul(2)))
}

impl RequestMemory {
    pub(crate) fn new(budget_bytes: u64) -> Self {
        // `acquire_many` counts in u32; a budget past 4 GiB is as good as unbounded for one request.
        let budget = u32::try_from(budget_bytes).unwrap_or(u32::MAX);
        let total = usize::try_from(budget_bytes)
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        crate::metrics::request_memory_budget(budget_bytes as f64);
        Self {
            permits: Arc::new(Semaphore::new(total)),
            budget,
            last_warned: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Reserves `bytes`, waiting while the budget is spent. Waiting requests are let in in turn, so
    /// that a stream of small requests cannot starve a large one.
    pub(crate) async fn reserve(&self, bytes: usize) -> Reservation {
        let wanted = u32::try_from(bytes).unwrap_or(u32::MAX).min(self.budget);
        let permits = Arc::clone(&self.permits);
        let permit = match permits.try_acquire_many_owned(wanted) {
            Ok(permit) => permit,
            Err(_) => {
                crate::metrics::request_memory_waited();
                self.warn_of_waiting();
                Arc::clone(&self.permits)
                    .acquire_many_owned(wanted)
                    .await
                    .expect("the semaphore is never closed")
            }
        };
        crate::metrics::request_memory_reserved(permit.num_permits() as f64);
        Reservation { permit }
    }

    /// Whether a wait at `now` (seconds since the epoch) is the one to log: the first, and then
    /// the first after each [`WARN_EVERY`].
    fn warning_due(&self, now: u64) -> bool {
        let last = self.last_warned.load(Ordering::Relaxed);
        now >= last.saturating_add(WARN_EVERY.as_secs())
            && self
                .last_warned
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    fn warn_of_waiting(&self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        if self.warning_due(now) {
            tracing::warn!(
                budget_bytes = self.budget,
                "requests are waiting for memory: max_request_memory_bytes is spent by the requests \
                 in progress (a slow sink, or more clients than this collector serves); raise it or \
                 add collectors. footfall_collector_request_memory_waits_total counts the waits"
            );
        }
    }
}

impl Reservation {
    /// Gives back all but `bytes`, once a request knows how large its body really was.
    pub(crate) fn shrink_to(&mut self, bytes: usize) {
        let excess = self.permit.num_permits().saturating_sub(bytes);
        if excess == 0 {
            return;
        }
        if let Some(returned) = self.permit.split(excess) {
            crate::metrics::request_memory_reserved(-(returned.num_permits() as f64));
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        crate::metrics::request_memory_reserved(-(self.permit.num_permits() as f64));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_request_holds_its_body_and_its_events_and_the_decoded_text_when_compressed() {
        assert_eq!(footprint(1_000, None), 2_000);
        assert_eq!(footprint(1_000, Some(50_000)), 101_000);
    }

    #[tokio::test]
    async fn a_request_waits_while_the_budget_is_spent_and_runs_once_one_finishes() {
        let memory = RequestMemory::new(10_000);
        let first = memory.reserve(6_000).await;
        let waiting = tokio::spawn({
            let memory = memory.clone();
            async move { memory.reserve(6_000).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !waiting.is_finished(),
            "the second request got in, but 6 000 + 6 000 bytes are more than the 10 000 budgeted"
        );
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the waiting request gets its turn once the first finishes")
            .unwrap();
        assert_eq!(second.permit.num_permits(), 6_000);
    }

    #[tokio::test]
    async fn shrinking_gives_back_what_the_body_turned_out_not_to_need() {
        let memory = RequestMemory::new(10_000);
        let mut first = memory.reserve(9_000).await;
        first.shrink_to(2_000);
        assert_eq!(first.permit.num_permits(), 2_000);
        // What was given back is there for the next request at once.
        let second = tokio::time::timeout(Duration::from_millis(100), memory.reserve(8_000))
            .await
            .expect("8 000 bytes are free after the first request shrank to 2 000");
        assert_eq!(second.permit.num_permits(), 8_000);
        // Never grown: a body larger than reserved keeps what it has.
        first.shrink_to(5_000);
        assert_eq!(first.permit.num_permits(), 2_000);
    }

    #[test]
    fn waiting_is_logged_once_a_minute_at_most() {
        let memory = RequestMemory::new(10_000);
        let start = 1_800_000_000;
        assert!(memory.warning_due(start), "the first wait is logged");
        assert!(!memory.warning_due(start));
        assert!(!memory.warning_due(start + 59));
        assert!(memory.warning_due(start + 60));
        assert!(!memory.warning_due(start + 61));
    }

    #[tokio::test]
    async fn a_request_larger_than_the_whole_budget_still_runs_alone() {
        let memory = RequestMemory::new(1_000);
        let big = tokio::time::timeout(Duration::from_millis(100), memory.reserve(50_000))
            .await
            .expect("a reservation is capped at the budget");
        assert_eq!(big.permit.num_permits(), 1_000);
    }
}
