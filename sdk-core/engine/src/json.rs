//! JSON text without a JSON library: a syntax checker, walkers over an object's members and an array's
//! elements, and a string writer.
//!
//! Properties, traits and context arrive as JSON text (from `JSON.stringify` on the web, from the app on
//! mobile) and leave as JSON text inside the message, so the engine never builds a tree of values: it
//! checks the text once with [`check`], splices members through unchanged, and writes its own fields
//! with [`write_string`]. Numbers therefore reach the collector exactly as the caller wrote them, and
//! the WebAssembly build needs neither serde nor float parsing and printing.
//!
//! [`check`] accepts exactly what the collector's parser (serde_json) accepts, so an event that passes
//! it cannot make the collector refuse the whole batch: RFC 8259 syntax, no lone UTF-16 surrogates in
//! `\u` escapes, numbers within the range of an `f64`, and at most [`MAX_DEPTH`] levels of nesting
//! (the collector stops at 128, and a message wraps properties in three more).

use alloc::string::String;

/// The deepest nesting [`check`] accepts: `{"a":{"b":1}}` has depth 2.
pub const MAX_DEPTH: u32 = 100;

/// The type of a JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `null`
    Null,
    /// `true` or `false`
    Bool,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl Kind {
    /// The type's name in error messages: `null`, `boolean`, `number`, `string`, `array`, `object`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "boolean",
            Kind::Number => "number",
            Kind::String => "string",
            Kind::Array => "array",
            Kind::Object => "object",
        }
    }
}

/// Why a text is not JSON, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalid {
    /// The byte offset at which the text stops being valid.
    pub offset: usize,
    /// What is wrong there, as a phrase: `unexpected character`, `unexpected end`, …
    pub reason: &'static str,
}

const UNEXPECTED: &str = "unexpected character";
const END: &str = "unexpected end";

