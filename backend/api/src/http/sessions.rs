//! `POST /v1/query/sessions`: the body is [`RawSessionParams`], the answer [`SessionStats`].

use axum::routing::post;
use axum::{extract::State, Json, Router};
use footfall_store::query::sessions::{self, RawSessionParams, SessionStats};

use super::extract::{JsonBody, ReadProject};
use super::{blocking, ApiError, AppState};

/// The route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/query/sessions", post(handle))
}

async fn handle(
    State(state): State<AppState>,
    ReadProject(project): ReadProject,
    JsonBody(raw): JsonBody<RawSessionParams>,
) -> Result<Json<SessionStats>, ApiError> {
    let params = raw.validate(&project)?;
    blocking(move || Ok(sessions::run(state.store.as_ref(), &params)?))
        .await
        .map(Json)
}
