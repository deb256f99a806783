//! Upload decisions, free of I/O: the platform asks what to do, does it, and reports back.
//!
//! The conversation, as in Mozilla Glean:
//!
//! 1. The platform calls [`Client::next_action`] and gets [`Action::Upload`] with a [`BatchRequest`],
//!    [`Action::Wait`] with how long to sleep before asking again, or [`Action::Idle`] when there is
//!    nothing to do until the app records something or calls [`Client::flush`].
//! 2. It sends the request and reports what happened through [`Client::on_upload_result`].
//! 3. The engine acknowledges, retries or drops each event, and the platform asks again.
//!
//! Only one upload is in flight at a time, so one user's events reach the collector in order.

mod policy;
mod request;
mod result;

pub use request::BatchRequest;
pub use result::{UploadOutcome, UploadReport};

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use footfall_protocol::{format_rfc3339_millis, EventStatus};

use crate::clock::{duration_millis, Clock, Millis};
use crate::config::Config;
use crate::error::Error;
use crate::json::{self, Kind};
use crate::stats::DropReason;
use crate::storage::{Storage, StoredEvent};
use crate::Client;
use policy::Verdict;

/// What the platform should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this request, then report its outcome.
    Upload(BatchRequest),
    /// Ask again after this long (or sooner, if the app records events or flushes).
    Wait(Duration),
    /// Nothing to send: ask again after the next recorded event, flush, or network change.
    Idle,
}

#[derive(Debug)]
struct InFlight {
    batch_id: u64,
    events: Vec<(u64, String)>,
    started_at: Millis,
}

/// The upload side of the client's state. None of it is persisted: after a restart, whatever was in
/// flight is simply sent again, with the same messageIds.
#[derive(Debug)]
pub(crate) struct UploadState {
    in_flight: Option<InFlight>,
    next_batch_id: u64,
    not_before: Millis,
    consecutive_failures: u32,
    batch_events: usize,
    flush_requested: bool,
    network_available: bool,
}

impl UploadState {
    pub(crate) fn new(config: &Config) -> Self {
        UploadState {
            in_flight: None,
            next_batch_id: 1,
            not_before: Millis::MIN,
            consecutive_failures: 0,
            batch_events: config.max_batch_events,
            flush_requested: false,
            network_available: true,
        }
    }
}

impl<S: Storage, C: Clock> Client<S, C> {
    /// Asks for everything queued to be uploaded now, ignoring the count and interval triggers (but not a
    /// backoff or `Retry-After` in force).
    pub fn flush(&mut self) {
        self.upload.flush_requested = true;
    }

    /// The app went to the background: upload what is queued while the OS still lets the app run.
    pub fn on_background(&mut self) {
        self.flush();
    }

    /// A hint from the platform's reachability monitor. While offline the engine stays idle instead of
    /// burning attempts; coming back online ends any backoff from network errors and flushes.
    pub fn set_network_available(&mut self, available: bool) {
        if available && !self.upload.network_available {
            self.upload.consecutive_failures = 0;
            self.upload.not_before = Millis::MIN;
            self.upload.flush_requested = true;
        }
        self.upload.network_available = available;
    }

    /// What the platform should do now. See the [module docs](crate::upload) for the conversation.
    ///
    /// An upload is due when a flush was asked for, when `flush_at` events are queued, when the queue
    /// holds a full batch of bytes, or when the oldest event has waited `flush_interval`. Events past
    /// `max_event_age` are dropped, and counted, instead of being sent.
    pub fn next_action(&mut self, now: Millis) -> Result<Action, Error> {
        if let Some(in_flight) = &self.upload.in_flight {
            let timeout = duration_millis(self.config.upload_timeout);
            let waited = now.saturating_sub(in_flight.started_at);
            if waited < timeout {
                return Ok(Action::Wait(millis_duration(timeout - waited)));
            }
            // The outcome never came: count it as a network error, so the batch is retried.
            let batch_id = in_flight.batch_id;
            self.apply_outcome(batch_id, &UploadOutcome::NetworkError, now)?;
        }
        if !self.upload.network_available {
            return Ok(Action::Idle);
        }
        if now < self.upload.not_before {
            return Ok(Action::Wait(millis_duration(self.upload.not_before - now)));
        }
        loop {
            // Deciding needs only the oldest event; the whole batch is read once an upload is due, so a
            // platform waking up to a `Wait` does not pay for reading hundreds of payloads.
            let head = self.storage.read_batch(1, usize::MAX)?;
            let Some(oldest) = head.first() else {
                self.upload.flush_requested = false;
                return Ok(Action::Idle);
            };
            if self.expire_old_events(&head, now)? {
                continue;
            }
            let interval = duration_millis(self.config.flush_interval);
            // A clock that moved backwards must not postpone the upload beyond one interval.
            let waited = now.saturating_sub(oldest.created_at).max(0);
            let due = self.upload.flush_requested
                || self.storage.count() >= self.config.flush_at as u64
                || self.storage.bytes() >= self.config.batch_payload_bytes() as u64
                || waited >= interval;
            if !due {
                return Ok(Action::Wait(millis_duration(interval - waited)));
            }
            let batch = self
                .storage
                .read_batch(self.upload.batch_events, self.config.batch_payload_bytes())?;
            if self.expire_old_events(&batch, now)? {
                continue;
            }
            return Ok(Action::Upload(self.start_upload(batch, now)));
        }
    }

