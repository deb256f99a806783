//! The one state type shared by every handler.

use std::sync::Arc;
use std::time::Duration;

use footfall_ingest::{Ingestor, MaxMindGeo, SchemaRegistry};
use metrics_exporter_prometheus::PrometheusHandle;
use time::OffsetDateTime;

use crate::config::Config;
use crate::limiter::KeyLimiter;
use crate::schemas::{load_dir, SchemaStore};
use crate::sinks::EventSink;
use crate::Error;

type ClockFn = dyn Fn() -> OffsetDateTime + Send + Sync;

/// Everything a request needs: the ingest logic, the schemas in force, the sink, the rate limiter,
/// the metrics handle and the clock. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) ingestor: Ingestor,
    pub(crate) schemas: Arc<SchemaStore>,
    pub(crate) sink: Arc<dyn EventSink>,
    pub(crate) limiter: Option<KeyLimiter>,
    pub(crate) metrics: PrometheusHandle,
    pub(crate) clock: Box<ClockFn>,
    pub(crate) retry_after: Duration,
    pub(crate) edge_secret: Option<String>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("ingestor", &self.0.ingestor)
            .field("sink", &self.0.sink.name())
            .field("rate_limited", &self.0.limiter.is_some())
            .field("edge_relay", &self.0.edge_secret.is_some())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Builds the state: reads the GeoIP database and the schema directory named in `config`.
    pub fn new(config: &Config, sink: Arc<dyn EventSink>) -> Result<Self, Error> {
        let mut ingestor = Ingestor::new(config.write_keys.clone(), config.enrich.clone());
        if let Some(path) = &config.geoip_db {
            let bytes = std::fs::read(path).map_err(|e| {
                Error::Startup(format!(
                    "cannot read GeoIP database {}: {e}",
                    path.display()
                ))
            })?;
            let geo = MaxMindGeo::from_bytes(bytes).map_err(|e| {
                Error::Startup(format!("invalid GeoIP database {}: {e}", path.display()))
            })?;
            ingestor = ingestor.with_geo(Arc::new(geo));
        }
        let registry = match &config.schema_dir {
            Some(dir) => load_dir(dir)?,
            None => SchemaRegistry::new(),
        };
        Ok(Self(Arc::new(Inner {
            ingestor,
            schemas: Arc::new(SchemaStore::new(registry)),
            sink,
            limiter: config.rate_limit.map(KeyLimiter::new),
            metrics: crate::metrics::handle(),
            clock: Box::new(OffsetDateTime::now_utc),
            retry_after: config.retry_after,
            edge_secret: config.edge_secret.clone(),
        })))
    }

    /// Replaces the clock (tests). Call before the state is cloned.
    ///
    /// # Panics
    ///
    /// If the state was already cloned.
    pub fn with_clock(
        mut self,
        clock: impl Fn() -> OffsetDateTime + Send + Sync + 'static,
    ) -> Self {
        Arc::get_mut(&mut self.0)
            .expect("with_clock is called before the state is shared")
            .clock = Box::new(clock);
        self
    }

    /// The schema store, to reload it.
    pub fn schemas(&self) -> &Arc<SchemaStore> {
        &self.0.schemas
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.0
    }
}
