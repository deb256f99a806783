//! [`AnalyticsConfig`]: what the app sets when it creates [`Analytics`](crate::Analytics).

use std::time::Duration;

use footfall_core::Config;
use footfall_storage_sqlite::WriteBatching;

/// The SDK's settings. In Kotlin and Swift every field after `database_path` has a default.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AnalyticsConfig {
    /// The source's write key.
    pub write_key: String,
    /// The collector's origin, e.g. `https://collector.example.com`; batches go to `<endpoint>/v1/batch`.
    pub endpoint: String,
    /// The SQLite file holding the queue, in the app's private files (created if missing).
    pub database_path: String,
    /// Upload as soon as this many events are queued.
    #[uniffi(default = 20)]
    pub flush_at: u32,
    /// Upload as soon as the oldest queued event has waited this long, in milliseconds.
    #[uniffi(default = 10000)]
    pub flush_interval_ms: u64,
    /// The most events in one upload.
    #[uniffi(default = 100)]
    pub max_batch_events: u32,
    /// The most events kept while offline; beyond it the oldest is dropped, and reported.
    #[uniffi(default = 10000)]
    pub max_queue_events: u32,
    /// The most bytes of events kept while offline; beyond it the oldest is dropped, and reported.
    #[uniffi(default = 10485760)]
    pub max_queue_bytes: u64,
    /// An event is dropped, and reported, after this many failed uploads.
    #[uniffi(default = 10)]
    pub max_attempts: u32,
    /// Gzip upload bodies (`Content-Encoding: gzip`).
    #[uniffi(default = true)]
    pub gzip: bool,
    /// One upload's HTTP timeout, in milliseconds.
    #[uniffi(default = 30000)]
    pub http_timeout_ms: u64,
    /// `fsync` every write (SQLite `synchronous=FULL`), so events survive power loss too, not just the
    /// app being killed. Costs about a millisecond per event on phone storage.
    #[uniffi(default = false)]
    pub full_durability: bool,
    /// Group event writes into one SQLite transaction of up to this many events (0 or 1: commit every
    /// event). A process killed before the commit loses the events in it.
    #[uniffi(default = 200)]
    pub write_batch_events: u32,
    /// Commit grouped writes at the latest this long after the first, in milliseconds: at most this
    /// much activity is lost if the process is killed.
    #[uniffi(default = 50)]
    pub write_batch_delay_ms: u64,
}

impl AnalyticsConfig {
    /// The defaults, for Rust callers (Kotlin and Swift get them as default arguments).
    pub fn new(
        write_key: impl Into<String>,
        endpoint: impl Into<String>,
        database_path: impl Into<String>,
    ) -> Self {
        AnalyticsConfig {
            write_key: write_key.into(),
            endpoint: endpoint.into(),
            database_path: database_path.into(),
            flush_at: 20,
            flush_interval_ms: 10_000,
            max_batch_events: 100,
            max_queue_events: 10_000,
            max_queue_bytes: 10 * 1024 * 1024,
            max_attempts: 10,
            gzip: true,
            http_timeout_ms: 30_000,
            full_durability: false,
            write_batch_events: 200,
            write_batch_delay_ms: 50,
        }
    }

    /// How the queue groups writes, or `None` to commit every event.
    pub(crate) fn write_batching(&self) -> Option<WriteBatching> {
        (self.write_batch_events > 1).then(|| WriteBatching {
            max_events: self.write_batch_events as usize,
            max_delay: Duration::from_millis(self.write_batch_delay_ms),
        })
    }

    /// The engine's configuration.
    pub(crate) fn engine_config(&self) -> Config {
        Config {
            library_name: "footfall-mobile".to_owned(),
            library_version: env!("CARGO_PKG_VERSION").to_owned(),
            flush_at: self.flush_at as usize,
            flush_interval: Duration::from_millis(self.flush_interval_ms),
            max_batch_events: self.max_batch_events as usize,
            max_queue_events: self.max_queue_events as usize,
            max_queue_bytes: self.max_queue_bytes,
            max_attempts: self.max_attempts,
            // An outcome comes back within the HTTP timeout, so a lost one is retried soon after.
            upload_timeout: Duration::from_millis(self.http_timeout_ms.saturating_mul(2).max(1)),
            ..Config::new(self.write_key.clone())
        }
    }

    /// The batch URL, or why the endpoint is refused.
    pub(crate) fn batch_url(&self) -> Result<String, String> {
        let origin = self.endpoint.trim_end_matches('/');
        if !(origin.starts_with("http://") || origin.starts_with("https://")) {
            return Err(format!(
                "invalid configuration: endpoint must start with http:// or https://, not {:?}",
                self.endpoint
            ));
        }
        Ok(format!("{origin}/v1/batch"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_make_a_valid_engine_config() {
        let config = AnalyticsConfig::new("wk", "http://127.0.0.1:1/", "/tmp/q.sqlite");
        assert_eq!(config.engine_config().validate(), Ok(()));
        assert_eq!(config.batch_url().unwrap(), "http://127.0.0.1:1/v1/batch");
    }

    #[test]
    fn an_endpoint_without_a_scheme_is_refused() {
        let config = AnalyticsConfig::new("wk", "collector.example.com", "/tmp/q.sqlite");
        assert!(config.batch_url().unwrap_err().contains("endpoint"));
    }
}
