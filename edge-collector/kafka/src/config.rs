//! [`KafkaConfig`]: where the collector delivers (brokers, topics), how the
//! producer batches, and where and how much it may spill to local disk.
//!
//! Raw settings are deserialised with serde (unknown fields are errors) and
//! checked by [`KafkaConfig::validate`] before anything is built.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use rdkafka::error::KafkaError;
use rdkafka::producer::BaseProducer;
use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};

/// librdkafka settings that the typed fields own, or that the delivery
/// guarantees depend on; they are rejected in `librdkafka_options`.
const RESERVED_OPTIONS: &[&str] = &[
    "bootstrap.servers",
    "metadata.broker.list",
    "client.id",
    "enable.idempotence",
    "acks",
    "request.required.acks",
    "message.timeout.ms",
    "delivery.timeout.ms",
    "linger.ms",
    "queue.buffering.max.ms",
    "compression.type",
    "compression.codec",
    "transactional.id",
    "statistics.interval.ms",
];

/// Compression codec for produced batches. Only codecs built into the
/// bundled librdkafka without extra system libraries are offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// No compression.
    None,
    /// LZ4 (default): cheap on the collector's CPU, good on JSON.
    #[default]
    Lz4,
    /// Snappy.
    Snappy,
}

impl Compression {
    fn as_librdkafka(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Lz4 => "lz4",
            Compression::Snappy => "snappy",
        }
    }
}

/// Kafka delivery settings for the edge collector.
///
/// Every field has a default, so `{}` is a valid (local development)
/// configuration. Call [`validate`](KafkaConfig::validate) (done by
/// [`KafkaDelivery::new`](crate::KafkaDelivery::new)) before use.
///
/// Its `Debug` form hides the values of credential options (see
/// [`is_secret_option`]), since the collector logs its settings at start.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Bootstrap brokers, `host:port`. Default `["127.0.0.1:9092"]`.
    pub brokers: Vec<String>,
    /// Topic the accepted events are produced to. Default `footfall.events`.
    pub events_topic: String,
    /// Topic for events the collector could not accept (malformed, over
    /// quota) but must not silently lose. Default `footfall.dead-letters`.
    pub dead_letter_topic: String,
    /// librdkafka `client.id`, shown in broker logs and quotas.
    /// Default `footfall-collector`.
    pub client_id: String,
    /// How long librdkafka may keep trying to deliver one record
    /// (`message.timeout.ms`) before the collector spills it instead. This
    /// bounds how long a request can wait when Kafka dies mid-flight.
    /// Default 5000 ms.
    pub message_timeout_ms: u64,
    /// How long librdkafka waits to fill a batch (`linger.ms`). Default 1 ms:
    /// every HTTP answer waits for it, and under load batches fill anyway
    /// while earlier ones are in flight. Measured against librdkafka's 5 ms:
    /// 2.5× the events per second at 8 connections, half the p50, the same
    /// collector CPU per event and less broker CPU per event
    /// (`docs/benchmarks.md`).
    pub linger_ms: u64,
    /// Batch compression. Default `lz4`.
    pub compression: Compression,
    /// Extra librdkafka settings (for example `security.protocol`,
    /// `sasl.*`, `batch.size`, `partitioner`; the default partitioner is
    /// `murmur2_random`, the Java client's), applied last. Keys that the typed fields
    /// own or that weaken durability (`acks`, `enable.idempotence`, ...) are
    /// rejected.
    pub librdkafka_options: BTreeMap<String, String>,
    /// Directory of the local spill log, where records go while Kafka is
    /// unreachable. Created if missing; must not be shared with another
    /// collector. Default `kafka-spill` (relative to the working directory).
    pub spill_dir: PathBuf,
    /// Hard ceiling on the spill log's disk use, in bytes. When it is full,
    /// deliveries fail with
    /// [`DeliveryError::DiskBudgetExceeded`](crate::DeliveryError::DiskBudgetExceeded)
    /// (answer 503 + `Retry-After`). Minimum 16 KiB. Default 1 GiB.
    pub spill_max_bytes: u64,
    /// The `Retry-After` the collector should send with a 503, in seconds.
    /// Default 5.
    pub retry_after_secs: u64,
    /// How often librdkafka reports its own view of the brokers (round
    /// trip, time records wait in the producer's queue, requests in
    /// flight), which [`KafkaStats::producer`](crate::KafkaStats::producer)
    /// then holds. Each report covers the interval before it. librdkafka
    /// builds a JSON document per report, so this is kept well above a
    /// millisecond scale; 0 turns reporting off. Default 5000 ms.
    pub statistics_interval_ms: u64,
}

