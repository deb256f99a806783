//! Upload decisions: flush triggers, per-event results, status codes, backoff and limits.

mod common;

use std::time::Duration;

use common::*;
use footfall_core::{Action, Config, DropReason, Storage, UploadOutcome};
use serde_json::json;

fn track_n(f: &mut Fixture, n: usize) {
    for i in 0..n {
        f.client.track("Item Viewed", json!({"i": i})).unwrap();
    }
}

#[test]
fn uploads_when_flush_at_events_are_queued() {
    let mut f = fixture_with(Config {
        flush_at: 3,
        ..Config::new("wk")
    });
    track_n(&mut f, 2);
    assert_eq!(
        f.action(),
        Action::Wait(Duration::from_secs(10)),
        "two events wait for the interval"
    );
    track_n(&mut f, 1);
    let Action::Upload(request) = f.action() else {
        panic!("three events are due")
    };
    assert_eq!(request.message_ids.len(), 3);
    assert_eq!(request.path, "/v1/batch");
    assert_eq!(request.authorization, "Basic d2s6");
}

#[test]
fn uploads_when_the_oldest_event_has_waited_the_interval() {
    let mut f = fixture();
    assert_eq!(f.action(), Action::Idle, "nothing queued");
    track_n(&mut f, 1);
    f.clock.advance(Duration::from_secs(4));
    assert_eq!(f.action(), Action::Wait(Duration::from_secs(6)));
    f.clock.advance(Duration::from_secs(6));
    assert!(matches!(f.action(), Action::Upload(_)));
}

#[test]
fn uploads_when_a_full_batch_of_bytes_is_queued_and_batches_stay_under_500_kb() {
    let mut f = fixture_with(Config {
        flush_at: 10_000,
        max_batch_events: 1000,
        ..Config::new("wk")
    });
    let blob = "x".repeat(20_000);
    for _ in 0..30 {
        f.client.track("Blob", json!({"blob": blob})).unwrap();
    }
    let Action::Upload(request) = f.action() else {
        panic!("600 KB queued is due")
    };
    assert!(
        request.body.len() <= 500 * 1024,
        "body is {} bytes",
        request.body.len()
    );
    assert!(request.message_ids.len() >= 20);
}

#[test]
fn going_to_the_background_flushes() {
    let mut f = fixture();
    track_n(&mut f, 1);
    f.client.on_background();
    assert!(matches!(f.action(), Action::Upload(_)));
}

#[test]
fn per_event_results_ack_retry_and_drop_individually() {
    let mut f = fixture();
    track_n(&mut f, 3);
    let request = f.upload();
    let ids = &request.message_ids;
    let body = json!({"success": true, "results": [
        {"messageId": ids[0], "status": "ok"},
        {"messageId": ids[1], "status": "retry", "reason": "log busy"},
        {"messageId": ids[2], "status": "drop", "reason": "properties.i: must be a string"}]});
    let report = f.answer(&request, 200, None, &body.to_string());
    assert_eq!(
        (report.delivered, report.retrying, report.dropped),
        (1, 1, 1)
    );
    assert_eq!(f.storage.count(), 1);
    let dropped = f.client.take_dropped();
    assert_eq!(dropped[0].message_id, ids[2]);
    assert_eq!(
        dropped[0].reason,
        DropReason::Rejected {
            status: 200,
            reason: "properties.i: must be a string".into()
        }
    );
    // The retried event waits out a backoff, then goes again with the same id and payload.
    let wait = report.wait.expect("a retry backs off");
    f.clock.advance(wait);
    let again = f.upload();
    assert_eq!(again.message_ids, [ids[1].clone()]);
    let first_payload = messages(&request)[1].clone();
    assert_eq!(
        messages(&again)[0],
        first_payload,
        "a retry resends the identical message"
    );
}

#[test]
fn sent_at_is_stamped_on_every_attempt() {
    let mut f = fixture();
    track_n(&mut f, 1);
    let first = f.upload();
    f.answer(&first, 500, None, "");
    f.clock.advance(Duration::from_secs(600));
    let second = f.upload();
    let sent_at = |r: &footfall_core::BatchRequest| {
        serde_json::from_str::<footfall_protocol::Batch>(&r.body)
            .unwrap()
            .sent_at
            .unwrap()
    };
    assert_eq!(sent_at(&first), "2026-11-18T11:06:40.000Z");
    assert_eq!(sent_at(&second), "2026-11-18T11:16:40.000Z");
    assert_eq!(
        messages(&first)[0].timestamp,
        messages(&second)[0].timestamp
    );
}

#[test]
fn a_plain_segment_200_acknowledges_the_whole_batch() {
    let mut f = fixture();
    track_n(&mut f, 4);
    let request = f.upload();
    let report = f.answer(&request, 200, None, OK);
    assert_eq!(report.delivered, 4);
    assert_eq!(f.client.stats().delivered, 4);
    assert_eq!(f.action(), Action::Idle);
}

