use std::sync::Arc;

use footfall_store::sessionize::{sessionize, SessionEvent, DAY_MS};
use footfall_store::sql::SqlBuilder;
use footfall_store::{Dialect, DuckStore, Store};
use proptest::prelude::*;

use super::*;
use crate::{BatchReport, Processor, SourceRecord};

const MINUTE: i64 = 60_000;
/// 2026-11-23T00:00:00Z.
const BASE: i64 = 1_795_392_000_000;

/// One test event: `(person, minutes after BASE, client session id or "")`.
type Ev = (usize, i64, &'static str);

const PERSONS: [(&str, &str); 3] = [("a1", ""), ("a2", ""), ("a3", "u1")];

fn payload(i: usize, (person, minute, session): Ev) -> Vec<u8> {
    let (anon, user) = PERSONS[person];
    let ts = footfall_store::query::format_rfc3339_ms(BASE + minute * MINUTE);
    let session = if session.is_empty() {
        String::new()
    } else {
        format!(r#""sessionId":"{session}","#)
    };
    format!(
        r#"{{"type":"track","event":"View","anonymousId":"{anon}","userId":"{user}","messageId":"m{i}","timestamp":"{ts}","receivedAt":"{ts}","context":{{{session}"footfall":{{"projectId":"shop","sourceId":"web"}}}}}}"#
    )
    .into_bytes()
}

fn person_of(person: usize) -> &'static str {
    match PERSONS[person] {
        (anon, "") => anon,
        (_, user) => user,
    }
}

/// Processes `events` (numbered in this order for their messageIds) in batches of the given
/// sizes, in the order `order` gives.
fn process(
    events: &[Ev],
    order: &[usize],
    batches: &[usize],
) -> (Arc<DuckStore>, Vec<BatchReport>) {
    let store = Arc::new(DuckStore::open_in_memory().unwrap());
    let mut processor = Processor::new(store.clone()).unwrap();
    let mut reports = Vec::new();
    let mut at = 0;
    let mut sizes = batches.iter().copied().cycle();
    while at < order.len() {
        let size = sizes.next().unwrap_or(1).max(1);
        let batch: Vec<SourceRecord> = order[at..(at + size).min(order.len())]
            .iter()
            .map(|&i| SourceRecord::event(i as u64, payload(i, events[i])))
            .collect();
        reports.push(processor.process(&batch).unwrap());
        at += size;
    }
    (store, reports)
}

/// The stored sessions: `(person, session id, start, end, events)`, sorted.
fn stored(store: &DuckStore) -> Vec<(String, String, i64, i64, i64)> {
    let mut b = SqlBuilder::new(Dialect::DuckDb);
    b.push("SELECT person_id, session_id, start_ms, end_ms, event_count FROM sessions WHERE project_id = ")
        .bind("shop");
    b.push(" ORDER BY person_id, start_ms, session_id");
    store
        .select(&b.finish())
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r[0].as_string(),
                r[1].as_string(),
                r[2].as_i64(),
                r[3].as_i64(),
                r[4].as_i64(),
            )
        })
        .collect()
}

/// The sessions of every person computed from all of their events at once.
fn expected(events: &[Ev]) -> Vec<(String, String, i64, i64, i64)> {
    let mut out = Vec::new();
    for person in 0..PERSONS.len() {
        let theirs: Vec<SessionEvent> = events
            .iter()
            .filter(|e| e.0 == person)
            .map(|e| SessionEvent {
                ts_ms: BASE + e.1 * MINUTE,
                session_id: e.2,
            })
            .collect();
        out.extend(
            sessionize("shop", person_of(person), &theirs, 1)
                .into_iter()
                .map(|s| {
                    (
                        s.person_id,
                        s.session_id,
                        s.start_ms,
                        s.end_ms,
                        s.event_count,
                    )
                }),
        );
    }
    out.sort_by(|a, b| (&a.0, a.2, &a.1).cmp(&(&b.0, b.2, &b.1)));
    out
}

#[test]
fn a_late_event_joins_sessions_across_midnight() {
    // 23:50 and, 35 minutes later, 00:25: two sessions in two days. The late 00:05 joins them.
    let events: Vec<Ev> = vec![
        (0, 23 * 60 + 50, ""),
        (0, 24 * 60 + 25, ""),
        (0, 24 * 60 + 5, ""),
    ];
    let (store, _) = process(&events, &[0, 1, 2], &[2, 1]);
    let got = stored(&store);
    assert_eq!(got, expected(&events));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].4, 3);
}

