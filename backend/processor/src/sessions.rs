//! Recomputing the sessions a batch changed, from the stored events, idempotently.
//!
//! A person's events only ever get added to (an identity link aside), so new events can change
//! only the sessions they join: with their merged neighbours, those span a few start days. A
//! batch's persons are therefore recomputed a few days at a time. Their events are read for those
//! days and their margins, and every session that starts in those days is replaced
//! ([`SessionScope::Days`]). The read widens until it holds every event that could belong to a
//! session it writes:
//!
//! * 30 minutes of inactivity around the written days and sessions, so no unread event could
//!   join or split them;
//! * every event of each client session it writes (`context.sessionId`), whenever it happened.
//!
//! A person whose read keeps widening ([`MAX_WIDENINGS`]), and a person an identity link moved
//! events to or from, is read whole and replaced whole ([`SessionScope::All`]).
//!
//! Why: re-reading each touched person's whole history made every batch slower than the last
//! (docs/benchmarks.md, "The processor, 2026-12-07"). Concurrent processors (a Kafka consumer
//! group) stay exact for the same reason as before: the version is taken before any read, so the
//! latest version of a day was computed from every event stored before it was taken.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use footfall_store::sessionize::{day_of, sessionize, SessionEvent, DAY_MS, INACTIVITY_MS};
use footfall_store::{EventWindow, SessionInputRow, SessionRow, SessionScope, Store};

use crate::identity::IdentityMap;
use crate::Result;

/// Rounds of widening before a person is read whole instead.
pub const MAX_WIDENINGS: usize = 8;

/// What a batch changed for one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Touch {
    /// An identity link moved events to or from the person: all of their history is read again.
    Whole,
    /// New events: `(event time, client session id or "")`.
    Events(Vec<(i64, String)>),
}

impl Touch {
    /// Notes one new event of the person (nothing to note once the whole history is read).
    pub fn add_event(&mut self, ts_ms: i64, session_id: &str) {
        if let Touch::Events(events) = self {
            events.push((ts_ms, session_id.to_owned()));
        }
    }
}

/// What a recomputation did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recomputed {
    /// Persons whose sessions were replaced.
    pub persons: usize,
    /// Stored events read back to do it.
    pub events_read: usize,
}

/// Recomputes the sessions of every touched `(project, person)` at `version` (taken before any
/// read) and replaces them in the store.
pub fn recompute(
    store: &dyn Store,
    identity: &IdentityMap,
    version: i64,
    touched: &BTreeMap<(String, String), Touch>,
) -> Result<Recomputed> {
    let mut by_project: BTreeMap<&str, Vec<(&str, &Touch)>> = BTreeMap::new();
    for ((project, person), touch) in touched {
        by_project.entry(project).or_default().push((person, touch));
    }
    let mut done = Recomputed::default();
    for (project, persons) in by_project {
        let mut out = Replacement::default();
        let mut whole: Vec<&str> = Vec::new();
        let mut bounded: Vec<(&str, &[(i64, String)])> = Vec::new();
        for (person, touch) in &persons {
            match touch {
                Touch::Whole => whole.push(person),
                Touch::Events(events) => bounded.push((person, events)),
            }
        }
        let widened_too_often =
            recompute_days(store, identity, project, version, &bounded, &mut out)?;
        whole.extend(widened_too_often);
        recompute_whole(store, identity, project, version, &whole, &mut out)?;
        store.replace_sessions(project, version, &out.replaced, &out.sessions)?;
        done.persons += persons.len();
        done.events_read += out.events_read;
    }
    Ok(done)
}

/// The sessions to write and the scopes they replace.
#[derive(Debug, Default)]
struct Replacement {
    replaced: Vec<(String, SessionScope)>,
    sessions: Vec<SessionRow>,
    events_read: usize,
}

/// Whole histories: every event of every id of each person.
fn recompute_whole(
    store: &dyn Store,
    identity: &IdentityMap,
    project: &str,
    version: i64,
    persons: &[&str],
    out: &mut Replacement,
) -> Result<()> {
    if persons.is_empty() {
        return Ok(());
    }
    let rows = store.session_inputs_of_ids(project, &ids_of(identity, project, persons), None)?;
    out.events_read += rows.len();
    let per = by_person(identity, project, persons, &rows);
    for person in persons {
        if let Some(events) = per.get(person) {
            out.sessions
                .extend(sessionize(project, person, events, version));
        }
        // A person with no events left (all moved to a user) has nothing but the replacement.
        out.replaced.push(((*person).to_owned(), SessionScope::All));
    }
    Ok(())
}

