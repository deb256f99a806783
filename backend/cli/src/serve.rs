//! `footfall serve`: the collector, the processor and the query API.
//!
//! On a laptop one process runs all three on the embedded default (the event log and a DuckDB
//! file under the data directory). At scale the same binary runs each part in its own processes
//! (`--role`), with Kafka between collector and processor (`--kafka-broker`) and ClickHouse as
//! the store (`--clickhouse-url`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::Context;
use axum::routing::get;
use footfall_api::{api_router, AppState};
use footfall_collector::{Config as CollectorConfig, EventSink, LogSink, SinkConfig};
use footfall_eventlog::LogConfig;
use footfall_processor::sources::embedded::{EmbeddedSource, DEFAULT_GROUP};
use footfall_processor::sources::kafka::KafkaLogSource;
use footfall_processor::sources::Source;
use footfall_processor::{Processor, RunOptions};
use footfall_store::{ClickHouseStore, DuckStore, Store};
use tokio::sync::watch;

use crate::config::{Role, ServeConfig, StoreConfig, Transport};

/// The Kafka consumer group of the processors.
pub const KAFKA_GROUP: &str = "footfall-backend";

/// A running `footfall serve`.
pub struct Running {
    /// Where the collector listens, when it runs here.
    pub collector_addr: Option<SocketAddr>,
    /// Where the query API listens, when it runs here.
    pub api_addr: Option<SocketAddr>,
    /// The embedded logs, when the collector writes them in this process.
    pub sink: Option<Arc<LogSink>>,
    /// The latest event time stored (the processor's watermark), Unix ms.
    pub watermark_ms: Arc<AtomicI64>,
    /// The collector's state, when it runs here, to reload its write keys.
    collector: Option<footfall_collector::AppState>,
    stop: watch::Sender<bool>,
    processor_stop: Arc<AtomicBool>,
    processor: Option<JoinHandle<()>>,
    servers: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// The collector's address (the demo and the benchmarks run every role).
    pub fn collector(&self) -> anyhow::Result<SocketAddr> {
        self.collector_addr
            .context("the collector does not run in this process")
    }

    /// The query API's address.
    pub fn api(&self) -> anyhow::Result<SocketAddr> {
        self.api_addr
            .context("the query API does not run in this process")
    }

    /// Whether the processor has stored everything the collector accepted into the embedded logs
    /// (always false without them).
    pub fn caught_up(&self) -> bool {
        let Some(sink) = &self.sink else {
            return false;
        };
        let done = |log: &footfall_eventlog::EventLog| {
            log.consumer_offset(DEFAULT_GROUP)
                .ok()
                .flatten()
                .unwrap_or(0)
                >= log.high_watermark()
        };
        done(sink.events_log()) && done(sink.dead_letter_log())
    }

    /// The collector's state, when the collector runs in this process: [`reload`] takes it.
    pub fn collector_state(&self) -> Option<footfall_collector::AppState> {
        self.collector.clone()
    }

    /// Stops the servers (finishing requests in flight), then the processor, so that everything
    /// the collector acknowledged is in the log before the processor's last batch.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for s in self.servers.drain(..) {
            let _ = s.await;
        }
        if let Some(collector) = &self.collector {
            collector
                .sink()
                .close(footfall_collector::SINK_CLOSE_TIMEOUT)
                .await;
        }
        self.processor_stop.store(true, Ordering::SeqCst);
        if let Some(p) = self.processor.take() {
            let _ = tokio::task::spawn_blocking(move || p.join()).await;
        }
    }
}

/// Paths under the data directory: the events log, the dead-letter log, the DuckDB file.
pub fn paths(data_dir: &std::path::Path) -> (PathBuf, PathBuf, PathBuf) {
    (
        data_dir.join("log/events"),
        data_dir.join("log/dead-letters"),
        data_dir.join("footfall.duckdb"),
    )
}