#[test]
fn retry_after_is_honoured_for_429_and_503_without_spending_attempts() {
    let mut f = fixture_with(Config {
        max_attempts: 1,
        ..Config::new("wk")
    });
    track_n(&mut f, 1);
    let request = f.upload();
    let report = f.answer(
        &request,
        429,
        Some("120"),
        r#"{"success":false,"code":"rate_limited","message":"slow down"}"#,
    );
    assert_eq!(report.wait, Some(Duration::from_secs(120)));
    assert_eq!(f.action(), Action::Wait(Duration::from_secs(120)));
    f.clock.advance(Duration::from_secs(119));
    f.client.flush();
    assert_eq!(
        f.action(),
        Action::Wait(Duration::from_secs(1)),
        "flush does not override Retry-After"
    );
    f.clock.advance(Duration::from_secs(1));
    let request = f.upload();
    let date = "Wed, 18 Nov 2026 11:10:40 GMT"; // 2 minutes after the current clock
    let report = f.answer(&request, 503, Some(date), "");
    assert_eq!(report.wait, Some(Duration::from_secs(120)));
    assert_eq!(
        report.dropped, 0,
        "throttling does not spend the single attempt"
    );
    assert_eq!(f.storage.count(), 1);
}

#[test]
fn an_absurd_retry_after_is_capped() {
    let mut f = fixture_with(Config {
        max_retry_after: Duration::from_secs(600),
        ..Config::new("wk")
    });
    track_n(&mut f, 1);
    let request = f.upload();
    assert_eq!(
        f.answer(&request, 429, Some("86400"), "").wait,
        Some(Duration::from_secs(600))
    );
}

#[test]
fn server_errors_back_off_exponentially_with_full_jitter_and_give_up_after_max_attempts() {
    let config = Config {
        max_attempts: 6,
        backoff_base: Duration::from_secs(1),
        backoff_max: Duration::from_secs(20),
        ..Config::new("wk")
    };
    let mut f = fixture_with(config);
    track_n(&mut f, 2);
    let mut waits = Vec::new();
    for attempt in 1..=6 {
        let request = f.upload();
        let outcome = if attempt % 2 == 0 {
            UploadOutcome::NetworkError
        } else {
            UploadOutcome::response(502, None, "")
        };
        let report = f
            .client
            .on_upload_result(request.batch_id, outcome)
            .unwrap();
        let wait = report.wait.unwrap();
        let ceiling = Duration::from_secs(1 << (attempt - 1)).min(Duration::from_secs(20));
        assert!(
            wait <= ceiling,
            "attempt {attempt}: waited {wait:?}, ceiling {ceiling:?}"
        );
        waits.push(wait);
        if attempt < 6 {
            assert_eq!(report.retrying, 2);
            if !wait.is_zero() {
                assert_eq!(f.action(), Action::Wait(wait));
            }
            f.clock.advance(wait);
        } else {
            assert_eq!(report.dropped, 2, "the sixth failure exhausts max_attempts");
        }
    }
    assert!(
        waits.iter().collect::<std::collections::HashSet<_>>().len() > 1,
        "jitter varies: {waits:?}"
    );
    assert_eq!(f.client.stats().dropped.max_attempts, 2);
    assert!(f
        .client
        .take_dropped()
        .iter()
        .all(|d| d.reason == DropReason::MaxAttempts));
}

#[test]
fn a_413_splits_the_batch_and_a_single_oversized_event_is_dropped() {
    let mut f = fixture();
    track_n(&mut f, 8);
    let request = f.upload();
    assert_eq!(request.message_ids.len(), 8);
    let report = f.answer(&request, 413, None, "");
    assert_eq!(
        (report.retrying, report.dropped, report.wait),
        (8, 0, None),
        "413 retries at once"
    );
    let mut sizes = vec![];
    loop {
        let request = f.upload();
        sizes.push(request.message_ids.len());
        if request.message_ids.len() == 1 {
            f.answer(
                &request,
                413,
                None,
                r#"{"success":false,"code":"message_too_large","message":"too big"}"#,
            );
            break;
        }
        f.answer(&request, 413, None, "");
    }
    assert_eq!(sizes, [4, 2, 1]);
    assert_eq!(
        f.client.take_dropped()[0].reason,
        DropReason::Rejected {
            status: 413,
            reason: "too big".into()
        }
    );
    // A success lets the batch size grow back.
    let request = f.upload();
    assert_eq!(request.message_ids.len(), 1);
    f.answer(&request, 200, None, OK);
    assert_eq!(f.upload().message_ids.len(), 2);
}

#[test]
fn other_4xx_drop_the_batch_and_report_the_collectors_message() {
    let mut f = fixture();
    track_n(&mut f, 2);
    let request = f.upload();
    let report = f.answer(
        &request,
        401,
        None,
        r#"{"success":false,"code":"unauthorized","message":"unknown write key"}"#,
    );
    assert_eq!(report.dropped, 2);
    let dropped = f.client.take_dropped();
    assert_eq!(dropped.len(), 2);
    assert_eq!(
        dropped[0].reason,
        DropReason::Rejected {
            status: 401,
            reason: "unknown write key".into()
        }
    );
    assert_eq!(f.client.stats().dropped.rejected, 2);
    assert_eq!(f.storage.count(), 0);
}

