//! How one queued event is written as one string in IndexedDB or localStorage.
//!
//! `"{attempts},{created_at},{id_len},{message_id}{payload}"`: three decimal numbers, then the messageId
//! and the payload back to back, split by the id's byte length. Nothing needs escaping, so encoding is
//! a few copies and decoding never re-parses the payload's JSON.

use alloc::borrow::ToOwned;
use alloc::string::String;

use footfall_core::json::write_int;

/// The stored fields of one event, without its seq (the seq is the record's key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) attempts: u32,
    pub(crate) created_at: i64,
    pub(crate) message_id: String,
    pub(crate) payload: String,
}

pub(crate) fn encode(attempts: u32, created_at: i64, message_id: &str, payload: &str) -> String {
    let mut out = String::with_capacity(message_id.len() + payload.len() + 24);
    write_int(&mut out, i64::from(attempts));
    out.push(',');
    write_int(&mut out, created_at);
    out.push(',');
    write_int(&mut out, message_id.len() as i64);
    out.push(',');
    out.push_str(message_id);
    out.push_str(payload);
    out
}

/// Reads a record written by [`encode`]; `None` if it is damaged (it is then dropped at load).
pub(crate) fn decode(text: &str) -> Option<Record> {
    let (attempts, rest) = number(text)?;
    let (created_at, rest) = number(rest)?;
    let (id_len, rest) = number(rest)?;
    let id_len = usize::try_from(id_len).ok()?;
    let message_id = rest.get(..id_len)?;
    let payload = rest.get(id_len..)?;
    Some(Record {
        attempts: u32::try_from(attempts).ok()?,
        created_at,
        message_id: message_id.to_owned(),
        payload: payload.to_owned(),
    })
}

/// The decimal integer before the first comma, and the text after that comma. One parser for the
/// three fields, rather than `str::parse` for three types, keeps the WebAssembly build small.
fn number(text: &str) -> Option<(i64, &str)> {
    let (digits, rest) = text.split_once(',')?;
    let (negative, digits) = match digits.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, digits),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut n: i64 = 0;
    for d in digits.bytes() {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + i64::from(d - b'0');
    }
    Some((if negative { -n } else { n }, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_whatever_the_id_and_payload_contain() {
        for (id, payload) in [
            ("0194f3a0-7c1e-7000-8000-000000000000", r#"{"a":1}"#),
            ("m,ü 1", "x,y,z\n"),
            ("", ""),
        ] {
            let text = encode(3, -5, id, payload);
            assert_eq!(
                decode(&text),
                Some(Record {
                    attempts: 3,
                    created_at: -5,
                    message_id: id.to_owned(),
                    payload: payload.to_owned(),
                })
            );
        }
    }

    #[test]
    fn damaged_records_are_refused() {
        assert_eq!(decode(""), None);
        assert_eq!(decode("1,2"), None);
        assert_eq!(decode("1,2,99,short"), None);
        assert_eq!(decode("x,2,1,ab"), None);
        assert_eq!(decode("1,2,1,üx"), None);
        assert_eq!(decode("-1,2,1,ab"), None, "attempts are never negative");
        assert_eq!(decode("1,,1,ab"), None);
        assert_eq!(decode("1,9999999999999999999,1,ab"), None);
    }
}
