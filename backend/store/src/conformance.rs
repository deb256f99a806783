//! The conformance suite: one generated dataset, loaded into every store, must give identical
//! rows to every query.
//!
//! [`Dataset::generate`] makes e-commerce journeys with drop-offs, duplicates, late events,
//! client sessions and anonymous visitors who log in (some on two devices). [`queries`] lists
//! every query over it; [`run_all`] runs them on a store and returns the raw rows (funnel and
//! retention answers are a deterministic function of those rows). [`clickhouse_check`] writes
//! the ClickHouse DDL, the data as JSONEachRow, and each query's ClickHouse SQL with the rows
//! DuckDB returned, for `backend/store/chdb_check.py` to replay on chDB and ClickHouse 18.16.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::json;

use crate::model::{EventRow, IdentityRow, SessionRow, SessionScope};
use crate::query::{funnel, retention, sessions, timeline, trends};
use crate::sessionize::{sessionize, SessionEvent};
use crate::{Cell, Dialect, Result, Sql, Store};

/// The project of the dataset.
pub const PROJECT: &str = "shop";
/// 2026-11-02T00:00:00Z, a Monday: the dataset's first day.
pub const BASE_MS: i64 = 1_793_577_600_000;
const DAY: i64 = 86_400_000;
/// The journey steps.
pub const STEPS: [&str; 5] = [
    "Product Viewed",
    "Products Searched",
    "Product Added",
    "Checkout Started",
    "Order Completed",
];

/// A generated dataset.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Events, with some exact duplicates.
    pub events: Vec<EventRow>,
    /// The identity map.
    pub identities: Vec<IdentityRow>,
    /// Sessions computed from the events (resolved through the map).
    pub sessions: Vec<SessionRow>,
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

impl Dataset {
    /// `persons` journeys over two weeks, deterministic for a seed.
    pub fn generate(persons: usize, seed: u64) -> Self {
        let mut rng = Rng(seed);
        let mut events = Vec::new();
        let mut identities = Vec::new();
        let mut n = 0u64;
        for p in 0..persons {
            let devices = if p % 7 == 0 { 2 } else { 1 };
            let logs_in = p % 3 != 2;
            let user = format!("user-{p}");
            let plan = if p % 2 == 0 { "free" } else { "pro" };
            for d in 0..devices {
                let anon = format!("anon-{p}-{d}");
                let platform = if d == 0 { "web" } else { "ios" };
                let visits = 1 + rng.below(4);
                for v in 0..visits {
                    let day = rng.below(14) as i64;
                    let mut ts = BASE_MS + day * DAY + rng.below(20 * 3600) as i64 * 1000;
                    let session = if platform == "ios" {
                        format!("s-{p}-{d}-{v}")
                    } else {
                        String::new()
                    };
                    let depth = 1 + rng.below(5) as usize;
                    for (i, step) in STEPS.iter().take(depth).enumerate() {
                        ts += (30 + rng.below(900)) as i64 * 1000;
                        // After login (step 3 on the first visit), events carry the userId.
                        let identified = logs_in && (v > 0 || i >= 2);
                        if logs_in && v == 0 && i == 2 && d == 0 {
                            n += 1;
                            identities.push(IdentityRow {
                                project_id: PROJECT.into(),
                                anonymous_id: anon.clone(),
                                user_id: user.clone(),
                                version: n as i64,
                            });
                            events.push(EventRow {
                                kind: "identify".into(),
                                event: "$identify".into(),
                                ..EventRow::track(PROJECT, &format!("m{n}"), "", &anon, &user, ts)
                            });
                        }
                        n += 1;
                        let row = EventRow::track(
                            PROJECT,
                            &format!("m{n}"),
                            step,
                            &anon,
                            if identified { &user } else { "" },
                            ts,
                        )
                        .with_properties(
                            json!({"plan": plan, "platform": platform, "price": i * 10}),
                        )
                        .with_session(&session);
                        if n % 10 == 0 {
                            events.push(row.clone()); // a redelivered copy
                        }
                        events.push(row);
                    }
                }
                if logs_in && d == 1 {
                    n += 1;
                    identities.push(IdentityRow {
                        project_id: PROJECT.into(),
                        anonymous_id: anon.clone(),
                        user_id: user.clone(),
                        version: n as i64,
                    });
                }
            }
        }
        // A late mobile backlog: events stamped two days back, arriving last.
        for i in 0..5 {
            n += 1;
            events.push(EventRow::track(
                PROJECT,
                &format!("m{n}"),
                "Product Viewed",
                "anon-late",
                "",
                BASE_MS + 2 * DAY + 5 * 3_600_000 + i * 60_000,
            ));
        }
        let sessions = sessions_of(&events, &identities, 1);
        Self {
            events,
            identities,
            sessions,
        }
    }