    /// Takes the outcome of the upload named `batch_id` and acts on it, by these rules:
    ///
    /// | outcome | what the engine does |
    /// |---|---|
    /// | 2xx | each event as its per-event result says: `ok` is removed, `retry` is kept (one attempt counted, then backoff), `drop` is removed and reported; an event with no result, or a body that is not a Footfall `BatchResponse` (a plain Segment `{"success":true}`), counts as `ok` |
    /// | 429 or 503 with `Retry-After` | waits as long as it says (capped by `max_retry_after`); no attempt is counted, since the collector asked for the pause |
    /// | 413 | halves the batch size and sends again at once; a single event that is still too large is dropped and reported |
    /// | other 4xx | drops the whole batch and reports each event with the collector's message |
    /// | 5xx, 408, 429/503 without `Retry-After`, or a network error | counts one attempt per event and backs off exponentially with full jitter |
    ///
    /// An event whose attempts reach `max_attempts` is dropped and reported. An outcome for a batch that
    /// is not in flight (a duplicate, or one that already timed out) is ignored: its events are still
    /// queued, or already settled, and will not be counted twice.
    pub fn on_upload_result(
        &mut self,
        batch_id: u64,
        outcome: UploadOutcome,
    ) -> Result<UploadReport, Error> {
        let now = self.clock.now();
        self.apply_outcome(batch_id, &outcome, now)
    }

    fn start_upload(&mut self, batch: Vec<StoredEvent>, now: Millis) -> BatchRequest {
        let batch_id = self.upload.next_batch_id;
        self.upload.next_batch_id += 1;
        let body = request::batch_body(&batch, &format_rfc3339_millis(now));
        let message_ids: Vec<String> = batch.iter().map(|e| e.message_id.clone()).collect();
        self.upload.in_flight = Some(InFlight {
            batch_id,
            events: batch.into_iter().map(|e| (e.seq, e.message_id)).collect(),
            started_at: now,
        });
        self.recorder.stats.uploads += 1;
        BatchRequest {
            batch_id,
            path: "/v1/batch",
            authorization: self.authorization.clone(),
            body,
            message_ids,
        }
    }

    /// Drops the events of `batch` older than `max_event_age`; true if any were dropped.
    fn expire_old_events(&mut self, batch: &[StoredEvent], now: Millis) -> Result<bool, Error> {
        let max_age = duration_millis(self.config.max_event_age);
        let expired: Vec<&StoredEvent> = batch
            .iter()
            .filter(|e| now.saturating_sub(e.created_at) > max_age)
            .collect();
        if expired.is_empty() {
            return Ok(false);
        }
        let seqs: Vec<u64> = expired.iter().map(|e| e.seq).collect();
        self.storage.acknowledge(&seqs)?;
        for event in expired {
            self.recorder
                .dropped(event.message_id.clone(), DropReason::MaxAge);
        }
        Ok(true)
    }