impl Default for KafkaConfig {
    fn default() -> KafkaConfig {
        KafkaConfig {
            brokers: vec!["127.0.0.1:9092".to_owned()],
            events_topic: "footfall.events".to_owned(),
            dead_letter_topic: "footfall.dead-letters".to_owned(),
            client_id: "footfall-collector".to_owned(),
            message_timeout_ms: 5_000,
            linger_ms: 1,
            compression: Compression::Lz4,
            librdkafka_options: BTreeMap::new(),
            spill_dir: PathBuf::from("kafka-spill"),
            spill_max_bytes: 1 << 30,
            retry_after_secs: 5,
            statistics_interval_ms: 5_000,
        }
    }
}

impl fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let options: BTreeMap<&str, &str> = self
            .librdkafka_options
            .iter()
            .map(|(key, value)| {
                let shown = if is_secret_option(key) {
                    "<redacted>"
                } else {
                    value.as_str()
                };
                (key.as_str(), shown)
            })
            .collect();
        f.debug_struct("KafkaConfig")
            .field("brokers", &self.brokers)
            .field("events_topic", &self.events_topic)
            .field("dead_letter_topic", &self.dead_letter_topic)
            .field("client_id", &self.client_id)
            .field("message_timeout_ms", &self.message_timeout_ms)
            .field("linger_ms", &self.linger_ms)
            .field("compression", &self.compression)
            .field("librdkafka_options", &options)
            .field("spill_dir", &self.spill_dir)
            .field("spill_max_bytes", &self.spill_max_bytes)
            .field("retry_after_secs", &self.retry_after_secs)
            .field("statistics_interval_ms", &self.statistics_interval_ms)
            .finish()
    }
}

/// Whether a librdkafka setting holds a credential (`sasl.password`,
/// `ssl.key.password`, `ssl.key.pem`, `sasl.oauthbearer.client.secret`, a
/// JAAS or OAUTHBEARER config, ...), whose value must not reach logs or
/// printed settings.
pub fn is_secret_option(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "secret", ".pem", "jaas", "oauthbearer.config"]
        .iter()
        .any(|marker| key.contains(marker))
}

/// Smallest accepted spill budget.
pub const MIN_SPILL_MAX_BYTES: u64 = 16 * 1024;

/// A setting that is out of range or conflicts with another.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Kafka configuration: {field}: {reason}")]
pub struct ConfigError {
    /// The offending field.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> Result<(), ConfigError> {
    Err(ConfigError {
        field,
        reason: reason.into(),
    })
}

/// Kafka's own topic-name rule: 1-249 characters of `[A-Za-z0-9._-]`,
/// not `.` or `..`.
pub(crate) fn check_topic(field: &'static str, topic: &str) -> Result<(), ConfigError> {
    let ok = !topic.is_empty()
        && topic.len() <= 249
        && topic != "."
        && topic != ".."
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        invalid(
            field,
            format!("{topic:?} is not a valid topic name (1-249 of [A-Za-z0-9._-])"),
        )
    }
}

pub(crate) fn check_brokers(brokers: &[String]) -> Result<(), ConfigError> {
    if brokers.is_empty() || brokers.iter().any(|b| b.trim().is_empty()) {
        return invalid("brokers", "at least one non-empty host:port is required");
    }
    if let Some(bad) = brokers.iter().find(|b| b.contains(',')) {
        return invalid(
            "brokers",
            format!("{bad:?}: list brokers as separate items"),
        );
    }
    Ok(())
}

