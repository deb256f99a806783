//! `footfall serve` settings: flags and `FOOTFALL_*` variables over a TOML file, then validated.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use footfall_api::ReadKeys;
use footfall_ingest::{Source, WriteKeys};
use serde::Deserialize;

/// The TOML file.
///
/// ```toml
/// data_dir = "/var/lib/footfall"
/// listen = "0.0.0.0:8080"       # collector (Segment-compatible /v1/batch, /v1/track, ...)
/// api_listen = "0.0.0.0:8081"   # query API
/// roles = ["collector", "processor", "api"]
/// [write_keys]
/// wk_web = "shop/web"           # write key = "project/source"
/// [read_keys]
/// rk_secret = "shop"            # read key = project
/// [clickhouse]                  # store in ClickHouse instead of the DuckDB file
/// url = "http://127.0.0.1:8123"
/// database = "footfall"
/// [kafka]                       # carry events through Kafka instead of the embedded log
/// brokers = ["127.0.0.1:9092"]
/// events_topic = "footfall.events"
/// dead_letter_topic = "footfall.dead-letters"
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Where the log and the DuckDB file live.
    pub data_dir: Option<PathBuf>,
    /// Collector address.
    pub listen: Option<SocketAddr>,
    /// Query API address.
    pub api_listen: Option<SocketAddr>,
    /// What this process runs.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Write keys: key → "project/source".
    #[serde(default)]
    pub write_keys: BTreeMap<String, String>,
    /// Read keys: key → project.
    #[serde(default)]
    pub read_keys: BTreeMap<String, String>,
    /// The ClickHouse store.
    pub clickhouse: Option<FileClickHouse>,
    /// The Kafka transport.
    pub kafka: Option<FileKafka>,
    /// A `footfall-collector` config file for the collector's own settings.
    pub collector_config: Option<PathBuf>,
}

/// `[clickhouse]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileClickHouse {
    /// HTTP URL.
    pub url: Option<String>,
    /// Database (created if missing).
    pub database: Option<String>,
}

/// `[kafka]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileKafka {
    /// Bootstrap brokers.
    #[serde(default)]
    pub brokers: Vec<String>,
    /// The accepted events' topic.
    pub events_topic: Option<String>,
    /// The dead letters' topic.
    pub dead_letter_topic: Option<String>,
}

/// A part of the pipeline a `footfall serve` process runs. One process runs all three on a
/// laptop; at scale, collectors, processors and query APIs run as separate processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The Segment-compatible HTTP front door.
    Collector,
    /// Log → store: dedup, identities, sessions, dead letters.
    Processor,
    /// The query API.
    Api,
}

/// `footfall serve`'s flags; each has a `FOOTFALL_*` variable and a key in the TOML file, and a
/// flag wins over the variable, which wins over the file.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct ServeFlags {
    /// A TOML config file (see docs/backend.md).
    #[arg(long, env = "FOOTFALL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory (the event log, the DuckDB file, Kafka's spill log).
    #[arg(long, env = "FOOTFALL_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Collector address [default: 127.0.0.1:8080].
    #[arg(long, env = "FOOTFALL_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Query API address [default: 127.0.0.1:8081].
    #[arg(long, env = "FOOTFALL_API_LISTEN")]
    pub api_listen: Option<SocketAddr>,
    /// What this process runs (repeatable or comma-separated) [default: all three].
    #[arg(long = "role", env = "FOOTFALL_ROLES", value_delimiter = ',')]
    pub roles: Vec<Role>,
    /// Write key: KEY=PROJECT/SOURCE (repeatable).
    #[arg(long = "write-key", env = "FOOTFALL_WRITE_KEYS", value_delimiter = ',')]
    pub write_keys: Vec<String>,
    /// Read key: KEY=PROJECT (repeatable).
    #[arg(long = "read-key", env = "FOOTFALL_READ_KEYS", value_delimiter = ',')]
    pub read_keys: Vec<String>,
    /// Store in ClickHouse at this HTTP URL instead of the DuckDB file.
    #[arg(long, env = "FOOTFALL_CLICKHOUSE_URL")]
    pub clickhouse_url: Option<String>,
    /// The ClickHouse database [default: footfall].
    #[arg(long, env = "FOOTFALL_CLICKHOUSE_DATABASE")]
    pub clickhouse_database: Option<String>,
    /// Carry events through Kafka (these bootstrap brokers) instead of the embedded log.
    #[arg(
        long = "kafka-broker",
        env = "FOOTFALL_KAFKA_BROKERS",
        value_delimiter = ','
    )]
    pub kafka_brokers: Vec<String>,
    /// The accepted events' Kafka topic [default: footfall.events].
    #[arg(long, env = "FOOTFALL_KAFKA_EVENTS_TOPIC")]
    pub kafka_events_topic: Option<String>,
    /// The dead letters' Kafka topic [default: footfall.dead-letters].
    #[arg(long, env = "FOOTFALL_KAFKA_DEAD_LETTER_TOPIC")]
    pub kafka_dead_letter_topic: Option<String>,
    /// A `footfall-collector` config file (edge-collector/collector/collector.example.toml) for the
    /// collector's own settings: trusted proxies, IP anonymizing, GeoIP, schemas, rate limits,
    /// Retry-After, the edge secret, and more write keys. Its listen address, sink, log and Kafka
    /// settings, log format and threads are ignored: `serve` sets those. Read again on SIGHUP.
    #[arg(long, env = "FOOTFALL_SERVE_COLLECTOR_CONFIG")]
    pub collector_config: Option<PathBuf>,
}