/// Checks that `text` is one JSON value (with optional surrounding whitespace) and says which type.
pub fn check(text: &str) -> Result<Kind, Invalid> {
    let b = text.as_bytes();
    let fail = |offset, reason| Err(Invalid { offset, reason });
    let mut i = skip_ws(b, 0);
    let kind = match b.get(i) {
        Some(b'{') => Kind::Object,
        Some(b'[') => Kind::Array,
        Some(b'"') => Kind::String,
        Some(b't' | b'f') => Kind::Bool,
        Some(b'n') => Kind::Null,
        Some(b'-' | b'0'..=b'9') => Kind::Number,
        Some(_) => return fail(i, UNEXPECTED),
        None => return fail(i, END),
    };
    // One bit per open container, 1 for an object: MAX_DEPTH fits in 128 bits, and an explicit stack
    // means no recursion, so no input can exhaust the call stack.
    let mut stack: u128 = 0;
    let mut depth = 0u32;
    loop {
        // A value starts at `i`.
        i = skip_ws(b, i);
        let mut opened = false;
        match b.get(i) {
            Some(&open @ (b'{' | b'[')) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return fail(i, "nested too deeply");
                }
                stack = stack << 1 | u128::from(open == b'{');
                i = skip_ws(b, i + 1);
                let close = if open == b'{' { b'}' } else { b']' };
                if b.get(i) == Some(&close) {
                    depth -= 1;
                    stack >>= 1;
                    i += 1;
                } else {
                    opened = true;
                }
            }
            Some(b'"') => i = string_end(b, i)?,
            Some(b't') => i = literal(b, i, b"true")?,
            Some(b'f') => i = literal(b, i, b"false")?,
            Some(b'n') => i = literal(b, i, b"null")?,
            Some(b'-' | b'0'..=b'9') => i = number_end(b, i)?,
            Some(_) => return fail(i, UNEXPECTED),
            None => return fail(i, END),
        }
        if opened {
            if stack & 1 == 1 {
                i = key_and_colon(b, i)?;
            }
            continue;
        }
        // After a value: close containers, or move to the next member or element.
        loop {
            if depth == 0 {
                i = skip_ws(b, i);
                return if i == b.len() {
                    Ok(kind)
                } else {
                    fail(i, "trailing characters")
                };
            }
            i = skip_ws(b, i);
            let in_object = stack & 1 == 1;
            match b.get(i) {
                Some(b',') => {
                    i += 1;
                    if in_object {
                        i = key_and_colon(b, skip_ws(b, i))?;
                    }
                    break;
                }
                Some(b'}') if in_object => {}
                Some(b']') if !in_object => {}
                Some(_) => return fail(i, UNEXPECTED),
                None => return fail(i, END),
            }
            depth -= 1;
            stack >>= 1;
            i += 1;
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

fn key_and_colon(b: &[u8], i: usize) -> Result<usize, Invalid> {
    if b.get(i) != Some(&b'"') {
        return Err(Invalid {
            offset: i,
            reason: if i >= b.len() { END } else { "expected a key" },
        });
    }
    let i = skip_ws(b, string_end(b, i)?);
    if b.get(i) != Some(&b':') {
        return Err(Invalid {
            offset: i,
            reason: "expected a colon",
        });
    }
    Ok(i + 1)
}

fn literal(b: &[u8], i: usize, word: &[u8]) -> Result<usize, Invalid> {
    match b.get(i..i + word.len()) {
        Some(found) if found == word => Ok(i + word.len()),
        _ => Err(Invalid {
            offset: i,
            reason: UNEXPECTED,
        }),
    }
}

fn hex4(b: &[u8], i: usize) -> Option<u32> {
    let digits = b.get(i..i + 4)?;
    let mut n = 0;
    for &d in digits {
        n = n << 4 | char::from(d).to_digit(16)?;
    }
    Some(n)
}

/// The index after the string that opens at `i` (on its `"`), checking escapes and control characters.
fn string_end(b: &[u8], mut i: usize) -> Result<usize, Invalid> {
    let fail = |offset, reason| Err(Invalid { offset, reason });
    i += 1;
    loop {
        match b.get(i) {
            None => return fail(i, END),
            Some(b'"') => return Ok(i + 1),
            Some(b'\\') => match b.get(i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                Some(b'u') => {
                    let Some(unit) = hex4(b, i + 2) else {
                        return fail(i, "invalid escape");
                    };
                    i += 6;
                    if (0xDC00..0xE000).contains(&unit) {
                        return fail(i - 6, "lone surrogate");
                    }
                    if (0xD800..0xDC00).contains(&unit) {
                        let low = match b.get(i..i + 2) {
                            Some(b"\\u") => hex4(b, i + 2),
                            _ => None,
                        };
                        if !low.is_some_and(|low| (0xDC00..0xE000).contains(&low)) {
                            return fail(i - 6, "lone surrogate");
                        }
                        i += 6;
                    }
                }
                _ => return fail(i, "invalid escape"),
            },
            Some(&c) if c < 0x20 => return fail(i, "control character in a string"),
            Some(_) => i += 1,
        }
    }
}

/// The index after the number that starts at `i`, refusing numbers an `f64` cannot hold.
fn number_end(b: &[u8], start: usize) -> Result<usize, Invalid> {
    let fail = |offset| {
        Err(Invalid {
            offset,
            reason: "invalid number",
        })
    };
    let digits = |mut i: usize| {
        while matches!(b.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
        i
    };
    let mut i = start + usize::from(b.get(start) == Some(&b'-'));
    let int_start = i;
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(i),
        _ => return fail(i),
    }
    let int_end = i;
    if b.get(i) == Some(&b'.') {
        let frac = i + 1;
        i = digits(frac);
        if i == frac {
            return fail(i);
        }
    }
    let mantissa_end = i;
    let mut exponent: i64 = 0;
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let negative = b.get(i) == Some(&b'-');
        i += usize::from(matches!(b.get(i), Some(b'+' | b'-')));
        let exp_start = i;
        i = digits(exp_start);
        if i == exp_start {
            return fail(i);
        }
        for &d in b.get(exp_start..i).unwrap_or_default() {
            exponent = (exponent * 10 + i64::from(d - b'0')).min(1 << 40);
        }
        if negative {
            exponent = -exponent;
        }
    }
    // The decimal exponent of the first significant digit decides overflow; underflow reads as zero.
    let mantissa = b.get(int_start..mantissa_end).unwrap_or_default();
    let Some(first) = mantissa
        .iter()
        .position(|&d| d.is_ascii_digit() && d != b'0')
    else {
        return Ok(i);
    };
    let int_digits = (int_end - int_start) as i64;
    let magnitude = if first < int_end - int_start {
        int_digits - first as i64 - 1
    } else {
        // Only in the fraction: 0.001 has magnitude -3 (the '.' sits at index int_digits).
        int_digits - first as i64
    };
    let magnitude = magnitude + exponent;
    let significant = mantissa
        .iter()
        .skip(first)
        .filter(|d| d.is_ascii_digit())
        .take(20);
    // f64::MAX is 1.7976931348623157e308. serde_json refuses some numbers just above it that would
    // round down to it, so anything above it, digit for digit, is refused too.
    let too_big = magnitude > 308
        || (magnitude == 308
            && significant
                .copied()
                .gt(b"17976931348623157000".iter().copied()));
    if too_big {
        return Err(Invalid {
            offset: start,
            reason: "number out of range",
        });
    }
    Ok(i)
}

