//! A property test of the delivery guarantees under random calls, crashes, network failures, and
//! duplicated or reordered responses.
//!
//! The collector is modelled as a set of messageIds it stored. The test asserts that:
//! * every accepted event is eventually delivered or reported dropped, never silently lost;
//! * nothing is delivered that was never accepted;
//! * every copy of an event the collector sees (retries, duplicates) has the same messageId and payload;
//! * the queue never exceeds its bounds.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use footfall_core::{
    Action, BatchRequest, Client, Config, ManualClock, MemoryStorage, Storage, UploadOutcome,
};
use footfall_protocol::{BatchResponse, EventResult};
use proptest::prelude::*;
use serde_json::json;

#[derive(Debug, Clone)]
enum Reply {
    Ok,
    /// One status per event, chosen by the bits of the seed: ok, retry or drop.
    PerEvent(u64),
    ServerError,
    Throttled(u8),
    TooLarge,
    BadRequest,
    /// The collector stored the batch but the answer was lost.
    AnswerLost,
    /// The request never reached the collector.
    Unreachable,
}

#[derive(Debug, Clone)]
enum Op {
    Track(u16),
    Identify,
    Page,
    Reset,
    Flush,
    Advance(u16),
    Pump,
    Respond { pick: usize, reply: Reply },
    Duplicate { pick: usize },
    Crash { reached_collector: bool },
    Network(bool),
}

fn reply() -> impl Strategy<Value = Reply> {
    prop_oneof![
        4 => Just(Reply::Ok),
        2 => any::<u64>().prop_map(Reply::PerEvent),
        2 => Just(Reply::ServerError),
        1 => (0u8..90).prop_map(Reply::Throttled),
        1 => Just(Reply::TooLarge),
        1 => Just(Reply::BadRequest),
        2 => Just(Reply::AnswerLost),
        2 => Just(Reply::Unreachable),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (0u16..3000).prop_map(Op::Track),
        1 => Just(Op::Identify),
        1 => Just(Op::Page),
        1 => Just(Op::Reset),
        1 => Just(Op::Flush),
        4 => (0u16..400).prop_map(Op::Advance),
        6 => Just(Op::Pump),
        6 => (any::<usize>(), reply()).prop_map(|(pick, reply)| Op::Respond { pick, reply }),
        1 => any::<usize>().prop_map(|pick| Op::Duplicate { pick }),
        1 => any::<bool>().prop_map(|reached_collector| Op::Crash { reached_collector }),
        1 => any::<bool>().prop_map(Op::Network),
    ]
}

fn config() -> Config {
    Config {
        flush_at: 5,
        max_batch_events: 8,
        max_queue_events: 20,
        max_queue_bytes: 64 * 1024,
        max_attempts: 4,
        backoff_base: Duration::from_secs(1),
        backoff_max: Duration::from_secs(30),
        upload_timeout: Duration::from_secs(30),
        max_event_age: Duration::from_secs(24 * 3600),
        ..Config::new("wk_prop")
    }
}

struct World {
    clock: ManualClock,
    storage: MemoryStorage,
    client: Client<MemoryStorage, ManualClock>,
    incarnation: u64,
    /// Requests sent and not yet answered by this incarnation of the client.
    pending: Vec<BatchRequest>,
    /// Outcomes already reported, which the network may deliver again.
    answered: Vec<(u64, UploadOutcome)>,
    accepted: HashSet<String>,
    /// What the collector stored: messageId → the message, as first received.
    collected: HashMap<String, serde_json::Value>,
    dropped: HashSet<String>,
}

impl World {
    fn new() -> Self {
        let clock = ManualClock::new(common::T0);
        let storage = MemoryStorage::new();
        let client = Client::new(config(), storage.clone(), clock.clone(), 1).unwrap();
        World {
            clock,
            storage,
            client,
            incarnation: 1,
            pending: vec![],
            answered: vec![],
            accepted: HashSet::new(),
            collected: HashMap::new(),
            dropped: HashSet::new(),
        }
    }

    fn now(&self) -> i64 {
        use footfall_core::Clock;
        self.clock.now()
    }

    /// The collector stores these messages (all, or those `keep` selects).
    fn collect(&mut self, request: &BatchRequest, keep: impl Fn(usize) -> bool) {
        let batch: footfall_protocol::Batch = serde_json::from_str(&request.body).unwrap();
        for (i, message) in batch.batch.into_iter().enumerate() {
            let id = message.message_id.clone().expect("every message has an id");
            let value = serde_json::to_value(&message).unwrap();
            assert_eq!(
                id, request.message_ids[i],
                "message_ids list the body in order"
            );
            if !keep(i) {
                continue;
            }
            assert!(
                self.accepted.contains(&id),
                "delivered {id}, which was never accepted"
            );
            if let Some(first) = self.collected.get(&id) {
                assert_eq!(first, &value, "a resend of {id} changed the message");
            } else {
                self.collected.insert(id, value);
            }
        }
    }