    /// Loads the dataset into a store.
    pub fn load(&self, store: &dyn Store) -> Result<()> {
        store.upsert_identities(&self.identities)?;
        for chunk in self.events.chunks(500) {
            store.insert_events(chunk)?;
        }
        let replaced: Vec<(String, SessionScope)> = self
            .sessions
            .iter()
            .map(|s| s.person_id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|person| (person, SessionScope::All))
            .collect();
        let version = self.sessions.iter().map(|s| s.version).max().unwrap_or(1);
        store.replace_sessions(PROJECT, version, &replaced, &self.sessions)
    }
}

/// Sessions of every person, events resolved through `identities`, deduplicated on messageId.
pub fn sessions_of(
    events: &[EventRow],
    identities: &[IdentityRow],
    version: i64,
) -> Vec<SessionRow> {
    let map: HashMap<&str, &str> = identities
        .iter()
        .map(|i| (i.anonymous_id.as_str(), i.user_id.as_str()))
        .collect();
    let mut seen = BTreeSet::new();
    let mut per: BTreeMap<&str, Vec<SessionEvent>> = BTreeMap::new();
    for e in events {
        if !seen.insert(&e.message_id) {
            continue;
        }
        let person = if !e.user_id.is_empty() {
            e.user_id.as_str()
        } else {
            map.get(e.anonymous_id.as_str())
                .copied()
                .unwrap_or(e.anonymous_id.as_str())
        };
        per.entry(person).or_default().push(SessionEvent {
            ts_ms: e.ts_ms,
            session_id: &e.session_id,
        });
    }
    per.iter()
        .flat_map(|(p, evs)| sessionize(PROJECT, p, evs, version))
        .collect()
}

/// A named query of the suite.
#[derive(Debug, Clone)]
pub struct NamedQuery {
    /// Its name.
    pub name: String,
    /// DuckDB SQL.
    pub duckdb: Sql,
    /// ClickHouse SQL.
    pub clickhouse: Sql,
    /// The funnel's queries: their rows are a set, which the engines return in any order, so
    /// the rows are compared sorted. The last cell of a per-id row (packed steps) is a list in
    /// any order, compared sorted and without repeats (ClickHouse repeats the copies of an event
    /// until a merge; see `funnel::build`).
    pub funnel_rows: bool,
}