impl KafkaConfig {
    /// Checks that the settings make sense together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_brokers(&self.brokers)?;
        check_topic("events_topic", &self.events_topic)?;
        check_topic("dead_letter_topic", &self.dead_letter_topic)?;
        if self.events_topic == self.dead_letter_topic {
            return invalid(
                "dead_letter_topic",
                "must differ from events_topic, or dead letters mix with events",
            );
        }
        if self.client_id.is_empty() {
            return invalid("client_id", "must not be empty");
        }
        if self.message_timeout_ms == 0 {
            return invalid("message_timeout_ms", "must be positive");
        }
        if self.linger_ms >= self.message_timeout_ms {
            return invalid(
                "linger_ms",
                format!(
                    "{} must be below message_timeout_ms = {}",
                    self.linger_ms, self.message_timeout_ms
                ),
            );
        }
        if let Some(key) = self
            .librdkafka_options
            .keys()
            .find(|k| RESERVED_OPTIONS.contains(&k.as_str()))
        {
            return invalid(
                "librdkafka_options",
                format!("{key:?} is set by a typed field or fixed for durability"),
            );
        }
        if self.statistics_interval_ms != 0 && self.statistics_interval_ms < 100 {
            return invalid(
                "statistics_interval_ms",
                format!(
                    "{} ms is below the 100 ms minimum (0 turns reports off)",
                    self.statistics_interval_ms
                ),
            );
        }
        if self.spill_dir.as_os_str().is_empty() {
            return invalid("spill_dir", "must not be empty");
        }
        if self.spill_max_bytes < MIN_SPILL_MAX_BYTES {
            return invalid(
                "spill_max_bytes",
                format!(
                    "{} is below the minimum {MIN_SPILL_MAX_BYTES}",
                    self.spill_max_bytes
                ),
            );
        }
        Ok(())
    }

    /// [`validate`](KafkaConfig::validate), then has librdkafka check every
    /// setting of [`producer_config`](KafkaConfig::producer_config) (an
    /// unknown property, a value out of range, a feature this build lacks)
    /// and build a client from them, which loads the TLS certificates and
    /// keys and finds the SASL mechanism. The client is given no bootstrap
    /// servers, so it contacts no broker.
    pub fn check(&self) -> Result<(), ConfigError> {
        self.validate()?;
        let mut client = self.producer_config();
        client.remove("bootstrap.servers");
        // Creating the client sets every property first, so a bad one fails here too.
        match client.create::<BaseProducer>() {
            Ok(_producer) => Ok(()),
            // The value is left out of the message: it may be a credential.
            Err(KafkaError::ClientConfig(_, description, key, _value)) => {
                invalid("librdkafka_options", format!("{key}: {description}"))
            }
            Err(other) => invalid("librdkafka_options", other.to_string()),
        }
    }

    /// [`message_timeout_ms`](KafkaConfig::message_timeout_ms) as a duration.
    pub fn message_timeout(&self) -> Duration {
        Duration::from_millis(self.message_timeout_ms)
    }

    /// [`retry_after_secs`](KafkaConfig::retry_after_secs) as a duration.
    pub fn retry_after(&self) -> Duration {
        Duration::from_secs(self.retry_after_secs)
    }

    /// The librdkafka producer configuration: the typed fields, the fixed
    /// durability settings (`enable.idempotence=true`, `acks=all`), then
    /// `librdkafka_options`.
    pub fn producer_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", self.brokers.join(","))
            .set("client.id", &self.client_id)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", self.message_timeout_ms.to_string())
            .set("linger.ms", self.linger_ms.to_string())
            .set("compression.type", self.compression.as_librdkafka())
            // The Java client's key hashing, so every producer of a topic
            // puts a key on the same partition.
            .set("partitioner", "murmur2_random")
            // Reconnect quickly once the broker is back.
            .set("reconnect.backoff.max.ms", "1000")
            .set(
                "statistics.interval.ms",
                self.statistics_interval_ms.to_string(),
            );
        for (key, value) in &self.librdkafka_options {
            config.set(key, value);
        }
        config
    }

    /// Segment size for the spill log: an eighth of the budget, between
    /// 4 KiB and 64 MiB, so retention can free space in small steps.
    pub(crate) fn spill_segment_bytes(&self) -> u64 {
        (self.spill_max_bytes / 8).clamp(4 * 1024, 64 * 1024 * 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_document_gives_valid_defaults() {
        let config: KafkaConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config, KafkaConfig::default());
        config.validate().unwrap();
        assert_eq!(config.compression, Compression::Lz4);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = serde_json::from_str::<KafkaConfig>(r#"{"broker": ["x:1"]}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn compression_parses_lowercase_names() {
        let config: KafkaConfig = serde_json::from_str(r#"{"compression": "snappy"}"#).unwrap();
        assert_eq!(config.compression, Compression::Snappy);
        assert!(serde_json::from_str::<KafkaConfig>(r#"{"compression": "gzip"}"#).is_err());
    }

    #[test]
    fn durability_settings_cannot_be_overridden() {
        for key in ["acks", "enable.idempotence", "bootstrap.servers"] {
            let mut config = KafkaConfig::default();
            config
                .librdkafka_options
                .insert(key.to_owned(), "1".to_owned());
            let err = config.validate().unwrap_err();
            assert_eq!(err.field, "librdkafka_options", "{key}");
        }
    }

    #[test]
    fn producer_config_is_idempotent_with_acks_all() {
        let mut config = KafkaConfig::default();
        config
            .librdkafka_options
            .insert("batch.size".to_owned(), "65536".to_owned());
        let client = config.producer_config();
        assert_eq!(client.get("enable.idempotence"), Some("true"));
        assert_eq!(client.get("acks"), Some("all"));
        assert_eq!(client.get("compression.type"), Some("lz4"));
        assert_eq!(client.get("batch.size"), Some("65536"));
        assert_eq!(client.get("statistics.interval.ms"), Some("5000"));
    }

    #[test]
    fn statistics_can_be_turned_off() {
        let config: KafkaConfig = serde_json::from_str(r#"{"statistics_interval_ms": 0}"#).unwrap();
        config.validate().unwrap();
        assert_eq!(
            config.producer_config().get("statistics.interval.ms"),
            Some("0")
        );
    }

    #[test]
    fn bad_topics_brokers_and_ranges_are_rejected() {
        type Mutation = Box<dyn Fn(&mut KafkaConfig)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("events_topic", Box::new(|c| c.events_topic = "a/b".into())),
            ("events_topic", Box::new(|c| c.events_topic = "..".into())),
            (
                "dead_letter_topic",
                Box::new(|c| c.dead_letter_topic = c.events_topic.clone()),
            ),
            ("brokers", Box::new(|c| c.brokers.clear())),
            ("brokers", Box::new(|c| c.brokers = vec!["a:1,b:2".into()])),
            (
                "linger_ms",
                Box::new(|c| c.linger_ms = c.message_timeout_ms),
            ),
            ("message_timeout_ms", Box::new(|c| c.message_timeout_ms = 0)),
            ("spill_max_bytes", Box::new(|c| c.spill_max_bytes = 1024)),
            (
                "statistics_interval_ms",
                Box::new(|c| c.statistics_interval_ms = 10),
            ),
            (
                "librdkafka_options",
                Box::new(|c| {
                    c.librdkafka_options
                        .insert("statistics.interval.ms".into(), "50".into());
                }),
            ),
        ];
        for (field, mutate) in cases {
            let mut config = KafkaConfig::default();
            mutate(&mut config);
            assert_eq!(config.validate().unwrap_err().field, field);
        }
    }

    #[test]
    fn spill_segments_scale_with_the_budget() {
        let mut config = KafkaConfig {
            spill_max_bytes: MIN_SPILL_MAX_BYTES,
            ..KafkaConfig::default()
        };
        assert_eq!(config.spill_segment_bytes(), 4 * 1024);
        config.spill_max_bytes = 1 << 30;
        assert_eq!(config.spill_segment_bytes(), 64 * 1024 * 1024);
    }

    #[test]
    fn librdkafka_checks_every_option_and_builds_a_client_without_brokers() {
        let mut config = KafkaConfig::default();
        config
            .librdkafka_options
            .insert("batch.size".into(), "65536".into());
        config.check().unwrap();

        config
            .librdkafka_options
            .insert("batch.sise".into(), "65536".into());
        let error = config.check().unwrap_err();
        assert_eq!(error.field, "librdkafka_options");
        assert!(error.reason.contains("batch.sise"), "{error}");
        config.librdkafka_options.remove("batch.sise");

        config
            .librdkafka_options
            .insert("batch.size".into(), "lots".into());
        let error = config.check().unwrap_err();
        assert!(error.reason.starts_with("batch.size: "), "{error}");

        // A client is built too: a certificate that is not there is found.
        config.librdkafka_options.clear();
        config
            .librdkafka_options
            .insert("ssl.ca.location".into(), "/nonexistent/ca.pem".into());
        config
            .librdkafka_options
            .insert("security.protocol".into(), "ssl".into());
        let error = config.check().unwrap_err();
        assert!(error.reason.contains("ssl.ca.location"), "{error}");

        // The typed checks come first.
        config.librdkafka_options.clear();
        config.brokers.clear();
        assert_eq!(config.check().unwrap_err().field, "brokers");
    }

    #[test]
    fn this_build_speaks_tls_and_sasl_scram() {
        let mut config = KafkaConfig::default();
        for (key, value) in [
            ("security.protocol", "sasl_ssl"),
            ("sasl.mechanisms", "SCRAM-SHA-512"),
            ("sasl.username", "collector"),
            ("sasl.password", "secret"),
        ] {
            config.librdkafka_options.insert(key.into(), value.into());
        }
        config.check().unwrap();
    }

    #[test]
    fn credentials_are_hidden_from_the_debug_form() {
        let mut config = KafkaConfig::default();
        for (key, value) in [
            ("security.protocol", "SASL_SSL"),
            ("sasl.username", "collector"),
            ("sasl.password", "hunter2-sasl"),
            ("ssl.key.password", "hunter2-key"),
            ("sasl.oauthbearer.client.secret", "hunter2-oauth"),
            ("ssl.key.pem", "-----BEGIN PRIVATE KEY----- hunter2-pem"),
        ] {
            config.librdkafka_options.insert(key.into(), value.into());
        }
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains(r#""sasl.password": "<redacted>""#),
            "{shown}"
        );
        assert!(shown.contains(r#""sasl.username": "collector""#), "{shown}");
        assert!(shown.contains("SASL_SSL"), "{shown}");
        assert!(shown.contains("footfall.events"), "{shown}");
        assert!(is_secret_option("SASL.PASSWORD"));
        assert!(!is_secret_option("ssl.key.location"));
    }
}
