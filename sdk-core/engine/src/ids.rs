//! UUIDv7 ids for messages, anonymous users and sessions.
//!
//! Version 7 puts the creation time in the high bits, so ids sort by time: the backend's ReplacingMergeTree
//! and the SDK's own queue both benefit from that locality. The layout is RFC 9562's, written here
//! rather than with the `uuid` crate because its formatting goes through `core::fmt`, which the
//! WebAssembly build leaves out; a test checks the result against the crate.

use alloc::string::String;

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
        let millis = u64::try_from(now).unwrap_or(0);
        let random = self.rng.u64(..);
        // 48 bits of milliseconds, the version (7), 12 random bits, the variant (0b10), 62 random bits.
        let high = (millis & 0xFFFF_FFFF_FFFF) << 16 | 0x7000 | (random >> 52);
        let low = (random << 12 | u64::from(self.rng.u16(..) & 0xFFF)) & (u64::MAX >> 2) | 1 << 63;
        // Written into a fixed buffer and copied once: pushing 36 chars one by one costs several times
        // more in WebAssembly.
        let mut text = [b'-'; 36];
        let mut at = 0;
        for i in 0..32 {
            if matches!(i, 8 | 12 | 16 | 20) {
                at += 1;
            }
            let word = if i < 16 { high } else { low };
            let nibble = (word >> (60 - (i % 16) * 4)) & 15;
            text[at] = b"0123456789abcdef"[nibble as usize];
            at += 1;
        }
        core::str::from_utf8(&text).map_or_else(|_| String::new(), String::from)
    }

    /// A uniformly random duration in `0..=max_millis`, for full-jitter backoff.
    pub(crate) fn jitter(&mut self, max_millis: u64) -> u64 {
        self.rng.u64(0..=max_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn ids_are_version_7_unique_and_time_ordered() {
        let mut ids = IdGenerator::new(7);
        let a = ids.uuid_v7(1_700_000_000_000);
        let b = ids.uuid_v7(1_700_000_000_001);
        let parsed = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(parsed.get_version_num(), 7);
        assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122);
        assert_eq!(parsed.hyphenated().to_string(), a, "lowercase, hyphenated");
        let (secs, nanos) = parsed.get_timestamp().unwrap().to_unix();
        assert_eq!(
            secs * 1000 + u64::from(nanos) / 1_000_000,
            1_700_000_000_000
        );
        assert_ne!(a, b);
        assert!(a < b, "{a} should sort before {b}");
        let mut seen = std::collections::HashSet::new();
        assert!((0..1000).all(|_| seen.insert(ids.uuid_v7(1_700_000_000_002))));
    }
}
