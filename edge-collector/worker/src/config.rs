//! The worker's settings, read from its Wrangler vars and secrets, then validated.
//!
//! | name | kind | meaning |
//! |---|---|---|
//! | `ORIGIN_URL` | var | base URL of the origin collector, e.g. `https://collector.example.com` |
//! | `ORIGIN_SECRET` | secret | the origin's `edge_secret` (`wrangler secret put ORIGIN_SECRET`), 32+ characters |
//! | `WRITE_KEYS` | var | JSON object: `{"wk_live_123": {"projectId": "shop", "sourceId": "web"}}` |
//! | `RATE_LIMIT_EVENTS_PER_SEC` | var | per write key **and per isolate**; unset or `0`: off |
//! | `RATE_LIMIT_BURST` | var | events at once above the rate [default: 4 × the rate, at least 1000] |
//! | `RATE_LIMITS` | var | JSON object of write keys' own limits, which replace the two above for them: `{"wk_live_456": {"events_per_sec": 500, "burst": 2000}}`; `events_per_sec` 0 exempts the key |
//! | `ANONYMIZE_IP` | var | `true`: zero the host part of `context.ip` |
//! | `SCHEMAS` | var | JSON array of schema files, `[{"event", "policy", "schema"}]`, as the collector's schema directory; `"project": "shop"` makes one that project's own |
//! | `RETRY_AFTER_SECS` | var | `Retry-After` when the origin cannot take events [default: 5] |
//! | `ORIGIN_TIMEOUT_MS` | var | how long to wait for the origin before answering 503 [default: 10000] |
//!
//! The write keys and schemas must match the origin's: the edge refuses unknown keys before anything
//! crosses to the origin, and the origin refuses relays for keys it does not know.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use footfall_ingest::{
    KeyRateLimit, RateLimit, SchemaFile, SchemaRegistry, Source, UnplannedEvents, WriteKeys,
};

/// The shortest origin secret accepted (the origin's own minimum).
pub const MIN_SECRET_LEN: usize = 32;

/// A setting that is missing or wrong; the message names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The validated settings.
#[derive(Debug)]
pub struct EdgeConfig {
    /// Base URL of the origin collector, without a trailing slash.
    pub origin_url: String,
    /// Bearer secret the origin trusts.
    pub origin_secret: String,
    /// Known write keys.
    pub write_keys: WriteKeys,
    /// Per-key, per-isolate rate limit.
    pub rate_limit: Option<RateLimit>,
    /// Write keys with a limit of their own (per isolate too); `None` exempts the key.
    pub key_rate_limits: BTreeMap<String, Option<RateLimit>>,
    /// Anonymize client IPs.
    pub anonymize_ip: bool,
    /// Schemas by event name.
    pub schemas: SchemaRegistry,
    /// `Retry-After` on 503.
    pub retry_after: Duration,
    /// How long to wait for the origin.
    pub origin_timeout: Duration,
}

fn number<T: std::str::FromStr>(
    name: &str,
    value: Option<String>,
) -> Result<Option<T>, ConfigError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|_| ConfigError(format!("{name}: {text:?} is not a whole number"))),
    }
}

