//! Recording: message shape, identity, sessions, validation and consent.

mod common;

use std::time::Duration;

use common::*;
use footfall_core::{Action, Config, ErrorKind, Storage};
use footfall_protocol::MessageType;
use serde_json::json;

#[test]
fn every_call_type_produces_a_segment_message() {
    let mut f = fixture();
    f.client
        .track("Product Viewed", json!({"sku": "A-1"}))
        .unwrap();
    f.client
        .page(Some("Docs"), Some("Pricing"), json!({"path": "/pricing"}))
        .unwrap();
    f.client.screen("Checkout", json!(null)).unwrap();
    f.client
        .identify(Some("user-1"), json!({"email": "a@example.com"}))
        .unwrap();
    f.client.group("acme", json!({"seats": 10})).unwrap();
    f.client.alias("user-2").unwrap();
    let sent = messages(&f.upload());
    let kinds: Vec<MessageType> = sent.iter().map(|m| m.kind).collect();
    use MessageType::*;
    assert_eq!(kinds, [Track, Page, Screen, Identify, Group, Alias]);
    assert_eq!(sent[0].event.as_deref(), Some("Product Viewed"));
    assert_eq!(sent[0].properties.as_ref().unwrap()["sku"], "A-1");
    assert_eq!(sent[1].category.as_deref(), Some("Docs"));
    assert_eq!(sent[1].name.as_deref(), Some("Pricing"));
    assert_eq!(sent[2].name.as_deref(), Some("Checkout"));
    assert_eq!(sent[3].user_id.as_deref(), Some("user-1"));
    assert_eq!(sent[3].traits.as_ref().unwrap()["email"], "a@example.com");
    assert_eq!(sent[4].group_id.as_deref(), Some("acme"));
    assert_eq!(sent[5].previous_id.as_deref(), Some("user-1"));
    assert_eq!(sent[5].user_id.as_deref(), Some("user-2"));
    for m in &sent {
        assert_eq!(m.anonymous_id.as_deref(), Some(f.client.anonymous_id()));
        assert_eq!(m.timestamp.as_deref(), Some("2026-11-18T11:06:40.000Z"));
        let context = m.context.as_ref().unwrap();
        assert_eq!(context["library"]["name"], "footfall-core");
        assert_eq!(context["sessionId"], f.client.session_id().unwrap());
        let id = uuid::Uuid::parse_str(m.message_id.as_deref().unwrap()).unwrap();
        assert_eq!(id.get_version_num(), 7);
    }
    let ids: std::collections::HashSet<_> = sent.iter().map(|m| m.message_id.clone()).collect();
    assert_eq!(ids.len(), sent.len(), "messageIds must be unique");
}

#[test]
fn invalid_calls_return_errors_that_name_the_problem() {
    let mut f = fixture();
    let err = f.client.track("  ", json!({})).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::EmptyEventName);
    let err = f.client.track("Clicked", json!([1, 2])).unwrap_err();
    assert_eq!(
        err.kind(),
        &ErrorKind::NotAnObject {
            field: "properties",
            found: "array"
        }
    );
    assert_eq!(
        err.to_string(),
        "properties must be a JSON object, not array"
    );
    let err = f.client.identify(Some(""), json!({})).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::EmptyId { field: "userId" });
    let err = f.client.identify(None, json!("vip")).unwrap_err();
    assert_eq!(
        err.kind(),
        &ErrorKind::NotAnObject {
            field: "traits",
            found: "string"
        }
    );
    let err = f.client.group("", json!({})).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::EmptyId { field: "groupId" });
    let err = f
        .client
        .track("Big", json!({"blob": "x".repeat(33_000)}))
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::MessageTooLarge { limit: 32768, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("over the limit of 32768 bytes"));
    assert_eq!(
        f.client.stats().accepted,
        0,
        "refused calls must not queue anything"
    );
    assert_eq!(f.storage.count(), 0);
}

