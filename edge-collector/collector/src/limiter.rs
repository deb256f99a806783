//! Per-write-key rate limiting with `governor` (GCRA), counted in events rather than requests.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::config::RateLimit;

/// A rate limiter keyed by write key.
#[derive(Debug)]
pub struct KeyLimiter {
    limiter: DefaultKeyedRateLimiter<String>,
    burst: NonZeroU32,
}

impl KeyLimiter {
    /// A limiter for the configured rate.
    pub fn new(limit: RateLimit) -> Self {
        let quota = Quota::per_second(limit.events_per_sec).allow_burst(limit.burst);
        Self {
            limiter: DefaultKeyedRateLimiter::keyed(quota),
            burst: limit.burst,
        }
    }

    /// Takes `events` from the key's budget, or says how long to wait.
    ///
    /// A request larger than the burst is charged the whole burst, so it can still pass once the budget
    /// is full again instead of being refused forever.
    pub fn check(&self, write_key: &str, events: usize) -> Result<(), Duration> {
        let n = u32::try_from(events)
            .unwrap_or(u32::MAX)
            .clamp(1, self.burst.get());
        let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        match self.limiter.check_key_n(&write_key.to_owned(), n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(not_until.wait_time_from(DefaultClock::default().now())),
            Err(_) => Err(Duration::from_secs(1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_key_over_its_budget_but_not_others() {
        let limit = RateLimit {
            events_per_sec: NonZeroU32::new(1).unwrap(),
            burst: NonZeroU32::new(10).unwrap(),
        };
        let limiter = KeyLimiter::new(limit);
        assert!(limiter.check("a", 10).is_ok());
        let wait = limiter.check("a", 1).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(
            limiter.check("b", 50).is_ok(),
            "a request over the burst is charged the burst"
        );
    }
}