/// The end of the value that starts at `i` in text [`check`] accepted.
fn value_end(b: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    loop {
        match b.get(i) {
            None => return i,
            Some(b'"') => {
                i += 1;
                while let Some(&c) = b.get(i) {
                    i += 1;
                    match c {
                        b'\\' => i += 1,
                        b'"' => break,
                        _ => {}
                    }
                }
            }
            Some(b'{' | b'[') => {
                depth += 1;
                i += 1;
            }
            Some(b'}' | b']') => {
                if depth == 0 {
                    return i;
                }
                depth -= 1;
                i += 1;
            }
            Some(b',') if depth == 0 => return i,
            Some(b' ' | b'\t' | b'\n' | b'\r') if depth == 0 => return i,
            Some(_) => i += 1,
        }
        if depth == 0 && matches!(b.get(i.wrapping_sub(1)), Some(b'"' | b'}' | b']')) {
            return i;
        }
    }
}

/// The members of an object that [`check`] accepted, in order, as raw text: the key with its quotes,
/// and the value exactly as written. Anything else yields nothing.
pub fn members(object: &str) -> Members<'_> {
    let b = object.as_bytes();
    let i = skip_ws(b, 0);
    Members {
        text: object,
        i: if b.get(i) == Some(&b'{') {
            i + 1
        } else {
            b.len()
        },
    }
}

/// The iterator of [`members`].
#[derive(Debug, Clone)]
pub struct Members<'a> {
    text: &'a str,
    i: usize,
}

impl<'a> Iterator for Members<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.text.as_bytes();
        let mut i = skip_ws(b, self.i);
        if b.get(i) == Some(&b',') {
            i = skip_ws(b, i + 1);
        }
        if b.get(i) != Some(&b'"') {
            self.i = b.len();
            return None;
        }
        let key_end = value_end(b, i);
        let key = self.text.get(i..key_end)?;
        let value_start = skip_ws(b, skip_ws(b, key_end) + 1);
        let end = value_end(b, value_start);
        self.i = end;
        Some((key, self.text.get(value_start..end)?))
    }
}

/// The elements of an array that [`check`] accepted, as raw text. Anything else yields nothing.
pub fn elements(array: &str) -> Elements<'_> {
    let b = array.as_bytes();
    let i = skip_ws(b, 0);
    Elements {
        text: array,
        i: if b.get(i) == Some(&b'[') {
            i + 1
        } else {
            b.len()
        },
    }
}

/// The iterator of [`elements`].
#[derive(Debug, Clone)]
pub struct Elements<'a> {
    text: &'a str,
    i: usize,
}

impl<'a> Iterator for Elements<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.text.as_bytes();
        let mut i = skip_ws(b, self.i);
        if b.get(i) == Some(&b',') {
            i = skip_ws(b, i + 1);
        }
        if matches!(b.get(i), None | Some(b']')) {
            self.i = b.len();
            return None;
        }
        let end = value_end(b, i);
        self.i = end;
        self.text.get(i..end)
    }
}

/// The value of `key` in an object [`check`] accepted, as raw text; the last one if the key repeats,
/// as a JSON parser would keep.
pub fn get<'a>(object: &'a str, key: &str) -> Option<&'a str> {
    members(object)
        .filter(|(raw, _)| key_is(raw, key))
        .last()
        .map(|(_, value)| value)
}

/// Whether the raw key `raw` (with its quotes, as [`members`] yields it) names `key`.
pub fn key_is(raw: &str, key: &str) -> bool {
    match raw.get(1..raw.len().saturating_sub(1)) {
        Some(inner) if !inner.contains('\\') => inner == key,
        _ => string_value(raw).is_some_and(|decoded| decoded == key),
    }
}

/// Whether two raw keys name the same key, escapes decoded.
pub fn same_key(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    if !a.contains('\\') && !b.contains('\\') {
        return false;
    }
    string_value(a).is_some_and(|a| string_value(b).is_some_and(|b| a == b))
}

