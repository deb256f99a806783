//! Sessions of one person, recomputed from all of their events (so recomputation is idempotent
//! and a late event simply lands in the session it belongs to).
//!
//! Events with a client session id (`context.sessionId`, set by Footfall SDKs) are grouped by it.
//! The others are split on [`INACTIVITY_MS`] of event-time inactivity; such a session's id is
//! `"<person>:<start_ms>"`.

use std::collections::BTreeMap;

use crate::model::SessionRow;

/// 30 minutes.
pub const INACTIVITY_MS: i64 = 30 * 60 * 1000;

/// A UTC day in ms.
pub const DAY_MS: i64 = 86_400_000;

/// The UTC day (days since 1970-01-01) of a Unix ms time: a session's day is its start's.
pub fn day_of(ts_ms: i64) -> i64 {
    ts_ms.div_euclid(DAY_MS)
}

/// One event as the sessionizer sees it, borrowing its session id from the row it was read from
/// (the processor reads a touched person's whole history back for every batch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEvent<'a> {
    /// Event time, Unix ms.
    pub ts_ms: i64,
    /// The client's session id, `""` if none.
    pub session_id: &'a str,
}

/// The sessions of `person`, ordered by start.
pub fn sessionize(
    project: &str,
    person: &str,
    events: &[SessionEvent<'_>],
    version: i64,
) -> Vec<SessionRow> {
    let mut by_id: BTreeMap<&str, (i64, i64, i64)> = BTreeMap::new();
    let mut loose: Vec<i64> = Vec::new();
    for e in events {
        if e.session_id.is_empty() {
            loose.push(e.ts_ms);
        } else {
            let s = by_id.entry(e.session_id).or_insert((e.ts_ms, e.ts_ms, 0));
            s.0 = s.0.min(e.ts_ms);
            s.1 = s.1.max(e.ts_ms);
            s.2 += 1;
        }
    }
    let row = |session_id: String, start_ms, end_ms, event_count| SessionRow {
        project_id: project.to_owned(),
        person_id: person.to_owned(),
        session_id,
        start_ms,
        end_ms,
        event_count,
        version,
    };
    let mut out: Vec<SessionRow> = by_id
        .into_iter()
        .map(|(id, (s, e, n))| row(id.to_owned(), s, e, n))
        .collect();
    loose.sort_unstable();
    let mut i = 0;
    while i < loose.len() {
        let start = loose[i];
        let mut end = start;
        let mut n = 1;
        i += 1;
        while i < loose.len() && loose[i] - end <= INACTIVITY_MS {
            end = loose[i];
            n += 1;
            i += 1;
        }
        out.push(row(format!("{person}:{start}"), start, end, n));
    }
    out.sort_by(|a, b| (a.start_ms, &a.session_id).cmp(&(b.start_ms, &b.session_id)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ts_ms: i64, session_id: &str) -> SessionEvent<'_> {
        SessionEvent { ts_ms, session_id }
    }

    #[test]
    fn splits_on_thirty_minutes_of_inactivity() {
        let m = 60_000;
        let s = sessionize(
            "p",
            "u",
            &[ev(0, ""), ev(29 * m, ""), ev(59 * m, ""), ev(90 * m, "")],
            1,
        );
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].start_ms, s[0].end_ms, s[0].event_count),
            (0, 59 * m, 3)
        );
        assert_eq!(s[1].session_id, format!("u:{}", 90 * m));
    }

    #[test]
    fn client_session_ids_win() {
        let h = 3_600_000;
        let s = sessionize("p", "u", &[ev(0, "s1"), ev(5 * h, "s1"), ev(h, "s2")], 1);
        assert_eq!(
            s.iter().map(|s| s.session_id.as_str()).collect::<Vec<_>>(),
            vec!["s1", "s2"]
        );
        assert_eq!(s[0].end_ms, 5 * h);
    }

    #[test]
    fn a_late_event_joins_its_session_idempotently() {
        let m = 60_000;
        let before = sessionize("p", "u", &[ev(0, ""), ev(40 * m, "")], 1);
        assert_eq!(before.len(), 2);
        let after = sessionize("p", "u", &[ev(0, ""), ev(20 * m, ""), ev(40 * m, "")], 2);
        assert_eq!(after.len(), 1);
        assert_eq!(
            after,
            sessionize("p", "u", &[ev(40 * m, ""), ev(0, ""), ev(20 * m, "")], 2)
        );
    }
}
