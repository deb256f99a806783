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
}
