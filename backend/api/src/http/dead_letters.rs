//! Dead letters: `GET /v1/dead-letters`, `GET /v1/dead-letters/{id}`,
//! `POST /v1/dead-letters/{id}/replay`. Only the read key's project is visible.

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use footfall_store::DeadLetterRow;
use serde::{Deserialize, Serialize};

use super::extract::ReadProject;
use super::{blocking, ApiError, AppState};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/dead-letters", get(list))
        .route("/v1/dead-letters/{id}", get(show))
        .route("/v1/dead-letters/{id}/replay", post(replay))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<usize>,
    #[serde(default)]
    include_replayed: bool,
}

/// A page of dead letters.
#[derive(Debug, Serialize)]
struct DeadLetters {
    dead_letters: Vec<DeadLetterRow>,
}

async fn list(
    State(state): State<AppState>,
    ReadProject(project): ReadProject,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<DeadLetters>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::InvalidParam {
            param: "limit".into(),
            message: "between 1 and 1000".into(),
        });
    }
    blocking(move || {
        let rows = state.store.dead_letters(10_000, q.include_replayed)?;
        let dead_letters = rows
            .into_iter()
            .filter(|d| d.project_id == project)
            .take(limit)
            .collect();
        Ok(DeadLetters { dead_letters })
    })
    .await
    .map(Json)
}

fn find(state: &AppState, project: &str, id: &str) -> Result<DeadLetterRow, ApiError> {
    state
        .store
        .dead_letter(id)?
        .filter(|d| d.project_id == project)
        .ok_or_else(|| ApiError::NotFound(format!("no dead letter {id:?}")))
}

async fn show(
    State(state): State<AppState>,
    ReadProject(project): ReadProject,
    Path(id): Path<String>,
) -> Result<Json<DeadLetterRow>, ApiError> {
    blocking(move || find(&state, &project, &id))
        .await
        .map(Json)
}

/// The outcome of a replay.
#[derive(Debug, Serialize)]
struct Replayed {
    id: String,
    stored: usize,
}

async fn replay(
    State(state): State<AppState>,
    ReadProject(project): ReadProject,
    Path(id): Path<String>,
) -> Result<Json<Replayed>, ApiError> {
    blocking(move || {
        find(&state, &project, &id)?;
        let processor = state.processor.clone().ok_or_else(|| {
            ApiError::Unavailable("replay needs the processor (footfall serve)".into())
        })?;
        let mut processor = processor
            .lock()
            .map_err(|_| ApiError::Internal("processor lock poisoned".into()))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let report = footfall_processor::replay::replay_dead_letter(&mut processor, &id, now)?;
        Ok(Replayed {
            id,
            stored: report.stored,
        })
    })
    .await
    .map(Json)
}
