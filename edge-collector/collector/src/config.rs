//! Configuration: flags, `FOOTFALL_COLLECTOR_*` environment variables and a TOML file, then validation.
//!
//! Two phases, as in ripgrep: [`Args`] (clap, flags and env) and [`FileConfig`] (the `--config` TOML
//! file) are the raw settings; [`Config::from_raw`] merges them (a flag or variable beats the file,
//! which beats the default) and checks them, so the rest of the collector only sees a valid [`Config`].
//!
//! `collector.example.toml`, beside this crate's `Cargo.toml`, shows and explains every setting of
//! the file, the `[kafka]` table (every field of `footfall_kafka::KafkaConfig`) included; the tests
//! load it, so it stays valid. `--check-config` prints the settings in effect in the same shape
//! ([`Config::effective_file`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, ValueEnum};
use footfall_ingest::{EnrichOptions, Source, UnplannedEvents, WriteKeys};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Which sink makes accepted events durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    /// Keep events in memory (tests, benchmarks): nothing is durable.
    Memory,
    /// The embedded durable log (`footfall-eventlog`); needs `log_dir` and `dead_letter_dir`.
    Log,
    /// Kafka, with the idempotent producer (acks=all) and a local spill log while Kafka is down.
    Kafka,
}

/// How logs are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Footfall's edge collector: a Segment-compatible HTTP API that answers 2xx only once every accepted
/// event is durable.
///
/// Every flag can also be set by the environment variable shown, or in the TOML file given with
/// `--config`; a flag or variable wins over the file. Write keys are usually listed in the file
/// (`[write_keys.<key>] projectId = "…" sourceId = "…"`).
///
/// On SIGHUP the collector reads the file again and puts its write keys, rate limits, client-IP
/// options, GeoIP database, Retry-After, edge secret and live events token in force without a
/// restart; a file with a mistake is refused and the running settings stay.
#[derive(Debug, Default, Clone, Parser)]
#[command(name = "footfall-collector", version, about, long_about)]
pub struct Args {
    /// TOML configuration file.
    #[arg(long, env = "FOOTFALL_COLLECTOR_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 0.0.0.0:8080].
    #[arg(long, env = "FOOTFALL_COLLECTOR_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// A write key and what it stands for, as KEY=PROJECT/SOURCE; repeat, or separate with commas.
    #[arg(
        long = "write-key",
        env = "FOOTFALL_COLLECTOR_WRITE_KEYS",
        value_delimiter = ','
    )]
    pub write_keys: Vec<String>,
    /// A proxy network (CIDR) whose X-Forwarded-For is believed; repeat, or separate with commas.
    #[arg(
        long = "trusted-proxy",
        env = "FOOTFALL_COLLECTOR_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<IpNet>,
    /// Zero the last octet (IPv4) or last 80 bits (IPv6) of the client IP stored with events.
    #[arg(long, env = "FOOTFALL_COLLECTOR_ANONYMIZE_IP")]
    pub anonymize_ip: bool,
    /// Directory of `*.json` schema files, reloaded when they change: a track event's properties
    /// (`{"event", "policy", "schema"}`), or identify or group traits (`{"type": "identify", …}`).
    #[arg(long, env = "FOOTFALL_COLLECTOR_SCHEMA_DIR")]
    pub schema_dir: Option<PathBuf>,
    /// How often the schema directory is checked for changes, in seconds [default: 5].
    #[arg(long, env = "FOOTFALL_COLLECTOR_SCHEMA_RELOAD_SECS")]
    pub schema_reload_secs: Option<u64>,
    /// What happens to a `track` event whose name has no schema in --schema-dir: accept, flag (listed
    /// in `context.footfall.schemaViolations`) or reject (to the dead letters) [default: accept].
    /// Flag or reject turn the schema directory into a closed tracking plan; they need it.
    #[arg(long, env = "FOOTFALL_COLLECTOR_UNPLANNED_EVENTS")]
    pub unplanned_events: Option<UnplannedEvents>,
    /// MaxMind GeoIP2/GeoLite2 City database for geo enrichment.
    #[arg(long, env = "FOOTFALL_COLLECTOR_GEOIP_DB")]
    pub geoip_db: Option<PathBuf>,
    /// Events per second allowed per write key; 0 turns rate limiting off [default: 0]. A key's own
    /// `[rate_limits.<key>]` table in the file replaces it for that key.
    #[arg(long, env = "FOOTFALL_COLLECTOR_RATE_LIMIT_EVENTS_PER_SEC")]
    pub rate_limit_events_per_sec: Option<u32>,
    /// Events a write key may send at once above its rate [default: 4 × the rate, at least 1000].
    #[arg(long, env = "FOOTFALL_COLLECTOR_RATE_LIMIT_BURST")]
    pub rate_limit_burst: Option<u32>,
    /// Where accepted events go [default: memory].
    #[arg(long, env = "FOOTFALL_COLLECTOR_SINK")]
    pub sink: Option<SinkKind>,
    /// Event log directory for accepted events (sink = log).
    #[arg(long, env = "FOOTFALL_COLLECTOR_LOG_DIR")]
    pub log_dir: Option<PathBuf>,
    /// Event log directory for dead letters (sink = log).
    #[arg(long, env = "FOOTFALL_COLLECTOR_DEAD_LETTER_DIR")]
    pub dead_letter_dir: Option<PathBuf>,
    /// Disk budget of each event log, in bytes; past it appends fail and clients get 503 [default: none].
    #[arg(long, env = "FOOTFALL_COLLECTOR_LOG_MAX_DISK_BYTES")]
    pub log_max_disk_bytes: Option<u64>,
    /// Retry-After sent with 503 when the sink cannot take events, in seconds [default: 5].
    #[arg(long, env = "FOOTFALL_COLLECTOR_RETRY_AFTER_SECS")]
    pub retry_after_secs: Option<u64>,
    /// Kafka bootstrap brokers, host:port; repeat, or separate with commas (sink = kafka).
    #[arg(
        long = "kafka-broker",
        env = "FOOTFALL_COLLECTOR_KAFKA_BROKERS",
        value_delimiter = ','
    )]
    pub kafka_brokers: Vec<String>,
    /// Kafka topic for accepted events [default: footfall.events].
    #[arg(long, env = "FOOTFALL_COLLECTOR_KAFKA_EVENTS_TOPIC")]
    pub kafka_events_topic: Option<String>,
    /// Kafka topic for dead letters [default: footfall.dead-letters].
    #[arg(long, env = "FOOTFALL_COLLECTOR_KAFKA_DEAD_LETTER_TOPIC")]
    pub kafka_dead_letter_topic: Option<String>,
    /// Where events spill while Kafka is unreachable; they drain to Kafka, in order, when it returns.
    #[arg(long, env = "FOOTFALL_COLLECTOR_KAFKA_SPILL_DIR")]
    pub kafka_spill_dir: Option<PathBuf>,
    /// Disk budget of the spill log in bytes; past it clients get 503 with Retry-After.
    #[arg(long, env = "FOOTFALL_COLLECTOR_KAFKA_SPILL_MAX_BYTES")]
    pub kafka_spill_max_bytes: Option<u64>,
    /// Log format on stderr [default: text]. Filter with RUST_LOG.
    #[arg(long, env = "FOOTFALL_COLLECTOR_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// PEM certificate chain (leaf first) to serve HTTPS with, on the same port; needs --tls-key.
    /// Read again on SIGHUP, so a renewed certificate needs no restart.
    #[arg(long, env = "FOOTFALL_COLLECTOR_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "FOOTFALL_COLLECTOR_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Seconds a connection may wait for a request's headers, idle keep-alive time included; slow
    /// senders and idle connections are closed after it [default: 75, longer than load balancers' 60].
    #[arg(long, env = "FOOTFALL_COLLECTOR_IDLE_TIMEOUT_SECS")]
    pub idle_timeout_secs: Option<u64>,
    /// Connections open at once; past it new ones wait in the kernel's backlog [default: 10000].
    #[arg(long, env = "FOOTFALL_COLLECTOR_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Seconds to keep serving after SIGTERM while `/ready` answers 503, before the collector stops
    /// accepting connections: time for a load balancer to take it out of rotation, so that no client
    /// finds its port closed. Set it a little above the balancer's health-check interval times its
    /// failure threshold (on Kubernetes, 5–10 s) [default: 0]. A second signal skips the wait.
    #[arg(long, env = "FOOTFALL_COLLECTOR_SHUTDOWN_DELAY_SECS")]
    pub shutdown_delay_secs: Option<u64>,
    /// Seconds shutting down waits for the requests in flight once it stops accepting; the
    /// connections still open then are closed, unanswered, so their clients send again. Keep the
    /// delay plus this below the orchestrator's grace period (30 s on Kubernetes) [default: 20].
    #[arg(long, env = "FOOTFALL_COLLECTOR_SHUTDOWN_TIMEOUT_SECS")]
    pub shutdown_timeout_secs: Option<u64>,
    /// Memory that requests in progress may hold at once, in bytes: their bodies, decompressed, and
    /// their events until the sink has them. Past it a request whose body has arrived waits, before
    /// decoding it, until others finish, so that a flood of clients or a slow sink slows answers down
    /// instead of running the collector out of memory [default: 268435456, 256 MiB].
    #[arg(long, env = "FOOTFALL_COLLECTOR_MAX_REQUEST_MEMORY_BYTES")]
    pub max_request_memory_bytes: Option<u64>,
    /// Threads that serve HTTP and validate events [default: one per CPU]. On a small machine shared
    /// with the sink's own threads (librdkafka's compression and sends, the log's writer), fewer cost
    /// less CPU per event at peak but lengthen the latency tail: see docs/benchmarks.md.
    #[arg(long, env = "FOOTFALL_COLLECTOR_WORKER_THREADS")]
    pub worker_threads: Option<usize>,
    /// Shared secret of the edge workers: turns on `POST /edge/v1/records`, where a worker that sends
    /// `Authorization: Bearer <secret>` stores the events it already validated and enriched. Prefer the
    /// variable or the file to the flag, which other users can see in `ps`. At least 32 characters.
    #[arg(long, env = "FOOTFALL_COLLECTOR_EDGE_SECRET", hide_env_values = true)]
    pub edge_secret: Option<String>,
    /// The edge secret being replaced, still accepted while the workers move to the new one: set the
    /// new `edge_secret` and this to the old one, reload (SIGHUP), update the workers' secret, then
    /// remove this and reload again. Needs `edge_secret`.
    #[arg(
        long,
        env = "FOOTFALL_COLLECTOR_EDGE_SECRET_PREVIOUS",
        hide_env_values = true
    )]
    pub edge_secret_previous: Option<String>,
    /// A token that turns on GET /live-events, a stream of the events stored and dropped as they
    /// come, for whoever sends `Authorization: Bearer <token>` (at least 32 characters).
    #[arg(
        long,
        env = "FOOTFALL_COLLECTOR_LIVE_EVENTS_TOKEN",
        hide_env_values = true
    )]
    pub live_events_token: Option<String>,
    /// The URL clients reach the API at, e.g. https://collector.example.com, named in the source
    /// settings that Segment's SDKs load (GET /v1/projects/<write key>/settings). Without it, the
    /// request's Host and scheme (X-Forwarded-Host and -Proto from trusted proxies) are used.
    #[arg(long, env = "FOOTFALL_COLLECTOR_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Check the configuration and exit: the flags, variables and file, the schema directory, the
    /// GeoIP database and, for Kafka, every librdkafka setting (without contacting a broker). Prints
    /// the effective settings as a config file, credentials left out; exits 2 with the first problem.
    #[arg(long)]
    pub check_config: bool,
}