/// The text of a JSON string (`"…"`, escapes decoded); `None` if `raw` is not a valid string.
pub fn string_value(raw: &str) -> Option<String> {
    let b = raw.as_bytes();
    if b.first() != Some(&b'"') || string_end(b, 0).ok()? != b.len() {
        return None;
    }
    let inner = raw.get(1..b.len() - 1)?;
    if !inner.contains('\\') {
        return Some(String::from(inner));
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next()? {
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                let high = take_hex4(&mut chars)?;
                if (0xD800..0xDC00).contains(&high) {
                    // string_end checked that a low surrogate follows.
                    chars = chars.as_str().strip_prefix("\\u")?.chars();
                    let low = take_hex4(&mut chars)?;
                    char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low.checked_sub(0xDC00)?))?
                } else {
                    char::from_u32(high)?
                }
            }
            other => other,
        });
    }
    Some(out)
}

fn take_hex4(chars: &mut core::str::Chars<'_>) -> Option<u32> {
    let rest = chars.as_str();
    let n = u32::from_str_radix(rest.get(..4)?, 16).ok()?;
    *chars = rest.get(4..)?.chars();
    Some(n)
}

/// Appends `s` to `out` as a JSON string, escaping as serde_json does: quotes, backslashes and control
/// characters, nothing else.
pub fn write_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let mut start = 0;
    for (i, &c) in s.as_bytes().iter().enumerate() {
        let escape = match c {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0C => "\\f",
            0..=0x1F => "",
            _ => continue,
        };
        out.push_str(s.get(start..i).unwrap_or_default());
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(c >> 4)]));
            out.push(char::from(HEX[usize::from(c & 15)]));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push('"');
}

/// Appends an integer in decimal, without `core::fmt` (which the WebAssembly build leaves out).
pub fn write_int(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    let mut n = n.unsigned_abs();
    let mut digits = [0u8; 20];
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in digits[..len].iter().rev() {
        out.push(char::from(d));
    }
}

/// Writes `{…}` with the members of `base` whose keys are not in `over` and not in `skip`, then the
/// members of `over` not in `skip`: `over` wins, as `Object.assign(base, over)` would.
pub(crate) fn merge_into(out: &mut String, base: &str, over: &str, skip: &[&str]) {
    out.push('{');
    let mut first = true;
    let skipped = |key: &str| skip.iter().any(|s| key_is(key, s));
    let mut push = |out: &mut String, key: &str, value: &str| {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(key);
        out.push(':');
        out.push_str(value);
    };
    for (key, value) in members(base) {
        if !skipped(key) && !members(over).any(|(k, _)| same_key(k, key)) {
            push(out, key, value);
        }
    }
    for (key, value) in members(over) {
        if !skipped(key) {
            push(out, key, value);
        }
    }
    out.push('}');
}

