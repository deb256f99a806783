//! Signals to the real collector binary.
//!
//! - `SIGHUP`: the config file is read again and its write keys are put in force without a restart;
//!   a broken file is refused and the running configuration stays; a renewed TLS certificate is
//!   served from the next connection.
//! - `SIGTERM`: the collector goes unready and serves on for its shutdown delay, then exits; a second
//!   `SIGTERM` ends it at once.

mod common;

use std::net::TcpListener as StdListener;
use std::time::{Duration, Instant};

use common::CollectorProcess;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

fn keys_file(keys: &[&str]) -> String {
    keys.iter()
        .map(|key| format!("[write_keys.{key}]\nprojectId = \"shop\"\nsourceId = \"{key}\"\n"))
        .collect()
}

async fn get(client: &HttpClient, port: u16, path: &str) -> Option<(u16, String)> {
    let url = format!("http://127.0.0.1:{port}{path}").parse().unwrap();
    let response = client.get(url).await.ok()?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.ok()?.to_bytes();
    Some((status, String::from_utf8_lossy(&body).into_owned()))
}

/// The status of a one-event `POST /v1/track` with `write_key`.
async fn track(client: &HttpClient, port: u16, write_key: &str) -> u16 {
    let request = hyper::Request::post(format!("http://127.0.0.1:{port}/v1/track"))
        .header(
            "authorization",
            footfall_protocol::auth::basic_authorization(write_key),
        )
        .body(Full::new(Bytes::from_static(
            br#"{"event":"Signed Up","userId":"u1"}"#,
        )))
        .unwrap();
    client.request(request).await.unwrap().status().as_u16()
}

/// Waits up to 30 s for `done`, which is checked every 50 ms.
async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(Instant::now() < deadline, "{what} within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The collector binary with `--config <config>`, on a free loopback port.
fn start_with(config: &std::path::Path) -> (CollectorProcess, u16) {
    let port = StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let collector = CollectorProcess::start([
        "--config".as_ref(),
        config.as_os_str(),
        "--listen".as_ref(),
        format!("127.0.0.1:{port}").as_ref(),
    ]);
    (collector, port)
}

/// The collector binary on a config file in its own directory, ready, with a client for it.
struct Started {
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
    collector: CollectorProcess,
    port: u16,
    client: HttpClient,
}

/// Writes `file` as the config, starts the collector on it and waits until `/ready` answers 200.
async fn start_ready(file: &str) -> Started {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("collector.toml");
    std::fs::write(&config, file).unwrap();
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let (collector, port) = start_with(&config);
    eventually("the collector is ready", || async {
        get(&client, port, "/ready")
            .await
            .is_some_and(|(status, _)| status == 200)
    })
    .await;
    Started {
        dir,
        config,
        collector,
        port,
        client,
    }
}

/// Waits for the collector to exit, and returns its exit status.
async fn exited(collector: &mut CollectorProcess, what: &str) -> Option<i32> {
    eventually(what, || {
        let ended = !collector.is_running();
        async move { ended }
    })
    .await;
    collector.exit_code()
}

fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn sighup_puts_the_files_write_keys_in_force_and_a_broken_file_changes_nothing() {
    let Started {
        dir: _dir,
        config,
        mut collector,
        port,
        client,
        ..
    } = start_ready(&keys_file(&["wk_old"])).await;
    assert_eq!(track(&client, port, "wk_old").await, 200);
    assert_eq!(track(&client, port, "wk_new").await, 401);

    // A key added and a key revoked, on one connection pool that stays open throughout.
    std::fs::write(&config, keys_file(&["wk_new"])).unwrap();
    collector.hang_up();
    eventually("the new key is accepted", || async {
        track(&client, port, "wk_new").await == 200
    })
    .await;
    assert_eq!(track(&client, port, "wk_old").await, 401, "the revoked key");

    // A file that does not parse: refused, counted, and the keys in force stay.
    std::fs::write(&config, "[write_keys.wk_broken\n").unwrap();
    collector.hang_up();
    let refused = "footfall_collector_config_reloads_total{result=\"refused\"}";
    eventually("the refused reload is counted", || async {
        get(&client, port, "/metrics")
            .await
            .is_some_and(|(_, metrics)| sample(&metrics, refused) == 1.0)
    })
    .await;
    let (_, metrics) = get(&client, port, "/metrics").await.unwrap();
    assert_eq!(
        sample(&metrics, "footfall_collector_config_last_reload_successful"),
        0.0
    );
    assert_eq!(
        sample(
            &metrics,
            "footfall_collector_config_reloads_total{result=\"applied\"}"
        ),
        1.0
    );
    assert_eq!(track(&client, port, "wk_new").await, 200);
    assert!(
        collector.is_running(),
        "a broken file stopped the collector"
    );
}

/// A client over a fresh connection each time, trusting only `trusted`, that tracks one event at
/// `https://collector.test:<port>`; `None` when the handshake (or anything else) fails.
async fn track_over_https(trusted: &rcgen::CertifiedKey, port: u16) -> Option<u16> {
    let client = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(trusted.cert.pem().as_bytes()).ok()?)
        .resolve("collector.test", ([127, 0, 0, 1], port).into())
        .timeout(Duration::from_secs(5))
        .build()
        .ok()?;
    let response = client
        .post(format!("https://collector.test:{port}/v1/track"))
        .basic_auth("wk_tls", Some(""))
        .body(r#"{"event":"Signed Up","userId":"u1"}"#)
        .send()
        .await
        .ok()?;
    Some(response.status().as_u16())
}

#[tokio::test]
async fn sighup_serves_a_certificate_renewed_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let install = |generated: &rcgen::CertifiedKey| {
        std::fs::write(&cert, generated.cert.pem()).unwrap();
        std::fs::write(&key, generated.key_pair.serialize_pem()).unwrap();
    };
    let first = rcgen::generate_simple_self_signed(vec!["collector.test".into()]).unwrap();
    install(&first);
    let config = dir.path().join("collector.toml");
    let file = format!(
        "tls_cert = {:?}\ntls_key = {:?}\n{}",
        cert.to_str().unwrap(),
        key.to_str().unwrap(),
        keys_file(&["wk_tls"])
    );
    std::fs::write(&config, file).unwrap();
    let (mut collector, port) = start_with(&config);
    eventually("the collector answers over HTTPS", || async {
        track_over_https(&first, port).await == Some(200)
    })
    .await;

    // Renewed in place, as certbot does, then `systemctl reload`.
    let renewed = rcgen::generate_simple_self_signed(vec!["collector.test".into()]).unwrap();
    install(&renewed);
    assert_eq!(
        track_over_https(&renewed, port).await,
        None,
        "the renewal is served before the reload"
    );
    collector.hang_up();
    eventually("the renewed certificate is served", || async {
        track_over_https(&renewed, port).await == Some(200)
    })
    .await;
    assert_eq!(track_over_https(&first, port).await, None);
    assert!(collector.is_running());
}

