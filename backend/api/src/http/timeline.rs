//! `GET /v1/persons/{id}/timeline?limit=N`: the ordered events of one person across devices.

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use footfall_store::query::timeline::{self, RawTimelineParams, Timeline};
use serde::Deserialize;

use super::extract::ReadProject;
use super::{blocking, ApiError, AppState};

/// The route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/persons/{id}/timeline", get(handle))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitQuery {
    limit: Option<usize>,
}

async fn handle(
    State(state): State<AppState>,
    ReadProject(project): ReadProject,
    Path(person): Path<String>,
    query: Result<Query<LimitQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Timeline>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let params = RawTimelineParams {
        person,
        limit: q.limit,
    }
    .validate(&project)?;
    blocking(move || Ok(timeline::run(state.store.as_ref(), &params)?))
        .await
        .map(Json)
}
