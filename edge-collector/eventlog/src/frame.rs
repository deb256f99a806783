//! Record framing: how one [`Record`] is laid out inside a segment file.
//!
//! ```text
//! frame  := body_len:u32  crc:u32  body            (little-endian)
//! body   := offset:u64  timestamp_ms:u64  key_len:u32  key  payload
//! crc    := CRC-32 (IEEE, crc32fast) of body
//! ```
//!
//! `body_len` counts the body only, so a frame is `8 + body_len` bytes and
//! the fixed overhead per record is 28 bytes. The absolute offset is inside
//! the checksummed body: a frame read from the wrong place, or a segment
//! spliced from another log, fails loudly instead of shifting every offset.
//! The length sits outside the CRC (it tells how much to checksum); a
//! damaged length makes the CRC fail or runs past the end of the file.

use crate::record::{LogEntry, Record};

/// Bytes before the body: `body_len` and `crc`.
pub(crate) const FRAME_HEADER_LEN: usize = 8;
/// Fixed part of the body: offset, timestamp, key length.
pub(crate) const BODY_FIXED_LEN: usize = 20;
/// Total per-record overhead on disk.
pub(crate) const FRAME_OVERHEAD: usize = FRAME_HEADER_LEN + BODY_FIXED_LEN;
/// Largest body the format allows. Far above any sane event; it exists so a
/// damaged length field can never ask for a multi-gigabyte allocation.
pub(crate) const MAX_BODY_LEN: usize = 1 << 30;

/// Why bytes did not decode into a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// The bytes end inside the frame: `needed` more were expected.
    Incomplete { needed: u64 },
    /// The length field is impossible (too small or absurdly large).
    BadLength(u32),
    /// The stored checksum does not match the body.
    CrcMismatch { stored: u32, computed: u32 },
    /// The key length runs past the end of the body.
    BadKeyLength { key_len: u32, body_len: u32 },
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Incomplete { needed } => {
                write!(f, "frame cut short ({needed} more bytes expected)")
            }
            FrameError::BadLength(len) => write!(f, "impossible frame length {len}"),
            FrameError::CrcMismatch { stored, computed } => write!(
                f,
                "CRC mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
            FrameError::BadKeyLength { key_len, body_len } => {
                write!(f, "key length {key_len} exceeds body length {body_len}")
            }
        }
    }
}

/// Bytes a record occupies on disk.
pub(crate) fn encoded_len(record: &Record) -> usize {
    FRAME_OVERHEAD + record.key.len() + record.payload.len()
}