#[test]
fn a_session_chained_over_days_is_read_until_its_gaps() {
    // An event every 20 minutes for three days is one session; one more, 25 minutes after the
    // last, extends it. The first read (a day each side of the new event) cannot see the start.
    let mut events: Vec<Ev> = (0..3 * 72).map(|k| (0, k * 20, "")).collect();
    events.push((0, (3 * 72 - 1) * 20 + 25, ""));
    let order: Vec<usize> = (0..events.len()).collect();
    let (store, reports) = process(&events, &order, &[events.len() - 1, 1]);
    assert_eq!(stored(&store), expected(&events));
    assert_eq!(stored(&store).len(), 1);
    // The late batch had to read the whole chain, and no more than it.
    let last = reports.last().unwrap();
    assert!(last.session_events_read >= events.len(), "{last:?}");
}

#[test]
fn a_client_session_is_read_whole_whenever_its_events_happened() {
    // One client session with events five days apart, and loose events around both ends.
    let events: Vec<Ev> = vec![
        (1, 60, "s1"),
        (1, 5 * 24 * 60, "s1"),
        (1, 65, ""),
        (1, 5 * 24 * 60 + 10, ""),
        (1, 2 * 24 * 60, "s1"),
    ];
    let (store, _) = process(&events, &[0, 1, 2, 3, 4], &[4, 1]);
    assert_eq!(stored(&store), expected(&events));
}

#[test]
fn a_batch_reads_back_only_the_days_it_can_change() {
    // Ten days of an event an hour (each its own session), then one more event on the last day.
    let mut events: Vec<Ev> = (0..240).map(|h| (2, h * 60, "")).collect();
    events.push((2, 239 * 60 + 10, ""));
    let order: Vec<usize> = (0..events.len()).collect();
    let (store, reports) = process(&events, &order, &[240, 1]);
    assert_eq!(stored(&store), expected(&events));
    let last = reports.last().unwrap();
    // The last day and the day before it: 48 events and the new one, not 241.
    assert!(
        last.session_events_read <= 50,
        "read back {} events",
        last.session_events_read
    );
}

#[test]
fn ranges_merge_cover_and_subtract() {
    let mut r = Ranges::default();
    r.add((10, 20));
    r.add((30, 40));
    r.add((18, 31));
    r.add((50, 50));
    assert_eq!(r.0, vec![(10, 40)]);
    assert!(r.covers((10, 40)) && r.covers((15, 16)) && !r.covers((5, 15)));
    let mut wanted = Ranges::default();
    wanted.add((0, 100));
    assert_eq!(wanted.minus(&r), vec![(0, 10), (40, 100)]);
    assert_eq!(r.minus(&wanted), Vec::<(i64, i64)>::new());
}

fn event_strategy() -> impl Strategy<Value = Ev> {
    (
        0..PERSONS.len(),
        // A 20-minute grid over four and a half days: neighbours chain, gaps split, and chains
        // cross midnight.
        (0..330i64).prop_map(|k| k * 20 + 7),
        prop_oneof![6 => Just(""), 1 => Just("s1"), 1 => Just("s2")],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// However the events are split into batches and ordered, the stored sessions are those of
    /// all the events at once.
    #[test]
    fn batches_in_any_order_give_the_sessions_of_all_events(
        events in prop::collection::vec(event_strategy(), 1..60),
        batches in prop::collection::vec(1usize..12, 1..6),
        seed in any::<u64>(),
    ) {
        let mut order: Vec<usize> = (0..events.len()).collect();
        // A seeded shuffle: late events arrive after later ones.
        let mut state = seed | 1;
        for i in (1..order.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            order.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let (store, _) = process(&events, &order, &batches);
        prop_assert_eq!(stored(&store), expected(&events));
    }
}

#[test]
fn days_of_a_day_boundary() {
    assert_eq!(footfall_store::sessionize::day_of(BASE), BASE / DAY_MS);
    assert_eq!(
        footfall_store::sessionize::day_of(BASE - 1),
        BASE / DAY_MS - 1
    );
}
