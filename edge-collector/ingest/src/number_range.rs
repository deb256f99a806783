//! Numbers beyond the range of a 64-bit float: `1e999`, or an integer of 400 digits.
//!
//! JSON (RFC 8259) allows them, and the collector keeps a client's values as sent. But serde_json,
//! JavaScript and ClickHouse read numbers as 64-bit floats, and refuse these or turn them into
//! infinity: the backend would dead-letter an event that the collector had acknowledged, and the client
//! would never learn why. So the collector refuses such a message up front, naming the number, as
//! Segment's API does (it refuses the whole batch).
//!
//! Every message is looked at, so the common case must cost almost nothing. A number overflows only
//! with an exponent of three digits (`5e308`) or an integer part of more than 200 digits (`1` and 250
//! zeros, times `e99`). A first pass looks for a digit, an `e` and three digits (or a sign and two)
//! in a loop without branches, 64 bytes at a time, which the compiler vectorizes; digit runs are
//! looked for every [`RUN_STRIDE`] bytes. Such spots are common inside strings (a UUID's
//! `…b41e2345…`), so each one is dismissed unless a number could start before it (a `:`, `,` or `[`),
//! and only then is the message read from its start, strings skipped, and each number parsed as
//! serde_json does.

/// How far apart digit runs are sampled: a run this long always holds a sampled byte. It is under
/// the 210 digits that can overflow with a two-digit exponent.
const RUN_STRIDE: usize = 128;

/// How many bytes a chunk of the first pass looks at before it branches.
const CHUNK: usize = 64;

/// The first number in `json` (a message's valid JSON text) that is beyond a 64-bit float's range,
/// as written; `None` when every number is within it.
pub fn number_beyond_f64(json: &str) -> Option<&str> {
    let bytes = json.as_bytes();
    if exponent_spot(bytes).is_some() || long_digit_run(bytes) {
        return first_out_of_range(json);
    }
    None
}

/// Why a message with `number` (from [`number_beyond_f64`]) is refused; a long number is shortened.
pub(crate) fn reason(number: &str) -> String {
    let shown = match number.char_indices().nth(24) {
        None => number.to_owned(),
        Some((cut, _)) => format!("{}… ({} characters)", &number[..cut], number.len()),
    };
    format!("number {shown}: beyond a 64-bit float's range (±1.8e308); send it as a string")
}

fn is_digit(byte: u8) -> bool {
    byte.wrapping_sub(b'0') < 10
}

/// A digit, `e` or `E`, then three digits or a sign and two: where an exponent of three digits, or
/// a long one, could be.
#[inline(always)]
fn is_exponent_spot(a: u8, e: u8, b: u8, c: u8, d: u8) -> bool {
    is_digit(a) & ((e | 0x20) == b'e') & (is_digit(b) | (b == b'+')) & is_digit(c) & is_digit(d)
}

/// Whether one of the [`CHUNK`] windows starting in `w` is an exponent spot. The bounds are
/// constants and nothing exits early, so that the compiler vectorizes it; a digit and an `e` are
/// looked for first, which costs a third as much, since most chunks have neither.
fn chunk_has_spot(w: &[u8; CHUNK + 4]) -> bool {
    let mut digit_e = false;
    for i in 0..CHUNK {
        digit_e |= is_digit(w[i]) & ((w[i + 1] | 0x20) == b'e');
    }
    if !digit_e {
        return false;
    }
    let mut any = false;
    for i in 0..CHUNK {
        any |= is_exponent_spot(w[i], w[i + 1], w[i + 2], w[i + 3], w[i + 4]);
    }
    any
}

/// The first exponent spot where a number could start: one not inside a run of letters or quotes.
fn exponent_spot(bytes: &[u8]) -> Option<usize> {
    let windows = bytes.len().checked_sub(4)?;
    let mut padded = [0u8; CHUNK + 4];
    let mut start = 0;
    while start < windows {
        let chunk: &[u8; CHUNK + 4] = match bytes.get(start..start + CHUNK + 4) {
            Some(whole) => whole.try_into().expect("CHUNK + 4 bytes"),
            None => {
                // The tail, padded with zeros, which are no digits.
                let tail = &bytes[start..];
                padded[..tail.len()].copy_from_slice(tail);
                &padded
            }
        };
        if chunk_has_spot(chunk) {
            let end = (start + CHUNK).min(windows);
            for at in start..end {
                let w = &bytes[at..at + 5];
                if is_exponent_spot(w[0], w[1], w[2], w[3], w[4]) && could_start_a_number(bytes, at)
                {
                    return Some(at);
                }
            }
        }
        start += CHUNK;
    }
    None
}

