//! Per-write-key rate limiting, counted in events rather than requests, with the time as a parameter.
//!
//! The limiter is `governor`'s keyed GCRA (the generic cell rate algorithm): each key has a theoretical
//! arrival time; a request of `n` events moves it `n` emission intervals later, and is refused when that
//! would put it more than the burst past now.
//!
//! The caller passes the time, so the same limiter serves the native collector (a monotonic
//! [`std::time::Instant`] since start) and the edge worker (`Date.now()`: wasm32-unknown-unknown has no
//! `Instant`). governor reads time only through its [`Clock`] trait, so [`CallerClock`] is a clock that
//! shows the latest time a caller passed. In a Cloudflare Worker the state lives in one isolate, so the
//! limit there is per isolate; the origin collector enforces the global one.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};

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

    /// The limit a setting of `events_per_sec` (0: no limit) and an optional burst describe, with the
    /// default burst when none is given: the one rule of the collector's and the edge worker's
    /// settings.
    pub fn from_settings(events_per_sec: u32, burst: Option<NonZeroU32>) -> Option<Self> {
        NonZeroU32::new(events_per_sec).map(|events_per_sec| {
            let default = Self::with_default_burst(events_per_sec);
            Self {
                burst: burst.unwrap_or(default.burst),
                ..default
            }
        })
    }
}

/// Keys idle long enough to be back at a full budget are forgotten once the table passes this size.
const PRUNE_AT: usize = 1024;

/// Times are capped here so that governor's `Nanos` sums (time + burst × interval, at most about
/// 4.3 × 10^18 ns) cannot overflow: half of `u64::MAX` nanoseconds is about 292 years, past any
/// Unix-epoch reading this code will see.
const MAX_NANOS: u64 = u64::MAX / 2;

/// A [`governor::clock::Clock`] that shows the latest time a caller passed to [`KeyLimiter::check`].
///
/// It only moves forward: concurrent callers each store their reading with `fetch_max`, so a check sees
/// a time at least its own, and never later than a reading some caller really took. A clock that steps
/// back therefore only makes the limit stricter until it catches up.
#[derive(Debug, Default)]
struct CallerClock {
    nanos: AtomicU64,
}

impl CallerClock {
    fn advance_to(&self, now: Duration) {
        let nanos = u64::try_from(now.as_nanos())
            .unwrap_or(u64::MAX)
            .min(MAX_NANOS);
        self.nanos.fetch_max(nanos, Ordering::AcqRel);
    }
}

impl Clock for CallerClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(self.nanos.load(Ordering::Acquire))
    }
}

type Keyed = RateLimiter<String, HashMapStateStore<String>, CallerClock, NoOpMiddleware<Nanos>>;

/// A rate limiter keyed by write key.
#[derive(Debug)]
pub struct KeyLimiter {
    limiter: Keyed,
    burst: NonZeroU32,
    /// What a full burst takes to refill: the answer if governor ever says the request cannot fit.
    full_refill: Duration,
    /// Table size that triggers the next [`RateLimiter::retain_recent`].
    prune_at: AtomicUsize,
}

impl KeyLimiter {
    /// A limiter for `limit`.
    pub fn new(limit: RateLimit) -> Self {
        let quota = Quota::per_second(limit.events_per_sec).allow_burst(limit.burst);
        Self {
            // The clock reads 0 here, so governor's start is 0 and its times are the callers' own.
            limiter: RateLimiter::hashmap_with_clock(quota, CallerClock::default()),
            burst: limit.burst,
            full_refill: quota.burst_size_replenished_in(),
            prune_at: AtomicUsize::new(PRUNE_AT),
        }
    }

    /// Takes `events` from the key's budget at time `now`, or says how long to wait.
    ///
    /// `now` is any clock's reading that only moves forward (time since the process started, or since
    /// the Unix epoch). A request larger than the burst is charged the whole burst, so it can still pass
    /// once the budget is full again instead of being refused forever.
    pub fn check(&self, write_key: &str, events: usize, now: Duration) -> Result<(), Duration> {
        let n = u32::try_from(events)
            .unwrap_or(u32::MAX)
            .clamp(1, self.burst.get());
        let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        let clock = self.limiter.clock();
        clock.advance_to(now);
        // governor's keyed API takes `&K`: one short copy of the key per request, not per event.
        match self.limiter.check_key_n(&write_key.to_owned(), n) {
            Ok(Ok(())) => {
                self.prune();
                Ok(())
            }
            Ok(Err(not_until)) => Err(not_until.wait_time_from(clock.now())),
            // Unreachable after the clamp to the burst; refusing is the safe answer.
            Err(_insufficient) => Err(self.full_refill),
        }
    }

    /// Forgets keys whose budget is full again once the table has grown past `prune_at`, so that a
    /// stream of one-off keys cannot grow it without bound.
    fn prune(&self) {
        let prune_at = self.prune_at.load(Ordering::Relaxed);
        if self.limiter.len() > prune_at {
            self.limiter.retain_recent();
            self.prune_at
                .store((self.limiter.len() * 2).max(PRUNE_AT), Ordering::Relaxed);
        }
    }

    /// How many keys the limiter currently remembers.
    pub fn tracked_keys(&self) -> usize {
        self.limiter.len()
    }
}

/// One write key's own limit, as the collector's `[rate_limits.<write key>]` table and the edge
/// worker's `RATE_LIMITS` entry spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRateLimit {
    /// Events per second; 0 exempts the key from rate limiting.
    pub events_per_sec: u32,
    /// Events the key may send at once above its rate [default: 4 × the rate, at least 1000].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
}

