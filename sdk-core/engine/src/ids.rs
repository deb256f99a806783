//! UUIDv7 ids for messages, anonymous users and sessions.
//!
//! Version 7 puts the creation time in the high bits, so ids sort by time: the backend's ReplacingMergeTree
//! and the SDK's own queue both benefit from that locality.

use crate::clock::Millis;

/// Makes UUIDv7 strings from a seeded generator, so tests are reproducible and the platform chooses the
/// entropy source (the OS on mobile, `crypto.getRandomValues` on the web).
#[derive(Debug, Clone)]
pub(crate) struct IdGenerator {
    rng: fastrand::Rng,
}

impl IdGenerator {
    pub(crate) fn new(seed: u64) -> Self {
        IdGenerator {
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    pub(crate) fn uuid_v7(&mut self, now: Millis) -> String {
        let mut random = [0u8; 10];
        random[..8].copy_from_slice(&self.rng.u64(..).to_le_bytes());
        random[8..].copy_from_slice(&self.rng.u16(..).to_le_bytes());
        let millis = u64::try_from(now).unwrap_or(0);
        uuid::Builder::from_unix_timestamp_millis(millis, &random)
            .into_uuid()
            .hyphenated()
            .to_string()
    }

    /// A uniformly random duration in `0..=max_millis`, for full-jitter backoff.
    pub(crate) fn jitter(&mut self, max_millis: u64) -> u64 {
        self.rng.u64(0..=max_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_version_7_unique_and_time_ordered() {
        let mut ids = IdGenerator::new(7);
        let a = ids.uuid_v7(1_700_000_000_000);
        let b = ids.uuid_v7(1_700_000_000_001);
        let parsed = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(parsed.get_version_num(), 7);
        assert_ne!(a, b);
        assert!(a < b, "{a} should sort before {b}");
    }
}