/// Every query of the suite.
pub fn queries() -> Vec<NamedQuery> {
    let from = BASE_MS;
    let to = BASE_MS + 14 * DAY;
    let mut out = Vec::new();
    let mut add = |name: &str, f: &dyn Fn(Dialect) -> Sql| {
        out.push(NamedQuery {
            name: name.into(),
            duckdb: f(Dialect::DuckDb),
            clickhouse: f(Dialect::ClickHouse),
            funnel_rows: name.starts_with("funnel"),
        });
    };
    let t = |interval: &str, events: Vec<String>, breakdown: Option<&str>, to: i64| {
        trends::RawTrendsParams {
            events,
            from: from.into(),
            to: to.into(),
            interval: interval.into(),
            breakdown: breakdown.map(Into::into),
        }
        .validate(PROJECT)
        .expect("valid")
    };
    let p1 = t("hour", vec![], None, from + 3 * DAY);
    add("trends_hourly_all_events", &|d| trends::build(&p1, d));
    let p2 = t(
        "day",
        vec![STEPS[0].into(), STEPS[4].into()],
        Some("plan"),
        to,
    );
    add("trends_daily_breakdown_plan", &|d| trends::build(&p2, d));
    let p3 = t("week", vec![], Some("platform"), to);
    add("trends_weekly_breakdown_platform", &|d| {
        trends::build(&p3, d)
    });
    let f = |steps: &[&str], window: i64, breakdown: Option<&str>| {
        funnel::RawFunnelParams {
            steps: steps.iter().map(|s| (*s).to_owned()).collect(),
            from: from.into(),
            to: to.into(),
            window_seconds: Some(window),
            breakdown: breakdown.map(Into::into),
        }
        .validate(PROJECT)
        .expect("valid")
    };
    let f1 = f(&[STEPS[0], STEPS[2], STEPS[4]], 3600, Some("plan"));
    add("funnel_3_steps_by_plan", &|d| funnel::build(&f1, d));
    let f2 = f(&STEPS, 86_400, None);
    add("funnel_5_steps", &|d| funnel::build(&f2, d));
    add("funnel_identity_map", &|d| funnel::identity_map(PROJECT, d));
    for interval in ["day", "week"] {
        let r = retention::RawRetentionParams {
            cohort_event: STEPS[0].into(),
            return_event: STEPS[4].into(),
            from: from.into(),
            to: to.into(),
            interval: Some(interval.into()),
            periods: Some(3),
        }
        .validate(PROJECT)
        .expect("valid");
        add(&format!("retention_{interval}"), &|d| {
            retention::build(&r, d)
        });
    }
    for person in ["user-0", "anon-0-1", "anon-2-0", "anon-late"] {
        let p = timeline::RawTimelineParams {
            person: person.into(),
            limit: Some(100),
        }
        .validate(PROJECT)
        .expect("valid");
        add(&format!("timeline_{person}"), &|d| timeline::build(&p, d));
    }
    let s = sessions::RawSessionParams {
        from: from.into(),
        to: to.into(),
    }
    .validate(PROJECT)
    .expect("valid");
    add("session_stats", &|d| sessions::build(&s, d));
    out
}

/// Funnel rows as chdb_check.py compares them: a row per distinct id and breakdown value with
/// its packed steps, sorted as text, without repeats and joined by commas; the rows sorted by
/// their cells' text. DuckDB answers a row per id and value (`k,k,…`), ClickHouse a row per
/// step event (see [`crate::query::funnel::build`]): both come to the same rows.
fn canonical_funnel_rows(rows: Vec<Vec<Cell>>) -> Vec<Vec<Cell>> {
    let mut grouped: std::collections::BTreeMap<
        (String, String),
        std::collections::BTreeSet<String>,
    > = std::collections::BTreeMap::new();
    let mut other = Vec::new();
    for row in rows {
        match <[Cell; 3]>::try_from(row) {
            Ok([id, breakdown, packed]) => {
                let keys = grouped
                    .entry((id.as_string(), breakdown.as_string()))
                    .or_default();
                let packed = packed.as_string();
                let list = packed.strip_prefix('[').unwrap_or(&packed);
                let list = list.strip_suffix(']').unwrap_or(list);
                keys.extend(list.split(',').map(str::to_owned));
            }
            Err(row) => other.push(row),
        }
    }
    other.extend(grouped.into_iter().map(|((id, breakdown), keys)| {
        vec![
            Cell::Str(id),
            Cell::Str(breakdown),
            Cell::Str(keys.into_iter().collect::<Vec<_>>().join(",")),
        ]
    }));
    other.sort_by_cached_key(|r| r.iter().map(Cell::as_string).collect::<Vec<_>>());
    other
}

