//! How one queued event is written as one string in IndexedDB or localStorage.
//!
//! `"{attempts},{created_at},{id_len},{message_id}{payload}"`: three decimal numbers, then the messageId
//! and the payload back to back, split by the id's byte length. Nothing needs escaping, so encoding is
//! a few copies and decoding never re-parses the payload's JSON.

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
    out.push_str(&attempts.to_string());
    out.push(',');
    out.push_str(&created_at.to_string());
    out.push(',');
    out.push_str(&message_id.len().to_string());
    out.push(',');
    out.push_str(message_id);
    out.push_str(payload);
    out
}

/// Reads a record written by [`encode`]; `None` if it is damaged (it is then dropped at load).
pub(crate) fn decode(text: &str) -> Option<Record> {
    let mut parts = text.splitn(4, ',');
    let attempts = parts.next()?.parse().ok()?;
    let created_at = parts.next()?.parse().ok()?;
    let id_len: usize = parts.next()?.parse().ok()?;
    let rest = parts.next()?;
    if !rest.is_char_boundary(id_len) {
        return None;
    }
    let (message_id, payload) = rest.split_at(id_len);
    Some(Record {
        attempts,
        created_at,
        message_id: message_id.to_owned(),
        payload: payload.to_owned(),
    })
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
    }
}