impl EdgeConfig {
    /// Reads the settings through `var`, which returns a variable's or a secret's value.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let origin_url = var("ORIGIN_URL")
            .map(|u| u.trim().trim_end_matches('/').to_owned())
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                ConfigError("ORIGIN_URL: not set; the base URL of the origin collector".into())
            })?;
        if !origin_url.starts_with("https://") && !origin_url.starts_with("http://") {
            return Err(ConfigError(format!(
                "ORIGIN_URL: {origin_url:?} must start with https:// (or http:// for a local origin)"
            )));
        }
        let origin_secret = var("ORIGIN_SECRET").unwrap_or_default();
        if origin_secret.len() < MIN_SECRET_LEN {
            return Err(ConfigError(format!(
                "ORIGIN_SECRET: must be the origin's edge_secret, at least {MIN_SECRET_LEN} characters \
                 (wrangler secret put ORIGIN_SECRET)"
            )));
        }
        let keys: std::collections::BTreeMap<String, Source> =
            serde_json::from_str(var("WRITE_KEYS").as_deref().unwrap_or("")).map_err(|e| {
                ConfigError(format!(
                    "WRITE_KEYS: expected a JSON object {{\"<key>\": {{\"projectId\": \"…\", \"sourceId\": \"…\"}}}}: {e}"
                ))
            })?;
        if keys.is_empty() {
            return Err(ConfigError(
                "WRITE_KEYS: no write key; every request would get 401".into(),
            ));
        }
        let rate = number::<u32>(
            "RATE_LIMIT_EVENTS_PER_SEC",
            var("RATE_LIMIT_EVENTS_PER_SEC"),
        )?;
        let burst = number::<u32>("RATE_LIMIT_BURST", var("RATE_LIMIT_BURST"))?;
        let rate_limit =
            RateLimit::from_settings(rate.unwrap_or(0), burst.and_then(NonZeroU32::new));
        let key_rate_limits = key_rate_limits(var("RATE_LIMITS"), &keys)?;
        let anonymize_ip = match var("ANONYMIZE_IP").as_deref().map(str::trim) {
            None | Some("") | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ConfigError(format!(
                    "ANONYMIZE_IP: {other:?} must be true or false"
                )))
            }
        };
        let write_keys: WriteKeys = keys.into_iter().collect();
        let mut schemas = SchemaRegistry::new();
        if let Some(text) = var("SCHEMAS").filter(|t| !t.trim().is_empty()) {
            let files: Vec<SchemaFile> = serde_json::from_str(&text).map_err(|e| {
                ConfigError(format!(
                    "SCHEMAS: expected a JSON array of {{\"event\", \"policy\", \"schema\"}}: {e}"
                ))
            })?;
            for file in files {
                schemas
                    .insert_file(&file)
                    .map_err(|e| ConfigError(format!("SCHEMAS: {e}")))?;
            }
            // Keys and schemas are deployed together here, so a project no key belongs to is a
            // mistake (the collector, whose keys can come later by a reload, only warns).
            if let Some(project) = schemas.projects_without_keys(&write_keys).first() {
                return Err(ConfigError(format!(
                    "SCHEMAS: project {project:?} has schemas, but no key of WRITE_KEYS belongs to it"
                )));
            }
        }
        let unplanned = match var("UNPLANNED_EVENTS").filter(|t| !t.trim().is_empty()) {
            None => UnplannedEvents::Accept,
            Some(text) => text
                .trim()
                .parse::<UnplannedEvents>()
                .map_err(|e| ConfigError(format!("UNPLANNED_EVENTS: {e}")))?,
        };
        if unplanned != UnplannedEvents::Accept && schemas.is_empty() {
            return Err(ConfigError(format!(
                "UNPLANNED_EVENTS: {} needs SCHEMAS: with no tracking plan, every track event \
                 would be unplanned",
                unplanned.as_str()
            )));
        }
        let schemas = schemas.with_unplanned(unplanned);
        let retry_after = number::<u64>("RETRY_AFTER_SECS", var("RETRY_AFTER_SECS"))?.unwrap_or(5);
        let timeout =
            number::<u64>("ORIGIN_TIMEOUT_MS", var("ORIGIN_TIMEOUT_MS"))?.unwrap_or(10_000);
        if retry_after == 0 || timeout == 0 {
            return Err(ConfigError(
                "RETRY_AFTER_SECS and ORIGIN_TIMEOUT_MS must be at least 1".into(),
            ));
        }
        Ok(Self {
            origin_url,
            origin_secret,
            write_keys,
            rate_limit,
            key_rate_limits,
            anonymize_ip,
            schemas,
            retry_after: Duration::from_secs(retry_after),
            origin_timeout: Duration::from_millis(timeout),
        })
    }
}

