//! [`FootfallError`]: what a Kotlin or Swift caller did wrong, or what the device's storage reported.

use footfall_core::ErrorKind;

/// An error thrown to Kotlin (`FootfallException`) or Swift (`FootfallError`). Each variant names the
/// problem; the SDK never crashes the app on bad input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum FootfallError {
    /// A JSON argument (`properties`, `traits`, `context`) did not parse, or was not an object.
    #[error("{field} is not a JSON object: {reason}")]
    InvalidJson {
        /// Which argument.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An argument is refused: an empty event name or id, a message over 32 KB.
    #[error("{reason}")]
    InvalidArgument {
        /// Why.
        reason: String,
    },
    /// The configuration is refused, naming the field.
    #[error("{reason}")]
    InvalidConfig {
        /// Why.
        reason: String,
    },
    /// The SQLite queue failed (disk full, file unreadable).
    #[error("{reason}")]
    Storage {
        /// What SQLite reported.
        reason: String,
    },
}

impl From<footfall_core::Error> for FootfallError {
    fn from(e: footfall_core::Error) -> Self {
        let reason = e.to_string();
        match e.kind() {
            ErrorKind::NotAnObject { field, .. } => FootfallError::InvalidJson {
                field: (*field).to_owned(),
                reason,
            },
            ErrorKind::InvalidConfig { .. } => FootfallError::InvalidConfig { reason },
            ErrorKind::Storage(_) => FootfallError::Storage { reason },
            _ => FootfallError::InvalidArgument { reason },
        }
    }
}

impl From<footfall_core::StorageError> for FootfallError {
    fn from(e: footfall_core::StorageError) -> Self {
        FootfallError::Storage {
            reason: e.to_string(),
        }
    }
}

/// Parses a JSON argument; `None` and empty strings mean "no properties".
pub(crate) fn parse_object(
    field: &str,
    json: Option<&str>,
) -> Result<serde_json::Value, FootfallError> {
    let Some(text) = json.filter(|t| !t.trim().is_empty()) else {
        return Ok(serde_json::Value::Null);
    };
    let invalid = |reason: String| FootfallError::InvalidJson {
        field: field.to_owned(),
        reason,
    };
    match serde_json::from_str(text) {
        Ok(value @ (serde_json::Value::Object(_) | serde_json::Value::Null)) => Ok(value),
        Ok(other) => Err(invalid(format!("found {}", json_type(&other)))),
        Err(e) => Err(invalid(e.to_string())),
    }
}

fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_json_names_the_argument_and_the_problem() {
        let err = parse_object("properties", Some("{\"a\":")).unwrap_err();
        assert!(
            matches!(&err, FootfallError::InvalidJson { field, .. } if field == "properties"),
            "{err:?}"
        );
        let err = parse_object("traits", Some("[1]")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "traits is not a JSON object: found an array"
        );
    }

    #[test]
    fn absent_or_blank_json_means_no_properties() {
        assert_eq!(parse_object("p", None).unwrap(), serde_json::Value::Null);
        assert_eq!(
            parse_object("p", Some(" ")).unwrap(),
            serde_json::Value::Null
        );
        assert!(parse_object("p", Some("{\"a\":1}")).unwrap().is_object());
    }
}
