//! The real collector binary, on the event log, stopped while clients are sending.
//!
//! - The fault test: `kill -9` it, restart it on the same log, and check that every event it
//!   acknowledged is in the log, byte-for-byte attributable by messageId.
//! - A rolling restart: `SIGTERM` it behind a "load balancer" that polls `/ready`; with a shutdown
//!   delay no client request fails at all, and every acknowledged event is in the log.

mod common;

use std::collections::HashSet;
use std::net::TcpListener as StdListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_collector(dir: &Path, port: u16, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_footfall-collector"))
        .args(extra)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--write-key", &format!("{}=shop/web", common::KEY)])
        .args(["--sink", "log"])
        .arg("--log-dir")
        .arg(dir.join("events"))
        .arg("--dead-letter-dir")
        .arg(dir.join("dead-letters"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the collector binary starts")
}

async fn wait_until_healthy(client: &HttpClient, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let url = format!("http://127.0.0.1:{port}/ready").parse().unwrap();
        if let Ok(response) = client.get(url).await {
            if response.status() == 200 {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the collector did not become ready in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends batches until the server goes away or `in_rotation` turns false; records the ids of every
/// event answered `ok`, and the failure that ended the sending, if one did.
async fn send_until_refused(
    client: HttpClient,
    port: u16,
    sender: usize,
    acked: Arc<Mutex<HashSet<String>>>,
    in_rotation: Arc<AtomicBool>,
) -> Option<String> {
    for batch in 0.. {
        if !in_rotation.load(Ordering::SeqCst) {
            return None;
        }
        let messages: Vec<serde_json::Value> = (0..20)
            .map(|i| {
                serde_json::json!({"type": "track", "event": "Load", "userId": format!("u{sender}"),
                    "messageId": format!("s{sender}-b{batch}-e{i}"), "properties": {"i": i}})
            })
            .collect();
        let body = serde_json::json!({"batch": messages}).to_string();
        let request = hyper::Request::post(format!("http://127.0.0.1:{port}/v1/batch"))
            .header(
                "authorization",
                footfall_protocol::auth::basic_authorization(common::KEY),
            )
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let response = match client.request(request).await {
            Ok(response) => response,
            Err(error) => return Some(format!("{error:?}")),
        };
        if response.status() != 200 {
            return Some(format!("status {}", response.status()));
        }
        let body = match response.into_body().collect().await {
            Ok(body) => body,
            Err(error) => return Some(format!("{error:?}")),
        };
        let answer: serde_json::Value = serde_json::from_slice(&body.to_bytes()).unwrap();
        let mut acked = acked.lock().unwrap();
        for result in answer["results"].as_array().unwrap() {
            if result["status"] == "ok" {
                acked.insert(result["messageId"].as_str().unwrap().to_owned());
            }
        }
    }
    None
}

/// Starts 8 senders, and returns once they have had 2 000 events acknowledged.
async fn load(
    client: &HttpClient,
    port: u16,
    acked: &Arc<Mutex<HashSet<String>>>,
    in_rotation: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Option<String>>> {
    let senders: Vec<_> = (0..8)
        .map(|s| {
            tokio::spawn(send_until_refused(
                client.clone(),
                port,
                s,
                acked.clone(),
                in_rotation.clone(),
            ))
        })
        .collect();
    // Stop only once a good number of events are acknowledged, so that it lands under load.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 2_000 {
        assert!(
            Instant::now() < deadline,
            "the collector acknowledged too little in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    senders
}

/// The messageIds of every event in the log under `dir`.
fn ids_in_log(dir: &Path) -> HashSet<String> {
    let mut reader = footfall_eventlog::LogReader::open(dir.join("events")).unwrap();
    let mut in_log = HashSet::new();
    let mut offset = reader.earliest_offset().unwrap();
    loop {
        let records = reader.read(offset, 10_000, 64 << 20).unwrap();
        let Some((last, _)) = records.last() else {
            break;
        };
        offset = last + 1;
        for (_, record) in records {
            let event: serde_json::Value = serde_json::from_slice(&record.payload).unwrap();
            in_log.insert(event["messageId"].as_str().unwrap().to_owned());
        }
    }
    in_log
}

fn assert_none_lost(acked: &HashSet<String>, in_log: &HashSet<String>, how: &str) {
    let lost: Vec<&String> = acked.iter().filter(|id| !in_log.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged events are missing after {how}, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    assert!(acked.len() >= 2_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_event_survives_kill_minus_nine() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let mut collector = start_collector(dir.path(), port, &[]);
    wait_until_healthy(&client, port).await;

    let acked = Arc::new(Mutex::new(HashSet::new()));
    let senders = load(&client, port, &acked, &Arc::new(AtomicBool::new(true))).await;
    collector.kill().unwrap(); // SIGKILL: no shutdown hook runs.
    collector.wait().unwrap();
    for sender in senders {
        sender.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();

    // A restart must recover the log (truncating any torn tail) and serve again.
    let mut restarted = start_collector(dir.path(), port, &[]);
    wait_until_healthy(&client, port).await;
    restarted.kill().unwrap();
    restarted.wait().unwrap();

    assert_none_lost(&acked, &ids_in_log(dir.path()), "kill -9");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_behind_a_balancer_polling_ready_fails_no_request_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let mut collector = start_collector(dir.path(), port, &["--shutdown-delay-secs", "3"]);
    wait_until_healthy(&client, port).await;

    // The balancer: takes the collector out of rotation at its first unready answer, as a
    // Kubernetes Service or a cloud load balancer does (here within 20 ms; they take seconds).
    let in_rotation = Arc::new(AtomicBool::new(true));
    let balancer = {
        let (client, in_rotation) = (client.clone(), in_rotation.clone());
        tokio::spawn(async move {
            loop {
                let url = format!("http://127.0.0.1:{port}/ready").parse().unwrap();
                if client.get(url).await.map_or(true, |r| r.status() != 200) {
                    in_rotation.store(false, Ordering::SeqCst);
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let senders = load(&client, port, &acked, &in_rotation).await;
    let status = Command::new("kill")
        .args(["-TERM", &collector.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(exit) = collector.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "the collector did not stop in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "{exit}");
    balancer.await.unwrap();
    let mut failures = Vec::new();
    for sender in senders {
        failures.extend(sender.await.unwrap());
    }
    assert!(
        failures.is_empty(),
        "client requests failed during the shutdown: {failures:?}"
    );
    let acked = acked.lock().unwrap().clone();
    assert_none_lost(&acked, &ids_in_log(dir.path()), "SIGTERM");
}
