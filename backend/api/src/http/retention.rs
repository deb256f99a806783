//! `POST /v1/query/retention`: the body is [`RawRetentionParams`], the answer [`Retention`].

use axum::routing::post;
use axum::{extract::State, Json, Router};
use footfall_store::query::retention::{self, RawRetentionParams, Retention};

use super::extract::{JsonBody, ReadProject};
use super::{blocking, ApiError, AppState};

/// The route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/query/retention", post(handle))
}

async fn handle(
    State(state): State<AppState>,
    ReadProject(project): ReadProject,
    JsonBody(raw): JsonBody<RawRetentionParams>,
) -> Result<Json<Retention>, ApiError> {
    let params = raw.validate(&project)?;
    blocking(move || Ok(retention::run(state.store.as_ref(), &params)?))
        .await
        .map(Json)
}