#[test]
fn the_anonymous_id_user_and_traits_survive_a_restart() {
    let mut f = fixture();
    let anonymous_id = f.client.anonymous_id().to_owned();
    f.client
        .identify(Some("user-1"), json!({"plan": "pro"}))
        .unwrap();
    f.client.register(json!({"app_version": "2.1"})).unwrap();
    f.restart(Config::new("wk_test"));
    assert_eq!(f.client.anonymous_id(), anonymous_id);
    assert_eq!(f.client.user_id(), Some("user-1"));
    f.client.identify(None, json!({"seats": 3})).unwrap();
    f.client.track("Opened", json!({})).unwrap();
    let sent = messages(&f.upload());
    let traits = sent[1].traits.as_ref().unwrap();
    assert_eq!(
        (traits["plan"].clone(), traits["seats"].clone()),
        (json!("pro"), json!(3)),
        "traits merge"
    );
    assert_eq!(
        sent[2].properties.as_ref().unwrap()["app_version"],
        "2.1",
        "super properties persist"
    );
}

#[test]
fn super_properties_are_sent_until_unregistered_and_calls_override_them() {
    let mut f = fixture();
    f.client
        .register(json!({"plan": "free", "theme": "dark"}))
        .unwrap();
    f.client.track("A", json!({"plan": "pro"})).unwrap();
    f.client.unregister("theme").unwrap();
    f.client.page(None, Some("Home"), json!(null)).unwrap();
    let sent = messages(&f.upload());
    assert_eq!(sent[0].properties.as_ref().unwrap()["plan"], "pro");
    assert_eq!(sent[0].properties.as_ref().unwrap()["theme"], "dark");
    assert_eq!(sent[1].properties.as_ref().unwrap().get("theme"), None);
    assert_eq!(sent[1].properties.as_ref().unwrap()["plan"], "free");
}

#[test]
fn reset_forgets_the_user_and_starts_a_new_anonymous_id_and_session() {
    let mut f = fixture();
    f.client
        .identify(Some("user-1"), json!({"plan": "pro"}))
        .unwrap();
    let (anon, session) = (
        f.client.anonymous_id().to_owned(),
        f.client.session_id().unwrap().to_owned(),
    );
    f.client.reset().unwrap();
    f.client.track("After Logout", json!({})).unwrap();
    assert_ne!(f.client.anonymous_id(), anon);
    assert_eq!(f.client.user_id(), None);
    assert_ne!(f.client.session_id().unwrap(), session);
    let sent = messages(&f.upload());
    assert_eq!(
        sent[0].user_id.as_deref(),
        Some("user-1"),
        "queued events keep their identity"
    );
    assert_eq!(sent[1].user_id, None);
    assert_eq!(
        sent[1].anonymous_id.as_deref(),
        Some(f.client.anonymous_id())
    );
}

#[test]
fn a_session_ends_after_the_idle_timeout_and_at_its_maximum_length() {
    let config = Config {
        session_idle_timeout: Duration::from_secs(30 * 60),
        session_max_length: Duration::from_secs(2 * 3600),
        ..Config::new("wk_test")
    };
    let mut f = fixture_with(config.clone());
    f.client.track("a", json!({})).unwrap();
    let first = f.client.session_id().unwrap().to_owned();
    f.clock.advance(Duration::from_secs(29 * 60));
    f.client.track("b", json!({})).unwrap();
    assert_eq!(
        f.client.session_id().unwrap(),
        first,
        "29 idle minutes keep the session"
    );
    f.clock.advance(Duration::from_secs(30 * 60));
    f.client.track("c", json!({})).unwrap();
    let second = f.client.session_id().unwrap().to_owned();
    assert_ne!(second, first, "30 idle minutes end it");
    for _ in 0..8 {
        f.clock.advance(Duration::from_secs(15 * 60));
        f.client.track("busy", json!({})).unwrap();
    }
    assert_ne!(
        f.client.session_id().unwrap(),
        second,
        "a session lasts at most session_max_length"
    );
    // A relaunch within the idle timeout continues the session.
    let current = f.client.session_id().unwrap().to_owned();
    f.clock.advance(Duration::from_secs(60));
    f.restart(config);
    f.client.track("relaunch", json!({})).unwrap();
    assert_eq!(f.client.session_id().unwrap(), current);
}

