//! Per-write-key rate limiting: `footfall_ingest::KeyLimiter` (`governor`'s GCRA, counted in events), the
//! same code the edge worker runs, read against this process's monotonic clock.
//!
//! One limit applies to every key (`rate_limit_*`), and `[rate_limits.<write key>]` replaces it for
//! the keys it names: a large source gets more, a shared test key less, and a trusted server source can
//! be exempt.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use footfall_ingest::RateLimit;

/// The rate limits of every write key.
#[derive(Debug)]
pub struct KeyLimiter {
    /// For the keys without a limit of their own.
    default: Option<footfall_ingest::KeyLimiter>,
    /// The keys with a limit of their own; `None` exempts the key.
    per_key: HashMap<String, Option<footfall_ingest::KeyLimiter>>,
    started: Instant,
}

impl KeyLimiter {
    /// A limiter for `default` and the keys' own limits; `None` when no key is limited.
    pub fn new(
        default: Option<RateLimit>,
        per_key: &BTreeMap<String, Option<RateLimit>>,
    ) -> Option<Self> {
        if default.is_none() && per_key.values().all(Option::is_none) {
            return None;
        }
        Some(Self {
            default: default.map(footfall_ingest::KeyLimiter::new),
            per_key: per_key
                .iter()
                .map(|(key, limit)| (key.clone(), limit.map(footfall_ingest::KeyLimiter::new)))
                .collect(),
            started: Instant::now(),
        })
    }

    /// Takes `events` from the key's budget, or says how long to wait.
    pub fn check(&self, write_key: &str, events: usize) -> Result<(), Duration> {
        let limiter = match self.per_key.get(write_key) {
            Some(own) => own.as_ref(),
            None => self.default.as_ref(),
        };
        match limiter {
            Some(limiter) => limiter.check(write_key, events, self.started.elapsed()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    fn limit(events_per_sec: u32, burst: u32) -> RateLimit {
        RateLimit {
            events_per_sec: NonZeroU32::new(events_per_sec).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
        }
    }

    #[test]
    fn refuses_a_key_over_its_budget_but_not_others() {
        let limiter = KeyLimiter::new(Some(limit(1, 10)), &BTreeMap::new()).unwrap();
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

    #[test]
    fn a_keys_own_limit_replaces_the_default_and_none_exempts_it() {
        let per_key = BTreeMap::from([
            ("big".to_owned(), Some(limit(1, 100))),
            ("trusted".to_owned(), None),
        ]);
        let limiter = KeyLimiter::new(Some(limit(1, 10)), &per_key).unwrap();
        assert!(limiter.check("small", 10).is_ok());
        assert!(
            limiter.check("small", 1).is_err(),
            "the default burst of 10"
        );
        assert!(limiter.check("big", 100).is_ok(), "its own burst of 100");
        assert!(limiter.check("big", 1).is_err());
        for _ in 0..100 {
            assert!(limiter.check("trusted", 1_000).is_ok());
        }
    }

    #[test]
    fn only_the_keys_with_a_limit_of_their_own_are_limited_without_a_default() {
        assert!(KeyLimiter::new(None, &BTreeMap::new()).is_none());
        assert!(KeyLimiter::new(None, &BTreeMap::from([("k".to_owned(), None)])).is_none());
        let per_key = BTreeMap::from([("shared-test-key".to_owned(), Some(limit(1, 5)))]);
        let limiter = KeyLimiter::new(None, &per_key).unwrap();
        assert!(limiter.check("shared-test-key", 5).is_ok());
        assert!(limiter.check("shared-test-key", 1).is_err());
        assert!(limiter.check("other", 1_000_000).is_ok());
    }
}
