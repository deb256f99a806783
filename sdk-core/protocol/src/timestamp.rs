//! RFC 3339 timestamps with millisecond precision, as every Footfall SDK writes them.
//!
//! Formatting is done here rather than by a date library because it runs once per event on the SDK's hot
//! path and in the size-constrained WebAssembly build; the test below checks it against the `time` crate.

use alloc::string::String;

/// Formats milliseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
///
/// ```
/// assert_eq!(footfall_protocol::format_rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
/// assert_eq!(footfall_protocol::format_rfc3339_millis(1_795_000_000_123), "2026-11-18T11:06:40.123Z");
/// ```
pub fn format_rfc3339_millis(unix_millis: i64) -> String {
    let mut out = String::with_capacity(24);
    write_rfc3339_millis(&mut out, unix_millis);
    out
}

/// Appends `unix_millis` to `out` in the format of [`format_rfc3339_millis`], for writers that build a
/// message in one buffer.
pub fn write_rfc3339_millis(out: &mut String, unix_millis: i64) {
    let text = rfc3339_millis_bytes(unix_millis);
    out.push_str(core::str::from_utf8(&text).unwrap_or_default());
}

/// The text of [`format_rfc3339_millis`] as ASCII bytes, without allocating: the collector writes
/// one per event straight into the event's JSON.
pub fn rfc3339_millis_bytes(unix_millis: i64) -> [u8; 24] {
    let days = unix_millis.div_euclid(86_400_000);
    let ms_of_day = unix_millis.rem_euclid(86_400_000) as u32;
    let (year, month, day) = civil_from_days(days);
    let secs = ms_of_day / 1000;
    // Filled in a fixed buffer and copied once, which is several times faster in WebAssembly than
    // pushing 24 chars. Every field but the year is already below 10^width, and dividing by the
    // constant 10 compiles to a multiplication.
    let mut text = *b"0000-00-00T00:00:00.000Z";
    let fields = [
        (0, year.rem_euclid(10_000) as u32, 4),
        (5, month as u32, 2),
        (8, day as u32, 2),
        (11, secs / 3600, 2),
        (14, secs / 60 % 60, 2),
        (17, secs % 60, 2),
        (20, ms_of_day % 1000, 3),
    ];
    for (at, value, width) in fields {
        let mut value = value;
        for i in (at..at + width).rev() {
            if let Some(slot) = text.get_mut(i) {
                *slot = b'0' + (value % 10) as u8;
            }
            value /= 10;
        }
    }
    text
}

/// Howard Hinnant's `civil_from_days`: the proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::format_description::well_known::Rfc3339;
    use time::OffsetDateTime;

    proptest! {
        #[test]
        fn agrees_with_the_time_crate(ms in 0i64..253_402_300_799_999) {
            let ours = format_rfc3339_millis(ms);
            let parsed = OffsetDateTime::parse(&ours, &Rfc3339).unwrap();
            prop_assert_eq!(parsed.unix_timestamp_nanos() / 1_000_000, i128::from(ms));
        }
    }

    #[test]
    fn handles_leap_days_and_the_end_of_a_year() {
        assert_eq!(
            format_rfc3339_millis(951_782_400_000),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            format_rfc3339_millis(1_798_761_599_999),
            "2026-12-31T23:59:59.999Z"
        );
    }
}
