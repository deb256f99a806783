//! Retention planning: which of the oldest segments may go. Pure, so the
//! rules are tested without files; the writer thread carries out the plan.
//!
//! Rules, applied oldest segment first and stopping at the first segment
//! that must stay (the log is always one contiguous range of offsets):
//! - the active (newest) segment is never deleted;
//! - with `protect_unconsumed`, a segment stays until every registered
//!   consumer group has committed an offset at or past its end;
//! - otherwise it goes if the log is over `max_bytes`, if its newest record
//!   is older than `max_age`, or if the disk budget needs the space.

use std::time::{Duration, SystemTime};

/// What retention needs to know about one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentUsage {
    pub(crate) base: u64,
    pub(crate) bytes: u64,
    /// When the segment was last written: the age of its newest record.
    pub(crate) last_write: SystemTime,
}

/// The limits in force for one retention pass.
#[derive(Debug, Clone, Default)]
pub(crate) struct Policy {
    pub(crate) max_bytes: Option<u64>,
    pub(crate) max_age: Option<Duration>,
    /// The slowest registered consumer: `(group, committed offset)`. `None`
    /// when nothing is protected.
    pub(crate) slowest_consumer: Option<(String, u64)>,
    /// Bytes the disk budget needs freed, beyond the other rules.
    pub(crate) free_at_least: u64,
}

/// A consumer group that kept a segment another rule wanted gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeldBy {
    pub(crate) group: String,
    /// The group's committed offset.
    pub(crate) offset: u64,
    /// Base offset of the segment it kept.
    pub(crate) segment: u64,
}

/// The outcome of planning.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Plan {
    /// Delete this many of the oldest segments.
    pub(crate) delete: usize,
    /// Bytes those segments hold.
    pub(crate) freed: u64,
    /// Set when a consumer kept a segment that another rule wanted gone.
    pub(crate) held_by: Option<HeldBy>,
}

pub(crate) fn plan(segments: &[SegmentUsage], policy: &Policy, now: SystemTime) -> Plan {
    let mut total: u64 = segments.iter().map(|s| s.bytes).sum();
    let mut plan = Plan::default();
    // The last segment is the active one: only the ones before it qualify.
    for (i, segment) in segments
        .iter()
        .enumerate()
        .take(segments.len().saturating_sub(1))
    {
        let over_size = policy.max_bytes.is_some_and(|max| total > max);
        let expired = policy.max_age.is_some_and(|max_age| {
            now.duration_since(segment.last_write)
                .is_ok_and(|age| age > max_age)
        });
        let budget = plan.freed < policy.free_at_least;
        if !(over_size || expired || budget) {
            break;
        }
        let end = segments[i + 1].base;
        if let Some((group, offset)) = &policy.slowest_consumer {
            if *offset < end {
                plan.held_by = Some(HeldBy {
                    group: group.clone(),
                    offset: *offset,
                    segment: segment.base,
                });
                break;
            }
        }
        plan.delete += 1;
        plan.freed += segment.bytes;
        total -= segment.bytes;
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    /// Four segments of 100 bytes at bases 0, 10, 20, 30, written 40, 30,
    /// 20 and 10 minutes before `now`.
    fn segments(now: SystemTime) -> Vec<SegmentUsage> {
        (0..4u32)
            .map(|i| SegmentUsage {
                base: u64::from(i) * 10,
                bytes: 100,
                last_write: now - MINUTE * (40 - 10 * i),
            })
            .collect()
    }

    #[test]
    fn nothing_goes_without_a_limit() {
        let now = SystemTime::now();
        assert_eq!(
            plan(&segments(now), &Policy::default(), now),
            Plan::default()
        );
    }

    #[test]
    fn max_bytes_deletes_oldest_until_under_the_limit() {
        let now = SystemTime::now();
        let policy = Policy {
            max_bytes: Some(250),
            ..Policy::default()
        };
        let plan = plan(&segments(now), &policy, now);
        assert_eq!((plan.delete, plan.freed), (2, 200));
    }

    #[test]
    fn max_age_deletes_segments_whose_newest_record_is_too_old() {
        let now = SystemTime::now();
        let policy = Policy {
            max_age: Some(25 * MINUTE),
            ..Policy::default()
        };
        assert_eq!(plan(&segments(now), &policy, now).delete, 2);
    }

    #[test]
    fn the_active_segment_is_never_deleted() {
        let now = SystemTime::now();
        let policy = Policy {
            max_bytes: Some(0),
            free_at_least: u64::MAX,
            ..Policy::default()
        };
        assert_eq!(plan(&segments(now), &policy, now).delete, 3);
    }

    #[test]
    fn an_unconsumed_segment_is_kept_and_the_consumer_named() {
        let now = SystemTime::now();
        let policy = Policy {
            max_bytes: Some(0),
            // Has read segment 0 (offsets 0..10) and part of segment 10.
            slowest_consumer: Some(("backend".to_owned(), 15)),
            ..Policy::default()
        };
        let plan = plan(&segments(now), &policy, now);
        assert_eq!(plan.delete, 1);
        let held_by = plan.held_by.unwrap();
        assert_eq!(
            (held_by.group.as_str(), held_by.offset, held_by.segment),
            ("backend", 15, 10)
        );
    }

    #[test]
    fn the_disk_budget_frees_just_enough() {
        let now = SystemTime::now();
        let policy = Policy {
            free_at_least: 150,
            ..Policy::default()
        };
        assert_eq!(plan(&segments(now), &policy, now).freed, 200);
    }
}
