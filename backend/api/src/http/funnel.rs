//! `POST /v1/query/funnel`: the body is [`RawFunnelParams`], the answer [`Funnel`].

use axum::routing::post;
use axum::{extract::State, Json, Router};
use footfall_store::query::funnel::{self, Funnel, RawFunnelParams};

use super::extract::{JsonBody, ReadProject};
use super::{blocking, ApiError, AppState};

/// The route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/query/funnel", post(handle))
}

async fn handle(
    State(state): State<AppState>,
    ReadProject(project): ReadProject,
    JsonBody(raw): JsonBody<RawFunnelParams>,
) -> Result<Json<Funnel>, ApiError> {
    let params = raw.validate(&project)?;
    blocking(move || Ok(funnel::run(state.store.as_ref(), &params)?))
        .await
        .map(Json)
}
