//! `footfall-collector --check-config`: everything the collector would refuse at start, found before a
//! deploy, without binding the port, opening the logs or contacting a broker.
//!
//! [`Config::load`] has already merged and validated the flags, variables and file. [`check`] then
//! does what only start-up did: it compiles the schema directory and reads the GeoIP database and the
//! TLS certificate and key (the same code as [`AppState::new`]), has librdkafka check every Kafka setting, and makes sure the sink's
//! directories are not files. Its [`CheckReport`] prints the effective settings as a config file.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::config::FileConfig;
use crate::{AppState, Config, Error, MemorySink, SinkConfig};

/// What a successful check found, and the effective settings.
#[derive(Debug)]
pub struct CheckReport {
    /// Event schemas compiled from the schema directory.
    pub schemas: usize,
    /// Projects with schemas of their own that no write key belongs to (a misspelt name?).
    pub projects_without_keys: Vec<String>,
    /// Whether a GeoIP database was read.
    pub geoip: bool,
    /// Plain HTTP, or HTTPS and the certificate read.
    pub https: Https,
    /// The settings in effect, credentials left out.
    pub effective: FileConfig,
    /// The settings left out of `effective` because they are credentials.
    pub hidden: Vec<String>,
}

/// Whether the collector serves HTTPS, and with what certificate.
#[derive(Debug)]
pub enum Https {
    /// Plain HTTP: no certificate is configured.
    Off,
    /// HTTPS with a certificate naming `subject`, valid until its expiry.
    On(crate::tls::CertificateInfo),
    /// HTTPS with a certificate and key that load, but whose subject and dates cannot be read.
    OnWithUnreadableDates,
}

/// Checks `config` as start-up would, without side effects.
pub fn check(config: &Config) -> Result<CheckReport, Error> {
    let state = AppState::new(config, Arc::new(MemorySink::new()))?;
    match &config.sink {
        SinkConfig::Memory => {}
        SinkConfig::Log {
            events_dir,
            dead_letter_dir,
            ..
        } => {
            usable_dir("log_dir", events_dir)?;
            usable_dir("dead_letter_dir", dead_letter_dir)?;
        }
        SinkConfig::Kafka(kafka) => {
            kafka
                .check()
                .map_err(|e| Error::Startup(format!("kafka: {e}")))?;
            usable_dir("kafka.spill_dir", &kafka.spill_dir)?;
        }
    }
    let (effective, hidden) = config.effective_file();
    let registry = state.schemas().get();
    Ok(CheckReport {
        schemas: registry.len(),
        projects_without_keys: registry
            .projects_without_keys(&config.write_keys)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        geoip: config.geoip_db.is_some(),
        https: match state.inner().tls.as_ref().map(|cert| cert.info()) {
            None => Https::Off,
            Some(Some(certificate)) => Https::On(certificate),
            Some(None) => Https::OnWithUnreadableDates,
        },
        effective,
        hidden,
    })
}

/// A directory the sink creates if missing, so only a file in its place is an error.
fn usable_dir(setting: &str, path: &Path) -> Result<(), Error> {
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_dir() => Err(Error::Startup(format!(
            "{setting} {} exists and is not a directory",
            path.display()
        ))),
        _ => Ok(()),
    }
}

impl fmt::Display for CheckReport {
    /// Comment lines with the findings, then the settings as TOML that `--config` reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "# footfall-collector: the configuration is valid.")?;
        writeln!(
            f,
            "# {} event schema(s) compiled; GeoIP database {}; {}.",
            self.schemas,
            if self.geoip { "read" } else { "not configured" },
            match &self.https {
                Https::Off => "plain HTTP".to_owned(),
                Https::OnWithUnreadableDates => "TLS certificate and key read (HTTPS)".to_owned(),
                Https::On(cert) => format!(
                    "TLS certificate and key read (HTTPS), for {}, valid until {}",
                    cert.subject,
                    cert.expires()
                ),
            }
        )?;
        if !self.projects_without_keys.is_empty() {
            writeln!(
                f,
                "# Warning: schemas for project(s) that no write key belongs to, which check no \
                 event: {}.",
                self.projects_without_keys.join(", ")
            )?;
        }
        if !self.hidden.is_empty() {
            writeln!(
                f,
                "# Set but not shown (credentials): {}.",
                self.hidden.join(", ")
            )?;
        }
        writeln!(f, "# The settings in effect:")?;
        writeln!(f)?;
        let toml = toml::to_string(&self.effective).map_err(|_| fmt::Error)?;
        f.write_str(&toml)
    }
}