#[tokio::test]
async fn sigterm_goes_unready_and_serves_on_for_the_delay_and_a_second_one_exits_at_once() {
    // Longer than `eventually` waits: only the second signal can end the process in time.
    let file = format!("shutdown_delay_secs = 600\n{}", keys_file(&["wk"]));
    let mut started = start_ready(&file).await;
    let (port, client) = (started.port, started.client.clone());
    let collector = &mut started.collector;

    collector.terminate();
    eventually("/ready answers 503 after SIGTERM", || async {
        get(&client, port, "/ready")
            .await
            .is_some_and(|(status, body)| status == 503 && body.contains("shutting down"))
    })
    .await;
    assert_eq!(
        track(&client, port, "wk").await,
        200,
        "events are still taken during the delay"
    );
    assert!(collector.is_running());

    collector.terminate();
    let exit = exited(collector, "the second SIGTERM ends the collector").await;
    assert_eq!(exit, Some(130));
}

#[tokio::test]
async fn sigterm_without_a_delay_exits_cleanly_once_requests_are_done() {
    // Named in the file, so made before the directory start_ready makes for the file.
    let logs = tempfile::tempdir().unwrap();
    let file = format!(
        "sink = \"log\"\nlog_dir = {:?}\ndead_letter_dir = {:?}\n{}",
        logs.path().join("events").to_str().unwrap(),
        logs.path().join("dead").to_str().unwrap(),
        keys_file(&["wk"])
    );
    let mut started = start_ready(&file).await;
    let (port, client) = (started.port, started.client.clone());
    let collector = &mut started.collector;
    assert_eq!(track(&client, port, "wk").await, 200);
    collector.terminate();
    let exit = exited(collector, "SIGTERM ends the collector").await;
    assert_eq!(exit, Some(0), "a clean shutdown");
    let mut events = footfall_eventlog::LogReader::open(logs.path().join("events")).unwrap();
    assert_eq!(
        events.high_watermark().unwrap(),
        1,
        "the event is in the log"
    );
}
