//! Per-write-key rate limiting: `footfall_ingest::RateLimits` (`governor`'s GCRA, counted in events,
//! one limit for every key and keys' own limits), the same code the edge worker runs, read against
//! this process's monotonic clock.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use footfall_ingest::{RateLimit, RateLimits};

/// The rate limits of every write key.
#[derive(Debug)]
pub struct KeyLimiter {
    limits: RateLimits,
    started: Instant,
}

impl KeyLimiter {
    /// A limiter for `default` and the keys' own limits; `None` when no key is limited.
    pub fn new(
        default: Option<RateLimit>,
        per_key: &BTreeMap<String, Option<RateLimit>>,
    ) -> Option<Self> {
        Some(Self {
            limits: RateLimits::new(default, per_key)?,
            started: Instant::now(),
        })
    }

    /// Takes `events` from the key's budget, or says how long to wait.
    pub fn check(&self, write_key: &str, events: usize) -> Result<(), Duration> {
        self.limits.check(write_key, events, self.started.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    #[test]
    fn refuses_a_key_over_its_budget_but_not_others() {
        let limit = RateLimit {
            events_per_sec: NonZeroU32::new(1).unwrap(),
            burst: NonZeroU32::new(10).unwrap(),
        };
        let limiter = KeyLimiter::new(Some(limit), &BTreeMap::new()).unwrap();
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
