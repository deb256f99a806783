//! Step events → funnel, the same for every store.

use std::collections::{BTreeMap, HashMap};

use super::params::MAX_STEPS;
use super::{Funnel, FunnelBreakdown, FunnelParams, FunnelStep, StepEvent};

/// One step event of a person: its time, its step code (the index of its name among the sorted
/// distinct step names) and its breakdown value (interned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit {
    pub ts_ms: i64,
    pub code: u8,
    pub breakdown: u32,
}

/// One chain of a person's step events: the times of the steps it reached, and the breakdown
/// value of its first step. A fixed array, because a chain is tried from every first-step event.
struct Chain {
    times: [i64; MAX_STEPS],
    depth: usize,
    breakdown: u32,
}

/// Builds a funnel one person at a time.
pub(crate) struct Accumulator<'p> {
    params: &'p FunnelParams,
    /// The code each step must have, in step order.
    wanted: Vec<u8>,
    /// Interned breakdown values; index 0 is `""`.
    values: Vec<String>,
    ids: HashMap<String, u32>,
    /// Per step: the time from the previous step of each person who reached it.
    total: Vec<Vec<i64>>,
    by: HashMap<u32, Vec<Vec<i64>>>,
}

impl<'p> Accumulator<'p> {
    pub(crate) fn new(params: &'p FunnelParams) -> Self {
        let names = super::sql::step_names(params);
        let wanted = params
            .steps
            .iter()
            .map(|s| names.iter().position(|n| n == s).unwrap_or(0) as u8)
            .collect();
        Self {
            params,
            wanted,
            values: vec![String::new()],
            ids: HashMap::from([(String::new(), 0)]),
            total: vec![Vec::new(); params.steps.len()],
            by: HashMap::new(),
        }
    }

    pub(crate) fn intern(&mut self, value: &str) -> u32 {
        if value.is_empty() {
            // Every row without a breakdown, and every step event after the first.
            return 0;
        }
        if let Some(id) = self.ids.get(value) {
            return *id;
        }
        let id = self.values.len() as u32;
        self.values.push(value.to_owned());
        self.ids.insert(value.to_owned(), id);
        id
    }

    /// Adds one person's step events (any order; drained).
    pub(crate) fn add_person(&mut self, hits: &mut Vec<Hit>) {
        let values = &self.values;
        // Time, then step name, then breakdown value: the order the chains are tried in.
        hits.sort_unstable_by(|a, b| {
            (a.ts_ms, a.code).cmp(&(b.ts_ms, b.code)).then_with(|| {
                if a.breakdown == b.breakdown {
                    std::cmp::Ordering::Equal
                } else {
                    values[a.breakdown as usize].cmp(&values[b.breakdown as usize])
                }
            })
        });
        hits.dedup();
        if let Some(chain) = self.best_chain(hits) {
            let times = &chain.times[..chain.depth];
            let mut per = if self.params.breakdown.is_some() {
                let k = self.params.steps.len();
                Some(
                    self.by
                        .entry(chain.breakdown)
                        .or_insert_with(|| vec![Vec::new(); k]),
                )
            } else {
                None
            };
            for (i, t) in times.iter().enumerate() {
                let delta = if i == 0 { 0 } else { t - times[i - 1] };
                self.total[i].push(delta);
                if let Some(per) = per.as_mut() {
                    per[i].push(delta);
                }
            }
        }
        hits.clear();
    }

    /// The deepest chain of one person: the first chain, in `hits`' order, to reach that depth.
    fn best_chain(&self, hits: &[Hit]) -> Option<Chain> {
        let p = self.params;
        let k = self.wanted.len();
        let mut best: Option<Chain> = None;
        for (i, first) in hits.iter().enumerate() {
            if first.code != self.wanted[0] || first.ts_ms < p.from_ms || first.ts_ms >= p.to_ms {
                continue;
            }
            let mut chain = Chain {
                times: [0; MAX_STEPS],
                depth: 1,
                breakdown: first.breakdown,
            };
            chain.times[0] = first.ts_ms;
            for e in &hits[i + 1..] {
                if e.ts_ms > first.ts_ms + p.window_ms || chain.depth == k {
                    break;
                }
                if e.code == self.wanted[chain.depth] {
                    chain.times[chain.depth] = e.ts_ms;
                    chain.depth += 1;
                }
            }
            if best.as_ref().is_none_or(|b| chain.depth > b.depth) {
                let done = chain.depth == k;
                best = Some(chain);
                if done {
                    break;
                }
            }
        }
        best
    }

    pub(crate) fn finish(self) -> Funnel {
        let p = self.params;
        let values = self.values;
        Funnel {
            total: steps(p, self.total),
            breakdowns: if p.breakdown.is_some() {
                self.by
                    .into_iter()
                    .map(|(id, d)| (values[id as usize].clone(), d))
                    .collect::<BTreeMap<_, _>>()
                    .into_iter()
                    .map(|(breakdown, d)| FunnelBreakdown {
                        breakdown,
                        steps: steps(p, d),
                    })
                    .collect()
            } else {
                Vec::new()
            },
        }
    }
}

/// Computes the funnel from step events ordered by person (a person's events are contiguous).
pub fn compute(p: &FunnelParams, events: &[StepEvent]) -> Funnel {
    let names = super::sql::step_names(p);
    let mut acc = Accumulator::new(p);
    let mut hits = Vec::new();
    let mut start = 0;
    while start < events.len() {
        let mut end = start;
        while end < events.len() && events[end].person == events[start].person {
            end += 1;
        }
        for e in &events[start..end] {
            if let Some(code) = names.iter().position(|n| *n == e.event) {
                let breakdown = acc.intern(&e.breakdown);
                hits.push(Hit {
                    ts_ms: e.ts_ms,
                    code: code as u8,
                    breakdown,
                });
            }
        }
        acc.add_person(&mut hits);
        start = end;
    }
    acc.finish()
}

fn steps(p: &FunnelParams, deltas: Vec<Vec<i64>>) -> Vec<FunnelStep> {
    let first = deltas.first().map_or(0, Vec::len) as i64;
    let mut prev = first;
    deltas
        .into_iter()
        .enumerate()
        .map(|(i, mut d)| {
            let count = d.len() as i64;
            let ratio = |a: i64, b: i64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
            let median = if i == 0 || d.is_empty() {
                None
            } else {
                d.sort_unstable();
                Some(d[(d.len() - 1) / 2])
            };
            let step = FunnelStep {
                step: i + 1,
                event: p.steps[i].clone(),
                count,
                conversion: ratio(count, first),
                conversion_from_previous: if i == 0 {
                    ratio(count, first)
                } else {
                    ratio(count, prev)
                },
                dropoff: if i == 0 { 0 } else { prev - count },
                median_ms_from_previous: median,
            };
            prev = count;
            step
        })
        .collect()
}
