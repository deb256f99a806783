//! Taking a new configuration without a restart.
//!
//! On `SIGHUP` the collector loads its configuration again (the `--config` file is read again; flags
//! and variables keep the values they had at start) and puts it in force with [`AppState::reload`]:
//! write keys added or revoked, the rate limits, the client-IP options, the GeoIP database, Retry-After
//! and the edge secrets. A configuration that does not load, or a GeoIP database that cannot be read,
//! is refused with an error in the log, and the previous configuration stays in force: a typo in the
//! file never takes a running collector down. Each reload is counted in
//! `footfall_collector_config_reloads_total{result}`.

use std::sync::Arc;

use crate::config::ConfigError;
use crate::{metrics, AppState, Config, Error, Reloaded};

/// Reloads the configuration, with `load`, on every `SIGHUP` until the task is aborted.
///
/// Call it inside the runtime, before the collector serves: the handler is in place when this
/// returns, so a `SIGHUP` sent once the collector answers cannot end the process (its default
/// action).
pub fn reload_on_hangup<L>(state: AppState, load: L) -> tokio::task::JoinHandle<()>
where
    L: Fn() -> Result<Config, ConfigError> + Send + Sync + 'static,
{
    let load = Arc::new(load);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGHUP; configuration reloads are off");
                return tokio::spawn(async {});
            }
        };
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                let (state, load) = (state.clone(), Arc::clone(&load));
                // Reading the file and the GeoIP database blocks.
                let _ = tokio::task::spawn_blocking(move || reload_with(&state, &*load)).await;
            }
        })
    }
    #[cfg(not(unix))]
    {
        let _ = (state, load);
        tokio::spawn(async {})
    }
}

/// Loads a configuration with `load` and puts it in force in `state`; logs and counts the outcome.
pub fn reload_with(
    state: &AppState,
    load: &dyn Fn() -> Result<Config, ConfigError>,
) -> Result<Reloaded, Error> {
    let outcome = load()
        .map_err(|error| Error::Startup(format!("invalid configuration: {error}")))
        .and_then(|config| state.reload(&config));
    metrics::config_reloaded(outcome.is_ok());
    match &outcome {
        Ok(reloaded) => {
            tracing::info!(
                applied = ?reloaded.applied,
                geoip_reread = reloaded.geoip_reread,
                certificate_reread = reloaded.certificate_reread,
                write_keys = reloaded.write_keys,
                "configuration reloaded"
            );
            if !reloaded.need_restart.is_empty() {
                tracing::warn!(
                    settings = ?reloaded.need_restart,
                    "these settings changed but take effect only after a restart; their old values stay in force"
                );
            }
        }
        Err(error) => tracing::error!(
            %error,
            "configuration reload refused; the previous configuration stays in force"
        ),
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemorySink;

    fn reloads(result: &str) -> f64 {
        let text = metrics::handle().render();
        let series = format!("footfall_collector_config_reloads_total{{result=\"{result}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&series))
            .map_or(0.0, |value| value.parse().unwrap())
    }

    #[test]
    fn a_configuration_that_does_not_load_is_refused_counted_and_changes_nothing() {
        let config = Config::new(footfall_ingest::WriteKeys::from_iter([(
            "wk".to_owned(),
            footfall_ingest::Source {
                project_id: "shop".into(),
                source_id: "web".into(),
            },
        )]));
        let state = AppState::new(&config, Arc::new(MemorySink::new())).unwrap();
        let (refused, applied) = (reloads("refused"), reloads("applied"));

        let error = reload_with(&state, &|| {
            Err(ConfigError::Invalid(
                "rate_limit_burst must be at least 1".into(),
            ))
        })
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid configuration: rate_limit_burst must be at least 1"
        );
        // Other tests in this process may reload too, so the counters only have to have grown.
        assert!(reloads("refused") > refused);
        assert_eq!(state.config().write_keys, config.write_keys);

        let mut next = config.clone();
        let source = footfall_ingest::Source {
            project_id: "shop".into(),
            source_id: "app".into(),
        };
        next.write_keys.insert("wk_app", source);
        let reloaded = reload_with(&state, &|| Ok(next.clone())).unwrap();
        assert_eq!(reloaded.write_keys, 2);
        assert!(reloads("applied") > applied);
    }
}