/// Where the processor stores and the API reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// `footfall.duckdb` under the data directory.
    DuckDb,
    /// A ClickHouse server.
    ClickHouse {
        /// HTTP URL.
        url: String,
        /// Database.
        database: String,
    },
}

/// How events travel from the collector to the processor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// The embedded log under the data directory.
    EmbeddedLog,
    /// Kafka.
    Kafka {
        /// Bootstrap brokers.
        brokers: Vec<String>,
        /// The accepted events' topic.
        events_topic: String,
        /// The dead letters' topic.
        dead_letter_topic: String,
    },
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Data directory.
    pub data_dir: PathBuf,
    /// Collector address.
    pub listen: SocketAddr,
    /// Query API address.
    pub api_listen: SocketAddr,
    /// What runs.
    pub roles: Vec<Role>,
    /// Write keys.
    pub write_keys: WriteKeys,
    /// Read keys.
    pub read_keys: ReadKeys,
    /// The store.
    pub store: StoreConfig,
    /// The transport.
    pub transport: Transport,
    /// The collector's own config file, if any.
    pub collector_config: Option<PathBuf>,
}

impl ServeConfig {
    /// Everything in one process on the embedded default, on loopback ports chosen by the
    /// system, with the demo keys (the demo and the benchmarks).
    pub fn embedded(data_dir: PathBuf) -> anyhow::Result<Self> {
        let mut config = merge(
            FileConfig::default(),
            ServeFlags {
                data_dir: Some(data_dir),
                ..Default::default()
            },
        )?;
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.api_listen = SocketAddr::from(([127, 0, 0, 1], 0));
        Ok(config)
    }

