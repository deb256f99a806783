//! How queued events are written as strings in IndexedDB or localStorage.
//!
//! A record holds a chunk of events, so that a burst of events is one write instead of one per event:
//! `#`, then for each event `"{seq},{attempts},{created_at},{id_len},{payload_len},{message_id}{payload}"`,
//! back to back. Lengths are in bytes; nothing needs escaping, so encoding is a few copies and decoding
//! never re-parses the payload's JSON.
//!
//! Records written before chunks hold one event, without the `#` and without seq and payload length
//! (the record's key is the seq): `"{attempts},{created_at},{id_len},{message_id}{payload}"`. They are
//! still read, and replaced by a chunk the first time their event changes.

use alloc::borrow::ToOwned;
use alloc::string::String;

use footfall_core::json::write_int;
use footfall_core::StoredEvent;

/// The stored fields of one event, without its seq (the seq is the record's key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) attempts: u32,
    pub(crate) created_at: i64,
    pub(crate) message_id: String,
    pub(crate) payload: String,
}

#[cfg(test)]
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

/// Appends one event to a chunk record (which starts with `#`).
pub(crate) fn push_event(out: &mut String, seq: u64, e: &StoredEvent) {
    out.reserve(e.message_id.len() + e.payload.len() + 40);
    for n in [
        seq as i64,
        i64::from(e.attempts),
        e.created_at,
        e.message_id.len() as i64,
        e.payload.len() as i64,
    ] {
        write_int(out, n);
        out.push(',');
    }
    out.push_str(&e.message_id);
    out.push_str(&e.payload);
}

/// Reads a record under the key `key`, chunk or single event, calling `event` for each event with its
/// seq. A damaged record yields the events before the damage; false then.
pub(crate) fn decode_record(key: u64, text: &str, mut event: impl FnMut(u64, Record)) -> bool {
    let Some(mut rest) = text.strip_prefix('#') else {
        return match decode(text) {
            Some(r) => {
                event(key, r);
                true
            }
            None => false,
        };
    };
    while !rest.is_empty() {
        let Some((seq, r, after)) = decode_one(rest) else {
            return false;
        };
        event(seq, r);
        rest = after;
    }
    true
}

fn decode_one(text: &str) -> Option<(u64, Record, &str)> {
    let (seq, rest) = number(text)?;
    let (attempts, rest) = number(rest)?;
    let (created_at, rest) = number(rest)?;
    let (id_len, rest) = number(rest)?;
    let (payload_len, rest) = number(rest)?;
    let id_len = usize::try_from(id_len).ok()?;
    let end = id_len.checked_add(usize::try_from(payload_len).ok()?)?;
    let record = Record {
        attempts: u32::try_from(attempts).ok()?,
        created_at,
        message_id: rest.get(..id_len)?.to_owned(),
        payload: rest.get(id_len..end)?.to_owned(),
    };
    Some((u64::try_from(seq).ok()?, record, rest.get(end..)?))
}

/// Reads a single-event record written by [`encode`]; `None` if it is damaged (it is then dropped at
/// load).
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
    use alloc::vec::Vec;

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
    fn chunks_round_trip_and_single_event_records_are_still_read() {
        let events = [
            Record {
                attempts: 2,
                created_at: -5,
                message_id: "m,1".to_owned(),
                payload: "{\"a\":\"1,2\"}".to_owned(),
            },
            Record {
                attempts: 0,
                created_at: 7,
                message_id: "ü".to_owned(),
                payload: String::new(),
            },
        ];
        let stored = |seq, r: &Record| StoredEvent {
            seq,
            message_id: r.message_id.clone(),
            created_at: r.created_at,
            attempts: r.attempts,
            payload: r.payload.clone(),
        };
        let mut chunk = String::from("#");
        push_event(&mut chunk, 10, &stored(10, &events[0]));
        push_event(&mut chunk, 12, &stored(12, &events[1]));
        let mut read = Vec::new();
        assert!(decode_record(99, &chunk, |seq, r| read.push((seq, r))));
        assert_eq!(read, [(10, events[0].clone()), (12, events[1].clone())]);

        let mut read = Vec::new();
        let single = encode(1, 3, "m", "{}");
        assert!(decode_record(4, &single, |seq, r| read.push((seq, r))));
        assert_eq!(read[0].0, 4, "a single-event record's seq is its key");

        let mut read = Vec::new();
        assert!(!decode_record(1, &chunk[..chunk.len() - 3], |seq, r| read.push((seq, r))));
        assert_eq!(read.len(), 1, "the events before the damage are kept");
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
