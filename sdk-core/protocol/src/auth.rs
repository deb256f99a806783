//! The write key in HTTP Basic auth.
//!
//! Segment's clients send `Authorization: Basic base64("<writeKey>:")`: the write key as the user name
//! and an empty password. Some send a password anyway; it is ignored.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// The `Authorization` header value for a write key.
pub fn basic_authorization(write_key: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{write_key}:")))
}

/// Why an `Authorization` header did not yield a write key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// The scheme is not `Basic`.
    NotBasic,
    /// The credentials are not valid base64 or not UTF-8.
    Malformed,
    /// The user name, which carries the write key, is empty.
    EmptyWriteKey,
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AuthError::NotBasic => "the Authorization header must use the Basic scheme",
            AuthError::Malformed => "the Basic credentials are not valid base64-encoded UTF-8",
            AuthError::EmptyWriteKey => "the Basic credentials carry an empty write key",
        })
    }
}

impl std::error::Error for AuthError {}

/// The write key in an `Authorization: Basic …` header value.
pub fn write_key_from_authorization(header: &str) -> Result<String, AuthError> {
    let (scheme, credentials) = header.trim().split_once(' ').ok_or(AuthError::NotBasic)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(AuthError::NotBasic);
    }
    let decoded = STANDARD
        .decode(credentials.trim())
        .map_err(|_| AuthError::Malformed)?;
    let text = String::from_utf8(decoded).map_err(|_| AuthError::Malformed)?;
    let user = text
        .split_once(':')
        .map_or(text.as_str(), |(user, _password)| user);
    if user.is_empty() {
        return Err(AuthError::EmptyWriteKey);
    }
    Ok(user.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_a_write_key() {
        let header = basic_authorization("wk_live_123");
        assert_eq!(header, "Basic d2tfbGl2ZV8xMjM6");
        assert_eq!(
            write_key_from_authorization(&header).unwrap(),
            "wk_live_123"
        );
    }

    #[test]
    fn ignores_a_password_and_rejects_other_schemes() {
        let header = format!("basic {}", STANDARD.encode("key:secret"));
        assert_eq!(write_key_from_authorization(&header).unwrap(), "key");
        assert_eq!(
            write_key_from_authorization("Bearer abc"),
            Err(AuthError::NotBasic)
        );
        assert_eq!(
            write_key_from_authorization("Basic %%%"),
            Err(AuthError::Malformed)
        );
        let empty = format!("Basic {}", STANDARD.encode(":"));
        assert_eq!(
            write_key_from_authorization(&empty),
            Err(AuthError::EmptyWriteKey)
        );
    }
}