/// Reads `RATE_LIMITS`, whose keys must be among `write_keys`.
fn key_rate_limits(
    text: Option<String>,
    write_keys: &BTreeMap<String, Source>,
) -> Result<BTreeMap<String, Option<RateLimit>>, ConfigError> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(BTreeMap::new());
    };
    let tables: BTreeMap<String, KeyRateLimit> = serde_json::from_str(&text).map_err(|e| {
        ConfigError(format!(
            "RATE_LIMITS: expected a JSON object {{\"<write key>\": {{\"events_per_sec\": …, \"burst\": …}}}}: {e}"
        ))
    })?;
    tables
        .into_iter()
        .map(|(key, table)| {
            if !write_keys.contains_key(&key) {
                return Err(ConfigError(format!(
                    "RATE_LIMITS: {key}: not a key of WRITE_KEYS"
                )));
            }
            let limit = table
                .limit()
                .map_err(|why| ConfigError(format!("RATE_LIMITS: {key}: {why}")))?;
            Ok((key, limit))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let mut map: HashMap<String, String> = [
            ("ORIGIN_URL", "https://collector.example.com/"),
            ("ORIGIN_SECRET", SECRET),
            (
                "WRITE_KEYS",
                r#"{"wk": {"projectId": "shop", "sourceId": "web"}}"#,
            ),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in pairs {
            map.insert(k.to_string(), v.to_string());
        }
        move |name| map.get(name).cloned()
    }

    #[test]
    fn reads_the_minimal_settings_with_defaults() {
        let config = EdgeConfig::from_vars(vars(&[])).unwrap();
        assert_eq!(config.origin_url, "https://collector.example.com");
        assert_eq!(config.write_keys.resolve("wk").unwrap().project_id, "shop");
        assert_eq!(config.rate_limit, None);
        assert!(!config.anonymize_ip);
        assert!(config.schemas.is_empty());
        assert_eq!(config.retry_after, Duration::from_secs(5));
        assert_eq!(config.origin_timeout, Duration::from_secs(10));
    }

    #[test]
    fn reads_limits_schemas_and_switches() {
        let config = EdgeConfig::from_vars(vars(&[
            ("RATE_LIMIT_EVENTS_PER_SEC", "10"),
            ("ANONYMIZE_IP", "true"),
            ("SCHEMAS", r#"[{"event": "Order Completed", "policy": "reject", "schema": {"type": "object", "required": ["revenue"]}},
                {"type": "identify", "schema": {"type": "object"}}]"#),
            ("ORIGIN_TIMEOUT_MS", "2500"),
            ("UNPLANNED_EVENTS", "flag"),
        ]))
        .unwrap();
        let limit = config.rate_limit.unwrap();
        assert_eq!((limit.events_per_sec.get(), limit.burst.get()), (10, 1000));
        assert!(config.anonymize_ip);
        let plan = config.schemas.plan("shop");
        assert!(plan.has("Order Completed"));
        assert!(plan.has_traits(footfall_ingest::SchemaKind::Identify));
        assert_eq!(config.schemas.unplanned(), UnplannedEvents::Flag);
        assert_eq!(config.origin_timeout, Duration::from_millis(2500));
        let off = EdgeConfig::from_vars(vars(&[
            ("RATE_LIMIT_EVENTS_PER_SEC", "0"),
            ("RATE_LIMIT_BURST", "5"),
        ]))
        .unwrap();
        assert_eq!(off.rate_limit, None);
    }

    #[test]
    fn names_the_variable_that_is_wrong() {
        let err = |pairs: &[(&str, &str)]| EdgeConfig::from_vars(vars(pairs)).unwrap_err().0;
        assert!(err(&[("ORIGIN_URL", "")]).starts_with("ORIGIN_URL"));
        assert!(err(&[("ORIGIN_URL", "collector:8080")]).starts_with("ORIGIN_URL"));
        assert!(err(&[("ORIGIN_SECRET", "short")]).starts_with("ORIGIN_SECRET"));
        assert!(err(&[("WRITE_KEYS", "{}")]).starts_with("WRITE_KEYS"));
        assert!(err(&[("WRITE_KEYS", r#"{"wk": {"project": "x"}}"#)]).starts_with("WRITE_KEYS"));
        assert!(
            err(&[("RATE_LIMIT_EVENTS_PER_SEC", "fast")]).starts_with("RATE_LIMIT_EVENTS_PER_SEC")
        );
        assert!(err(&[("ANONYMIZE_IP", "yes")]).starts_with("ANONYMIZE_IP"));
        assert!(
            err(&[("SCHEMAS", r#"[{"event": "A", "schema": {"type": 12}}]"#)])
                .starts_with("SCHEMAS")
        );
        assert_eq!(
            err(&[(
                "SCHEMAS",
                r#"[{"event": "A", "project": "shpo", "schema": {}}]"#
            )]),
            "SCHEMAS: project \"shpo\" has schemas, but no key of WRITE_KEYS belongs to it"
        );
        assert!(err(&[("RETRY_AFTER_SECS", "0")]).contains("at least 1"));
        assert!(err(&[("UNPLANNED_EVENTS", "block")]).contains("accept, flag or reject"));
        assert!(err(&[("UNPLANNED_EVENTS", "reject")])
            .starts_with("UNPLANNED_EVENTS: reject needs SCHEMAS"));
        assert_eq!(
            err(&[("RATE_LIMITS", r#"{"wk_other": {"events_per_sec": 5}}"#)]),
            "RATE_LIMITS: wk_other: not a key of WRITE_KEYS"
        );
        assert_eq!(
            err(&[(
                "RATE_LIMITS",
                r#"{"wk": {"events_per_sec": 5, "burst": 0}}"#
            )]),
            "RATE_LIMITS: wk: burst must be at least 1"
        );
        assert!(err(&[("RATE_LIMITS", r#"{"wk": {"rate": 5}}"#)]).starts_with("RATE_LIMITS"));
    }

    #[test]
    fn reads_write_keys_own_rate_limits() {
        let config = EdgeConfig::from_vars(vars(&[(
            "RATE_LIMITS",
            r#"{"wk": {"events_per_sec": 500, "burst": 2000}}"#,
        )]))
        .unwrap();
        let own = config.key_rate_limits["wk"].unwrap();
        assert_eq!((own.events_per_sec.get(), own.burst.get()), (500, 2000));
        let exempt =
            EdgeConfig::from_vars(vars(&[("RATE_LIMITS", r#"{"wk": {"events_per_sec": 0}}"#)]))
                .unwrap();
        assert_eq!(exempt.key_rate_limits["wk"], None);
    }
}