fn open_store(config: &ServeConfig) -> anyhow::Result<Arc<dyn Store>> {
    let (_, _, db_path) = paths(&config.data_dir);
    Ok(match &config.store {
        StoreConfig::DuckDb => Arc::new(
            DuckStore::open(&db_path)
                .with_context(|| format!("cannot open {}", db_path.display()))?,
        ),
        StoreConfig::ClickHouse { url, database } => Arc::new(
            ClickHouseStore::open(url, database)
                .with_context(|| format!("cannot open ClickHouse database {database} at {url}"))?,
        ),
    })
}

/// The collector's configuration within `config`: its write keys, address and sink, and the rest
/// from its own config file when `config` names one.
fn collector_config(config: &ServeConfig) -> anyhow::Result<CollectorConfig> {
    let (events_dir, dead_dir, _) = paths(&config.data_dir);
    let mut collector_config = match &config.collector_config {
        None => CollectorConfig::new(config.write_keys.clone()),
        Some(path) => {
            let mut file = footfall_collector::config::FileConfig::read(path)?;
            warn_of_ignored_settings(path, &file);
            // serve's keys join the file's and win over them, as the collector's own flags would.
            file.write_keys.extend(
                config
                    .write_keys
                    .iter()
                    .map(|(key, source)| (key.to_owned(), source.clone())),
            );
            CollectorConfig::from_raw(footfall_collector::Args::default(), file)
                .with_context(|| format!("collector config {}", path.display()))?
        }
    };
    collector_config.listen = config.listen;
    collector_config.sink = match &config.transport {
        Transport::EmbeddedLog => SinkConfig::Log {
            events_dir,
            dead_letter_dir: dead_dir,
            max_disk_bytes: None,
        },
        Transport::Kafka {
            brokers,
            events_topic,
            dead_letter_topic,
        } => SinkConfig::Kafka(footfall_kafka::KafkaConfig {
            brokers: brokers.clone(),
            events_topic: events_topic.clone(),
            dead_letter_topic: dead_letter_topic.clone(),
            spill_dir: config.data_dir.join("kafka-spill"),
            ..Default::default()
        }),
    };
    Ok(collector_config)
}

/// Logs the settings of a `--collector-config` file that `serve` sets itself, so that they are not
/// ignored in silence. A warning, not a refusal: one file may serve a standalone collector too.
fn warn_of_ignored_settings(path: &std::path::Path, file: &footfall_collector::config::FileConfig) {
    let ignored = settings_serve_sets(file);
    if !ignored.is_empty() {
        tracing::warn!(
            file = %path.display(),
            settings = ?ignored,
            "footfall serve sets these collector settings itself and ignores them in the collector's file"
        );
    }
}

/// The settings of a collector config file that `serve` decides itself.
fn settings_serve_sets(file: &footfall_collector::config::FileConfig) -> Vec<&'static str> {
    [
        ("listen", file.listen.is_some()),
        ("sink", file.sink.is_some()),
        ("log_dir", file.log_dir.is_some()),
        ("dead_letter_dir", file.dead_letter_dir.is_some()),
        ("log_max_disk_bytes", file.log_max_disk_bytes.is_some()),
        ("log_format", file.log_format.is_some()),
        ("worker_threads", file.worker_threads.is_some()),
        ("kafka", file.kafka.is_some()),
    ]
    .into_iter()
    .filter(|(_, set)| *set)
    .map(|(name, _)| name)
    .collect()
}

/// Puts the collector's settings from the configuration `load` gives in force in a running collector
/// (`SIGHUP`): the write keys, and what its own config file sets. It is the collector's own reload:
/// logged, counted on `/metrics`, and refused as a whole when the configuration does not load.
/// `serve`'s other settings take effect at the next start.
pub fn reload(
    collector: &footfall_collector::AppState,
    load: impl Fn() -> anyhow::Result<ServeConfig>,
) -> Result<footfall_collector::Reloaded, footfall_collector::Error> {
    footfall_collector::reload_with(collector, &|| {
        load()
            .and_then(|config| collector_config(&config))
            .map_err(|e| footfall_collector::config::ConfigError::Invalid(format!("{e:#}")))
    })
}