#[test]
fn the_platform_context_is_sent_but_cannot_replace_library_or_session() {
    let mut f = fixture();
    f.client
        .set_context(json!({"os": {"name": "Android", "version": "15"}, "library": "spoofed", "sessionId": "x"}))
        .unwrap();
    f.client.track("a", json!({})).unwrap();
    let context = messages(&f.upload())[0].context.clone().unwrap();
    assert_eq!(context["os"]["name"], "Android");
    assert_eq!(context["library"]["name"], "footfall-core");
    assert_eq!(context["sessionId"], f.client.session_id().unwrap());
    assert!(f.client.set_context(json!(3)).is_err());
}

#[test]
fn opting_out_records_nothing_discards_the_queue_and_persists() {
    let mut f = fixture();
    f.client.track("before", json!({})).unwrap();
    f.client.set_opted_out(true).unwrap();
    assert_eq!(f.client.track("during", json!({})).unwrap(), None);
    assert_eq!(f.client.identify(Some("u"), json!({})).unwrap(), None);
    assert_eq!(f.storage.count(), 0);
    let stats = f.client.stats();
    assert_eq!(stats.dropped.opted_out, 1, "discarded events are counted");
    assert_eq!(
        f.client.take_dropped()[0].reason,
        footfall_core::DropReason::OptedOut
    );
    f.restart(Config::new("wk_test"));
    assert!(f.client.is_opted_out(), "consent persists");
    f.client.set_opted_out(false).unwrap();
    assert!(f.client.track("after", json!({})).unwrap().is_some());
    assert_eq!(f.action(), Action::Wait(Duration::from_secs(10)));
}

#[test]
fn json_text_is_checked_and_spliced_as_written() {
    let mut f = fixture();
    f.client
        .register_json(r#"{"plan":"free","app":"2.1"}"#)
        .unwrap();
    f.client
        .track_json(
            "Paid",
            " {\"price\": 29.90, \"plan\":\"pro\", \"big\": 12345678901234567890} ",
        )
        .unwrap();
    f.client.identify_json(Some("user-1"), "null").unwrap();
    f.client.page_json(None, Some("Home"), "").unwrap();
    let request = f.upload();
    let body = &request.body;
    assert!(
        body.contains(
            r#""properties":{"app":"2.1","price":29.90,"plan":"pro","big":12345678901234567890}"#
        ),
        "numbers go out exactly as written, call properties win over registered ones: {body}"
    );
    let sent = messages(&request);
    assert_eq!(sent[1].traits.as_ref().unwrap().len(), 0);
    assert_eq!(sent[2].properties.as_ref().unwrap()["plan"], "free");

    let cases = [
        (
            r#"{"a":1,}"#,
            "properties is not valid JSON: expected a key at byte 7",
        ),
        (
            r#"{"a":"\ud800"}"#,
            "properties is not valid JSON: lone surrogate at byte 6",
        ),
        ("[1]", "properties must be a JSON object, not array"),
        (
            "1e999",
            "properties is not valid JSON: number out of range at byte 0",
        ),
    ];
    for (text, message) in cases {
        let err = f.client.track_json("Clicked", text).unwrap_err();
        assert_eq!(err.to_string(), message);
        assert_eq!(err.message(), message);
    }
    let deep = format!(
        "{}{}",
        "{\"a\":".repeat(101),
        "1".to_owned() + &"}".repeat(101)
    );
    assert!(matches!(
        f.client.track_json("Deep", &deep).unwrap_err().kind(),
        ErrorKind::InvalidJson {
            field: "properties",
            reason: "nested too deeply",
            ..
        }
    ));
    assert_eq!(f.client.stats().accepted, 3, "refused calls queue nothing");
}

#[test]
fn the_value_and_json_text_paths_send_the_same_message() {
    let mut by_value = fixture();
    let mut by_text = fixture();
    by_value
        .client
        .track("Clicked", json!({"plan": "pro", "n": [1, {"x": null}]}))
        .unwrap();
    by_text
        .client
        .track_json("Clicked", r#"{"n":[1,{"x":null}],"plan":"pro"}"#)
        .unwrap();
    let a = &messages(&by_value.upload())[0];
    let b = &messages(&by_text.upload())[0];
    assert_eq!(a.properties, b.properties);
    assert_eq!(a.message_id, b.message_id, "same seed, same clock");
    assert_eq!(
        serde_json::to_value(a).unwrap(),
        serde_json::to_value(b).unwrap()
    );
}