    fn apply_outcome(
        &mut self,
        batch_id: u64,
        outcome: &UploadOutcome,
        now: Millis,
    ) -> Result<UploadReport, Error> {
        match &self.upload.in_flight {
            Some(in_flight) if in_flight.batch_id == batch_id => {}
            _ => {
                return Ok(UploadReport {
                    stale: true,
                    ..UploadReport::default()
                })
            }
        }
        let Some(in_flight) = self.upload.in_flight.take() else {
            return Ok(UploadReport::default());
        };
        let events = in_flight.events;
        let mut report = UploadReport::default();
        let (status, retry_after, body) = match outcome {
            UploadOutcome::NetworkError => {
                self.fail(&events, now, &mut report)?;
                return Ok(report);
            }
            UploadOutcome::Response {
                status,
                retry_after,
                body,
            } => (*status, retry_after, body),
        };
        match policy::verdict(status) {
            Verdict::Accepted => self.settle_per_event(&events, status, body, now, &mut report)?,
            Verdict::TooLarge if events.len() > 1 => {
                self.upload.batch_events = (events.len() / 2).max(1);
                self.recorder.stats.upload_failures += 1;
                report.retrying = events.len();
            }
            Verdict::TooLarge | Verdict::Rejected => {
                let reason = error_message(body).unwrap_or_else(|| {
                    let mut reason = String::from("HTTP ");
                    json::write_int(&mut reason, i64::from(status));
                    reason
                });
                self.drop_events(
                    &events,
                    DropReason::Rejected { status, reason },
                    &mut report,
                )?;
            }
            Verdict::Throttled => {
                let pause = retry_after
                    .as_deref()
                    .and_then(|v| policy::parse_retry_after(v, now));
                match pause {
                    Some(pause) => {
                        let pause = pause.min(self.config.max_retry_after);
                        self.upload.not_before = now.saturating_add(duration_millis(pause));
                        self.recorder.stats.upload_failures += 1;
                        report.retrying = events.len();
                        report.wait = Some(pause);
                    }
                    None => self.fail(&events, now, &mut report)?,
                }
            }
            Verdict::Failed => self.fail(&events, now, &mut report)?,
        }
        Ok(report)
    }

    fn settle_per_event(
        &mut self,
        events: &[(u64, String)],
        status: u16,
        body: &str,
        now: Millis,
        report: &mut UploadReport,
    ) -> Result<(), Error> {
        let results = per_event_results(body).unwrap_or_default();
        let mut delivered = Vec::new();
        let mut retry = Vec::new();
        let mut rejected = Vec::new();
        for (i, (seq, message_id)) in events.iter().enumerate() {
            // Results come in request order, so the i-th is almost always this event's.
            let result = results
                .get(i)
                .filter(|r| r.message_id == *message_id)
                .or_else(|| results.iter().rev().find(|r| r.message_id == *message_id));
            match result.map(|r| (r.status, &r.reason)) {
                None | Some((EventStatus::Ok, _)) => delivered.push(*seq),
                Some((EventStatus::Retry, _)) => retry.push((*seq, message_id.clone())),
                Some((EventStatus::Drop, reason)) => {
                    rejected.push((*seq, message_id.clone(), reason.clone().unwrap_or_default()))
                }
            }
        }
        self.storage.acknowledge(&delivered)?;
        self.recorder.stats.delivered += delivered.len() as u64;
        report.delivered = delivered.len();
        self.upload.batch_events = (self.upload.batch_events * 2).min(self.config.max_batch_events);
        for (seq, message_id, reason) in rejected {
            self.storage.acknowledge(&[seq])?;
            self.recorder
                .dropped(message_id, DropReason::Rejected { status, reason });
            report.dropped += 1;
        }
        if retry.is_empty() {
            self.upload.consecutive_failures = 0;
            Ok(())
        } else {
            self.fail(&retry, now, report)
        }
    }

    /// A failed attempt for `events`: counts it, drops events out of attempts, and backs off.
    fn fail(
        &mut self,
        events: &[(u64, String)],
        now: Millis,
        report: &mut UploadReport,
    ) -> Result<(), Error> {
        let seqs: Vec<u64> = events.iter().map(|(seq, _)| *seq).collect();
        self.storage.record_attempt(&seqs)?;
        self.recorder.stats.upload_failures += 1;
        let queued = self.storage.read_batch(seqs.len().max(1) * 2, usize::MAX)?;
        let exhausted: Vec<(u64, String)> = queued
            .into_iter()
            .filter(|e| seqs.contains(&e.seq) && e.attempts >= self.config.max_attempts)
            .map(|e| (e.seq, e.message_id))
            .collect();
        self.drop_events(&exhausted, DropReason::MaxAttempts, report)?;
        report.retrying += events.len() - exhausted.len();
        self.upload.consecutive_failures += 1;
        let ceiling = policy::backoff_ceiling(
            self.upload.consecutive_failures,
            self.config.backoff_base,
            self.config.backoff_max,
        );
        let delay = Duration::from_millis(self.ids.jitter(ceiling.as_millis() as u64));
        self.upload.not_before = now.saturating_add(duration_millis(delay));
        report.wait = Some(delay);
        Ok(())
    }

    fn drop_events(
        &mut self,
        events: &[(u64, String)],
        reason: DropReason,
        report: &mut UploadReport,
    ) -> Result<(), Error> {
        let seqs: Vec<u64> = events.iter().map(|(seq, _)| *seq).collect();
        self.storage.acknowledge(&seqs)?;
        for (_, message_id) in events {
            self.recorder.dropped(message_id.clone(), reason.clone());
        }
        report.dropped += events.len();
        Ok(())
    }
}

