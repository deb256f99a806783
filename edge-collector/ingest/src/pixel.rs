//! Segment's Pixel API: a message sent as an image, for places where no script runs, such as an
//! email (an open is `<img src="https://collector.example.com/v1/pixel/track?data=…">`). The message,
//! its `writeKey` included, is JSON in base64 in the `data` parameter; `GET /v1/pixel/<type>` answers
//! a transparent 1×1 GIF once it is stored, and the collector's usual error otherwise.

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine as _;

use crate::IngestError;

/// A transparent 1×1 GIF.
pub const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";

/// The message in a pixel request's query (`data=<base64 JSON>`), decoded: base64 standard or
/// URL-safe, padded or not, percent-encoded or not (a `+` that arrives as a space is read as `+`).
pub fn message(query: Option<&str>) -> Result<Vec<u8>, IngestError> {
    let data = query
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("data="))
        .ok_or_else(|| {
            IngestError::InvalidRequest(
                "data: missing; send the message as base64 JSON in ?data=".into(),
            )
        })?;
    let text = percent_decoded(data)?;
    let text = text.trim_end_matches('=').replace(' ', "+");
    let engine = if text.contains(['-', '_']) {
        URL_SAFE_NO_PAD
    } else {
        STANDARD_NO_PAD
    };
    engine
        .decode(text.as_bytes())
        .map_err(|e| IngestError::InvalidRequest(format!("data: not base64 ({e})")))
}

fn percent_decoded(text: &str) -> Result<String, IngestError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = text
                .get(at + 1..at + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| IngestError::InvalidRequest("data: a broken %-escape".into()))?;
            out.push(hex);
            at += 3;
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    String::from_utf8(out).map_err(|_| IngestError::InvalidRequest("data: not base64".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};

    #[test]
    fn reads_base64_in_every_spelling_a_template_may_use() {
        // `?` and `>` give `/` and `+` in standard base64, `_` and `-` in URL-safe.
        let json = br#"{"event":"Email Opened??>>","userId":"u1","writeKey":"wk"}"#;
        let standard = STANDARD.encode(json);
        assert!(standard.contains(['+', '/']), "{standard}");
        for data in [
            standard.clone(),
            standard
                .replace('+', "%2B")
                .replace('/', "%2F")
                .replace('=', "%3D"),
            standard.replace('+', " "),
            URL_SAFE.encode(json),
            URL_SAFE_NO_PAD.encode(json),
        ] {
            let query = format!("utm=1&data={data}");
            assert_eq!(message(Some(&query)).unwrap(), json, "{data}");
        }
        assert_eq!(GIF.len(), 43);
        assert!(GIF.starts_with(b"GIF89a"));
    }

    #[test]
    fn names_what_is_wrong_with_the_data() {
        let reason = |query| message(query).unwrap_err().to_string();
        assert!(reason(None).starts_with("data: missing"));
        assert!(reason(Some("data=%zz")).contains("%-escape"));
        assert!(reason(Some("data=not*base64")).starts_with("data: not base64"));
    }
}