/// One person's bounded recomputation, as its read widens.
struct Pending<'a> {
    person: &'a str,
    batch: &'a [(i64, String)],
    /// The time range to hold in full, `[from, to)`.
    need: (i64, i64),
    /// The client sessions to hold in full.
    sessions: BTreeSet<String>,
}

/// Bounded recomputations, all of a project's touched persons read together. Returns the
/// persons whose read widened [`MAX_WIDENINGS`] times without settling.
fn recompute_days<'a>(
    store: &dyn Store,
    identity: &IdentityMap,
    project: &str,
    version: i64,
    persons: &[(&'a str, &'a [(i64, String)])],
    out: &mut Replacement,
) -> Result<Vec<&'a str>> {
    let mut pending: Vec<Pending<'a>> = persons
        .iter()
        .filter(|(_, batch)| !batch.is_empty())
        .map(|(person, batch)| {
            let first = batch.iter().map(|e| e.0).min().unwrap_or(0);
            let last = batch.iter().map(|e| e.0).max().unwrap_or(0);
            Pending {
                person,
                batch,
                // A day of margin on each side settles nearly every batch in one read.
                need: ((day_of(first) - 1) * DAY_MS, (day_of(last) + 2) * DAY_MS),
                sessions: batch
                    .iter()
                    .filter(|e| !e.1.is_empty())
                    .map(|e| e.1.clone())
                    .collect(),
            }
        })
        .collect();
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<&str> = pending.iter().map(|p| p.person).collect();
    let ids = ids_of(identity, project, &names);
    let mut held = Ranges::default();
    let mut held_sessions: BTreeSet<String> = BTreeSet::new();
    // Rows a later round reads again (a client session's events inside a range already held)
    // are kept twice; `by_person` skips repeated messageIds anyway.
    let mut rows: Vec<SessionInputRow> = Vec::new();
    for _ in 0..=MAX_WIDENINGS {
        // Read what the pending persons need and nobody has read yet.
        let mut wanted = Ranges::default();
        let mut window = EventWindow::default();
        for p in &pending {
            wanted.add(p.need);
            window.session_ids.extend(
                p.sessions
                    .iter()
                    .filter(|s| !held_sessions.contains(*s))
                    .cloned(),
            );
        }
        window.ranges = wanted.minus(&held);
        window.session_ids.sort();
        window.session_ids.dedup();
        let read = store.session_inputs_of_ids(project, &ids, Some(&window))?;
        out.events_read += read.len();
        rows.extend(read);
        for range in &window.ranges {
            held.add(*range);
        }
        held_sessions.extend(window.session_ids);
        // Each person whose sessions are settled by what is held is done; the others widen.
        let names: Vec<&str> = pending.iter().map(|p| p.person).collect();
        let per = by_person(identity, project, &names, &rows);
        let mut widening = Vec::new();
        for mut p in pending {
            let events = per.get(p.person).map_or(&[][..], Vec::as_slice);
            let days = settle(project, &mut p, events, version, &held, &held_sessions);
            match days {
                Some((days, sessions)) => {
                    out.sessions.extend(sessions);
                    out.replaced
                        .push((p.person.to_owned(), SessionScope::Days(days)));
                }
                None => widening.push(p),
            }
        }
        pending = widening;
        if pending.is_empty() {
            break;
        }
    }
    Ok(pending.into_iter().map(|p| p.person).collect())
}