/// The `--config` file. Every field is optional; see the module example.
///
/// It is also the shape `--check-config` prints the effective settings in
/// ([`Config::effective_file`]), so the tables come last, as TOML needs.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Address to listen on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// Proxy networks whose `X-Forwarded-For` is believed.
    #[serde(default)]
    pub trusted_proxies: Vec<IpNet>,
    /// Anonymize client IPs.
    #[serde(default)]
    pub anonymize_ip: bool,
    /// Directory of schema files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_dir: Option<PathBuf>,
    /// Schema directory polling interval, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_reload_secs: Option<u64>,
    /// What happens to a `track` event with no schema: accept, flag or reject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unplanned_events: Option<UnplannedEvents>,
    /// MaxMind City database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geoip_db: Option<PathBuf>,
    /// Events per second per write key (0: off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_events_per_sec: Option<u32>,
    /// Burst size per write key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_burst: Option<u32>,
    /// Where accepted events go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sink: Option<SinkKind>,
    /// Event log directory for accepted events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_dir: Option<PathBuf>,
    /// Event log directory for dead letters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_dir: Option<PathBuf>,
    /// Disk budget of each event log, bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_max_disk_bytes: Option<u64>,
    /// Retry-After on 503, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
    /// Log format.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    /// Seconds a connection may wait for a request's headers, idle time included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout_secs: Option<u64>,
    /// Connections open at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<usize>,
    /// Seconds to keep serving after SIGTERM, not ready, before no longer accepting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown_delay_secs: Option<u64>,
    /// Seconds shutting down waits for the requests in flight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown_timeout_secs: Option<u64>,
    /// Memory that requests in progress may hold at once, bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_request_memory_bytes: Option<u64>,
    /// PEM certificate chain for HTTPS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// Threads that serve HTTP and validate events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_threads: Option<usize>,
    /// Shared secret of the edge workers (turns on `POST /edge/v1/records`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edge_secret: Option<String>,
    /// The edge secret being replaced, still accepted during a rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edge_secret_previous: Option<String>,
    /// The token of `GET /live-events` (turns it on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_events_token: Option<String>,
    /// The URL clients reach the API at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Write keys and the project and source each stands for.
    #[serde(default)]
    pub write_keys: BTreeMap<String, Source>,
    /// Write keys with a rate limit of their own, which replaces `rate_limit_*` for them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rate_limits: BTreeMap<String, KeyRateLimit>,
    /// Kafka delivery settings (sink = kafka).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kafka: Option<footfall_kafka::KafkaConfig>,
}

