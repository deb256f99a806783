//! Body decoding: `Content-Encoding: gzip` with a decompression cap.
//!
//! The encoding header is honoured whatever `Content-Type` says: RudderStack's Node client sends gzipped
//! JSON labelled `application/x-www-form-urlencoded`, and browsers' `sendBeacon` sends `text/plain`. A
//! body without `Content-Encoding` that starts with the gzip magic bytes is decompressed too, because a
//! proxy may strip the header. Decompression stops as soon as the output passes the limit, so a gzip bomb
//! costs at most `limit` bytes of memory.

use std::borrow::Cow;
use std::io::Read;

use flate2::read::MultiGzDecoder;

use crate::IngestError;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Whether [`decode_body`] will decompress `body`: `Content-Encoding: gzip`, or no encoding and the
/// gzip magic bytes. An encoding other than gzip or identity is [`IngestError::UnsupportedEncoding`].
pub fn is_compressed(body: &[u8], content_encoding: Option<&str>) -> Result<bool, IngestError> {
    match content_encoding.map(str::trim).filter(|e| !e.is_empty()) {
        None => Ok(body.starts_with(&GZIP_MAGIC)),
        Some(e) if e.eq_ignore_ascii_case("gzip") || e.eq_ignore_ascii_case("x-gzip") => Ok(true),
        Some(e) if e.eq_ignore_ascii_case("identity") => Ok(false),
        Some(other) => Err(IngestError::UnsupportedEncoding(other.to_owned())),
    }
}

/// Decodes a request body, returning it as is when it is not compressed.
///
/// `limit` applies to the decoded bytes; an over-limit body is [`IngestError::TooLarge`].
pub fn decode_body<'a>(
    body: &'a [u8],
    content_encoding: Option<&str>,
    limit: usize,
) -> Result<Cow<'a, [u8]>, IngestError> {
    if !is_compressed(body, content_encoding)? {
        if body.len() > limit {
            return Err(IngestError::TooLarge { limit });
        }
        return Ok(Cow::Borrowed(body));
    }
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit + 1));
    // One byte over the limit is enough to know the body is too large.
    let mut reader = MultiGzDecoder::new(body).take(limit as u64 + 1);
    reader
        .read_to_end(&mut out)
        .map_err(|e| IngestError::CorruptGzip(e.to_string()))?;
    if out.len() > limit {
        return Err(IngestError::TooLarge { limit });
    }
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn passes_plain_bodies_through_without_copying() {
        let out = decode_body(b"{}", None, 10).unwrap();
        assert!(matches!(out, Cow::Borrowed(b"{}")));
    }

    #[test]
    fn decompresses_gzip_whatever_the_header_case() {
        let body = gzip(b"{\"batch\":[]}");
        assert_eq!(
            &*decode_body(&body, Some("GZIP"), 100).unwrap(),
            b"{\"batch\":[]}"
        );
        assert_eq!(&*decode_body(&body, None, 100).unwrap(), b"{\"batch\":[]}");
    }

    #[test]
    fn a_body_is_compressed_when_the_header_says_gzip_or_it_has_no_header_and_the_magic() {
        let body = gzip(b"{}");
        assert_eq!(is_compressed(b"{}", Some(" x-gzip ")), Ok(true));
        assert_eq!(is_compressed(&body, None), Ok(true));
        assert_eq!(is_compressed(&body, Some("")), Ok(true));
        assert_eq!(is_compressed(b"{}", None), Ok(false));
        // The header wins over the bytes.
        assert_eq!(is_compressed(&body, Some("identity")), Ok(false));
        assert_eq!(
            is_compressed(b"{}", Some("br")),
            Err(IngestError::UnsupportedEncoding("br".into()))
        );
    }

    #[test]
    fn stops_a_gzip_bomb_at_the_limit() {
        let bomb = gzip(&vec![b' '; 50 * 1024 * 1024]);
        assert!(bomb.len() < 100 * 1024);
        assert_eq!(
            decode_body(&bomb, Some("gzip"), 500 * 1024),
            Err(IngestError::TooLarge { limit: 500 * 1024 })
        );
    }

    #[test]
    fn rejects_corrupt_gzip_and_unknown_encodings() {
        assert!(matches!(
            decode_body(&[0x1f, 0x8b, 1, 2, 3], Some("gzip"), 100),
            Err(IngestError::CorruptGzip(_))
        ));
        assert!(matches!(
            decode_body(b"{}", Some("br"), 100),
            Err(IngestError::UnsupportedEncoding(_))
        ));
        assert_eq!(
            decode_body(b"0123456789", None, 5),
            Err(IngestError::TooLarge { limit: 5 })
        );
    }
}