/// Sessionizes one person's held events. When every event that could belong to a session of
/// the days the batch changed is held: those days and their sessions. Otherwise widens `p`'s
/// needs and returns `None`.
fn settle(
    project: &str,
    p: &mut Pending<'_>,
    events: &[SessionEvent<'_>],
    version: i64,
    held: &Ranges,
    held_sessions: &BTreeSet<String>,
) -> Option<(BTreeSet<i64>, Vec<SessionRow>)> {
    let sessions = sessionize(project, p.person, events, version);
    // The sessions holding the batch's events, with the sessions they merged, span these days.
    let mut days = BTreeSet::new();
    for (ts, client) in p.batch {
        let joined = sessions.iter().find(|s| {
            if client.is_empty() {
                s.start_ms <= *ts && *ts <= s.end_ms && is_inferred(s, p.person)
            } else {
                &s.session_id == client
            }
        });
        // The batch's own event is stored, so it is held and in a session.
        if let Some(s) = joined {
            days.extend(day_of(s.start_ms)..=day_of(s.end_ms));
        }
    }
    let (Some(&first), Some(&last)) = (days.first(), days.last()) else {
        return Some((days, Vec::new()));
    };
    let written: Vec<SessionRow> = sessions
        .into_iter()
        .filter(|s| days.contains(&day_of(s.start_ms)))
        .collect();
    // No unread event may join a written session or start one in the written days.
    let latest_end = written
        .iter()
        .map(|s| s.end_ms)
        .max()
        .unwrap_or(last * DAY_MS);
    let need = (
        first * DAY_MS - INACTIVITY_MS,
        ((last + 1) * DAY_MS).max(latest_end + INACTIVITY_MS + 1),
    );
    let clients: BTreeSet<String> = written
        .iter()
        .filter(|s| !is_inferred(s, p.person))
        .map(|s| s.session_id.clone())
        .collect();
    if held.covers(need) && clients.iter().all(|s| held_sessions.contains(s)) {
        return Some((days, written));
    }
    // Widen to whole days, so a long chain of activity takes few rounds.
    p.need = (
        p.need.0.min(day_of(need.0) * DAY_MS),
        p.need.1.max((day_of(need.1 - 1) + 1) * DAY_MS),
    );
    p.sessions.extend(clients);
    None
}

/// Whether `s` is a session split on inactivity (`"<person>:<start_ms>"`), not a client one.
fn is_inferred(s: &SessionRow, person: &str) -> bool {
    s.session_id
        .strip_prefix(person)
        .and_then(|rest| rest.strip_prefix(':'))
        .is_some_and(|start| start == s.start_ms.to_string())
}

/// Every raw id of the persons.
fn ids_of(identity: &IdentityMap, project: &str, persons: &[&str]) -> Vec<String> {
    let mut ids: BTreeSet<String> = BTreeSet::new();
    for p in persons {
        ids.extend(identity.ids_of(project, p));
    }
    ids.into_iter().collect()
}

/// The persons' events among `rows` (each messageId once), borrowed for the sessionizer.
fn by_person<'r>(
    identity: &IdentityMap,
    project: &str,
    persons: &[&'r str],
    rows: &'r [SessionInputRow],
) -> HashMap<&'r str, Vec<SessionEvent<'r>>> {
    let mut per: HashMap<&str, Vec<SessionEvent>> =
        persons.iter().map(|p| (*p, Vec::new())).collect();
    let mut seen = HashSet::new();
    for e in rows {
        if !seen.insert(e.message_id.as_str()) {
            continue;
        }
        let person = identity.resolve(project, &e.anonymous_id, &e.user_id);
        if let Some(events) = per.get_mut(person) {
            events.push(SessionEvent {
                ts_ms: e.ts_ms,
                session_id: &e.session_id,
            });
        }
    }
    per
}

/// A set of `[from, to)` time ranges, kept sorted and merged.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Ranges(Vec<(i64, i64)>);

impl Ranges {
    fn add(&mut self, (from, to): (i64, i64)) {
        if from >= to {
            return;
        }
        self.0.push((from, to));
        self.0.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(self.0.len());
        for &(f, t) in &self.0 {
            match merged.last_mut() {
                Some(last) if f <= last.1 => last.1 = last.1.max(t),
                _ => merged.push((f, t)),
            }
        }
        self.0 = merged;
    }

    fn covers(&self, (from, to): (i64, i64)) -> bool {
        from >= to || self.0.iter().any(|&(f, t)| f <= from && to <= t)
    }

    /// The parts of these ranges that `other` does not hold.
    fn minus(&self, other: &Ranges) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        for &(mut from, to) in &self.0 {
            for &(f, t) in &other.0 {
                if t <= from || f >= to {
                    continue;
                }
                if f > from {
                    out.push((from, f));
                }
                from = from.max(t);
            }
            if from < to {
                out.push((from, to));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
