//! Per-write-key rate limiting: `footfall_ingest::KeyLimiter` (`governor`'s GCRA, counted in events), the
//! same code the edge worker runs, read against this process's monotonic clock.

use std::time::{Duration, Instant};

use footfall_ingest::RateLimit;

/// A rate limiter keyed by write key.
#[derive(Debug)]
pub struct KeyLimiter {
    limiter: footfall_ingest::KeyLimiter,
    started: Instant,
}

impl KeyLimiter {
    /// A limiter for the configured rate.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limiter: footfall_ingest::KeyLimiter::new(limit),
            started: Instant::now(),
        }
    }

    /// Takes `events` from the key's budget, or says how long to wait.
    pub fn check(&self, write_key: &str, events: usize) -> Result<(), Duration> {
        self.limiter
            .check(write_key, events, self.started.elapsed())
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