impl FileConfig {
    /// Reads and parses the file at `path`; unknown keys are refused.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }
}

/// Per-write-key rate limit: the edge worker uses the same one.
pub use footfall_ingest::RateLimit;

/// A `[rate_limits.<write key>]` table: that key's own limit (the edge worker's `RATE_LIMITS` reads
/// the same shape).
pub use footfall_ingest::KeyRateLimit;

/// Where events go, validated.
#[derive(Debug, Clone, PartialEq)]
pub enum SinkConfig {
    /// In memory.
    Memory,
    /// The embedded event log.
    Log {
        /// Accepted events.
        events_dir: PathBuf,
        /// Dead letters.
        dead_letter_dir: PathBuf,
        /// Disk budget of each log.
        max_disk_bytes: Option<u64>,
    },
    /// Kafka, spilling to a local log while it is unreachable.
    Kafka(footfall_kafka::KafkaConfig),
}

/// The PEM files the collector serves HTTPS with ([`crate::tls`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The certificate's private key.
    pub key: PathBuf,
}

/// The validated configuration. Its `Debug` form hides the edge secret.
#[derive(Clone)]
pub struct Config {
    /// Address to listen on (used by `main`; [`crate::serve`] takes a bound listener).
    pub listen: SocketAddr,
    /// Known write keys.
    pub write_keys: WriteKeys,
    /// Client IP handling.
    pub enrich: EnrichOptions,
    /// Schema directory, if any.
    pub schema_dir: Option<PathBuf>,
    /// Schema directory polling interval.
    pub schema_reload: Duration,
    /// What happens to a `track` event with no schema.
    pub unplanned_events: UnplannedEvents,
    /// MaxMind database, if any.
    pub geoip_db: Option<PathBuf>,
    /// The rate limit of every write key without one of its own, if any.
    pub rate_limit: Option<RateLimit>,
    /// The write keys with a rate limit of their own; `None` exempts the key.
    pub key_rate_limits: BTreeMap<String, Option<RateLimit>>,
    /// Where events go.
    pub sink: SinkConfig,
    /// Retry-After on 503.
    pub retry_after: Duration,
    /// Log format.
    pub log_format: LogFormat,
    /// HTTPS on the listen port, if set; plain HTTP otherwise.
    pub tls: Option<TlsFiles>,
    /// The idle timeout, the most connections open at once and the shutdown's drain deadline.
    pub connection_limits: crate::ConnectionLimits,
    /// How long to keep serving, not ready, between SIGTERM and no longer accepting.
    pub shutdown_delay: Duration,
    /// Memory that requests in progress may hold at once, bytes.
    pub max_request_memory_bytes: u64,
    /// Threads of the async runtime that serves HTTP and validates events (used by `main`).
    pub worker_threads: NonZeroUsize,
    /// Shared secret of the edge workers; `None` turns `POST /edge/v1/records` off (404).
    pub edge_secret: Option<String>,
    /// The edge secret being replaced, still accepted during a rotation.
    pub edge_secret_previous: Option<String>,
    /// The token of `GET /live-events`; `None` turns it off (404).
    pub live_events_token: Option<String>,
    /// Where clients reach the API, if configured; else it is read from each request.
    pub public_url: Option<PublicUrl>,
}

/// Where clients reach the API: the scheme, and the host (and port) with any path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    /// `http` or `https`.
    pub protocol: &'static str,
    /// The host, port and path prefix, without a trailing slash: `collector.example.com/footfall`.
    pub host_and_path: String,
}

impl PublicUrl {
    /// Reads `https://host[:port][/prefix]`.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let invalid = |why: &str| {
            ConfigError::Invalid(format!(
                "public_url {text:?}: {why} (write it as https://collector.example.com)"
            ))
        };
        let uri: http::Uri = text.parse().map_err(|_| invalid("not a URL"))?;
        let protocol = match uri.scheme_str() {
            Some("https") => "https",
            Some("http") => "http",
            _ => return Err(invalid("the scheme must be http or https")),
        };
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
        if uri.query().is_some() {
            return Err(invalid("a query has no place in it"));
        }
        let path = uri.path().trim_end_matches('/');
        Ok(Self {
            protocol,
            host_and_path: format!("{authority}{path}"),
        })
    }

    /// As written in a config file.
    pub fn as_url(&self) -> String {
        format!("{}://{}", self.protocol, self.host_and_path)
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("write_keys", &self.write_keys)
            .field("enrich", &self.enrich)
            .field("schema_dir", &self.schema_dir)
            .field("schema_reload", &self.schema_reload)
            .field("unplanned_events", &self.unplanned_events)
            .field("geoip_db", &self.geoip_db)
            .field("rate_limit", &self.rate_limit)
            .field("key_rate_limits", &self.key_rate_limits)
            .field("sink", &self.sink)
            .field("retry_after", &self.retry_after)
            .field("log_format", &self.log_format)
            .field("tls", &self.tls)
            .field("connection_limits", &self.connection_limits)
            .field("shutdown_delay", &self.shutdown_delay)
            .field("max_request_memory_bytes", &self.max_request_memory_bytes)
            .field("worker_threads", &self.worker_threads)
            .field(
                "edge_secret",
                &self.edge_secret.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "edge_secret_previous",
                &self.edge_secret_previous.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "live_events_token",
                &self.live_events_token.as_ref().map(|_| "<redacted>"),
            )
            .field("public_url", &self.public_url)
            .finish()
    }
}