fn millis_duration(ms: Millis) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// One entry of a Footfall `BatchResponse`'s `results`.
#[derive(Debug, PartialEq, Eq)]
struct EventResult {
    message_id: String,
    status: EventStatus,
    reason: Option<String>,
}

/// The per-event results of a 2xx body, read as the protocol's `BatchResponse` is: `success` a boolean,
/// `results` (optional) an array of `{messageId, status, reason?}`. `None` when the body is not such a
/// response, which the caller reads as "every event is ok", as for a plain Segment `{"success":true}`.
fn per_event_results(body: &str) -> Option<Vec<EventResult>> {
    if json::check(body).ok()? != Kind::Object || !is_bool(json::get(body, "success")?) {
        return None;
    }
    let Some(results) = json::get(body, "results") else {
        return Some(Vec::new());
    };
    if json::check(results).ok()? != Kind::Array {
        return None;
    }
    json::elements(results)
        .map(|result| {
            if json::check(result).ok()? != Kind::Object {
                return None;
            }
            let status = json::string_value(json::get(result, "status")?)?;
            Some(EventResult {
                message_id: json::string_value(json::get(result, "messageId")?)?,
                status: EventStatus::from_name(&status)?,
                reason: optional_string(json::get(result, "reason"))?,
            })
        })
        .collect()
}

/// The collector's explanation, from a Segment-style error body (`{"success": false, "code": …,
/// "message": …}`).
fn error_message(body: &str) -> Option<String> {
    if json::check(body).ok()? != Kind::Object
        || !is_bool(json::get(body, "success")?)
        || json::string_value(json::get(body, "code")?).is_none()
    {
        return None;
    }
    json::string_value(json::get(body, "message")?)
}

fn is_bool(raw: &str) -> bool {
    raw == "true" || raw == "false"
}

/// An optional string field: absent or `null` is `Some(None)`, a string `Some(Some(…))`, anything else
/// `None` (the body is malformed).
fn optional_string(raw: Option<&str>) -> Option<Option<String>> {
    match raw {
        None | Some("null") => Some(None),
        Some(raw) => json::string_value(raw).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::borrow::ToOwned;
    use alloc::vec;

    #[test]
    fn reads_per_event_results_as_the_protocol_types_do() {
        let body = r#"{"success":true,"results":[{"messageId":"m-1","status":"ok"},
            {"messageId":"m-\u0032","status":"drop","reason":"event: must not be empty"},
            {"messageId":"m-3","status":"retry","reason":null,"extra":1}]}"#;
        assert_eq!(
            per_event_results(body),
            Some(vec![
                EventResult {
                    message_id: "m-1".to_owned(),
                    status: EventStatus::Ok,
                    reason: None
                },
                EventResult {
                    message_id: "m-2".to_owned(),
                    status: EventStatus::Drop,
                    reason: Some("event: must not be empty".to_owned())
                },
                EventResult {
                    message_id: "m-3".to_owned(),
                    status: EventStatus::Retry,
                    reason: None
                },
            ])
        );
        assert_eq!(per_event_results(r#"{"success":true}"#), Some(vec![]));
        for not_a_response in [
            "",
            "ok",
            r#"{"results":[]}"#,
            r#"{"success":"yes"}"#,
            r#"{"success":true,"results":{}}"#,
            r#"{"success":true,"results":[{"messageId":"m","status":"later"}]}"#,
            r#"{"success":true,"results":[{"status":"ok"}]}"#,
            r#"{"success":true,"results":[{"messageId":1,"status":"ok"}]}"#,
            r#"{"success":true,"results":[{"messageId":"m","status":"ok","reason":3}]}"#,
            r#"{"success":true,"results":[1]}"#,
        ] {
            assert_eq!(per_event_results(not_a_response), None, "{not_a_response}");
            assert!(
                serde_json::from_str::<footfall_protocol::BatchResponse>(not_a_response).is_err(),
                "the protocol type reads {not_a_response}"
            );
        }
    }

    #[test]
    fn reads_the_message_of_an_error_body() {
        let body =
            r#"{"success":false,"code":"message_too_large","message":"message 3 is 40211 bytes"}"#;
        assert_eq!(
            error_message(body).as_deref(),
            Some("message 3 is 40211 bytes")
        );
        assert_eq!(error_message(r#"{"success":false,"message":"x"}"#), None);
        assert_eq!(error_message("<html>Bad Gateway</html>"), None);
    }
}