/// Whether a run of digits at least [`RUN_STRIDE`] long starts a number somewhere.
fn long_digit_run(bytes: &[u8]) -> bool {
    let mut at = RUN_STRIDE - 1;
    while at < bytes.len() {
        if is_digit(bytes[at]) {
            let run_start = bytes[..at]
                .iter()
                .rposition(|b| !is_digit(*b))
                .map_or(0, |p| p + 1);
            let run_end = bytes[at..]
                .iter()
                .position(|b| !is_digit(*b))
                .map_or(bytes.len(), |p| at + p);
            if run_end - run_start >= RUN_STRIDE && could_start_a_number(bytes, run_start) {
                return true;
            }
        }
        at += RUN_STRIDE;
    }
    false
}

/// Whether the digits at `at` can be part of a number token: walking back over the characters of a
/// number, the first other one is where a JSON value can start (`:`, `,`, `[`, whitespace, or the
/// text's start). Inside a string it is usually a letter or a quote.
fn could_start_a_number(bytes: &[u8], at: usize) -> bool {
    let before = bytes[..at]
        .iter()
        .rposition(|b| !(is_digit(*b) || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E')));
    match before {
        None => true,
        Some(p) => matches!(bytes[p], b':' | b',' | b'[' | b' ' | b'\t' | b'\n' | b'\r'),
    }
}

/// Reads `json` from its start, skipping strings, and parses each number that could overflow the
/// way serde_json does; the rare path.
fn first_out_of_range(json: &str) -> Option<&str> {
    let bytes = json.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'"' => {
                at += 1;
                while at < bytes.len() && bytes[at] != b'"' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
                at += 1;
            }
            b'-' | b'0'..=b'9' => {
                let end = bytes[at..]
                    .iter()
                    .position(|b| !(is_digit(*b) || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E')))
                    .map_or(bytes.len(), |p| at + p);
                let number = &json[at..end];
                let may_overflow = number.len() >= RUN_STRIDE || number.contains(['e', 'E']);
                if may_overflow && serde_json::from_str::<f64>(number).is_err() {
                    return Some(number);
                }
                at = end;
            }
            _ => at += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beyond(json: &str) -> Option<&str> {
        number_beyond_f64(json)
    }

    #[test]
    fn finds_exponents_and_long_integers_beyond_f64() {
        assert_eq!(beyond(r#"{"a":1e999}"#), Some("1e999"));
        assert_eq!(beyond(r#"{"a":[1, -2.5E+400]}"#), Some("-2.5E+400"));
        assert_eq!(beyond("1e309"), Some("1e309"));
        let long = format!("1{}", "0".repeat(400));
        assert_eq!(beyond(&format!(r#"{{"n": {long}}}"#)), Some(long.as_str()));
        let times_e99 = format!("1{}e99", "0".repeat(250));
        assert_eq!(
            beyond(&format!(r#"{{"n":{times_e99}}}"#)),
            Some(times_e99.as_str())
        );
    }

    #[test]
    fn the_reason_names_the_number_and_shortens_a_long_one() {
        assert_eq!(
            reason("1e999"),
            "number 1e999: beyond a 64-bit float's range (±1.8e308); send it as a string"
        );
        let long = format!("1{}", "0".repeat(399));
        assert!(reason(&long).starts_with("number 100000000000000000000000… (400 characters):"));
    }

    #[test]
    fn passes_numbers_in_range_and_lookalikes_in_strings() {
        for json in [
            r#"{"a":1e308,"b":1.7976931348623157e308,"c":-1e-999,"d":0.5e-400}"#,
            r#"{"id":"3f2ab41e2345-1e999","t":"1e999","u":": 1e999 in a \" string"}"#,
            r#"{"messageId":"9b1e2c3e-41e2-4e98-8e76-1e2345678901"}"#,
            r#"{"x":12e99,"y":[0,1E+99]}"#,
        ] {
            assert_eq!(beyond(json), None, "{json}");
        }
        let long = format!(r#"{{"s":"{}","n":1{}}}"#, "9".repeat(400), "0".repeat(200));
        assert_eq!(beyond(&long), None, "in a string, or 201 digits");
    }

    #[test]
    fn agrees_with_serde_json_on_generated_numbers() {
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..20_000 {
            let mantissa: String = (0..rng.usize(1..300))
                .map(|i| char::from(b'0' + if i == 0 { rng.u8(1..10) } else { rng.u8(0..10) }))
                .collect();
            let fraction = if rng.bool() {
                format!(".{}", rng.u32(..))
            } else {
                String::new()
            };
            let exponent = match rng.u8(0..3) {
                0 => String::new(),
                1 => format!("e{}", rng.i32(-400..400)),
                _ => format!("E+{}", rng.u32(..500)),
            };
            let number = format!("{mantissa}{fraction}{exponent}");
            let json = format!(r#"{{"id":"a1e234","v":[1,{number}]}}"#);
            let serde_refuses = serde_json::from_str::<serde_json::Value>(&json).is_err();
            assert_eq!(beyond(&json).is_some(), serde_refuses, "{number}");
        }
    }
}
