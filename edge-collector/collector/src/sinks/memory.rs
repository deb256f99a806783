//! A sink that keeps records in memory: for tests, and for benchmarks of everything but durability.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::{BoxFuture, EventSink, Record, SinkError};

/// Keeps the most recent records in memory, and can be told to fail.
#[derive(Debug)]
pub struct MemorySink {
    capacity: usize,
    events: Mutex<VecDeque<Record>>,
    dead_letters: Mutex<VecDeque<Record>>,
    total_events: AtomicU64,
    total_dead_letters: AtomicU64,
    failure: Mutex<Option<SinkError>>,
}

impl Default for MemorySink {
    fn default() -> Self {
        Self::new()
    }
}

impl MemorySink {
    /// A sink that keeps everything.
    pub fn new() -> Self {
        Self::with_capacity(usize::MAX)
    }

    /// A sink that keeps at most `capacity` events and as many dead letters (the oldest go first), but
    /// counts them all.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity,
            events: Mutex::default(),
            dead_letters: Mutex::default(),
            total_events: AtomicU64::new(0),
            total_dead_letters: AtomicU64::new(0),
            failure: Mutex::default(),
        }
    }

    /// The events kept.
    pub fn events(&self) -> Vec<Record> {
        lock(&self.events).iter().cloned().collect()
    }

    /// The dead letters kept.
    pub fn dead_letters(&self) -> Vec<Record> {
        lock(&self.dead_letters).iter().cloned().collect()
    }

    /// How many events were ever stored.
    pub fn total_events(&self) -> u64 {
        self.total_events.load(Ordering::Relaxed)
    }

    /// Makes every following `send` fail with `error` (`None`: succeed again).
    pub fn fail_with(&self, error: Option<SinkError>) {
        *lock(&self.failure) = error;
    }

    fn keep(&self, queue: &Mutex<VecDeque<Record>>, records: Vec<Record>) {
        if self.capacity == 0 {
            return;
        }
        let mut queue = lock(queue);
        for record in records {
            if queue.len() >= self.capacity {
                queue.pop_front();
            }
            queue.push_back(record);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl EventSink for MemorySink {
    fn send(
        &self,
        events: Vec<Record>,
        dead_letters: Vec<Record>,
    ) -> BoxFuture<'_, Result<(), SinkError>> {
        let failure = lock(&self.failure).clone();
        if let Some(error) = failure {
            return Box::pin(std::future::ready(Err(error)));
        }
        self.total_events
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        self.total_dead_letters
            .fetch_add(dead_letters.len() as u64, Ordering::Relaxed);
        self.keep(&self.events, events);
        self.keep(&self.dead_letters, dead_letters);
        Box::pin(std::future::ready(Ok(())))
    }

    fn readiness(&self) -> Result<(), String> {
        match &*lock(&self.failure) {
            None => Ok(()),
            Some(error) => Err(error.to_string()),
        }
    }

    fn name(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: u8) -> Record {
        Record {
            key: vec![n],
            payload: vec![n],
        }
    }

    #[tokio::test]
    async fn keeps_the_most_recent_records_and_counts_all() {
        let sink = MemorySink::with_capacity(2);
        sink.send(vec![record(1), record(2), record(3)], vec![record(9)])
            .await
            .unwrap();
        assert_eq!(sink.events(), vec![record(2), record(3)]);
        assert_eq!(sink.total_events(), 3);
        assert_eq!(sink.dead_letters(), vec![record(9)]);
    }

    #[tokio::test]
    async fn fails_when_told_to() {
        let sink = MemorySink::new();
        sink.fail_with(Some(SinkError::Full("disk".into())));
        assert_eq!(
            sink.readiness(),
            Err("the event store is full: disk".into())
        );
        assert_eq!(
            sink.send(vec![record(1)], vec![]).await,
            Err(SinkError::Full("disk".into()))
        );
        assert!(sink.events().is_empty());
    }
}