/// Appends the frame for `record` at `offset` to `buf`.
///
/// The caller guarantees the body fits [`MAX_BODY_LEN`] (appends are
/// bounded by `max_append_bytes`, which is validated to be smaller).
pub(crate) fn encode(buf: &mut Vec<u8>, offset: u64, timestamp_ms: u64, record: &Record) {
    let body_len = BODY_FIXED_LEN + record.key.len() + record.payload.len();
    debug_assert!(body_len <= MAX_BODY_LEN);
    let start = buf.len();
    buf.reserve(FRAME_HEADER_LEN + body_len);
    buf.extend_from_slice(&(body_len as u32).to_le_bytes());
    buf.extend_from_slice(&[0; 4]); // CRC, patched below once the body is in place.
    buf.extend_from_slice(&offset.to_le_bytes());
    buf.extend_from_slice(&timestamp_ms.to_le_bytes());
    buf.extend_from_slice(&(record.key.len() as u32).to_le_bytes());
    buf.extend_from_slice(&record.key);
    buf.extend_from_slice(&record.payload);
    let crc = crc32fast::hash(&buf[start + FRAME_HEADER_LEN..]);
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Parses the 8-byte frame header into `(body_len, crc)`.
pub(crate) fn parse_header(header: [u8; FRAME_HEADER_LEN]) -> Result<(usize, u32), FrameError> {
    let body_len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let len = body_len as usize;
    if !(BODY_FIXED_LEN..=MAX_BODY_LEN).contains(&len) {
        return Err(FrameError::BadLength(body_len));
    }
    Ok((len, crc))
}

/// Checks `body` against `stored_crc` and splits it into an entry.
pub(crate) fn parse_body(body: &[u8], stored_crc: u32) -> Result<LogEntry, FrameError> {
    let computed = crc32fast::hash(body);
    if computed != stored_crc {
        return Err(FrameError::CrcMismatch {
            stored: stored_crc,
            computed,
        });
    }
    let offset = u64::from_le_bytes(body[0..8].try_into().expect("8 bytes"));
    let timestamp_ms = u64::from_le_bytes(body[8..16].try_into().expect("8 bytes"));
    let key_len = u32::from_le_bytes(body[16..20].try_into().expect("4 bytes"));
    let key_end = BODY_FIXED_LEN.saturating_add(key_len as usize);
    if key_end > body.len() {
        return Err(FrameError::BadKeyLength {
            key_len,
            body_len: body.len() as u32,
        });
    }
    Ok(LogEntry {
        offset,
        timestamp_ms,
        record: Record {
            key: body[BODY_FIXED_LEN..key_end].to_vec(),
            payload: body[key_end..].to_vec(),
        },
    })
}

/// Decodes one frame from the front of `bytes`, returning the entry and the
/// number of bytes it used.
#[cfg(test)]
pub(crate) fn decode(bytes: &[u8]) -> Result<(LogEntry, usize), FrameError> {
    let Some(header) = bytes.get(..FRAME_HEADER_LEN) else {
        return Err(FrameError::Incomplete {
            needed: (FRAME_HEADER_LEN - bytes.len()) as u64,
        });
    };
    let (body_len, crc) = parse_header(header.try_into().expect("8 bytes"))?;
    let total = FRAME_HEADER_LEN + body_len;
    let Some(body) = bytes.get(FRAME_HEADER_LEN..total) else {
        return Err(FrameError::Incomplete {
            needed: (total - bytes.len()) as u64,
        });
    };
    Ok((parse_body(body, crc)?, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(offset: u64, key: &str, payload: &str) -> Vec<u8> {
        let mut buf = Vec::new();
        encode(
            &mut buf,
            offset,
            1_700_000_000_000,
            &Record::new(key, payload),
        );
        buf
    }

    #[test]
    fn encoded_frame_round_trips() {
        let record = Record::new("wk:user-1", r#"{"event":"Signed Up"}"#);
        let mut buf = vec![0xAA]; // Encoding appends; existing bytes stay put.
        encode(&mut buf, 7, 123, &record);
        assert_eq!(buf.len(), 1 + encoded_len(&record));
        let (entry, used) = decode(&buf[1..]).unwrap();
        assert_eq!(used, encoded_len(&record));
        assert_eq!(entry.offset, 7);
        assert_eq!(entry.timestamp_ms, 123);
        assert_eq!(entry.record, record);
    }

    #[test]
    fn empty_key_and_payload_round_trip() {
        let buf = frame(0, "", "");
        assert_eq!(buf.len(), FRAME_OVERHEAD);
        let (entry, _) = decode(&buf).unwrap();
        assert_eq!(entry.record, Record::default());
    }

    #[test]
    fn any_flipped_body_byte_fails_the_crc() {
        let clean = frame(3, "k", "payload");
        for i in FRAME_HEADER_LEN..clean.len() {
            let mut bad = clean.clone();
            bad[i] ^= 0x01;
            assert!(
                matches!(decode(&bad), Err(FrameError::CrcMismatch { .. })),
                "byte {i}"
            );
        }
    }

    #[test]
    fn truncated_frame_is_incomplete_not_garbage() {
        let clean = frame(3, "k", "payload");
        for cut in 0..clean.len() {
            assert!(
                matches!(decode(&clean[..cut]), Err(FrameError::Incomplete { .. })),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn zeroed_bytes_are_an_impossible_length() {
        // Filesystems can leave a zero-filled tail after a power loss.
        assert_eq!(decode(&[0; 64]).unwrap_err(), FrameError::BadLength(0));
    }

    #[test]
    fn absurd_length_is_rejected_before_allocating() {
        let mut bad = frame(0, "k", "v");
        bad[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode(&bad).unwrap_err(), FrameError::BadLength(u32::MAX));
    }

    #[test]
    fn key_length_past_the_body_is_detected_even_with_a_valid_crc() {
        let mut buf = frame(0, "k", "v");
        buf[FRAME_HEADER_LEN + 16..FRAME_HEADER_LEN + 20].copy_from_slice(&99u32.to_le_bytes());
        let crc = crc32fast::hash(&buf[FRAME_HEADER_LEN..]);
        buf[4..8].copy_from_slice(&crc.to_le_bytes());
        assert!(matches!(
            decode(&buf),
            Err(FrameError::BadKeyLength { key_len: 99, .. })
        ));
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_record_round_trips(
            offset in any::<u64>(),
            timestamp_ms in any::<u64>(),
            key in prop::collection::vec(any::<u8>(), 0..64),
            payload in prop::collection::vec(any::<u8>(), 0..2048),
        ) {
            let record = Record { key, payload };
            let mut buf = Vec::new();
            encode(&mut buf, offset, timestamp_ms, &record);
            let (entry, used) = decode(&buf).unwrap();
            prop_assert_eq!(used, buf.len());
            prop_assert_eq!((entry.offset, entry.timestamp_ms), (offset, timestamp_ms));
            prop_assert_eq!(entry.record, record);
        }

        #[test]
        fn arbitrary_bytes_decode_to_an_error_or_a_frame_never_a_panic(
            bytes in prop::collection::vec(any::<u8>(), 0..512),
        ) {
            if let Ok((_, used)) = decode(&bytes) {
                prop_assert!(used <= bytes.len());
            }
        }
    }
}
