//! The API's one error type; `IntoResponse` is the only place statuses are chosen.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An API failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: a parameter is invalid.
    #[error("invalid parameter {param}: {message}")]
    InvalidParam {
        /// The parameter.
        param: String,
        /// Why.
        message: String,
    },
    /// 400: the body is not valid JSON for this query.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no or unknown read key.
    #[error("a valid read key is required (Authorization: Bearer <read key>)")]
    Unauthorized,
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 503: the store is unavailable.
    #[error("{0}")]
    Unavailable(String),
    /// 500.
    #[error("{0}")]
    Internal(String),
}

impl From<footfall_store::Error> for ApiError {
    fn from(e: footfall_store::Error) -> Self {
        match e {
            footfall_store::Error::InvalidParam { param, message } => ApiError::InvalidParam {
                param: param.to_owned(),
                message,
            },
            footfall_store::Error::Unavailable(m) => ApiError::Unavailable(m),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<footfall_processor::Error> for ApiError {
    fn from(e: footfall_processor::Error) -> Self {
        match e {
            footfall_processor::Error::Store(s) => s.into(),
            footfall_processor::Error::Invalid(m) => ApiError::BadRequest(m),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::InvalidParam { .. } => (StatusCode::BAD_REQUEST, "invalid_parameter"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        if status.is_server_error() {
            tracing::warn!(error = %self, "query failed");
        }
        let mut body = json!({"error": {"code": code, "message": self.to_string()}});
        if let ApiError::InvalidParam { param, .. } = &self {
            body["error"]["param"] = json!(param);
        }
        (status, Json(body)).into_response()
    }
}