/// [`merge_into`] a new string.
pub(crate) fn merge(base: &str, over: &str, skip: &[&str]) -> String {
    let mut out = String::with_capacity(base.len() + over.len() + 2);
    merge_into(&mut out, base, over, skip);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn valid(text: &str) -> Kind {
        check(text).unwrap_or_else(|e| panic!("{text:?} should be valid: {e:?}"))
    }

    #[test]
    fn accepts_what_serde_json_accepts() {
        for text in [
            "{}",
            " { \"a\" : [1, -2.5e+3, 0, 0.0, true, false, null, \"\"] } ",
            r#"{"nested":{"deeper":[[{}],[]]},"s":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}"#,
            "\"ü and 😀\"",
            "-0",
            "[1e308, 1.7976931348623157e308, -17976931348623157e292, 0.1e309, 123e-400, 0e999]",
        ] {
            valid(text);
            serde_json::from_str::<serde_json::Value>(text).unwrap();
        }
        assert_eq!(valid("[1]"), Kind::Array);
        assert_eq!(valid(" null"), Kind::Null);
        assert_eq!(valid("\"x\""), Kind::String);
        assert_eq!(valid("3"), Kind::Number);
        assert_eq!(valid("true"), Kind::Bool);
        assert_eq!(valid("{\"a\":1}"), Kind::Object);
    }

    #[test]
    fn refuses_what_serde_json_refuses() {
        for text in [
            "",
            " ",
            "{",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "[1,]",
            "[1 2]",
            "{a:1}",
            "{'a':1}",
            "01",
            "1.",
            ".5",
            "+1",
            "1e",
            "-",
            "tru",
            "nul",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\\ud800\"",
            "\"\\ud800\\u0041\"",
            "\"\\udc00\"",
            "\"tab\there\"",
            "{} {}",
            "1e309",
            "-2e308",
            "1.8e308",
            "1.797693134862315808e308",
            "[}",
            "{]",
            "NaN",
        ] {
            assert!(check(text).is_err(), "{text:?} should be refused");
            assert!(
                serde_json::from_str::<serde_json::Value>(text).is_err(),
                "serde_json accepts {text:?}"
            );
        }
        // Rounds down to f64::MAX, so serde_json accepts it or not depending on its
        // `float_roundtrip` feature (jsonschema turns it on in the workspace build); the checker
        // refuses everything above f64::MAX digit for digit, whichever serde_json the collector has.
        assert!(check("1.7976931348623158e308").is_err());
        assert_eq!(
            check("{\"a\":x}"),
            Err(Invalid {
                offset: 5,
                reason: "unexpected character"
            })
        );
    }

    #[test]
    fn limits_nesting_without_recursing() {
        let deep = |n: usize| "[".repeat(n) + &"]".repeat(n);
        assert!(check(&deep(MAX_DEPTH as usize)).is_ok());
        assert_eq!(
            check(&deep(MAX_DEPTH as usize + 1)).unwrap_err().reason,
            "nested too deeply"
        );
        assert!(check(&"[".repeat(1_000_000)).is_err());
    }

    #[test]
    fn walks_members_and_elements_as_raw_text() {
        let text = r#" { "a" : 1.50 , "b\"c":{"x":[1,"]"]}, "d":"}" ,"e":[] } "#;
        let found: Vec<_> = members(text).collect();
        assert_eq!(
            found,
            [
                ("\"a\"", "1.50"),
                ("\"b\\\"c\"", "{\"x\":[1,\"]\"]}"),
                ("\"d\"", "\"}\""),
                ("\"e\"", "[]")
            ]
        );
        assert_eq!(members("{}").count(), 0);
        assert_eq!(members("[1]").count(), 0);
        let items: Vec<_> = elements(r#"[ {"m":"a,b"}, 2 ,"x" ,[3,[4]]]"#).collect();
        assert_eq!(items, ["{\"m\":\"a,b\"}", "2", "\"x\"", "[3,[4]]"]);
        assert_eq!(elements("[]").count(), 0);
        assert_eq!(get(r#"{"a":1,"\u0062":2,"a":3}"#, "a"), Some("3"));
        assert_eq!(get(r#"{"a":1,"\u0062":2}"#, "b"), Some("2"));
        assert_eq!(get(r#"{"a":1}"#, "z"), None);
    }

    #[test]
    fn decodes_and_writes_strings_as_serde_json_does() {
        for s in [
            "",
            "plain",
            "q\"b\\s/",
            "\n\r\t\u{8}\u{c}\u{1}\u{1f}",
            "é😀\u{7f}",
        ] {
            let mut out = String::new();
            write_string(&mut out, s);
            assert_eq!(out, serde_json::to_string(s).unwrap());
            assert_eq!(string_value(&out).as_deref(), Some(s));
        }
        assert_eq!(
            string_value(r#""\ud83d\ude00\u00e9\/""#).as_deref(),
            Some("😀é/")
        );
        assert_eq!(string_value("\"open"), None);
        assert_eq!(string_value("\"a\"b\""), None);
        assert!(same_key("\"a\"", "\"\\u0061\""));
        assert!(!same_key("\"a\"", "\"b\""));
    }

    #[test]
    fn writes_integers_without_fmt() {
        for n in [0, 7, -7, 1_795_000_000_000, i64::MIN, i64::MAX] {
            let mut out = String::new();
            write_int(&mut out, n);
            assert_eq!(out, alloc::format!("{n}"));
        }
    }

    #[test]
    fn merges_with_the_later_object_winning() {
        assert_eq!(
            merge(
                r#"{"plan":"free","theme":"dark"}"#,
                r#"{"plan":"pro"}"#,
                &[]
            ),
            r#"{"theme":"dark","plan":"pro"}"#
        );
        assert_eq!(
            merge(r#"{"a":1,"library":2}"#, "{}", &["library"]),
            r#"{"a":1}"#
        );
        assert_eq!(merge("{}", "{}", &[]), "{}");
        assert_eq!(merge("", r#"{"\u0061":1}"#, &[]), r#"{"\u0061":1}"#);
    }
}
