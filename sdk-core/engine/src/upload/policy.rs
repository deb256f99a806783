//! The retry rules: which statuses are worth retrying, how long to back off, and how to read `Retry-After`.

use core::time::Duration;

use crate::clock::Millis;

/// What an HTTP status means for the batch that got it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// 2xx: read the per-event results.
    Accepted,
    /// 413: the batch is too big; send fewer events at a time.
    TooLarge,
    /// 429 or 503: the collector asks the client to slow down; obey `Retry-After` if present.
    Throttled,
    /// Any other 5xx, 408, or a status that makes no sense here: back off and retry.
    Failed,
    /// Any other 4xx: the collector will never accept this batch; drop it and report it.
    Rejected,
}

pub(crate) fn verdict(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Accepted,
        413 => Verdict::TooLarge,
        429 | 503 => Verdict::Throttled,
        408 => Verdict::Failed,
        400..=499 => Verdict::Rejected,
        _ => Verdict::Failed,
    }
}

/// Exponential backoff with full jitter: a uniform wait in `0..=min(max, base·2^(failures−1))`.
///
/// Full jitter spreads the retries of many clients that failed together (a collector restart) over the
/// whole window, instead of bunching them at its end.
pub(crate) fn backoff_ceiling(failures: u32, base: Duration, max: Duration) -> Duration {
    let exponent = failures.saturating_sub(1).min(31);
    base.saturating_mul(1u32 << exponent).min(max)
}

/// Reads `Retry-After` as delta-seconds (with a decimal fraction, as some servers send), or, with the
/// `http-date` feature, as an HTTP date relative to `now`. Unreadable values are ignored, as RFC 9110
/// allows; the caller then backs off as if there were no header.
pub(crate) fn parse_retry_after(value: &str, now: Millis) -> Option<Duration> {
    let value = value.trim();
    if let Some(delay) = parse_seconds(value) {
        return Some(delay);
    }
    http_date(value, now)
}

/// `120` or `1.5`: digits with an optional fraction, read without floating point (which the
/// WebAssembly build leaves out) and saturating instead of overflowing.
fn parse_seconds(value: &str) -> Option<Duration> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    if value.ends_with('.') {
        return None;
    }
    let secs = whole.bytes().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    let mut nanos = 0u32;
    let mut scale = 100_000_000;
    for d in fraction.bytes().take(9) {
        nanos += u32::from(d - b'0') * scale;
        scale /= 10;
    }
    Some(Duration::new(secs, nanos))
}

#[cfg(feature = "http-date")]
fn http_date(value: &str, now: Millis) -> Option<Duration> {
    use std::time::UNIX_EPOCH;
    let date = httpdate::parse_http_date(value).ok()?;
    let now = UNIX_EPOCH + Duration::from_millis(u64::try_from(now).ok()?);
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(not(feature = "http-date"))]
fn http_date(_value: &str, _now: Millis) -> Option<Duration> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_the_documented_verdicts() {
        assert_eq!(verdict(200), Verdict::Accepted);
        assert_eq!(verdict(207), Verdict::Accepted);
        assert_eq!(verdict(413), Verdict::TooLarge);
        assert_eq!(verdict(429), Verdict::Throttled);
        assert_eq!(verdict(503), Verdict::Throttled);
        assert_eq!(verdict(500), Verdict::Failed);
        assert_eq!(verdict(408), Verdict::Failed);
        assert_eq!(verdict(302), Verdict::Failed);
        assert_eq!(verdict(400), Verdict::Rejected);
        assert_eq!(verdict(401), Verdict::Rejected);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let base = Duration::from_millis(500);
        let max = Duration::from_secs(60);
        assert_eq!(backoff_ceiling(1, base, max), Duration::from_millis(500));
        assert_eq!(backoff_ceiling(3, base, max), Duration::from_secs(2));
        assert_eq!(backoff_ceiling(40, base, max), max);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = 1_445_412_480_000; // Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after(" 1.5 ", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("0.0015", now),
            Some(Duration::from_micros(1500))
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX)),
            "saturates instead of overflowing"
        );
        #[cfg(feature = "http-date")]
        {
            assert_eq!(
                parse_retry_after("Wed, 21 Oct 2015 07:29:00 GMT", now),
                Some(Duration::from_secs(60))
            );
            assert_eq!(
                parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
                Some(Duration::ZERO)
            );
        }
        #[cfg(not(feature = "http-date"))]
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:29:00 GMT", now),
            None
        );
        for unreadable in ["soon", "-3", "", ".5", "5.", "1e3", "+1", "1.2.3", "١٢"] {
            assert_eq!(parse_retry_after(unreadable, now), None, "{unreadable:?}");
        }
    }
}
