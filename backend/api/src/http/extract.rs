//! Extractors: the read key, and JSON bodies whose errors become [`ApiError`]s.

use std::collections::HashMap;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::AppState;

/// Read keys: secret, per project, separate from the collector's public write keys.
#[derive(Debug, Clone, Default)]
pub struct ReadKeys {
    keys: HashMap<String, String>,
}

impl ReadKeys {
    /// Adds a key for a project.
    pub fn insert(&mut self, key: impl Into<String>, project: impl Into<String>) -> &mut Self {
        self.keys.insert(key.into(), project.into());
        self
    }

    /// The project of a key.
    pub fn project(&self, key: &str) -> Option<&str> {
        self.keys.get(key).map(String::as_str)
    }
}

/// The project the request's read key gives access to.
#[derive(Debug, Clone)]
pub struct ReadProject(pub String);

impl FromRequestParts<AppState> for ReadProject {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        state
            .read_keys
            .project(key.trim())
            .map(|p| ReadProject(p.to_owned()))
            .ok_or(ApiError::Unauthorized)
    }
}

/// A JSON body; unknown fields and type errors answer 400 with serde's message.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::BadRequest(format!("invalid body: {e}")))
    }
}