impl KeyRateLimit {
    /// The limit this sets, `None` for an exempt key; `Err` says what is wrong with it.
    pub fn limit(self) -> Result<Option<RateLimit>, &'static str> {
        match (self.events_per_sec, self.burst) {
            (0, Some(_)) => Err("a burst needs events_per_sec above 0 (0 exempts the key)"),
            (_, Some(0)) => Err("burst must be at least 1"),
            (rate, burst) => Ok(RateLimit::from_settings(
                rate,
                burst.and_then(NonZeroU32::new),
            )),
        }
    }

    /// The table that sets `limit` (`None`: exempt).
    pub fn from_limit(limit: Option<RateLimit>) -> Self {
        Self {
            events_per_sec: limit.map_or(0, |l| l.events_per_sec.get()),
            burst: limit.map(|l| l.burst.get()),
        }
    }
}

/// Every write key's rate limit: one for all keys, and keys' own limits that replace it for them (a
/// large source gets more, a shared test key less, a trusted server source none).
#[derive(Debug)]
pub struct RateLimits {
    /// For the keys without a limit of their own.
    default: Option<KeyLimiter>,
    /// The keys with a limit of their own; `None` exempts the key.
    per_key: HashMap<String, Option<KeyLimiter>>,
}

impl RateLimits {
    /// The limits for `default` and the keys' own; `None` when no key is limited.
    pub fn new(
        default: Option<RateLimit>,
        per_key: &BTreeMap<String, Option<RateLimit>>,
    ) -> Option<Self> {
        if default.is_none() && per_key.values().all(Option::is_none) {
            return None;
        }
        Some(Self {
            default: default.map(KeyLimiter::new),
            per_key: per_key
                .iter()
                .map(|(key, limit)| (key.clone(), limit.map(KeyLimiter::new)))
                .collect(),
        })
    }

    /// Takes `events` from the key's budget at time `now` (see [`KeyLimiter::check`]), or says how
    /// long to wait.
    pub fn check(&self, write_key: &str, events: usize, now: Duration) -> Result<(), Duration> {
        let limiter = match self.per_key.get(write_key) {
            Some(own) => own.as_ref(),
            None => self.default.as_ref(),
        };
        match limiter {
            Some(limiter) => limiter.check(write_key, events, now),
            None => Ok(()),
        }
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
    fn unix_epoch_readings_work_like_uptime_readings() {
        // The edge worker passes Date.now(), about 1.7 × 10^9 s after the epoch.
        let limiter = KeyLimiter::new(limit(10, 20));
        let now = Duration::from_millis(1_764_000_000_123);
        assert!(limiter.check("a", 20, now).is_ok());
        assert_eq!(limiter.check("a", 5, now), Err(Duration::from_millis(500)));
        assert!(limiter
            .check("a", 5, now + Duration::from_millis(500))
            .is_ok());
    }

    #[test]
    fn an_absurd_time_neither_panics_nor_opens_the_limit() {
        let limiter = KeyLimiter::new(limit(1, 10));
        assert!(limiter.check("a", 10, Duration::MAX).is_ok());
        assert!(limiter.check("a", 10, Duration::MAX).is_err());
        assert!(limiter.check("b", usize::MAX, Duration::MAX).is_ok());
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

    #[test]
    fn a_keys_own_limit_replaces_the_default_and_none_exempts_it() {
        let per_key = BTreeMap::from([
            ("big".to_owned(), Some(limit(1, 100))),
            ("trusted".to_owned(), None),
        ]);
        let limits = RateLimits::new(Some(limit(1, 10)), &per_key).unwrap();
        assert!(limits.check("small", 10, S).is_ok());
        assert!(
            limits.check("small", 1, S).is_err(),
            "the default burst of 10"
        );
        assert!(limits.check("big", 100, S).is_ok(), "its own burst of 100");
        assert!(limits.check("big", 1, S).is_err());
        for _ in 0..100 {
            assert!(limits.check("trusted", 1_000, S).is_ok());
        }
    }

    #[test]
    fn only_the_keys_with_a_limit_of_their_own_are_limited_without_a_default() {
        assert!(RateLimits::new(None, &BTreeMap::new()).is_none());
        assert!(RateLimits::new(None, &BTreeMap::from([("k".to_owned(), None)])).is_none());
        let per_key = BTreeMap::from([("shared-test-key".to_owned(), Some(limit(1, 5)))]);
        let limits = RateLimits::new(None, &per_key).unwrap();
        assert!(limits.check("shared-test-key", 5, S).is_ok());
        assert!(limits.check("shared-test-key", 1, S).is_err());
        assert!(limits.check("other", 1_000_000, S).is_ok());
    }

    #[test]
    fn a_key_rate_limit_table_is_read_with_the_default_burst_and_checked() {
        let table = |events_per_sec, burst| KeyRateLimit {
            events_per_sec,
            burst,
        };
        assert_eq!(table(500, None).limit(), Ok(Some(limit(500, 2000))));
        assert_eq!(table(10, None).limit(), Ok(Some(limit(10, 1000))));
        assert_eq!(table(10, Some(20)).limit(), Ok(Some(limit(10, 20))));
        assert_eq!(table(0, None).limit(), Ok(None));
        assert!(table(0, Some(5)).limit().is_err());
        assert_eq!(table(10, Some(0)).limit(), Err("burst must be at least 1"));
        for limit in [None, Some(limit(10, 20))] {
            assert_eq!(KeyRateLimit::from_limit(limit).limit(), Ok(limit));
        }
    }
}
