use super::*;
use footfall_store::query::{funnel, sessions, timeline, trends};
use footfall_store::DuckStore;

fn event(kind: &str, extra: &str, anon: &str, user: &str, id: &str, ts: &str) -> Vec<u8> {
    format!(
        r#"{{"type":"{kind}",{extra}"anonymousId":"{anon}","userId":"{user}","messageId":"{id}","timestamp":"{ts}","receivedAt":"2026-11-23T12:00:00.000Z","context":{{"footfall":{{"projectId":"shop","sourceId":"web"}}}}}}"#
    )
    .into_bytes()
}

fn track(name: &str, anon: &str, user: &str, id: &str, ts: &str) -> Vec<u8> {
    event(
        "track",
        &format!(r#""event":"{name}","#),
        anon,
        user,
        id,
        ts,
    )
}

fn setup() -> (Arc<DuckStore>, Processor) {
    let store = Arc::new(DuckStore::open_in_memory().unwrap());
    let p = Processor::new(store.clone()).unwrap();
    (store, p)
}

fn day() -> (i64, i64) {
    let from = footfall_store::query::parse_rfc3339_ms("2026-11-23T00:00:00Z").unwrap();
    (from, from + 86_400_000)
}

#[test]
fn duplicates_at_every_stage_count_once() {
    let (store, mut p) = setup();
    let e = track("View", "a1", "", "m1", "2026-11-23T10:00:00.000Z");
    let r = p
        .process(&[
            SourceRecord::event(0, e.clone()),
            SourceRecord::event(1, e.clone()),
        ])
        .unwrap();
    assert_eq!((r.stored, r.duplicates), (1, 1));
    // Redelivery after a restart: a fresh processor (empty window) still stores nothing new.
    let mut p2 = Processor::new(store.clone()).unwrap();
    let r = p2.process(&[SourceRecord::event(0, e)]).unwrap();
    assert_eq!((r.stored, r.duplicates), (0, 1));
    let (from, to) = day();
    let t = trends::RawTrendsParams {
        from: from.into(),
        to: to.into(),
        interval: "day".into(),
        ..Default::default()
    }
    .validate("shop")
    .unwrap();
    assert_eq!(trends::run(store.as_ref(), &t).unwrap().series[0].count, 1);
}

#[test]
fn anonymous_events_are_reattributed_after_identify_and_sessions_follow() {
    let (store, mut p) = setup();
    p.process(&[
        SourceRecord::event(0, track("View", "a1", "", "m1", "2026-11-23T10:00:00.000Z")),
        SourceRecord::event(1, track("View", "a2", "", "m2", "2026-11-23T10:05:00.000Z")),
    ])
    .unwrap();
    let (from, to) = day();
    let s = sessions::RawSessionParams {
        from: from.into(),
        to: to.into(),
    }
    .validate("shop")
    .unwrap();
    assert_eq!(sessions::run(store.as_ref(), &s).unwrap().sessions, 2);
    p.process(&[
        SourceRecord::event(
            2,
            event("identify", "", "a1", "u1", "m3", "2026-11-23T10:10:00.000Z"),
        ),
        SourceRecord::event(
            3,
            event(
                "alias",
                r#""previousId":"a2","#,
                "",
                "u1",
                "m4",
                "2026-11-23T10:11:00.000Z",
            ),
        ),
        SourceRecord::event(
            4,
            track("Buy", "a1", "u1", "m5", "2026-11-23T10:12:00.000Z"),
        ),
    ])
    .unwrap();
    let f = funnel::RawFunnelParams {
        steps: vec!["View".into(), "Buy".into()],
        from: from.into(),
        to: to.into(),
        ..Default::default()
    }
    .validate("shop")
    .unwrap();
    let f = funnel::run(store.as_ref(), &f).unwrap();
    assert_eq!((f.total[0].count, f.total[1].count), (1, 1));
    let t = timeline::RawTimelineParams {
        person: "a2".into(),
        limit: None,
    }
    .validate("shop")
    .unwrap();
    assert_eq!(timeline::run(store.as_ref(), &t).unwrap().events.len(), 5);
    let stats = sessions::run(store.as_ref(), &s).unwrap();
    assert_eq!((stats.sessions, stats.bounces), (1, 0));
}

#[test]
fn merging_identified_users_is_refused_and_reported() {
    let (store, mut p) = setup();
    let r = p
        .process(&[
            SourceRecord::event(
                0,
                event("identify", "", "a1", "u1", "m1", "2026-11-23T10:00:00.000Z"),
            ),
            SourceRecord::event(
                1,
                event("identify", "", "a1", "u2", "m2", "2026-11-23T10:01:00.000Z"),
            ),
        ])
        .unwrap();
    assert_eq!(r.conflicts, 1);
    let dl = store.dead_letters(10, false).unwrap();
    assert_eq!(dl[0].cause, "identity_conflict");
    assert!(dl[0].reason.contains("already belongs to user \"u1\""));
    assert_eq!(store.identities().unwrap().len(), 1);
}

#[test]
fn a_late_event_updates_its_session() {
    let (store, mut p) = setup();
    p.process(&[
        SourceRecord::event(0, track("A", "a1", "", "m1", "2026-11-23T10:00:00.000Z")),
        SourceRecord::event(1, track("B", "a1", "", "m2", "2026-11-23T10:40:00.000Z")),
    ])
    .unwrap();
    let (from, to) = day();
    let s = sessions::RawSessionParams {
        from: from.into(),
        to: to.into(),
    }
    .validate("shop")
    .unwrap();
    assert_eq!(sessions::run(store.as_ref(), &s).unwrap().sessions, 2);
    p.process(&[SourceRecord::event(
        2,
        track("C", "a1", "", "m3", "2026-11-23T10:20:00.000Z"),
    )])
    .unwrap();
    let stats = sessions::run(store.as_ref(), &s).unwrap();
    assert_eq!((stats.sessions, stats.total_duration_ms), (1, 40 * 60_000));
}

#[test]
fn bad_records_become_dead_letters() {
    let (store, mut p) = setup();
    let r = p
        .process(&[
            SourceRecord::event(0, b"{}".to_vec()),
            SourceRecord::dead_letter(0, br#"{"projectId":"shop","receivedAt":"2026-11-23T10:00:00.000Z","cause":"invalid","reason":"event: required","payload":{"type":"track"}}"#.to_vec()),
        ])
        .unwrap();
    assert_eq!(r.dead_letters, 2);
    assert_eq!(
        store.dead_letter("dl-0").unwrap().unwrap().reason,
        "event: required"
    );
    assert_eq!(
        store.dead_letter("ev-0").unwrap().unwrap().cause,
        "unparseable"
    );
}

#[test]
fn two_processors_never_take_the_same_version() {
    let store = Arc::new(DuckStore::open_in_memory().unwrap());
    let mut a = Processor::new(store.clone()).unwrap();
    let mut b = Processor::new(store).unwrap();
    let (va, vb) = (a.next_version(), b.next_version());
    assert_ne!(va % VERSION_TAGS, vb % VERSION_TAGS);
    // Each keeps its tag and moves forward, even within one millisecond.
    let va2 = a.next_version();
    assert!(va2 > va);
    assert_eq!(va2 % VERSION_TAGS, va % VERSION_TAGS);
    // Above every version written before the tag (plain milliseconds).
    assert!(va > 1_795_392_000_000 * 1000);
}
