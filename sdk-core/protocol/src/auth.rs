//! The write key in HTTP Basic auth.
//!
//! Segment's clients send `Authorization: Basic base64("<writeKey>:")`: the write key as the user name
//! and an empty password. Some send a password anyway; it is ignored.

use alloc::string::String;

#[cfg(feature = "serde")]
use alloc::borrow::ToOwned;
#[cfg(feature = "serde")]
use base64::engine::general_purpose::STANDARD;
#[cfg(feature = "serde")]
use base64::Engine as _;

/// The `Authorization` header value for a write key.
///
/// The base64 is written here rather than with the `base64` crate so that an SDK built without the
/// `serde` feature (the WebAssembly one) carries a dozen lines instead of a dependency.
pub fn basic_authorization(write_key: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut credentials = String::with_capacity(write_key.len() + 1);
    credentials.push_str(write_key);
    credentials.push(':');
    let mut out = String::with_capacity(6 + credentials.len().div_ceil(3) * 4);
    out.push_str("Basic ");
    for chunk in credentials.as_bytes().chunks(3) {
        let bytes = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(bytes[0]) << 16 | u32::from(bytes[1]) << 8 | u32::from(bytes[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            out.push(if i <= chunk.len() {
                char::from(ALPHABET[(n >> shift & 63) as usize])
            } else {
                '='
            });
        }
    }
    out
}

/// Why an `Authorization` header did not yield a write key.
#[cfg(feature = "serde")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// The scheme is not `Basic`.
    NotBasic,
    /// The credentials are not valid base64 or not UTF-8.
    Malformed,
    /// The user name, which carries the write key, is empty.
    EmptyWriteKey,
}

#[cfg(feature = "serde")]
impl core::fmt::Display for AuthError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            AuthError::NotBasic => "the Authorization header must use the Basic scheme",
            AuthError::Malformed => "the Basic credentials are not valid base64-encoded UTF-8",
            AuthError::EmptyWriteKey => "the Basic credentials carry an empty write key",
        })
    }
}

#[cfg(feature = "serde")]
impl core::error::Error for AuthError {}

/// The write key in an `Authorization: Basic …` header value.
#[cfg(feature = "serde")]
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
    use base64::engine::general_purpose::STANDARD;
    use std::format;

    #[test]
    fn the_hand_written_encoding_agrees_with_the_base64_crate() {
        for key in ["", "k", "wk", "wk_", "wk_live_123", "ключ-ü"] {
            assert_eq!(
                basic_authorization(key),
                format!(
                    "Basic {}",
                    base64::Engine::encode(&STANDARD, format!("{key}:"))
                )
            );
        }
    }

    #[test]
    #[cfg(feature = "serde")]
    fn round_trips_a_write_key() {
        let header = basic_authorization("wk_live_123");
        assert_eq!(header, "Basic d2tfbGl2ZV8xMjM6");
        assert_eq!(
            write_key_from_authorization(&header).unwrap(),
            "wk_live_123"
        );
    }

    #[test]
    #[cfg(feature = "serde")]
    fn ignores_a_password_and_rejects_other_schemes() {
        let header = format!("basic {}", base64::Engine::encode(&STANDARD, "key:secret"));
        assert_eq!(write_key_from_authorization(&header).unwrap(), "key");
        assert_eq!(
            write_key_from_authorization("Bearer abc"),
            Err(AuthError::NotBasic)
        );
        assert_eq!(
            write_key_from_authorization("Basic %%%"),
            Err(AuthError::Malformed)
        );
        let empty = format!("Basic {}", base64::Engine::encode(&STANDARD, ":"));
        assert_eq!(
            write_key_from_authorization(&empty),
            Err(AuthError::EmptyWriteKey)
        );
    }
}