    /// Whether this process runs `role`.
    pub fn runs(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// The demo's keys, used when none are configured.
pub const DEMO_WRITE_KEY: &str = "wk_demo";
/// The demo's read key.
pub const DEMO_READ_KEY: &str = "rk_demo";
/// The demo's project.
pub const DEMO_PROJECT: &str = "demo";

/// Reads a TOML file.
pub fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
}

/// Merges flags (already merged with the environment by clap) over the file, and validates.
pub fn merge(file: FileConfig, flags: ServeFlags) -> anyhow::Result<ServeConfig> {
    let (write_keys, read_keys) = (&flags.write_keys, &flags.read_keys);
    let mut wk = WriteKeys::new();
    let mut entries: Vec<(String, String)> = file.write_keys.into_iter().collect();
    for e in write_keys {
        let Some((k, v)) = e.split_once('=') else {
            bail!("--write-key {e:?}: expected KEY=PROJECT/SOURCE")
        };
        entries.push((k.to_owned(), v.to_owned()));
    }
    for (k, v) in entries {
        let Some((project, source)) = v
            .split_once('/')
            .filter(|(p, s)| !p.is_empty() && !s.is_empty() && !k.is_empty())
        else {
            bail!("write key {k:?}: expected \"project/source\", got {v:?}")
        };
        wk.insert(
            k,
            Source {
                project_id: project.to_owned(),
                source_id: source.to_owned(),
            },
        );
    }
    let mut rk = ReadKeys::default();
    let mut read: Vec<(String, String)> = file.read_keys.into_iter().collect();
    for e in read_keys {
        let Some((k, v)) = e.split_once('=') else {
            bail!("--read-key {e:?}: expected KEY=PROJECT")
        };
        read.push((k.to_owned(), v.to_owned()));
    }
    for (k, v) in &read {
        if k.is_empty() || v.is_empty() {
            bail!("read key {k:?}: expected KEY=PROJECT");
        }
        if wk.resolve(k).is_some() {
            bail!("{k:?} is both a write key and a read key: read keys must be separate secrets");
        }
        rk.insert(k.clone(), v.clone());
    }
    if wk.is_empty() && read.is_empty() {
        tracing::warn!("no keys configured: using the demo keys {DEMO_WRITE_KEY} (write) and {DEMO_READ_KEY} (read) for project {DEMO_PROJECT}");
        wk.insert(
            DEMO_WRITE_KEY,
            Source {
                project_id: DEMO_PROJECT.into(),
                source_id: "demo".into(),
            },
        );
        rk.insert(DEMO_READ_KEY, DEMO_PROJECT);
    }
    let mut roles = if flags.roles.is_empty() {
        file.roles
    } else {
        flags.roles
    };
    if roles.is_empty() {
        roles = vec![Role::Collector, Role::Processor, Role::Api];
    }
    roles.sort_by_key(|r| *r as u8);
    roles.dedup();
    let file_ch = file.clickhouse.unwrap_or_default();
    let store = match flags.clickhouse_url.or(file_ch.url) {
        Some(url) => StoreConfig::ClickHouse {
            url,
            database: flags
                .clickhouse_database
                .or(file_ch.database)
                .unwrap_or_else(|| "footfall".into()),
        },
        None => StoreConfig::DuckDb,
    };
    let file_kafka = file.kafka.unwrap_or_default();
    let brokers = if flags.kafka_brokers.is_empty() {
        file_kafka.brokers
    } else {
        flags.kafka_brokers
    };
    let defaults = footfall_kafka::KafkaConfig::default();
    let transport = if brokers.is_empty() {
        Transport::EmbeddedLog
    } else {
        Transport::Kafka {
            brokers,
            events_topic: flags
                .kafka_events_topic
                .or(file_kafka.events_topic)
                .unwrap_or(defaults.events_topic),
            dead_letter_topic: flags
                .kafka_dead_letter_topic
                .or(file_kafka.dead_letter_topic)
                .unwrap_or(defaults.dead_letter_topic),
        }
    };
    // DuckDB has one writer process: the processor and the API must share it.
    let has = |r: Role| roles.contains(&r);
    if store == StoreConfig::DuckDb && has(Role::Processor) != has(Role::Api) {
        bail!(
            "the DuckDB store belongs to one process: run the processor and the api roles together, \
             or store in ClickHouse (--clickhouse-url) to run them apart"
        );
    }
    Ok(ServeConfig {
        data_dir: flags
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("footfall-data")),
        listen: flags
            .listen
            .or(file.listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
        api_listen: flags
            .api_listen
            .or(file.api_listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8081))),
        roles,
        write_keys: wk,
        read_keys: rk,
        store,
        transport,
        collector_config: flags.collector_config.or(file.collector_config),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file() {
        let file: FileConfig = toml::from_str("data_dir = \"/tmp/a\"\nlisten = \"127.0.0.1:1\"\n[write_keys]\nwk = \"shop/web\"\n[read_keys]\nrk = \"shop\"\n").unwrap();
        let c = merge(
            file,
            ServeFlags {
                data_dir: Some("/tmp/b".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/tmp/b"));
        assert_eq!(c.listen.port(), 1);
        assert_eq!(c.read_keys.project("rk"), Some("shop"));
    }

    #[test]
    fn a_key_cannot_be_both_read_and_write() {
        let err = merge(
            FileConfig::default(),
            ServeFlags {
                write_keys: vec!["k=shop/web".into()],
                read_keys: vec!["k=shop".into()],
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("must be separate"), "{err}");
    }

    #[test]
    fn scale_out_settings_come_from_the_file_and_flags() {
        let file: FileConfig = toml::from_str(
            "roles = [\"processor\"]\n[clickhouse]\nurl = \"http://ch:8123\"\n[kafka]\nbrokers = [\"k1:9092\"]\n",
        )
        .unwrap();
        let c = merge(
            file,
            ServeFlags {
                kafka_events_topic: Some("ev".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(c.roles, vec![Role::Processor]);
        assert_eq!(
            c.store,
            StoreConfig::ClickHouse {
                url: "http://ch:8123".into(),
                database: "footfall".into()
            }
        );
        assert!(
            matches!(&c.transport, Transport::Kafka { brokers, events_topic, dead_letter_topic }
                if brokers == &["k1:9092"] && events_topic == "ev" && dead_letter_topic == "footfall.dead-letters"),
            "{:?}",
            c.transport
        );
    }

    #[test]
    fn duckdb_cannot_be_split_across_processes() {
        let err = merge(
            FileConfig::default(),
            ServeFlags {
                roles: vec![Role::Api],
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("--clickhouse-url"), "{err}");
    }

    #[test]
    fn unknown_file_fields_are_refused() {
        assert!(toml::from_str::<FileConfig>("nope = 1").is_err());
    }
}
