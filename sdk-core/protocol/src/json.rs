//! Writing JSON text by hand where a collector builds it per event, for speed.

use alloc::vec::Vec;

/// Appends `s` as a JSON string, exactly as `serde_json` writes it.
///
/// Nearly every key and value needs no escape (`serde_json` escapes only control characters, `"` and
/// `\`); those are copied whole, which skips `serde_json`'s byte-by-byte walk through a writer: that
/// walk was 4 % of the collector's CPU.
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    if !needs_escape(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing a str to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// Whether `s` holds a control character, `"` or `\`, tested eight bytes at a time.
fn needs_escape(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Whether some byte of `v` is below `n` (n <= 128): subtracting borrows into a byte's top bit only
    // where the byte was below `n` or a lower byte already was, so the test (not the count) is exact.
    let has_below = |v: u64, n: u8| v.wrapping_sub(ONES * u64::from(n)) & !v & HIGHS != 0;
    let has_byte = |v: u64, b: u8| has_below(v ^ (ONES * u64::from(b)), 1);
    let mut chunks = s.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        if has_below(v, 0x20) || has_byte(v, b'"') || has_byte(v, b'\\') {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn writes_what_serde_json_writes(s in any::<String>()) {
            let mut out = Vec::new();
            push_str(&mut out, &s);
            prop_assert_eq!(out, serde_json::to_vec(&s).unwrap());
        }
    }

    #[test]
    fn finds_an_escape_at_every_position_among_any_neighbours() {
        for len in 1..=24 {
            for at in 0..len {
                for special in [0u8, 0x1f, b'"', b'\\'] {
                    for filler in [b'a', 0x20, 0x21, 0x7f, 0xc3, 0xff] {
                        let mut bytes = alloc::vec![filler; len];
                        assert!(!needs_escape(&bytes) || filler < 0x20);
                        bytes[at] = special;
                        assert!(needs_escape(&bytes), "{bytes:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn escapes_quotes_backslashes_and_control_characters() {
        for s in ["a\"b", "a\\b", "a\u{1}b", "\n", "\u{1f}", "é\u{2028}\u{7f}"] {
            let mut out = Vec::new();
            push_str(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }
}
