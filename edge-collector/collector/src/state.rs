//! The one state type shared by every handler, and how a running collector takes a new configuration.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use footfall_ingest::{GeoLookup, Ingestor, MaxMindGeo, SchemaRegistry, UnplannedEvents};
use metrics_exporter_prometheus::PrometheusHandle;
use time::OffsetDateTime;

use crate::config::Config;
use crate::limiter::KeyLimiter;
use crate::live_events::LiveEvents;
use crate::memory::RequestMemory;
use crate::schemas::{load_dir, warn_of_projects_without_keys, SchemaStore};
use crate::sinks::EventSink;
use crate::tls::{read_certified_key, ServerCert};
use crate::Error;

type ClockFn = dyn Fn() -> OffsetDateTime + Send + Sync;

/// Everything a request needs: the settings in force, the schemas, the sink, the metrics handle and
/// the clock. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub(crate) struct Inner {
    settings: RwLock<Arc<Settings>>,
    /// Held through a reload, so that two at once cannot each build on the same old settings.
    reloading: Mutex<()>,
    pub(crate) schemas: Arc<SchemaStore>,
    pub(crate) sink: Arc<dyn EventSink>,
    pub(crate) metrics: PrometheusHandle,
    pub(crate) clock: Box<ClockFn>,
    /// The certificate served when the collector speaks HTTPS; a reload replaces what it holds.
    pub(crate) tls: Option<Arc<ServerCert>>,
    /// What requests in progress may hold at once.
    pub(crate) memory: RequestMemory,
    /// Set once shutdown began: `/ready` answers 503 and HTTP/1 answers close their connections.
    shutting_down: AtomicBool,
    /// The records shown to `GET /live-events`.
    pub(crate) live: LiveEvents,
}

/// The part of the state a reload replaces. A request takes one snapshot when it starts, so that it
/// never sees half of an old configuration and half of a new one.
pub(crate) struct Settings {
    pub(crate) ingestor: Ingestor,
    pub(crate) limiter: Option<Arc<KeyLimiter>>,
    /// What these settings were built from: Retry-After and the edge secrets are read from it, and
    /// the next reload compares with it.
    pub(crate) config: Config,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let settings = self.settings();
        f.debug_struct("AppState")
            .field("ingestor", &settings.ingestor)
            .field("sink", &self.0.sink.name())
            .field("rate_limited", &settings.limiter.is_some())
            .field("edge_relay", &settings.config.edge_secret.is_some())
            .finish_non_exhaustive()
    }
}

/// What [`AppState::reload`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reloaded {
    /// The settings (named as in the config file) that changed and are now in force.
    pub applied: Vec<&'static str>,
    /// The settings that changed but only take effect at the next start; their old values stay.
    pub need_restart: Vec<&'static str>,
    /// Whether the GeoIP database was read again (it may have been replaced in place).
    pub geoip_reread: bool,
    /// Whether the TLS certificate and key were read again (a renewal replaces them in place).
    pub certificate_reread: bool,
    /// How many write keys are in force now.
    pub write_keys: usize,
}

impl AppState {
    /// Builds the state: reads the GeoIP database, the schema directory and the TLS certificate named
    /// in `config`.
    pub fn new(config: &Config, sink: Arc<dyn EventSink>) -> Result<Self, Error> {
        let ingestor = Ingestor::new(config.write_keys.clone(), config.enrich.clone());
        let ingestor = match load_geo(config)? {
            Some(geo) => ingestor.with_geo(geo),
            None => ingestor,
        };
        let registry = match &config.schema_dir {
            Some(dir) => load_dir(dir)?,
            None => SchemaRegistry::new(),
        }
        .with_unplanned(config.unplanned_events);
        warn_of_projects_without_keys(&registry, &config.write_keys);
        let schemas = registry.len();
        let tls = match &config.tls {
            Some(files) => Some(Arc::new(ServerCert::load(files)?)),
            None => None,
        };
        let state = Self(Arc::new(Inner {
            settings: RwLock::new(Arc::new(Settings {
                ingestor,
                limiter: KeyLimiter::new(config.rate_limit, &config.key_rate_limits).map(Arc::new),
                config: config.clone(),
            })),
            reloading: Mutex::new(()),
            schemas: Arc::new(SchemaStore::new(registry)),
            sink,
            metrics: crate::metrics::handle(),
            clock: Box::new(OffsetDateTime::now_utc),
            tls,
            memory: RequestMemory::new(config.max_request_memory_bytes),
            shutting_down: AtomicBool::new(false),
            live: LiveEvents::new(),
        }));
        // After `metrics::handle()` above, which installs the recorder.
        crate::metrics::schemas_in_force(schemas);
        Ok(state)
    }

