//! The HTTP layer: state, routers, error and extractors.

pub mod dead_letters;
pub mod error;
pub mod extract;
pub mod funnel;
pub mod retention;
pub mod sessions;
pub mod timeline;
pub mod trends;

use std::sync::{Arc, Mutex};

use axum::routing::get;
use axum::Router;
use footfall_processor::Processor;
use footfall_store::Store;

use self::error::ApiError;
use self::extract::ReadKeys;

/// Shared state of the API.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Read keys.
    pub read_keys: Arc<ReadKeys>,
    /// The running processor, for dead-letter replay (absent: replay answers 503).
    pub processor: Option<Arc<Mutex<Processor>>>,
}

impl AppState {
    /// State without a processor.
    pub fn new(store: Arc<dyn Store>, read_keys: ReadKeys) -> Self {
        Self {
            store,
            read_keys: Arc::new(read_keys),
            processor: None,
        }
    }

    /// Adds the processor used for replays.
    pub fn with_processor(mut self, processor: Arc<Mutex<Processor>>) -> Self {
        self.processor = Some(processor);
        self
    }
}

/// Runs blocking store work off the async threads.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("query task failed: {e}")))?
}

/// Every route.
pub fn api_router(state: AppState) -> Router {
    Router::new()
        .merge(trends::router())
        .merge(funnel::router())
        .merge(retention::router())
        .merge(timeline::router())
        .merge(sessions::router())
        .merge(dead_letters::router())
        .route("/v1/health", get(|| async { "ok" }))
        .with_state(state)
}

#[cfg(test)]
mod tests;