/// The default of `max_request_memory_bytes`: 256 MiB, room for about 8 000 typical 16 KB batches
/// at once, or 200 at the 500 KB limit, compressed.
pub const DEFAULT_MAX_REQUEST_MEMORY_BYTES: u64 = 256 * 1024 * 1024;

/// The least `max_request_memory_bytes` accepted: one batch at its limits, received compressed.
const MIN_REQUEST_MEMORY_BYTES: u64 = 4 * 1024 * 1024;

/// The shortest edge secret (or live events token) accepted, so that it cannot be guessed.
pub const MIN_EDGE_SECRET_LEN: usize = 32;

/// A setting that is not valid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown fields.
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A value is wrong.
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// A configuration with defaults and these write keys: memory sink, no rate limit, no schemas.
    pub fn new(write_keys: WriteKeys) -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            write_keys,
            enrich: EnrichOptions::default(),
            schema_dir: None,
            schema_reload: Duration::from_secs(5),
            unplanned_events: UnplannedEvents::Accept,
            geoip_db: None,
            rate_limit: None,
            key_rate_limits: BTreeMap::new(),
            sink: SinkConfig::Memory,
            retry_after: Duration::from_secs(5),
            log_format: LogFormat::Text,
            tls: None,
            connection_limits: crate::ConnectionLimits::default(),
            shutdown_delay: Duration::ZERO,
            max_request_memory_bytes: DEFAULT_MAX_REQUEST_MEMORY_BYTES,
            worker_threads: available_cpus(),
            edge_secret: None,
            edge_secret_previous: None,
            live_events_token: None,
            public_url: None,
        }
    }

    /// Reads the `--config` file named in `args`, if any, and merges and validates.
    pub fn load(args: Args) -> Result<Self, ConfigError> {
        let file = match &args.config {
            None => FileConfig::default(),
            Some(path) => FileConfig::read(path)?,
        };
        Self::from_raw(args, file)
    }

    /// The settings in effect, as a config file that [`Config::load`] reads back to the same
    /// configuration, with credentials left out: the edge secret and every librdkafka option that
    /// [`footfall_kafka::is_secret_option`] names. The second value lists what was left out.
    pub fn effective_file(&self) -> (FileConfig, Vec<String>) {
        let mut hidden = Vec::new();
        if self.edge_secret.is_some() {
            hidden.push("edge_secret".to_owned());
        }
        if self.edge_secret_previous.is_some() {
            hidden.push("edge_secret_previous".to_owned());
        }
        if self.live_events_token.is_some() {
            hidden.push("live_events_token".to_owned());
        }
        let mut file = FileConfig {
            listen: Some(self.listen),
            trusted_proxies: self.enrich.trusted_proxies.clone(),
            anonymize_ip: self.enrich.anonymize_ip,
            schema_dir: self.schema_dir.clone(),
            schema_reload_secs: Some(self.schema_reload.as_secs()),
            unplanned_events: Some(self.unplanned_events),
            geoip_db: self.geoip_db.clone(),
            rate_limit_events_per_sec: Some(self.rate_limit.map_or(0, |l| l.events_per_sec.get())),
            rate_limit_burst: self.rate_limit.map(|l| l.burst.get()),
            sink: None,
            log_dir: None,
            dead_letter_dir: None,
            log_max_disk_bytes: None,
            retry_after_secs: Some(self.retry_after.as_secs()),
            log_format: Some(self.log_format),
            idle_timeout_secs: Some(self.connection_limits.idle_timeout.as_secs()),
            max_connections: Some(self.connection_limits.max_connections),
            shutdown_delay_secs: Some(self.shutdown_delay.as_secs()),
            shutdown_timeout_secs: Some(self.connection_limits.drain_timeout.as_secs()),
            max_request_memory_bytes: Some(self.max_request_memory_bytes),
            tls_cert: self.tls.as_ref().map(|tls| tls.cert.clone()),
            tls_key: self.tls.as_ref().map(|tls| tls.key.clone()),
            worker_threads: Some(self.worker_threads.get()),
            edge_secret: None,
            edge_secret_previous: None,
            live_events_token: None,
            public_url: self.public_url.as_ref().map(PublicUrl::as_url),
            write_keys: self
                .write_keys
                .iter()
                .map(|(key, source)| (key.to_owned(), source.clone()))
                .collect(),
            rate_limits: self
                .key_rate_limits
                .iter()
                .map(|(key, limit)| (key.clone(), KeyRateLimit::from_limit(*limit)))
                .collect(),
            kafka: None,
        };
        match &self.sink {
            SinkConfig::Memory => file.sink = Some(SinkKind::Memory),
            SinkConfig::Log {
                events_dir,
                dead_letter_dir,
                max_disk_bytes,
            } => {
                file.sink = Some(SinkKind::Log);
                file.log_dir = Some(events_dir.clone());
                file.dead_letter_dir = Some(dead_letter_dir.clone());
                file.log_max_disk_bytes = *max_disk_bytes;
            }
            SinkConfig::Kafka(kafka) => {
                let mut kafka = kafka.clone();
                kafka.librdkafka_options.retain(|key, _| {
                    let secret = footfall_kafka::is_secret_option(key);
                    if secret {
                        hidden.push(format!("kafka.librdkafka_options.\"{key}\""));
                    }
                    !secret
                });
                file.sink = Some(SinkKind::Kafka);
                file.kafka = Some(kafka);
            }
        }
        (file, hidden)
    }

    /// Merges flags over the file and validates.
    pub fn from_raw(args: Args, file: FileConfig) -> Result<Self, ConfigError> {
        let mut write_keys: WriteKeys = file.write_keys.into_iter().collect();
        for entry in &args.write_keys {
            let parsed = entry
                .split_once('=')
                .and_then(|(key, rest)| rest.split_once('/').map(|(p, s)| (key, p, s)))
                .filter(|(k, p, s)| !k.is_empty() && !p.is_empty() && !s.is_empty());
            let Some((key, project, source)) = parsed else {
                return Err(ConfigError::Invalid(format!(
                    "--write-key {entry:?}: expected KEY=PROJECT/SOURCE"
                )));
            };
            write_keys.insert(
                key,
                Source {
                    project_id: project.to_owned(),
                    source_id: source.to_owned(),
                },
            );
        }
        let mut trusted_proxies = file.trusted_proxies;
        trusted_proxies.extend(args.trusted_proxies);

        let rate = args
            .rate_limit_events_per_sec
            .or(file.rate_limit_events_per_sec)
            .unwrap_or(0);
        let burst = args.rate_limit_burst.or(file.rate_limit_burst);
        if burst == Some(0) {
            return Err(ConfigError::Invalid(
                "rate_limit_burst must be at least 1".into(),
            ));
        }
        let rate_limit = RateLimit::from_settings(rate, burst.and_then(NonZeroU32::new));
        let key_rate_limits = key_rate_limits(file.rate_limits, &write_keys)?;

        let sink = match args.sink.or(file.sink).unwrap_or(SinkKind::Memory) {
            SinkKind::Memory => SinkConfig::Memory,
            SinkKind::Log => {
                let (Some(events_dir), Some(dead_letter_dir)) = (
                    args.log_dir.or(file.log_dir),
                    args.dead_letter_dir.or(file.dead_letter_dir),
                ) else {
                    return Err(ConfigError::Invalid(
                        "sink = log needs both log_dir and dead_letter_dir".into(),
                    ));
                };
                if events_dir == dead_letter_dir {
                    return Err(ConfigError::Invalid(
                        "log_dir and dead_letter_dir must differ".into(),
                    ));
                }
                SinkConfig::Log {
                    events_dir,
                    dead_letter_dir,
                    max_disk_bytes: args.log_max_disk_bytes.or(file.log_max_disk_bytes),
                }
            }
            SinkKind::Kafka => {
                let mut kafka = file.kafka.unwrap_or_default();
                if !args.kafka_brokers.is_empty() {
                    kafka.brokers = args.kafka_brokers;
                }
                if let Some(topic) = args.kafka_events_topic {
                    kafka.events_topic = topic;
                }
                if let Some(topic) = args.kafka_dead_letter_topic {
                    kafka.dead_letter_topic = topic;
                }
                if let Some(dir) = args.kafka_spill_dir {
                    kafka.spill_dir = dir;
                }
                if let Some(bytes) = args.kafka_spill_max_bytes {
                    kafka.spill_max_bytes = bytes;
                }
                kafka
                    .validate()
                    .map_err(|e| ConfigError::Invalid(format!("kafka: {e}")))?;
                SinkConfig::Kafka(kafka)
            }
        };
        let schema_reload_secs = args
            .schema_reload_secs
            .or(file.schema_reload_secs)
            .unwrap_or(5);
        if schema_reload_secs == 0 {
            return Err(ConfigError::Invalid(
                "schema_reload_secs must be at least 1".into(),
            ));
        }
        let schema_dir = args.schema_dir.or(file.schema_dir);
        let unplanned_events = args
            .unplanned_events
            .or(file.unplanned_events)
            .unwrap_or_default();
        if unplanned_events != UnplannedEvents::Accept && schema_dir.is_none() {
            return Err(ConfigError::Invalid(format!(
                "unplanned_events = {} needs schema_dir: with no tracking plan, every track event \
                 would be unplanned",
                unplanned_events.as_str()
            )));
        }
        let retry_after_secs = args.retry_after_secs.or(file.retry_after_secs).unwrap_or(5);
        if retry_after_secs == 0 {
            return Err(ConfigError::Invalid(
                "retry_after_secs must be at least 1".into(),
            ));
        }
        let edge_secret = args.edge_secret.or(file.edge_secret);
        let edge_secret_previous = args.edge_secret_previous.or(file.edge_secret_previous);
        let live_events_token = args.live_events_token.or(file.live_events_token);
        let public_url = match args.public_url.or(file.public_url) {
            None => None,
            Some(text) => Some(PublicUrl::parse(&text)?),
        };
        for (name, secret) in [
            ("edge_secret", &edge_secret),
            ("edge_secret_previous", &edge_secret_previous),
            ("live_events_token", &live_events_token),
        ] {
            if secret
                .as_ref()
                .is_some_and(|s| s.len() < MIN_EDGE_SECRET_LEN)
            {
                return Err(ConfigError::Invalid(format!(
                    "{name} must be at least {MIN_EDGE_SECRET_LEN} characters"
                )));
            }
        }
        if edge_secret.is_none() && edge_secret_previous.is_some() {
            return Err(ConfigError::Invalid(
                "edge_secret_previous is set without edge_secret: a rotation needs the new secret too"
                    .into(),
            ));
        }
        let tls = match (
            args.tls_cert.or(file.tls_cert),
            args.tls_key.or(file.tls_key),
        ) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (Some(_), None) => return Err(ConfigError::Invalid(
                "tls_cert is set without tls_key: HTTPS needs the certificate's private key too"
                    .into(),
            )),
            (None, Some(_)) => {
                return Err(ConfigError::Invalid(
                    "tls_key is set without tls_cert: HTTPS needs the certificate chain too".into(),
                ))
            }
        };
        let defaults = crate::ConnectionLimits::default();
        let idle_timeout_secs = args
            .idle_timeout_secs
            .or(file.idle_timeout_secs)
            .unwrap_or(defaults.idle_timeout.as_secs());
        if idle_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "idle_timeout_secs must be at least 1".into(),
            ));
        }
        let max_connections = args
            .max_connections
            .or(file.max_connections)
            .unwrap_or(defaults.max_connections);
        if max_connections == 0 {
            return Err(ConfigError::Invalid(
                "max_connections must be at least 1".into(),
            ));
        }
        let shutdown_timeout_secs = args
            .shutdown_timeout_secs
            .or(file.shutdown_timeout_secs)
            .unwrap_or(defaults.drain_timeout.as_secs());
        if shutdown_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "shutdown_timeout_secs must be at least 1, so that requests in flight can finish"
                    .into(),
            ));
        }
        let connection_limits = crate::ConnectionLimits {
            idle_timeout: Duration::from_secs(idle_timeout_secs),
            max_connections,
            drain_timeout: Duration::from_secs(shutdown_timeout_secs),
        };
        let shutdown_delay = Duration::from_secs(
            args.shutdown_delay_secs
                .or(file.shutdown_delay_secs)
                .unwrap_or(0),
        );
        let max_request_memory_bytes = args
            .max_request_memory_bytes
            .or(file.max_request_memory_bytes)
            .unwrap_or(DEFAULT_MAX_REQUEST_MEMORY_BYTES);
        if max_request_memory_bytes < MIN_REQUEST_MEMORY_BYTES {
            return Err(ConfigError::Invalid(format!(
                "max_request_memory_bytes must be at least {MIN_REQUEST_MEMORY_BYTES} (4 MiB), so that \
                 a batch at the size limit fits, not {max_request_memory_bytes}"
            )));
        }
        let worker_threads = match args.worker_threads.or(file.worker_threads) {
            None => available_cpus(),
            Some(n) => NonZeroUsize::new(n)
                .ok_or_else(|| ConfigError::Invalid("worker_threads must be at least 1".into()))?,
        };
        if write_keys.is_empty() {
            return Err(ConfigError::Invalid(
                "no write key is configured: every request would get 401 (use --write-key or [write_keys])".into(),
            ));
        }
        Ok(Self {
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 8080))),
            write_keys,
            enrich: EnrichOptions {
                trusted_proxies,
                anonymize_ip: args.anonymize_ip || file.anonymize_ip,
            },
            schema_dir,
            schema_reload: Duration::from_secs(schema_reload_secs),
            unplanned_events,
            geoip_db: args.geoip_db.or(file.geoip_db),
            rate_limit,
            key_rate_limits,
            sink,
            retry_after: Duration::from_secs(retry_after_secs),
            log_format: args.log_format.or(file.log_format).unwrap_or_default(),
            tls,
            connection_limits,
            shutdown_delay,
            max_request_memory_bytes,
            worker_threads,
            edge_secret,
            edge_secret_previous,
            live_events_token,
            public_url,
        })
    }
}