/// Runs every query on `store` (in its dialect): `(name, rows)`.
pub fn run_all(store: &dyn Store) -> Result<Vec<(String, Vec<Vec<Cell>>)>> {
    queries()
        .into_iter()
        .map(|q| {
            let sql = if store.dialect() == Dialect::DuckDb {
                &q.duckdb
            } else {
                &q.clickhouse
            };
            let mut rows = store.select(sql)?;
            if q.funnel_rows {
                rows = canonical_funnel_rows(rows);
            }
            Ok((q.name, rows))
        })
        .collect()
}

/// The ClickHouse check file: DDL, data, and each query's ClickHouse SQL with the expected rows
/// (as strings, from `expected`).
pub fn clickhouse_check(
    db: &str,
    data: &Dataset,
    expected: &[(String, Vec<Vec<Cell>>)],
) -> serde_json::Value {
    let ddl: Vec<String> = crate::clickhouse::migrations(db)
        .into_iter()
        .flat_map(|m| m.statements)
        .collect();
    let events: Vec<String> = data
        .events
        .iter()
        .map(|e| {
            json!({"project_id": e.project_id, "message_id": e.message_id, "type": e.kind, "event": e.event,
                   "anonymous_id": e.anonymous_id, "user_id": e.user_id, "distinct_id": e.distinct_id(),
                   "ts_ms": e.ts_ms, "received_ms": e.received_ms, "session_id": e.session_id, "properties": e.properties})
            .to_string()
        })
        .collect();
    let identities: Vec<String> = data
        .identities
        .iter()
        .map(|i| serde_json::to_string(i).unwrap_or_default())
        .collect();
    let mut sessions: Vec<String> = data
        .sessions
        .iter()
        .map(|s| serde_json::to_string(s).unwrap_or_default())
        .collect();
    // What versioned replacements leave behind in ClickHouse, which its session query must not
    // count (DuckDB never holds them): per person, an older version's session and the mark of the
    // whole replacement that dropped it, and, on a day without the person's sessions, a session
    // emptied by a later mark of its day.
    let version = data.sessions.iter().map(|s| s.version).max().unwrap_or(1);
    let first_day = crate::sessionize::day_of(BASE_MS);
    let mut days_of: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
    for s in &data.sessions {
        days_of
            .entry(s.person_id.as_str())
            .or_default()
            .insert(crate::sessionize::day_of(s.start_ms));
    }
    for (person, days) in days_of {
        let row = |session_id: &str, day: i64, event_count: i64, version: i64| {
            let start_ms = day.max(0) * crate::sessionize::DAY_MS + 3_600_000;
            json!({"project_id": PROJECT, "person_id": person, "session_id": session_id,
                   "start_ms": start_ms, "end_ms": start_ms + 60_000, "event_count": event_count,
                   "version": version, "day": day})
            .to_string()
        };
        sessions.push(row("stale", first_day + 3, 2, version - 1));
        sessions.push(row("~all", -1, 0, version));
        if let Some(free) = (first_day..first_day + 14).find(|d| !days.contains(d)) {
            sessions.push(row("emptied", free, 1, version));
            sessions.push(row(&format!("~day:{free}"), free, 0, version + 1));
        }
    }
    let by_name: HashMap<&str, &Vec<Vec<Cell>>> =
        expected.iter().map(|(n, r)| (n.as_str(), r)).collect();
    let queries: Vec<serde_json::Value> = queries()
        .into_iter()
        .map(|q| {
            let rows: Vec<Vec<String>> = by_name
                .get(q.name.as_str())
                .map(|rows| {
                    rows.iter()
                        .map(|r| r.iter().map(Cell::as_string).collect())
                        .collect()
                })
                .unwrap_or_default();
            json!({"name": q.name, "sql": q.clickhouse.text, "expected": rows, "funnel_rows": q.funnel_rows})
        })
        .collect();
    json!({
        "database": db,
        "ddl": ddl,
        "inserts": [
            {"table": "events", "rows": events},
            {"table": "identities", "rows": identities},
            {"table": "sessions", "rows": sessions},
        ],
        "queries": queries,
    })
}