    /// Puts `config` in force without a restart, as `SIGHUP` does: the write keys, the rate limits,
    /// the client-IP options, the GeoIP database and the TLS certificate (both read again even when
    /// their paths are the same, since updaters replace them in place), Retry-After, the shutdown
    /// delay, the policy for unplanned events (once a schema directory is in force) and the edge
    /// secret. Requests already running finish with the settings they started with, and open
    /// connections with the certificate they were made with.
    ///
    /// The listen address, the sink, the log format, the thread count, the schema directory, the
    /// connection limits (the shutdown's drain timeout among them), the request memory budget and
    /// turning HTTPS on or off need a restart; such a change is reported in
    /// [`Reloaded::need_restart`] and otherwise ignored. The schema directory's files are reloaded on
    /// their own when they change.
    ///
    /// A configuration that cannot be put in force (a GeoIP database or a certificate that cannot be
    /// read) changes nothing.
    ///
    /// The files are read on the calling thread: call this off the async workers.
    pub fn reload(&self, config: &Config) -> Result<Reloaded, Error> {
        let _one_at_a_time = self
            .0
            .reloading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let current = self.settings();
        let old = &current.config;
        let geo = load_geo(config)?;
        // Read only while serving HTTPS: the listener is chosen at start.
        let certificate = match (&self.0.tls, &config.tls) {
            (Some(_), Some(files)) => Some(read_certified_key(files)?),
            _ => None,
        };
        let mut reloaded = Reloaded {
            geoip_reread: geo.is_some(),
            certificate_reread: certificate.is_some(),
            write_keys: config.write_keys.len(),
            ..Reloaded::default()
        };
        // Flagging or refusing unplanned events needs the schema directory, which only a restart
        // turns on: until then every track event would be unplanned.
        let unplanned_changed = old.unplanned_events != config.unplanned_events;
        let waits_for_plan =
            old.schema_dir.is_none() && config.unplanned_events != UnplannedEvents::Accept;
        let applied = [
            ("write_keys", old.write_keys != config.write_keys),
            (
                "trusted_proxies",
                old.enrich.trusted_proxies != config.enrich.trusted_proxies,
            ),
            (
                "anonymize_ip",
                old.enrich.anonymize_ip != config.enrich.anonymize_ip,
            ),
            ("geoip_db", old.geoip_db != config.geoip_db),
            ("rate_limit", old.rate_limit != config.rate_limit),
            ("rate_limits", old.key_rate_limits != config.key_rate_limits),
            ("retry_after_secs", old.retry_after != config.retry_after),
            ("unplanned_events", unplanned_changed && !waits_for_plan),
            (
                "shutdown_delay_secs",
                old.shutdown_delay != config.shutdown_delay,
            ),
            (
                "edge_secret",
                old.edge_secret != config.edge_secret
                    || old.edge_secret_previous != config.edge_secret_previous,
            ),
            (
                "live_events_token",
                old.live_events_token != config.live_events_token,
            ),
            ("public_url", old.public_url != config.public_url),
            (
                "tls_cert",
                old.tls.is_some() && config.tls.is_some() && old.tls != config.tls,
            ),
        ];
        let need_restart = [
            ("unplanned_events", unplanned_changed && waits_for_plan),
            ("listen", old.listen != config.listen),
            ("sink", old.sink != config.sink),
            ("log_format", old.log_format != config.log_format),
            (
                "worker_threads",
                old.worker_threads != config.worker_threads,
            ),
            ("schema_dir", old.schema_dir != config.schema_dir),
            ("tls", old.tls.is_some() != config.tls.is_some()),
            (
                "idle_timeout_secs",
                old.connection_limits.idle_timeout != config.connection_limits.idle_timeout,
            ),
            (
                "max_connections",
                old.connection_limits.max_connections != config.connection_limits.max_connections,
            ),
            (
                "shutdown_timeout_secs",
                old.connection_limits.drain_timeout != config.connection_limits.drain_timeout,
            ),
            (
                "max_request_memory_bytes",
                old.max_request_memory_bytes != config.max_request_memory_bytes,
            ),
            (
                "schema_reload_secs",
                old.schema_reload != config.schema_reload,
            ),
        ];
        reloaded.applied = changed(&applied);
        reloaded.need_restart = changed(&need_restart);

        // The settings that need a restart keep their old values, so the next reload compares with
        // what is really in force.
        let mut in_force = config.clone();
        in_force.listen = old.listen;
        in_force.sink = old.sink.clone();
        in_force.log_format = old.log_format;
        in_force.worker_threads = old.worker_threads;
        in_force.schema_dir = old.schema_dir.clone();
        in_force.schema_reload = old.schema_reload;
        in_force.connection_limits = old.connection_limits;
        in_force.max_request_memory_bytes = old.max_request_memory_bytes;
        if waits_for_plan {
            in_force.unplanned_events = old.unplanned_events;
        }
        let new_unplanned = (in_force.unplanned_events != old.unplanned_events)
            .then_some(in_force.unplanned_events);
        if old.tls.is_some() != config.tls.is_some() {
            in_force.tls = old.tls.clone();
        }

        // Unchanged limits keep their limiter, so a reload does not refill every key's budget.
        let limits_unchanged =
            old.rate_limit == config.rate_limit && old.key_rate_limits == config.key_rate_limits;
        let limiter = if limits_unchanged {
            current.limiter.clone()
        } else {
            KeyLimiter::new(config.rate_limit, &config.key_rate_limits).map(Arc::new)
        };
        let settings = Settings {
            ingestor: current.ingestor.reconfigured(
                config.write_keys.clone(),
                config.enrich.clone(),
                geo,
            ),
            limiter,
            config: in_force,
        };
        *self
            .0
            .settings
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(settings);
        if let Some(unplanned) = new_unplanned {
            self.0.schemas.set_unplanned(unplanned);
        }
        if let (Some(served), Some(certificate)) = (&self.0.tls, certificate) {
            served.replace(certificate);
        }
        Ok(reloaded)
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

    /// Begins shutting down: from now on `/ready` answers 503, so that load balancers take the
    /// collector out of rotation, and each HTTP/1 answer closes its connection, so that keep-alive
    /// clients reconnect (to another collector) before the listener closes. Requests are still served.
    pub fn begin_shutdown(&self) {
        self.0.shutting_down.store(true, Ordering::Relaxed);
        // Their streams would otherwise hold the drain to its deadline.
        self.0.live.close();
    }

    /// Whether [`AppState::begin_shutdown`] was called.
    pub fn is_shutting_down(&self) -> bool {
        self.0.shutting_down.load(Ordering::Relaxed)
    }

    /// The sink, to close it once no request is left ([`EventSink::close`]).
    pub fn sink(&self) -> &Arc<dyn EventSink> {
        &self.0.sink
    }

    /// The schema store, to reload it.
    pub fn schemas(&self) -> &Arc<SchemaStore> {
        &self.0.schemas
    }

    /// The configuration in force: the one the state was built with, as later reloads changed it.
    pub fn config(&self) -> Config {
        self.settings().config.clone()
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.0
    }

    /// The settings in force, for one request.
    pub(crate) fn settings(&self) -> Arc<Settings> {
        Arc::clone(
            &self
                .0
                .settings
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

fn changed(settings: &[(&'static str, bool)]) -> Vec<&'static str> {
    settings
        .iter()
        .filter(|(_, changed)| *changed)
        .map(|(name, _)| *name)
        .collect()
}

/// Reads the GeoIP database `config` names, if any.
fn load_geo(config: &Config) -> Result<Option<Arc<dyn GeoLookup>>, Error> {
    let Some(path) = &config.geoip_db else {
        return Ok(None);
    };
    let bytes = std::fs::read(path).map_err(|e| {
        Error::Startup(format!(
            "cannot read GeoIP database {}: {e}",
            path.display()
        ))
    })?;
    let geo = MaxMindGeo::from_bytes(bytes)
        .map_err(|e| Error::Startup(format!("invalid GeoIP database {}: {e}", path.display())))?;
    Ok(Some(Arc::new(geo)))
}

#[cfg(test)]
mod tests;