/// Validates the `[rate_limits]` tables against the write keys they name.
fn key_rate_limits(
    tables: BTreeMap<String, KeyRateLimit>,
    write_keys: &WriteKeys,
) -> Result<BTreeMap<String, Option<RateLimit>>, ConfigError> {
    tables
        .into_iter()
        .map(|(key, table)| {
            let invalid = |why: &str| ConfigError::Invalid(format!("rate_limits.{key}: {why}"));
            if write_keys.resolve(&key).is_none() {
                return Err(invalid(
                    "no such write key (list it under [write_keys] first)",
                ));
            }
            let limit = table.limit().map_err(invalid)?;
            Ok((key, limit))
        })
        .collect()
}

fn available_cpus() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> FileConfig {
        toml::from_str(text).unwrap()
    }

    /// The command line `footfall-collector --write-key k=p/s`, then `extra`.
    fn args_with_one_key(extra: &[&str]) -> Args {
        let mut argv = vec!["footfall-collector", "--write-key", "k=p/s"];
        argv.extend_from_slice(extra);
        Args::parse_from(argv)
    }

    /// `config`'s effective settings, printed as TOML and loaded back.
    fn reloaded(config: &Config) -> Config {
        let (effective, _hidden) = config.effective_file();
        let text = toml::to_string(&effective).unwrap();
        Config::from_raw(Args::default(), file(&text)).unwrap()
    }

    #[test]
    fn the_effective_settings_load_back_to_the_same_configuration() {
        let args = Args {
            // One key: the keys' Debug order is a hash map's.
            write_keys: vec!["wk_a=shop/web".into()],
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
            anonymize_ip: true,
            rate_limit_events_per_sec: Some(100),
            sink: Some(SinkKind::Log),
            log_dir: Some("/tmp/e".into()),
            dead_letter_dir: Some("/tmp/d".into()),
            log_max_disk_bytes: Some(1 << 20),
            worker_threads: Some(3),
            listen: Some("127.0.0.1:9000".parse().unwrap()),
            schema_reload_secs: Some(7),
            schema_dir: Some("/etc/footfall/schemas".into()),
            unplanned_events: Some(UnplannedEvents::Flag),
            idle_timeout_secs: Some(65),
            max_connections: Some(500),
            shutdown_delay_secs: Some(8),
            shutdown_timeout_secs: Some(15),
            max_request_memory_bytes: Some(64 << 20),
            tls_cert: Some("/etc/footfall/cert.pem".into()),
            tls_key: Some("/etc/footfall/key.pem".into()),
            ..Args::default()
        };
        let config = Config::from_raw(args, FileConfig::default()).unwrap();
        let again = reloaded(&config);
        assert_eq!(format!("{again:?}"), format!("{config:?}"));
        assert_eq!(again.rate_limit.unwrap().burst.get(), 1000);

        // Rate limiting off, the memory sink, and every write key.
        let config = Config::from_raw(
            Args {
                write_keys: vec!["wk_a=shop/web".into(), "wk_b=shop/ios".into()],
                ..Args::default()
            },
            FileConfig::default(),
        )
        .unwrap();
        let again = reloaded(&config);
        assert!(again.rate_limit.is_none());
        assert_eq!(again.sink, SinkConfig::Memory);
        assert_eq!(again.write_keys.len(), 2);
        assert_eq!(again.write_keys.resolve("wk_b").unwrap().source_id, "ios");
    }

    #[test]
    fn write_keys_may_have_rate_limits_of_their_own() {
        let keys = "[write_keys.web]\nprojectId = \"p\"\nsourceId = \"web\"\n\
                    [write_keys.server]\nprojectId = \"p\"\nsourceId = \"server\"\n\
                    [write_keys.test]\nprojectId = \"p\"\nsourceId = \"test\"\n";
        let config = |tables: &str| {
            let text = format!("rate_limit_events_per_sec = 100\n{keys}{tables}");
            Config::from_raw(Args::default(), file(&text))
        };
        let limited = config(
            "[rate_limits.web]\nevents_per_sec = 5000\nburst = 20000\n\
             [rate_limits.server]\nevents_per_sec = 0\n\
             [rate_limits.test]\nevents_per_sec = 1\n",
        )
        .unwrap();
        let web = limited.key_rate_limits["web"].unwrap();
        assert_eq!((web.events_per_sec.get(), web.burst.get()), (5000, 20000));
        assert_eq!(limited.key_rate_limits["server"], None, "0 exempts the key");
        let test = limited.key_rate_limits["test"].unwrap();
        assert_eq!(test.burst.get(), 1000, "the default burst");
        assert_eq!(limited.rate_limit.unwrap().events_per_sec.get(), 100);
        // They survive --check-config's printout.
        assert_eq!(reloaded(&limited).key_rate_limits, limited.key_rate_limits);

        let refused = |tables: &str| config(tables).unwrap_err().to_string();
        assert_eq!(
            refused("[rate_limits.ios]\nevents_per_sec = 10\n"),
            "rate_limits.ios: no such write key (list it under [write_keys] first)"
        );
        assert_eq!(
            refused("[rate_limits.web]\nevents_per_sec = 10\nburst = 0\n"),
            "rate_limits.web: burst must be at least 1"
        );
        assert!(
            refused("[rate_limits.web]\nevents_per_sec = 0\nburst = 5\n")
                .contains("a burst needs events_per_sec above 0")
        );
        let typo =
            toml::from_str::<FileConfig>("[rate_limits.web]\nevents_per_sec = 10\nbursts = 5\n");
        assert!(typo
            .unwrap_err()
            .to_string()
            .contains("unknown field `bursts`"));
        let zero_burst = format!("rate_limit_events_per_sec = 100\nrate_limit_burst = 0\n{keys}");
        assert_eq!(
            Config::from_raw(Args::default(), file(&zero_burst))
                .unwrap_err()
                .to_string(),
            "rate_limit_burst must be at least 1"
        );
    }

    #[test]
    fn credentials_are_left_out_of_the_effective_settings_and_the_debug_form() {
        let f = file(concat!(
            "sink = \"kafka\"\n",
            "edge_secret = \"0123456789abcdef0123456789abcdef-edge\"\n",
            "edge_secret_previous = \"0123456789abcdef0123456789abcdef-prev\"\n",
            "live_events_token = \"0123456789abcdef0123456789abcdef-live\"\n",
            "[write_keys.k]\nprojectId = \"p\"\nsourceId = \"s\"\n",
            "[kafka.librdkafka_options]\n",
            "\"sasl.username\" = \"collector\"\n",
            "\"sasl.password\" = \"hunter2-sasl\"\n",
        ));
        let config = Config::from_raw(Args::default(), f).unwrap();
        let (effective, hidden) = config.effective_file();
        assert_eq!(
            hidden,
            [
                "edge_secret",
                "edge_secret_previous",
                "live_events_token",
                "kafka.librdkafka_options.\"sasl.password\""
            ]
        );
        let text = toml::to_string(&effective).unwrap();
        assert!(
            !text.contains("hunter2")
                && !text.contains("-edge")
                && !text.contains("-prev")
                && !text.contains("-live"),
            "{text}"
        );
        assert!(text.contains("\"sasl.username\" = \"collector\""), "{text}");
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("hunter2")
                && !shown.contains("-edge")
                && !shown.contains("-prev")
                && !shown.contains("-live"),
            "{shown}"
        );
        assert!(
            shown.contains("edge_secret: Some(\"<redacted>\")"),
            "{shown}"
        );
    }

    #[test]
    fn a_public_url_is_read_with_its_prefix_and_refused_without_a_scheme() {
        let url = PublicUrl::parse("https://collector.example.com:8443/footfall/").unwrap();
        assert_eq!(url.protocol, "https");
        assert_eq!(url.host_and_path, "collector.example.com:8443/footfall");
        assert_eq!(url.as_url(), "https://collector.example.com:8443/footfall");
        for bad in ["collector.example.com", "ftp://x", "https://x/?a=1"] {
            let err = PublicUrl::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with(&format!("public_url {bad:?}")), "{err}");
        }
    }

    #[test]
    fn flags_win_over_the_file() {
        let f = file("listen = \"127.0.0.1:9000\"\nrate_limit_events_per_sec = 10\n[write_keys.k1]\nprojectId = \"p\"\nsourceId = \"s\"\n");
        let args = Args::parse_from([
            "footfall-collector",
            "--listen",
            "127.0.0.1:9001",
            "--write-key",
            "k2=p2/s2",
        ]);
        let config = Config::from_raw(args, f).unwrap();
        assert_eq!(config.listen.port(), 9001);
        assert_eq!(config.write_keys.resolve("k1").unwrap().project_id, "p");
        assert_eq!(config.write_keys.resolve("k2").unwrap().source_id, "s2");
        assert_eq!(config.rate_limit.unwrap().burst.get(), 1000);
    }

    #[test]
    fn rejects_unknown_fields_and_incomplete_settings() {
        assert!(toml::from_str::<FileConfig>("lisen = \"x\"").is_err());
        let args = || args_with_one_key(&[]);
        let log = FileConfig {
            sink: Some(SinkKind::Log),
            ..FileConfig::default()
        };
        assert!(Config::from_raw(args(), log).is_err());
        assert!(
            Config::from_raw(Args::default(), FileConfig::default()).is_err(),
            "no write key"
        );
        let bad = Args::parse_from(["footfall-collector", "--write-key", "k=p"]);
        assert!(Config::from_raw(bad, FileConfig::default()).is_err());
    }

    #[test]
    fn an_edge_secret_must_be_long_enough() {
        let args = |secret: &str| args_with_one_key(&["--edge-secret", secret]);
        let err = Config::from_raw(args("short"), FileConfig::default()).unwrap_err();
        assert!(err.to_string().contains("edge_secret"), "{err}");
        let previous_alone = FileConfig {
            edge_secret_previous: Some("p".repeat(MIN_EDGE_SECRET_LEN)),
            ..FileConfig::default()
        };
        let err = Config::from_raw(args_with_one_key(&[]), previous_alone).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("edge_secret_previous is set without edge_secret"),
            "{err}"
        );
        let long = "x".repeat(MIN_EDGE_SECRET_LEN);
        let config = Config::from_raw(args(&long), FileConfig::default()).unwrap();
        assert_eq!(config.edge_secret.as_deref(), Some(long.as_str()));
        assert_eq!(
            Config::from_raw(args_with_one_key(&[]), FileConfig::default())
                .unwrap()
                .edge_secret,
            None
        );
    }

    #[test]
    fn kafka_flags_override_the_kafka_table() {
        let f = file("sink = \"kafka\"\n[kafka]\nbrokers = [\"a:9092\"]\nevents_topic = \"t1\"\n[write_keys.k]\nprojectId = \"p\"\nsourceId = \"s\"\n");
        let args = Args::parse_from(["footfall-collector", "--kafka-broker", "b:9092,c:9092"]);
        let config = Config::from_raw(args, f).unwrap();
        let SinkConfig::Kafka(kafka) = config.sink else {
            panic!("sink = kafka")
        };
        assert_eq!(kafka.brokers, ["b:9092", "c:9092"]);
        assert_eq!(kafka.events_topic, "t1");
        let bad = file("sink = \"kafka\"\n[kafka]\nbrokers = []\n[write_keys.k]\nprojectId = \"p\"\nsourceId = \"s\"\n");
        let err = Config::from_raw(Args::default(), bad)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("kafka: "), "{err}");
    }

    #[test]
    fn loads_the_documented_example_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("collector.toml");
        std::fs::write(&path, include_str!("../collector.example.toml")).unwrap();
        let args = Args {
            config: Some(path.clone()),
            ..Args::default()
        };
        let config = Config::load(args).unwrap();
        assert_eq!(
            config.write_keys.resolve("wk_live_123").unwrap().project_id,
            "shop"
        );
        assert_eq!(config.write_keys.len(), 3);
        assert_eq!(
            config.key_rate_limits["wk_live_456"].map(|l| l.events_per_sec.get()),
            Some(500)
        );
        assert_eq!(config.key_rate_limits["wk_server_789"], None);
        assert!(config.enrich.anonymize_ip);
        assert_eq!(
            config.tls.unwrap().key,
            Path::new("/etc/letsencrypt/live/collect.example.com/privkey.pem")
        );
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.worker_threads.get(), 2);
        assert!(matches!(
            config.sink,
            SinkConfig::Log {
                max_disk_bytes: Some(10_000_000_000),
                ..
            }
        ));
        // Its [kafka] table is valid too, once the sink is Kafka.
        let args = Args {
            config: Some(path),
            sink: Some(SinkKind::Kafka),
            ..Args::default()
        };
        let SinkConfig::Kafka(kafka) = Config::load(args).unwrap().sink else {
            panic!("--sink kafka picks the [kafka] table");
        };
        assert_eq!(kafka.brokers.len(), 2);
        kafka.check().unwrap();
        let missing = Args {
            config: Some(dir.path().join("nope.toml")),
            ..Args::default()
        };
        assert!(matches!(
            Config::load(missing),
            Err(ConfigError::Read { .. })
        ));
    }

    #[test]
    fn worker_threads_come_from_the_flag_then_the_file_and_are_never_zero() {
        let file = || FileConfig {
            worker_threads: Some(3),
            ..FileConfig::default()
        };
        let from_file = Config::from_raw(args_with_one_key(&[]), file()).unwrap();
        assert_eq!(from_file.worker_threads.get(), 3);
        let from_flag =
            Config::from_raw(args_with_one_key(&["--worker-threads", "5"]), file()).unwrap();
        assert_eq!(from_flag.worker_threads.get(), 5);
        let err =
            Config::from_raw(args_with_one_key(&["--worker-threads", "0"]), file()).unwrap_err();
        assert!(err.to_string().contains("worker_threads"), "{err}");
        let default = Config::from_raw(args_with_one_key(&[]), FileConfig::default()).unwrap();
        assert_eq!(
            default.worker_threads,
            available_cpus(),
            "one thread per CPU by default"
        );
    }

    #[test]
    fn connection_limits_and_the_shutdown_delay_come_from_the_flag_then_the_file() {
        let default = Config::from_raw(args_with_one_key(&[]), FileConfig::default()).unwrap();
        assert_eq!(
            default.connection_limits,
            crate::ConnectionLimits::default()
        );
        assert_eq!(default.shutdown_delay, Duration::ZERO);
        let from_file = file(
            "idle_timeout_secs = 30\nmax_connections = 200\nshutdown_timeout_secs = 9\n\
             shutdown_delay_secs = 4\n",
        );
        let flags = ["--max-connections", "300", "--shutdown-delay-secs", "6"];
        let config = Config::from_raw(args_with_one_key(&flags), from_file).unwrap();
        assert_eq!(
            config.connection_limits,
            crate::ConnectionLimits {
                idle_timeout: Duration::from_secs(30),
                max_connections: 300,
                drain_timeout: Duration::from_secs(9),
            }
        );
        assert_eq!(config.shutdown_delay, Duration::from_secs(6));
        for (flag, setting) in [
            ("--idle-timeout-secs", "idle_timeout_secs"),
            ("--max-connections", "max_connections"),
            ("--shutdown-timeout-secs", "shutdown_timeout_secs"),
        ] {
            let err = Config::from_raw(args_with_one_key(&[flag, "0"]), FileConfig::default())
                .unwrap_err();
            assert!(err.to_string().contains(setting), "{err}");
        }
    }

    #[test]
    fn unplanned_events_come_from_the_flag_then_the_file_and_need_a_schema_directory() {
        let default = Config::from_raw(args_with_one_key(&[]), FileConfig::default()).unwrap();
        assert_eq!(default.unplanned_events, UnplannedEvents::Accept);
        let from_file =
            || file("schema_dir = \"/etc/footfall/schemas\"\nunplanned_events = \"flag\"\n");
        let config = Config::from_raw(args_with_one_key(&[]), from_file()).unwrap();
        assert_eq!(config.unplanned_events, UnplannedEvents::Flag);
        let flag = ["--unplanned-events", "reject"];
        let config = Config::from_raw(args_with_one_key(&flag), from_file()).unwrap();
        assert_eq!(config.unplanned_events, UnplannedEvents::Reject);

        let err = Config::from_raw(args_with_one_key(&flag), FileConfig::default()).unwrap_err();
        assert!(
            err.to_string()
                .contains("unplanned_events = reject needs schema_dir"),
            "{err}"
        );
        let typo = Args::try_parse_from(["footfall-collector", "--unplanned-events", "block"])
            .unwrap_err()
            .to_string();
        assert!(typo.contains("accept, flag or reject"), "{typo}");
    }

    #[test]
    fn the_request_memory_budget_comes_from_the_flag_then_the_file_and_fits_a_batch() {
        let default = Config::from_raw(args_with_one_key(&[]), FileConfig::default()).unwrap();
        assert_eq!(default.max_request_memory_bytes, 256 << 20);
        let from_file = || file("max_request_memory_bytes = 100000000\n");
        let config = Config::from_raw(args_with_one_key(&[]), from_file()).unwrap();
        assert_eq!(config.max_request_memory_bytes, 100_000_000);
        let flag = ["--max-request-memory-bytes", "50000000"];
        let config = Config::from_raw(args_with_one_key(&flag), from_file()).unwrap();
        assert_eq!(config.max_request_memory_bytes, 50_000_000);
        let err = Config::from_raw(
            args_with_one_key(&["--max-request-memory-bytes", "1000000"]),
            FileConfig::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("max_request_memory_bytes must be at least 4194304"),
            "{err}"
        );
    }
}
