//! ISO 8601 parsing and the clock-skew correction.
//!
//! Clients stamp `timestamp` (when the event happened) and `sentAt` (when this attempt was sent) with
//! their own clock. The collector trusts the interval between the two, not the clock:
//! `timestamp = receivedAt − (sentAt − timestamp)`. Without `sentAt` the client's timestamp is kept.
//! A result more than [`MAX_FUTURE`] after `receivedAt` is clamped to `receivedAt` and flagged.

use time::format_description::well_known::{Iso8601, Rfc3339};
use time::{Duration, OffsetDateTime, PrimitiveDateTime};

/// How far in the future an event may be before it is clamped.
pub const MAX_FUTURE: Duration = Duration::hours(23);

/// Parses an ISO 8601 timestamp: RFC 3339 with any offset and fraction, or without an offset (read as UTC).
pub fn parse_timestamp(text: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(t);
    }
    if let Ok(t) = OffsetDateTime::parse(text, &Iso8601::DEFAULT) {
        return Some(t);
    }
    PrimitiveDateTime::parse(text, &Iso8601::DEFAULT)
        .ok()
        .map(PrimitiveDateTime::assume_utc)
}

/// The event time after skew correction, and whether it was clamped.
pub fn corrected_timestamp(
    timestamp: Option<OffsetDateTime>,
    sent_at: Option<OffsetDateTime>,
    received_at: OffsetDateTime,
) -> (OffsetDateTime, bool) {
    let corrected = match (timestamp, sent_at) {
        (Some(ts), Some(sent)) => received_at - (sent - ts),
        (Some(ts), None) => ts,
        (None, _) => received_at,
    };
    if corrected - received_at > MAX_FUTURE {
        (received_at, true)
    } else {
        (corrected, false)
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn unix_millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> OffsetDateTime {
        parse_timestamp(s).unwrap()
    }

    #[test]
    fn parses_offsets_microseconds_and_naive_times() {
        assert_eq!(
            t("2026-11-22T10:00:00.123456Z"),
            t("2026-11-22T11:00:00.123456+01:00")
        );
        assert_eq!(t("2026-11-22T10:00:00.123456").nanosecond(), 123_456_000);
        assert_eq!(t("2026-11-22T10:00:00Z").unix_timestamp(), 1_795_341_600);
        assert!(parse_timestamp("yesterday").is_none());
    }

    #[test]
    fn corrects_a_client_clock_that_is_an_hour_fast() {
        let received = t("2026-11-22T10:00:00Z");
        let (ts, clamped) = corrected_timestamp(
            Some(t("2026-11-22T10:59:50Z")),
            Some(t("2026-11-22T11:00:00Z")),
            received,
        );
        assert_eq!(ts, t("2026-11-22T09:59:50Z"));
        assert!(!clamped);
    }

    #[test]
    fn clamps_events_more_than_23_hours_ahead() {
        let received = t("2026-11-22T10:00:00Z");
        assert_eq!(
            corrected_timestamp(Some(t("2026-11-24T10:00:00Z")), None, received),
            (received, true)
        );
        let soon = t("2026-11-23T08:00:00Z");
        assert_eq!(
            corrected_timestamp(Some(soon), None, received),
            (soon, false)
        );
        assert_eq!(corrected_timestamp(None, None, received), (received, false));
    }
}
