//! Shared by the Kafka integration tests: a collector on the Kafka sink, served in-process, and a way
//! to read its topics back.
#![allow(dead_code)]

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use footfall_collector::{serve, SinkConfig};
#[allow(unused_imports)] // Each test binary uses a subset.
pub use footfall_kafka::dev_broker::{bootstrap, stop_broker, BrokerStopped};
use footfall_kafka::{KafkaConfig, KafkaSource, KafkaSourceConfig};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

pub type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

pub fn http() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A topic name no earlier run used.
pub fn unique(name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("ff-collector-{name}-{}-{nanos}", std::process::id())
}

/// Serves a collector on the Kafka sink; returns its address and a handle that stops it.
pub async fn start(
    events: &str,
    dead_letters: &str,
    spill: &Path,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let mut config = common_config();
    config.sink = SinkConfig::Kafka(KafkaConfig {
        brokers: vec![bootstrap()],
        events_topic: events.to_owned(),
        dead_letter_topic: dead_letters.to_owned(),
        client_id: "footfall-collector-tests".to_owned(),
        spill_dir: spill.to_path_buf(),
        // Frequent reports, so a test sees librdkafka's figures on /metrics within a second.
        statistics_interval_ms: 200,
        ..KafkaConfig::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(config, listener, async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

fn common_config() -> footfall_collector::Config {
    let mut keys = footfall_ingest::WriteKeys::new();
    keys.insert(
        "wk_test",
        footfall_ingest::Source {
            project_id: "shop".into(),
            source_id: "web".into(),
        },
    );
    footfall_collector::Config::new(keys)
}

/// The collector's `/metrics` text.
pub async fn scrape(client: &HttpClient, addr: std::net::SocketAddr) -> String {
    let response = client
        .get(format!("http://{addr}/metrics").parse().unwrap())
        .await
        .expect("/metrics answers");
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// POSTs a batch; returns the status and the messageIds answered `ok`.
pub async fn post_batch(
    client: &HttpClient,
    addr: std::net::SocketAddr,
    body: String,
) -> Option<(u16, Vec<String>)> {
    let request = hyper::Request::post(format!("http://{addr}/v1/batch"))
        .header(
            "authorization",
            footfall_protocol::auth::basic_authorization("wk_test"),
        )
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = client.request(request).await.ok()?;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.ok()?.to_bytes();
    let answer: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let ok = answer["results"]
        .as_array()
        .map(|results| {
            results
                .iter()
                .filter(|r| r["status"] == "ok")
                .map(|r| r["messageId"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    Some((status, ok))
}

/// Reads `topic` from the start until every id in `want` was seen or `timeout` passes; returns the
/// messageIds read, in order, duplicates included.
pub async fn read_ids(topic: &str, want: &HashSet<String>, timeout: Duration) -> Vec<String> {
    let source = KafkaSource::new(&KafkaSourceConfig {
        brokers: vec![bootstrap()],
        group_id: unique("reader"),
        topics: vec![topic.to_owned()],
        client_id: "footfall-collector-tests".to_owned(),
        ..KafkaSourceConfig::default()
    })
    .unwrap();
    let deadline = Instant::now() + timeout;
    let mut ids = Vec::new();
    let mut seen = HashSet::new();
    while !want.iter().all(|id| seen.contains(id)) && Instant::now() < deadline {
        let batch = source
            .next_batch_within(1_000, Duration::from_millis(100), Duration::from_secs(1))
            .await
            .unwrap();
        for record in batch {
            let event: serde_json::Value = serde_json::from_slice(&record.payload).unwrap();
            let id = event["messageId"].as_str().unwrap_or_default().to_owned();
            seen.insert(id.clone());
            ids.push(id);
        }
    }
    ids
}

/// Starts `senders` clients that post 20-event batches to `addr` until `running` turns false, and
/// record the messageIds answered `ok` in `acked`. Each sender's events are spread over 5 users. A
/// refused or failed request is retried after 100 ms (the collector may be down on purpose).
pub fn spawn_senders(
    addr: std::net::SocketAddr,
    senders: usize,
    acked: &std::sync::Arc<std::sync::Mutex<HashSet<String>>>,
    running: &std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..senders)
        .map(|sender| {
            let (acked, running) = (acked.clone(), running.clone());
            tokio::spawn(async move {
                let client = http();
                let mut batch_no = 0;
                while running.load(std::sync::atomic::Ordering::Relaxed) {
                    let batch: Vec<serde_json::Value> = (0..20)
                        .map(|i| {
                            serde_json::json!({"type": "track", "event": "Load",
                                "userId": format!("u-{sender}-{}", i % 5),
                                "messageId": format!("s{sender}-b{batch_no}-e{i}")})
                        })
                        .collect();
                    batch_no += 1;
                    let body = serde_json::json!({"batch": batch}).to_string();
                    match post_batch(&client, addr, body).await {
                        Some((200, ok)) => acked.lock().unwrap().extend(ok),
                        _ => tokio::time::sleep(Duration::from_millis(100)).await,
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        })
        .collect()
}
