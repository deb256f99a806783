//! `footfall-collector --check-config`, run as operators run it: the real binary, its exit status,
//! stdout and stderr.

use std::path::Path;
use std::process::{Command, Output};

const EXAMPLE: &str = include_str!("../collector.example.toml");

fn check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_footfall-collector"))
        .args(args)
        .arg("--check-config")
        // A config error is one line for the operator, wherever backtraces are switched on.
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("the collector binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// The example file, with its schema directory (and the unplanned-events policy that needs it),
/// GeoIP database and TLS files (which do not exist here) left out, written into `dir`.
fn example_in(dir: &Path) -> String {
    let text: String = EXAMPLE
        .lines()
        .filter(|line| {
            ![
                "schema_dir",
                "unplanned_events",
                "geoip_db",
                "tls_cert",
                "tls_key",
            ]
            .iter()
            .any(|setting| line.starts_with(setting))
        })
        .map(|line| format!("{line}\n"))
        .collect();
    let path = dir.join("collector.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Asserts a refusal: status 2, one line on stderr that says `expected`, and nothing on stdout.
fn assert_refused(output: &Output, expected: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains(expected), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("footfall-collector: invalid configuration: "),
        "{err}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn a_valid_kafka_configuration_prints_its_settings_without_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let config = example_in(dir.path());
    let output = check(&["--config", &config, "--sink", "kafka"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = stdout(&output);
    assert!(
        printed.starts_with("# footfall-collector: the configuration is valid."),
        "{printed}"
    );
    assert!(printed.contains("sink = \"kafka\""), "{printed}");
    assert!(
        printed.contains("\"sasl.username\" = \"footfall\""),
        "{printed}"
    );
    assert!(!printed.contains("change-me"), "{printed}");
    assert!(
        printed.contains(
            "# Set but not shown (credentials): kafka.librdkafka_options.\"sasl.password\"."
        ),
        "{printed}"
    );

    // The output is itself a config file: checking it prints the same settings, once the credential
    // it left out is given back (librdkafka refuses SASL without a password). The printed file ends
    // with the librdkafka table, so the line goes there.
    let last_table = printed.rfind("\n[").unwrap();
    assert!(
        printed[last_table..].starts_with("\n[kafka.librdkafka_options]\n"),
        "{printed}"
    );
    let effective = dir.path().join("effective.toml");
    std::fs::write(
        &effective,
        format!("{printed}\"sasl.password\" = \"change-me\"\n"),
    )
    .unwrap();
    let again = check(&["--config", effective.to_str().unwrap()]);
    assert!(again.status.success(), "{}", stderr(&again));
    let settings = |text: &str| -> String {
        text.lines()
            .filter(|line| !line.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(settings(&stdout(&again)), settings(&printed));
}

#[test]
fn a_misspelt_librdkafka_setting_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = example_in(dir.path()).replace("collector.toml", "typo.toml");
    let text = std::fs::read_to_string(dir.path().join("collector.toml"))
        .unwrap()
        .replace("\"sasl.username\"", "\"sasl.usrname\"");
    std::fs::write(&config, text).unwrap();
    let output = check(&["--config", &config, "--sink", "kafka"]);
    assert_refused(&output, "sasl.usrname: No such configuration property");
    // The same file is fine while the sink is not Kafka: the table is not read.
    assert!(check(&["--config", &config]).status.success());
}

#[test]
fn an_invalid_schema_file_is_named_and_a_project_without_keys_is_warned_of() {
    let dir = tempfile::tempdir().unwrap();
    let schemas = dir.path().join("schemas");
    std::fs::create_dir(&schemas).unwrap();
    std::fs::write(
        schemas.join("signed-up.json"),
        r#"{"event": "Signed Up", "policy": "reject", "schema": {"type": "nope"}}"#,
    )
    .unwrap();
    std::fs::write(
        schemas.join("order.json"),
        r#"{"event": "Order Completed", "policy": "flag", "schema": {"type": "object"}}"#,
    )
    .unwrap();
    let schema_dir = schemas.to_str().unwrap();
    let output = check(&["--write-key", "k=p/s", "--schema-dir", schema_dir]);
    assert_refused(&output, "signed-up.json");

    std::fs::remove_file(schemas.join("signed-up.json")).unwrap();
    let output = check(&["--write-key", "k=p/s", "--schema-dir", schema_dir]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output)
        .contains("# 1 event schema(s) compiled; GeoIP database not configured; plain HTTP."));

    // A project's directory that no write key belongs to: valid, with a warning naming it.
    std::fs::create_dir(schemas.join("shpo")).unwrap();
    std::fs::write(
        schemas.join("shpo/order.json"),
        r#"{"event": "Order Completed", "schema": {}}"#,
    )
    .unwrap();
    let output = check(&["--write-key", "k=p/s", "--schema-dir", schema_dir]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("no write key belongs to, which check no event: shpo."),
        "{}",
        stdout(&output)
    );
}

#[test]
fn a_missing_geoip_database_and_a_file_in_place_of_a_log_directory_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("GeoLite2-City.mmdb");
    let output = check(&[
        "--write-key",
        "k=p/s",
        "--geoip-db",
        missing.to_str().unwrap(),
    ]);
    assert_refused(&output, "cannot read GeoIP database");

    let file = dir.path().join("events");
    std::fs::write(&file, "not a directory").unwrap();
    let output = check(&[
        "--write-key",
        "k=p/s",
        "--sink",
        "log",
        "--log-dir",
        file.to_str().unwrap(),
        "--dead-letter-dir",
        dir.path().join("dead").to_str().unwrap(),
    ]);
    assert_refused(&output, "exists and is not a directory");
    // Nothing was created: the check has no side effects.
    assert!(!dir.path().join("dead").exists());
}

#[test]
fn a_tls_key_that_is_not_the_certificates_is_refused_and_a_matching_one_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    let names = vec!["collector.test".to_owned()];
    let one = rcgen::generate_simple_self_signed(names.clone()).unwrap();
    let other = rcgen::generate_simple_self_signed(names).unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, one.cert.pem()).unwrap();
    std::fs::write(&key, other.key_pair.serialize_pem()).unwrap();
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let flags = ["--write-key", "k=p/s", "--tls-cert", cert, "--tls-key", key];

    let output = check(&flags);
    assert_refused(&output, "does not belong to the certificate");

    std::fs::write(key, one.key_pair.serialize_pem()).unwrap();
    let output = check(&flags);
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = stdout(&output);
    assert!(
        printed.contains("TLS certificate and key read (HTTPS), for CN=rcgen self signed cert, valid until 4096-01-01T00:00:00.000Z"),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("tls_cert = \"{cert}\"")),
        "{printed}"
    );

    let output = check(&["--write-key", "k=p/s", "--tls-cert", cert]);
    assert_refused(&output, "tls_cert is set without tls_key");
}

#[test]
fn settings_refused_before_the_checks_exit_the_same_way() {
    let output = check(&[]);
    assert_refused(&output, "no write key is configured");
}
