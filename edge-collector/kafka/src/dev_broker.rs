//! The development broker that `scripts/infra/kafka.sh` installs and runs, for the integration tests of
//! this crate and of the collector (feature `dev-broker`, which `kafka-integration-tests` turns on).

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// The broker's address (`FOOTFALL_KAFKA_BOOTSTRAP` overrides).
pub fn bootstrap() -> String {
    std::env::var("FOOTFALL_KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:19092".to_owned())
}

/// The script, found from the directory of the package under test, which cargo names at run time.
/// Not `env!`: builds in a shared `CARGO_TARGET_DIR` are reused by other checkouts of the workspace
/// (a CI clone elsewhere), and a path fixed at compile time would name a checkout that is gone.
fn script() -> PathBuf {
    let package = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::current_dir().expect("a current directory"));
    package
        .ancestors()
        .map(|dir| dir.join("scripts/infra/kafka.sh"))
        .find(|script| script.is_file())
        .unwrap_or_else(|| {
            panic!(
                "scripts/infra/kafka.sh is not above {}: run the tests with cargo test",
                package.display()
            )
        })
}

/// Runs `scripts/infra/kafka.sh <args>`, panics with its output if it fails, and returns what it
/// printed on stdout, trimmed.
pub fn kafka_sh(args: &[&str]) -> String {
    let started = Instant::now();
    let output = Command::new("bash")
        .arg(script())
        .args(args)
        .output()
        .expect("running scripts/infra/kafka.sh");
    assert!(
        output.status.success(),
        "kafka.sh {args:?} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("kafka.sh {args:?} took {:?}", started.elapsed());
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The broker, stopped by a test. [`BrokerStopped::start`] starts it again; if the test fails
/// first, dropping this starts it, so that the tests after it do not find the broker down.
#[must_use = "start the broker again with BrokerStopped::start"]
pub struct BrokerStopped {
    started: bool,
}

/// Stops the broker (`kafka.sh stop`).
pub async fn stop_broker() -> BrokerStopped {
    tokio::task::spawn_blocking(|| kafka_sh(&["stop"]))
        .await
        .expect("kafka.sh stop");
    BrokerStopped { started: false }
}

impl BrokerStopped {
    /// Starts the broker again (`kafka.sh start`, which waits until it answers).
    pub async fn start(mut self) {
        tokio::task::spawn_blocking(|| kafka_sh(&["start"]))
            .await
            .expect("kafka.sh start");
        self.started = true;
    }
}

impl Drop for BrokerStopped {
    fn drop(&mut self) {
        if !self.started {
            // Unwinding already: report, never panic again.
            let started = Command::new("bash").arg(script()).arg("start").status();
            eprintln!("the test failed with the broker stopped; kafka.sh start: {started:?}");
        }
    }
}
