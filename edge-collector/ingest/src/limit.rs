//! Per-write-key rate limiting, counted in events rather than requests, with the time as a parameter.
//!
//! The algorithm is GCRA (the generic cell rate algorithm, as `governor` implements it): each key has a
//! theoretical arrival time `tat`; a request of `n` events moves it `n` emission intervals later, and is
//! refused when that would put `tat` more than `burst` intervals past now. One `u64` per key, no timer.
//!
//! The caller passes the time, so the same limiter serves the native collector (a monotonic
//! [`std::time::Instant`] since start) and the edge worker (`Date.now()`, where `Instant` does not
//! exist). In a Cloudflare Worker the state lives in one isolate, so the limit there is per isolate; the
//! origin collector enforces the global one.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

/// A per-write-key rate: a sustained rate and a burst, both in events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained events per second.
    pub events_per_sec: NonZeroU32,
    /// Events allowed at once.
    pub burst: NonZeroU32,
}

impl RateLimit {
    /// A limit of `events_per_sec` with the default burst: 4 × the rate, at least 1000 events.
    pub fn with_default_burst(events_per_sec: NonZeroU32) -> Self {
        let burst = events_per_sec.saturating_mul(NonZeroU32::new(4).unwrap_or(NonZeroU32::MIN));
        Self {
            events_per_sec,
            burst: burst.max(NonZeroU32::new(1000).unwrap_or(NonZeroU32::MIN)),
        }
    }
}

/// Keys idle long enough to be back at a full budget are forgotten once the table passes this size.
const PRUNE_AT: usize = 1024;

/// A rate limiter keyed by write key.
#[derive(Debug)]
pub struct KeyLimiter {
    /// Nanoseconds one event uses of the budget.
    interval: u64,
    /// How far past now a key's `tat` may be, in nanoseconds: `burst × interval`.
    tolerance: u64,
    burst: u32,
    state: Mutex<Table>,
}

#[derive(Debug)]
struct Table {
    tat: HashMap<String, u64>,
    prune_at: usize,
}

impl KeyLimiter {
    /// A limiter for `limit`.
    pub fn new(limit: RateLimit) -> Self {
        let interval = (1_000_000_000 / u64::from(limit.events_per_sec.get())).max(1);
        Self {
            interval,
            tolerance: interval.saturating_mul(u64::from(limit.burst.get())),
            burst: limit.burst.get(),
            state: Mutex::new(Table {
                tat: HashMap::new(),
                prune_at: PRUNE_AT,
            }),
        }
    }

    /// Takes `events` from the key's budget at time `now`, or says how long to wait.
    ///
    /// `now` is any clock's reading that only moves forward (time since the process started, or since
    /// the Unix epoch). A request larger than the burst is charged the whole burst, so it can still pass
    /// once the budget is full again instead of being refused forever.
    pub fn check(&self, write_key: &str, events: usize, now: Duration) -> Result<(), Duration> {
        let now = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
        let n = u32::try_from(events)
            .unwrap_or(u32::MAX)
            .clamp(1, self.burst);
        let cost = self.interval.saturating_mul(u64::from(n));
        let mut table = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let tat = table.tat.get(write_key).copied().unwrap_or(0).max(now);
        let new_tat = tat.saturating_add(cost);
        let ahead = new_tat - now;
        if ahead > self.tolerance {
            return Err(Duration::from_nanos(ahead - self.tolerance));
        }
        match table.tat.get_mut(write_key) {
            Some(slot) => *slot = new_tat,
            None => {
                table.tat.insert(write_key.to_owned(), new_tat);
                if table.tat.len() > table.prune_at {
                    // A key whose tat is in the past has its whole budget back: same as absent.
                    table.tat.retain(|_, tat| *tat > now);
                    table.prune_at = (table.tat.len() * 2).max(PRUNE_AT);
                }
            }
        }
        Ok(())
    }

    /// How many keys the limiter currently remembers.
    pub fn tracked_keys(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .tat
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(rate: u32, burst: u32) -> RateLimit {
        RateLimit {
            events_per_sec: NonZeroU32::new(rate).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
        }
    }

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn refuses_a_key_over_its_budget_but_not_others() {
        let limiter = KeyLimiter::new(limit(1, 10));
        assert!(limiter.check("a", 10, S).is_ok());
        assert_eq!(limiter.check("a", 1, S), Err(S));
        assert!(
            limiter.check("b", 50, S).is_ok(),
            "a request over the burst is charged the burst"
        );
    }

    #[test]
    fn the_budget_refills_at_the_rate() {
        let limiter = KeyLimiter::new(limit(10, 20));
        assert!(limiter.check("a", 20, S).is_ok());
        assert_eq!(
            limiter.check("a", 5, S),
            Err(Duration::from_millis(500)),
            "5 events at 10/s need half a second"
        );
        assert!(limiter
            .check("a", 5, S + Duration::from_millis(500))
            .is_ok());
        assert!(limiter
            .check("a", 1, S + Duration::from_millis(500))
            .is_err());
        // Long idle: the whole burst is back, not more.
        let later = S * 100;
        assert!(limiter.check("a", 20, later).is_ok());
        assert!(limiter.check("a", 1, later).is_err());
    }

    #[test]
    fn a_clock_that_steps_back_only_makes_the_limit_stricter() {
        let limiter = KeyLimiter::new(limit(1, 2));
        assert!(limiter.check("a", 2, S * 10).is_ok());
        assert!(limiter.check("a", 1, S * 5).is_err());
    }

    #[test]
    fn idle_keys_are_forgotten_when_the_table_grows() {
        let limiter = KeyLimiter::new(limit(1000, 1000));
        for i in 0..PRUNE_AT {
            limiter.check(&format!("k{i}"), 1, S).unwrap();
        }
        assert_eq!(limiter.tracked_keys(), PRUNE_AT);
        limiter.check("late", 1, S * 10).unwrap();
        assert_eq!(limiter.tracked_keys(), 1, "only the live key is left");
    }

    #[test]
    fn the_default_burst_is_four_times_the_rate_and_at_least_1000() {
        let rate = |r| {
            RateLimit::with_default_burst(NonZeroU32::new(r).unwrap())
                .burst
                .get()
        };
        assert_eq!(rate(10), 1000);
        assert_eq!(rate(5000), 20000);
    }
}