/// Starts the configured roles.
pub async fn start(config: ServeConfig) -> anyhow::Result<Running> {
    let (events_dir, dead_dir, _) = paths(&config.data_dir);
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
    let store = if config.runs(Role::Processor) || config.runs(Role::Api) {
        // The stores are synchronous (the ClickHouse one drives its own runtime), so they are
        // opened, like they are used, off the async threads.
        let opening = config.clone();
        Some(tokio::task::spawn_blocking(move || open_store(&opening)).await??)
    } else {
        None
    };

    // The embedded logs: opened for writing by the collector of this process, or read from the
    // data directory that another process's collector writes.
    let sink = if config.transport == Transport::EmbeddedLog && config.runs(Role::Collector) {
        std::fs::create_dir_all(&events_dir)?;
        std::fs::create_dir_all(&dead_dir)?;
        let sink = Arc::new(
            LogSink::open(&events_dir, &dead_dir, LogConfig::default())
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
        sink.events_log().register_consumer(DEFAULT_GROUP)?;
        sink.dead_letter_log().register_consumer(DEFAULT_GROUP)?;
        Some(sink)
    } else {
        None
    };

    let processor_stop = Arc::new(AtomicBool::new(false));
    let watermark_ms = Arc::new(AtomicI64::new(0));
    let mut processor_handle = None;
    let mut shared_processor = None;
    if let (true, Some(store)) = (config.runs(Role::Processor), &store) {
        // Priming the dedup window reads the store: off the async threads, like every store call.
        let priming = store.clone();
        let processor = Arc::new(Mutex::new(
            tokio::task::spawn_blocking(move || Processor::new(priming)).await??,
        ));
        let mut source: Box<dyn Source> = match (&config.transport, &sink) {
            (Transport::EmbeddedLog, Some(sink)) => Box::new(EmbeddedSource::new(
                sink.events_log().reader(),
                Some(sink.dead_letter_log().reader()),
                DEFAULT_GROUP,
            )?),
            (Transport::EmbeddedLog, None) => Box::new(
                EmbeddedSource::open(&events_dir, Some(&dead_dir), DEFAULT_GROUP).with_context(
                    || format!("cannot read the event log in {}", events_dir.display()),
                )?,
            ),
            (
                Transport::Kafka {
                    brokers,
                    events_topic,
                    dead_letter_topic,
                },
                _,
            ) => {
                let kafka = footfall_kafka::KafkaSourceConfig {
                    brokers: brokers.clone(),
                    group_id: KAFKA_GROUP.into(),
                    topics: vec![events_topic.clone()],
                    ..Default::default()
                };
                Box::new(KafkaLogSource::with_dead_letters(
                    &kafka,
                    Some(dead_letter_topic),
                )?)
            }
        };
        let stop = processor_stop.clone();
        let watermark = watermark_ms.clone();
        let running = processor.clone();
        processor_handle = Some(std::thread::Builder::new().name("processor".into()).spawn(
            move || {
                let options = RunOptions {
                    poll_timeout: std::time::Duration::from_millis(50),
                    ..Default::default()
                };
                footfall_processor::run(&running, source.as_mut(), &options, &stop, |r| {
                    if let Some(m) = r.max_event_ms {
                        watermark.fetch_max(m, Ordering::Relaxed);
                    }
                });
            },
        )?);
        shared_processor = Some(processor);
    }

    let (stop, stop_rx) = watch::channel(false);
    let shutdown = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let metrics = footfall_collector::metrics::handle();
    let mut servers = Vec::new();
    let mut collector_addr = None;
    // The sink's own figures (fsyncs, spill backlog) are read at each scrape, on either port.
    let mut collector_sink: Option<Arc<dyn EventSink>> = None;
    let mut collector_state = None;
    if config.runs(Role::Collector) {
        let collector_config = collector_config(&config)?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        collector_addr = Some(listener.local_addr()?);
        let served_sink: Arc<dyn EventSink> = match &sink {
            Some(log) => log.clone(),
            None => footfall_collector::open_sink(&collector_config.sink)?,
        };
        collector_sink = Some(served_sink.clone());
        let state = footfall_collector::AppState::new(&collector_config, served_sink)?;
        collector_state = Some(state.clone());
        let shutdown = shutdown();
        servers.push(tokio::spawn(async move {
            let served = footfall_collector::serve_state(state, listener, shutdown).await;
            if let Err(e) = served {
                tracing::error!(error = %e, "collector stopped");
            }
        }));
    }
    let mut api_addr = None;
    if let (true, Some(store)) = (config.runs(Role::Api), &store) {
        let listener = tokio::net::TcpListener::bind(config.api_listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.api_listen))?;
        api_addr = Some(listener.local_addr()?);
        let mut state = AppState::new(store.clone(), config.read_keys.clone());
        if let Some(p) = shared_processor {
            state = state.with_processor(p);
        }
        // The same recorder as the collector's: the processor's and the API's metrics too.
        let app = api_router(state).route(
            "/metrics",
            get(move || async move {
                if let Some(sink) = &collector_sink {
                    sink.export_metrics();
                }
                metrics.render()
            }),
        );
        let stop = shutdown();
        // The query API serves on through the collector's shutdown delay (read when it begins, as
        // the collector does), so that the process's ports close together: a balancer or a
        // Kubernetes Service still routing to it meanwhile finds both open.
        let collector = collector_state.clone();
        let shutdown = async move {
            stop.await;
            if let Some(collector) = collector {
                tokio::time::sleep(collector.config().shutdown_delay).await;
            }
        };
        servers.push(tokio::spawn(async move {
            // The collector's accept loop: its idle timeout and connection limit protect the API too.
            let listener = footfall_collector::without_nagle(listener);
            let limits = footfall_collector::ConnectionLimits::default();
            footfall_collector::serve_connections(listener, "api", app, limits, shutdown).await;
        }));
    }
    tracing::info!(
        roles = ?config.roles,
        collector = ?collector_addr,
        api = ?api_addr,
        store = ?config.store,
        transport = ?config.transport,
        data_dir = %config.data_dir.display(),
        "footfall serving"
    );
    Ok(Running {
        collector_addr,
        collector: collector_state,
        api_addr,
        sink,
        watermark_ms,
        stop,
        processor_stop,
        processor: processor_handle,
        servers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_collector_settings_serve_decides_itself_are_named() {
        let example = include_str!("../../../edge-collector/collector/collector.example.toml");
        let file: footfall_collector::config::FileConfig = toml::from_str(example).unwrap();
        assert_eq!(
            settings_serve_sets(&file),
            [
                "listen",
                "sink",
                "log_dir",
                "dead_letter_dir",
                "log_max_disk_bytes",
                "log_format",
                "worker_threads",
                "kafka"
            ]
        );
        let only_enrichment: footfall_collector::config::FileConfig =
            toml::from_str("trusted_proxies = [\"10.0.0.0/8\"]\nanonymize_ip = true\n").unwrap();
        assert!(settings_serve_sets(&only_enrichment).is_empty());
    }

    #[test]
    fn the_collectors_file_can_make_serves_collector_port_speak_https() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("collector.toml");
        std::fs::write(
            &file,
            "tls_cert = \"/etc/footfall/cert.pem\"\ntls_key = \"/etc/footfall/key.pem\"\n",
        )
        .unwrap();
        let mut config = ServeConfig::embedded(dir.path().to_path_buf()).unwrap();
        config.collector_config = Some(file);
        let tls = collector_config(&config).unwrap().tls.unwrap();
        assert_eq!(tls.cert, std::path::Path::new("/etc/footfall/cert.pem"));
        assert_eq!(tls.key, std::path::Path::new("/etc/footfall/key.pem"));
    }
}
