//! What the worker answers a client: a status, headers and a body, built without the Workers runtime so
//! that every answer is tested natively. The shapes are the native collector's: an
//! [`ErrorBody`] with a stable `code` on every non-2xx, `Retry-After` on 429 and 503, and CORS that lets
//! any origin post with Basic auth and gzip and read `Retry-After`.

use std::time::Duration;

use footfall_protocol::{ErrorBody, ErrorCode};

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// Headers, in order; CORS headers are added by [`Answer::with_cors`].
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// The request headers a browser may send cross-origin.
const ALLOWED_HEADERS: &str = "authorization,content-type,content-encoding";

impl Answer {
    /// A JSON answer.
    pub fn json(status: u16, value: &impl serde::Serialize) -> Self {
        Self {
            status,
            headers: vec![("content-type", "application/json".to_owned())],
            // Serializing the protocol's types to a Vec cannot fail.
            body: serde_json::to_vec(value).unwrap_or_default(),
        }
    }

    /// The Pixel API's answer: a transparent 1×1 GIF, never cached.
    pub fn gif() -> Self {
        Self {
            status: 200,
            headers: vec![
                ("content-type", "image/gif".to_owned()),
                ("cache-control", "no-store".to_owned()),
            ],
            body: footfall_ingest::pixel::GIF.to_vec(),
        }
    }

    /// An error answer, with `Retry-After` (whole seconds, at least 1) when given.
    pub fn error(
        status: u16,
        code: ErrorCode,
        message: impl Into<String>,
        retry_after: Option<Duration>,
    ) -> Self {
        let mut answer = Self::json(status, &ErrorBody::new(code, message));
        if let Some(after) = retry_after {
            answer
                .headers
                .push(("retry-after", retry_after_secs(after)));
            // analytics.js waits this long after a 429, and ignores Retry-After.
            if status == 429 {
                answer
                    .headers
                    .push(("x-ratelimit-reset", retry_after_secs(after)));
            }
        }
        answer
    }

    /// 503 + `Retry-After`: clients keep the events and send them again.
    pub fn unavailable(message: impl Into<String>, retry_after: Duration) -> Self {
        Self::error(503, ErrorCode::Unavailable, message, Some(retry_after))
    }

    /// The answer to a CORS preflight (`OPTIONS`) that asked for `requested` headers
    /// (`Access-Control-Request-Headers`). They are all allowed, as the collector does: beside auth,
    /// type and gzip, analytics.js adds `X-Retry-Count` to every retry and RudderStack's SDK adds
    /// `AnonymousId`, and a fixed list made browsers refuse those requests. No credentials are
    /// allowed, so mirroring grants nothing.
    pub fn preflight(requested: Option<&str>) -> Self {
        let names_only = |list: &&str| {
            list.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_, ".contains(&b))
        };
        let allowed = requested
            .filter(names_only)
            .filter(|list| !list.trim().is_empty())
            .unwrap_or(ALLOWED_HEADERS);
        Self {
            status: 200,
            headers: vec![
                (
                    "access-control-allow-methods",
                    "GET,POST,OPTIONS".to_owned(),
                ),
                ("access-control-allow-headers", allowed.to_owned()),
                ("access-control-max-age", "86400".to_owned()),
                ("vary", "access-control-request-headers".to_owned()),
            ],
            body: Vec::new(),
        }
    }

    /// 404 in the error shape.
    pub fn not_found() -> Self {
        Self::error(
            404,
            ErrorCode::NotFound,
            "no such endpoint: the API is POST /v1/batch and /v1/{track,page,screen,identify,group,alias}",
            None,
        )
    }

    /// 405 for a known path with another method than POST.
    pub fn method_not_allowed() -> Self {
        let mut answer = Self::error(405, ErrorCode::NotFound, "use POST on this endpoint", None);
        answer.headers.push(("allow", "POST".to_owned()));
        answer
    }

    /// Adds the CORS headers every answer carries: any origin, and `Retry-After` readable by scripts
    /// (browsers hide it otherwise, and the web SDK needs it to honour a 429 or 503).
    pub fn with_cors(mut self) -> Self {
        self.headers
            .push(("access-control-allow-origin", "*".to_owned()));
        self.headers.push((
            "access-control-expose-headers",
            "retry-after,x-ratelimit-reset".to_owned(),
        ));
        self
    }

    /// The value of a header, if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Whole seconds, rounded up and at least 1, as `Retry-After` wants them.
pub fn retry_after_secs(after: Duration) -> String {
    let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
    secs.max(1).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_have_the_collectors_shape_and_retry_after_in_whole_seconds() {
        let answer = Answer::unavailable("origin down", Duration::from_millis(1500)).with_cors();
        assert_eq!(answer.status, 503);
        assert_eq!(answer.header("Retry-After"), Some("2"));
        assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
        let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"success": false, "code": "unavailable", "message": "origin down"})
        );
        assert_eq!(retry_after_secs(Duration::ZERO), "1");
        assert_eq!(retry_after_secs(Duration::from_secs(5)), "5");
    }

    #[test]
    fn a_preflight_allows_what_the_sdk_asks_for_from_any_origin() {
        let asked = "authorization,content-type,x-retry-count,anonymousid";
        let mirrored = Answer::preflight(Some(asked));
        assert_eq!(mirrored.header("access-control-allow-headers"), Some(asked));
        let garbled = Answer::preflight(Some("x\r\nset-cookie: a"));
        assert_eq!(
            garbled.header("access-control-allow-headers"),
            Some(ALLOWED_HEADERS),
            "only header names are echoed"
        );
        let answer = Answer::preflight(None).with_cors();
        assert_eq!(answer.status, 200);
        let allowed = answer.header("access-control-allow-headers").unwrap();
        for header in ["authorization", "content-type", "content-encoding"] {
            assert!(allowed.contains(header));
        }
        assert_eq!(
            answer.header("access-control-allow-methods"),
            Some("GET,POST,OPTIONS")
        );
    }
}