    fn report(&mut self, batch_id: u64, outcome: UploadOutcome) {
        self.client
            .on_upload_result(batch_id, outcome.clone())
            .unwrap();
        self.answered.push((batch_id, outcome));
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Track(size) => {
                let id = self
                    .client
                    .track("Viewed", json!({"pad": "x".repeat(size as usize)}))
                    .unwrap();
                assert!(self.accepted.insert(id.unwrap()), "messageIds are unique");
            }
            Op::Identify => {
                let id = self
                    .client
                    .identify(Some("user-1"), json!({"plan": "pro"}))
                    .unwrap();
                self.accepted.insert(id.unwrap());
            }
            Op::Page => {
                let id = self.client.page(None, Some("Home"), json!({})).unwrap();
                self.accepted.insert(id.unwrap());
            }
            Op::Reset => self.client.reset().unwrap(),
            Op::Flush => self.client.flush(),
            Op::Advance(secs) => self.clock.advance(Duration::from_secs(secs.into())),
            Op::Pump => {
                if let Action::Upload(request) = self.client.next_action(self.now()).unwrap() {
                    self.pending.push(request);
                }
            }
            Op::Respond { pick, reply } => {
                if self.pending.is_empty() {
                    return;
                }
                let request = self.pending.remove(pick % self.pending.len());
                let id = request.batch_id;
                let outcome = match reply {
                    Reply::Ok => {
                        self.collect(&request, |_| true);
                        UploadOutcome::response(200, None, r#"{"success":true}"#)
                    }
                    Reply::PerEvent(seed) => {
                        let status = |i: usize| (seed >> ((i % 32) * 2)) & 3;
                        self.collect(&request, |i| status(i) <= 1);
                        let results = request
                            .message_ids
                            .iter()
                            .enumerate()
                            .map(|(i, m)| match status(i) {
                                0 | 1 => EventResult::ok(m),
                                2 => EventResult::retry(m, "busy"),
                                _ => EventResult::drop(m, "invalid"),
                            })
                            .collect();
                        let body =
                            serde_json::to_string(&BatchResponse::from_results(results)).unwrap();
                        UploadOutcome::response(200, None, body)
                    }
                    Reply::ServerError => UploadOutcome::response(500, None, ""),
                    Reply::Throttled(secs) => {
                        UploadOutcome::response(429, Some(&secs.to_string()), "")
                    }
                    Reply::TooLarge => UploadOutcome::response(413, None, ""),
                    Reply::BadRequest => UploadOutcome::response(
                        400,
                        None,
                        r#"{"code":"invalid_request","message":"no"}"#,
                    ),
                    Reply::AnswerLost => {
                        self.collect(&request, |_| true);
                        UploadOutcome::NetworkError
                    }
                    Reply::Unreachable => UploadOutcome::NetworkError,
                };
                self.report(id, outcome);
            }
            Op::Duplicate { pick } => {
                if !self.answered.is_empty() {
                    let (id, outcome) = self.answered[pick % self.answered.len()].clone();
                    let report = self.client.on_upload_result(id, outcome).unwrap();
                    assert!(report.stale, "a duplicated outcome must be ignored");
                }
            }
            Op::Crash { reached_collector } => {
                for request in std::mem::take(&mut self.pending) {
                    if reached_collector {
                        self.collect(&request, |_| true);
                    }
                }
                self.answered.clear();
                self.incarnation += 1;
                self.client = Client::new(
                    config(),
                    self.storage.clone(),
                    self.clock.clone(),
                    self.incarnation,
                )
                .unwrap();
            }
            Op::Network(available) => self.client.set_network_available(available),
        }
        self.dropped
            .extend(self.client.take_dropped().into_iter().map(|d| d.message_id));
        let config = config();
        assert!(
            self.storage.count() <= config.max_queue_events as u64,
            "count bound broken"
        );
        assert!(
            self.storage.bytes() <= config.max_queue_bytes,
            "byte bound broken"
        );
    }

    /// The network heals and the collector answers 200 until the client has nothing left.
    fn drain(&mut self) {
        self.client.set_network_available(true);
        for _ in 0..10_000 {
            match self.client.next_action(self.now()).unwrap() {
                Action::Upload(request) => {
                    self.collect(&request, |_| true);
                    self.report(
                        request.batch_id,
                        UploadOutcome::response(200, None, r#"{"success":true}"#),
                    );
                }
                Action::Wait(d) => self.clock.advance(d.max(Duration::from_millis(1))),
                Action::Idle if self.storage.count() == 0 => break,
                Action::Idle => self.client.flush(),
            }
        }
        self.dropped
            .extend(self.client.take_dropped().into_iter().map(|d| d.message_id));
        assert_eq!(
            self.storage.count(),
            0,
            "the queue drains once the collector is healthy"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_accepted_event_is_delivered_or_reported_dropped(ops in prop::collection::vec(op(), 1..120)) {
        let mut world = World::new();
        for op in ops {
            world.apply(op);
        }
        world.drain();
        for id in &world.accepted {
            prop_assert!(
                world.collected.contains_key(id) || world.dropped.contains(id),
                "event {id} was accepted but neither delivered nor reported dropped"
            );
        }
    }
}
