//! The queries, one folder each: `mod.rs` states the SQL shape, `params.rs` turns raw input into
//! validated parameters with clear errors, `sql.rs` builds the SQL for either dialect, and
//! `tests.rs` pins the generated SQL.
//!
//! Every query reads events deduplicated on messageId and resolved to a person through the
//! identity map (see [`crate::sql::SqlBuilder::from_resolved_events`]), on event time.

use serde::Deserialize;

use crate::{Error, Result};

pub mod funnel;
pub mod retention;
pub mod sessions;
pub mod timeline;
pub mod trends;

/// The longest event name or property name accepted.
pub const MAX_NAME_LEN: usize = 200;

/// A time given as Unix milliseconds or as an RFC 3339 string.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum TimeArg {
    /// Unix milliseconds.
    Millis(i64),
    /// RFC 3339, e.g. `2026-11-01T00:00:00Z`.
    Text(String),
}

impl Default for TimeArg {
    fn default() -> Self {
        TimeArg::Millis(0)
    }
}

impl From<i64> for TimeArg {
    fn from(v: i64) -> Self {
        TimeArg::Millis(v)
    }
}

impl TimeArg {
    /// Unix milliseconds, or an error naming `param`.
    pub fn millis(&self, param: &'static str) -> Result<i64> {
        match self {
            TimeArg::Millis(v) => Ok(*v),
            TimeArg::Text(s) => parse_rfc3339_ms(s).ok_or_else(|| {
                Error::invalid(
                    param,
                    format!("{s:?} is not Unix milliseconds or an RFC 3339 time"),
                )
            }),
        }
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)` into Unix milliseconds.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut ms = 0i64;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let frac = s.get(start..i)?;
        if frac.is_empty() {
            return None;
        }
        let mut digits: String = frac.chars().take(3).collect();
        while digits.len() < 3 {
            digits.push('0');
        }
        ms = digits.parse().ok()?;
    }
    let offset_min = match s.get(i..)? {
        "Z" | "z" => 0,
        tz if tz.len() == 6 && (tz.starts_with('+') || tz.starts_with('-')) => {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            let v = oh * 60 + om;
            if tz.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    Some(((days * 86_400 + h * 3600 + mi * 60 + sec) - offset_min * 60) * 1000 + ms)
}

/// Formats Unix milliseconds as `YYYY-MM-DDTHH:MM:SS.fffZ`.
pub fn format_rfc3339_ms(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

// Howard Hinnant's civil-date algorithms.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A time bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    /// One hour.
    Hour,
    /// One UTC day.
    Day,
    /// One week starting Monday 00:00 UTC.
    Week,
}

impl Interval {
    /// Parses `hour`, `day` or `week`.
    pub fn parse(param: &'static str, s: &str, allowed: &[Interval]) -> Result<Self> {
        let v = match s {
            "hour" => Interval::Hour,
            "day" => Interval::Day,
            "week" => Interval::Week,
            _ => {
                return Err(Error::invalid(
                    param,
                    format!("{s:?} is not one of {}", names(allowed)),
                ))
            }
        };
        if !allowed.contains(&v) {
            return Err(Error::invalid(
                param,
                format!("{s:?} is not one of {}", names(allowed)),
            ));
        }
        Ok(v)
    }

    /// Width in milliseconds.
    pub fn width_ms(self) -> i64 {
        match self {
            Interval::Hour => 3_600_000,
            Interval::Day => 86_400_000,
            Interval::Week => 7 * 86_400_000,
        }
    }

    /// Offset that aligns buckets (weeks start on Monday).
    pub fn offset_ms(self) -> i64 {
        match self {
            Interval::Week => 3 * 86_400_000,
            _ => 0,
        }
    }

    /// The start of the bucket holding `ms`.
    pub fn bucket(self, ms: i64) -> i64 {
        let (w, o) = (self.width_ms(), self.offset_ms());
        (ms + o).div_euclid(w) * w - o
    }
}

fn names(allowed: &[Interval]) -> String {
    allowed
        .iter()
        .map(|i| match i {
            Interval::Hour => "hour",
            Interval::Day => "day",
            Interval::Week => "week",
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks a `[from, to)` range: ordered, and at most `max_days` long.
pub fn check_range(from: i64, to: i64, max_days: i64) -> Result<()> {
    if to <= from {
        return Err(Error::invalid("to", "must be after from"));
    }
    if to - from > max_days * 86_400_000 {
        return Err(Error::invalid(
            "to",
            format!("the range is limited to {max_days} days"),
        ));
    }
    Ok(())
}

/// Checks an event or property name: non-empty, at most [`MAX_NAME_LEN`] bytes, no control
/// characters.
pub fn check_name(param: &'static str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid(param, "must not be empty"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(Error::invalid(
            param,
            format!("longer than {MAX_NAME_LEN} bytes"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(param, "must not contain control characters"));
    }
    Ok(())
}

/// Checks a project id.
pub fn check_project(project: &str) -> Result<()> {
    check_name("project", project)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips() {
        let ms = parse_rfc3339_ms("2026-11-23T01:02:03.456Z").unwrap();
        assert_eq!(format_rfc3339_ms(ms), "2026-11-23T01:02:03.456Z");
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339_ms("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_rfc3339_ms("yesterday"), None);
    }

    #[test]
    fn weeks_start_on_monday() {
        // 2026-11-23 is a Monday.
        let monday = parse_rfc3339_ms("2026-11-23T00:00:00Z").unwrap();
        let sunday = parse_rfc3339_ms("2026-11-29T23:59:59Z").unwrap();
        assert_eq!(Interval::Week.bucket(sunday), monday);
        assert_eq!(Interval::Week.bucket(monday), monday);
    }

    #[test]
    fn intervals_name_the_allowed_values() {
        let err =
            Interval::parse("interval", "month", &[Interval::Day, Interval::Week]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid parameter interval: \"month\" is not one of day, week"
        );
    }
}