#[test]
fn duplicated_and_stale_outcomes_are_ignored() {
    let mut f = fixture();
    track_n(&mut f, 2);
    let request = f.upload();
    assert!(!f.answer(&request, 200, None, OK).stale);
    let again = f.answer(&request, 200, None, OK);
    assert!(again.stale, "a duplicate outcome is stale");
    assert_eq!(f.client.stats().delivered, 2, "and counts nothing twice");
    let unknown = f
        .client
        .on_upload_result(999, UploadOutcome::NetworkError)
        .unwrap();
    assert!(unknown.stale);
}

#[test]
fn an_upload_without_an_outcome_times_out_and_is_retried_with_the_same_ids() {
    let mut f = fixture_with(Config {
        upload_timeout: Duration::from_secs(30),
        ..Config::new("wk")
    });
    track_n(&mut f, 1);
    let request = f.upload();
    assert_eq!(
        f.action(),
        Action::Wait(Duration::from_secs(30)),
        "one upload in flight at a time"
    );
    f.clock.advance(Duration::from_secs(31));
    // The silence counts as a network error: a short backoff, then the same batch again.
    let Action::Wait(backoff) = f.action() else {
        panic!("a timed-out upload backs off")
    };
    assert!(backoff <= Duration::from_millis(500));
    f.clock.advance(backoff);
    let Action::Upload(retry) = f.action() else {
        panic!("the timed-out batch is retried")
    };
    assert_eq!(retry.message_ids, request.message_ids);
    assert!(
        f.answer(&request, 200, None, OK).stale,
        "the late outcome of the first try is ignored"
    );
    assert_eq!(f.answer(&retry, 200, None, OK).delivered, 1);
}

#[test]
fn events_older_than_max_event_age_are_dropped_and_counted() {
    let mut f = fixture_with(Config {
        max_event_age: Duration::from_secs(3600),
        ..Config::new("wk")
    });
    track_n(&mut f, 2);
    f.clock.advance(Duration::from_secs(3601));
    track_n(&mut f, 1);
    let request = f.upload();
    assert_eq!(request.message_ids.len(), 1);
    assert_eq!(f.client.stats().dropped.max_age, 2);
}

#[test]
fn while_offline_the_engine_idles_and_coming_back_ends_the_backoff() {
    let mut f = fixture_with(Config {
        backoff_base: Duration::from_secs(60),
        ..Config::new("wk")
    });
    track_n(&mut f, 1);
    let request = f.upload();
    f.client
        .on_upload_result(request.batch_id, UploadOutcome::NetworkError)
        .unwrap();
    f.client.set_network_available(false);
    assert_eq!(f.action(), Action::Idle);
    f.client.set_network_available(true);
    assert!(
        matches!(f.action(), Action::Upload(_)),
        "reconnecting retries at once"
    );
}

#[test]
fn the_queue_drops_its_oldest_events_when_full_by_count_or_bytes() {
    let mut f = fixture_with(Config {
        max_queue_events: 5,
        max_queue_bytes: 64 * 1024,
        ..Config::new("wk")
    });
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(f.client.track("e", json!({"i": i})).unwrap().unwrap());
    }
    assert_eq!(f.storage.count(), 5);
    let dropped: Vec<String> = f
        .client
        .take_dropped()
        .into_iter()
        .map(|d| d.message_id)
        .collect();
    assert_eq!(dropped, ids[..2]);
    assert_eq!(f.client.stats().dropped.queue_full, 2);
    let big = "y".repeat(30_000);
    f.client.track("big", json!({"b": big})).unwrap();
    f.client.track("big", json!({"b": big})).unwrap();
    f.client.track("big", json!({"b": big})).unwrap();
    assert!(
        f.storage.bytes() <= 64 * 1024,
        "bytes bound holds: {}",
        f.storage.bytes()
    );
    let stats = f.client.stats();
    assert_eq!(
        stats.queued_events, 2,
        "two 30 KB events fit in 64 KB, three do not"
    );
    assert_eq!(
        stats.dropped.queue_full,
        stats.accepted - stats.queued_events,
        "every eviction is counted"
    );
}

#[test]
fn a_restart_resends_what_was_in_flight_with_the_same_ids() {
    let mut f = fixture();
    track_n(&mut f, 3);
    let before = f.upload();
    f.restart(Config::new("wk_test"));
    let after = f.upload();
    assert_eq!(after.message_ids, before.message_ids);
    assert_eq!(messages(&after), messages(&before));
}

#[test]
fn small_batches_fit_a_browser_beacon() {
    let mut f = fixture_with(Config {
        max_batch_bytes: 16 * 1024,
        max_batch_events: 1000,
        ..Config::new("wk")
    });
    track_n(&mut f, 200);
    let request = f.upload();
    assert!(
        request.body.len() <= 16 * 1024,
        "body is {} bytes",
        request.body.len()
    );
    assert!(request.message_ids.len() > 10);
}
