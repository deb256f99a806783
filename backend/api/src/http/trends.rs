//! `POST /v1/query/trends`: the body is [`RawTrendsParams`], the answer [`Trends`].

use axum::routing::post;
use axum::{extract::State, Json, Router};
use footfall_store::query::trends::{self, RawTrendsParams, Trends};

use super::extract::{JsonBody, ReadProject};
use super::{blocking, ApiError, AppState};

/// The route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/query/trends", post(handle))
}

async fn handle(
    State(state): State<AppState>,
    ReadProject(project): ReadProject,
    JsonBody(raw): JsonBody<RawTrendsParams>,
) -> Result<Json<Trends>, ApiError> {
    let params = raw.validate(&project)?;
    blocking(move || Ok(trends::run(state.store.as_ref(), &params)?))
        .await
        .map(Json)
}
