//! Messages sent as an image, for places where no script runs, such as an email (an open is
//! `<img src="https://collector.example.com/v1/pixel/track?data=…">`) or an AMP page. Both answer a
//! transparent 1×1 GIF once the message is stored, and the collector's usual error otherwise.
//!
//! * Segment's Pixel API, `GET /v1/pixel/<type>?data=…`: the message, its `writeKey` included, is JSON
//!   in base64 ([`message`]).
//! * RudderStack's, `GET /pixel/v1/track` and `/pixel/v1/page`: the message's fields are the query's
//!   parameters, `writeKey` among them, with dotted names for nested ones
//!   (`properties.campaign=winter`, `context.page.url=…`), every value a string
//!   ([`message_of_parameters`]).

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

/// The message named by a RudderStack pixel's query parameters: `event=Email%20Opened&
/// anonymousId=a1&properties.campaign=winter` is `{"event": "Email Opened", "anonymousId": "a1",
/// "properties": {"campaign": "winter"}}`. `writeKey` is left out (it is the request's key); a
/// parameter given twice keeps its last value.
pub fn message_of_parameters(query: Option<&str>) -> Result<Vec<u8>, IngestError> {
    let mut message = serde_json::Map::new();
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = form_decoded(name)?;
        if name == "writeKey" || name.is_empty() {
            continue;
        }
        let value = serde_json::Value::String(form_decoded(value)?);
        let mut path = name.split('.').peekable();
        let mut object = &mut message;
        while let Some(key) = path.next() {
            if path.peek().is_none() {
                object.insert(key.to_owned(), value);
                break;
            }
            let child = object
                .entry(key.to_owned())
                .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
            if !child.is_object() {
                return Err(IngestError::InvalidRequest(format!(
                    "{name}: {key} is a value and an object at once"
                )));
            }
            object = child.as_object_mut().expect("an object, checked above");
        }
    }
    Ok(serde_json::Value::Object(message).to_string().into_bytes())
}

/// A form-encoded query part: `+` is a space, `%XX` a byte.
fn form_decoded(text: &str) -> Result<String, IngestError> {
    percent_decoded(&text.replace('+', " "))
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
    fn rudderstacks_parameters_make_a_message_with_nested_fields() {
        let query = "writeKey=wk&event=Email+Opened&anonymousId=a%201\
                     &properties.campaign=winter&context.page.url=https%3A%2F%2Fshop.test%2F";
        let message: serde_json::Value =
            serde_json::from_slice(&message_of_parameters(Some(query)).unwrap()).unwrap();
        assert_eq!(
            message,
            serde_json::json!({"event": "Email Opened", "anonymousId": "a 1",
                "properties": {"campaign": "winter"},
                "context": {"page": {"url": "https://shop.test/"}}})
        );
        let clash = message_of_parameters(Some("context=x&context.page=y")).unwrap_err();
        assert!(
            clash.to_string().contains("a value and an object"),
            "{clash}"
        );
    }

    #[test]
    fn names_what_is_wrong_with_the_data() {
        let reason = |query| message(query).unwrap_err().to_string();
        assert!(reason(None).starts_with("data: missing"));
        assert!(reason(Some("data=%zz")).contains("%-escape"));
        assert!(reason(Some("data=not*base64")).starts_with("data: not base64"));
    }
}
