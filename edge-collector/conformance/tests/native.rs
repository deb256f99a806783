//! The conformance suite against the native collector: a fresh `footfall-collector` per test, served on
//! 127.0.0.1 with the embedded log in a temporary directory, spoken to over HTTP.

use std::num::NonZeroU32;

use footfall_collector::config::RateLimit;
use footfall_collector::{serve, Config, SinkConfig};
use footfall_conformance::{AsTarget, Target};
use footfall_ingest::{Source, WriteKeys};

struct Native {
    target: Target,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

impl AsTarget for Native {
    fn as_target(&self) -> &Target {
        &self.target
    }
}

/// The configuration the suite expects (see the crate docs).
fn config(dir: &std::path::Path) -> Config {
    let mut keys = WriteKeys::new();
    for (key, source) in [("wk_test", "web"), ("wk_burst", "burst")] {
        keys.insert(
            key,
            Source {
                project_id: "shop".into(),
                source_id: source.into(),
            },
        );
    }
    let mut config = Config::new(keys);
    // The suite's client claims its address in X-Forwarded-For, as a proxy on loopback would.
    config.enrich.trusted_proxies = vec!["127.0.0.1/32".parse().expect("a CIDR")];
    config.rate_limit = Some(RateLimit {
        events_per_sec: NonZeroU32::new(100).expect("not zero"),
        burst: NonZeroU32::new(1000).expect("not zero"),
    });
    config.sink = SinkConfig::Log {
        events_dir: dir.join("events"),
        dead_letter_dir: dir.join("dead-letters"),
        max_disk_bytes: None,
    };
    config
}

async fn target() -> Native {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let addr = listener.local_addr().expect("bound");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = config(dir.path());
    tokio::spawn(serve(config, listener, async {
        let _ = stopped.await;
    }));
    let target = Target::new(
        &format!("http://{addr}"),
        dir.path().join("events"),
        dir.path().join("dead-letters"),
    );
    target.wait_until_up("/ready").await;
    Native {
        target,
        _stop: stop,
        _dir: dir,
    }
}

footfall_conformance::suite!(target);
