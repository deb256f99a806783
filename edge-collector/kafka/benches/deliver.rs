//! Throughput of [`KafkaDelivery::deliver`] against the real broker:
//! 16 concurrent deliverers, 50-record batches of ~300-byte payloads.
//!
//! ```text
//! scripts/infra/kafka.sh start
//! cargo bench -p footfall-kafka --bench deliver
//! ```
//!
//! Prints records/s, deliver latency percentiles, and the CPU used by this
//! process (producer, librdkafka threads) and by the broker. Exits quietly
//! when no broker answers. Knobs: `FOOTFALL_KAFKA_BOOTSTRAP`
//! (default 127.0.0.1:19092), `FOOTFALL_BENCH_SECS` (default 10).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use footfall_kafka::{KafkaConfig, KafkaDelivery, Record};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::ClientConfig;

const DELIVERERS: usize = 16;
const BATCH: usize = 50;
const PAYLOAD: usize = 300;
const USERS: usize = 1_000;

/// CPU seconds (user + system) of a process, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: &str, ticks: f64) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are
    // fields 14 and 15 of the whole line.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / ticks)
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn broker_pid() -> Option<String> {
    let state = std::env::var("FOOTFALL_STATE").unwrap_or_else(|_| {
        format!(
            "{}/.cache/footfall/state",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    let pid = std::fs::read_to_string(format!("{state}/kafka/run/kafka.pid")).ok()?;
    Some(pid.trim().to_owned())
}

fn payload(user: usize, seq: u64) -> Vec<u8> {
    let head = format!(
        r#"{{"type":"track","event":"Product Viewed","messageId":"bench-{user}-{seq}","userId":"user-{user}","properties":{{"pad":""#
    );
    let mut body = head.into_bytes();
    body.resize(PAYLOAD - 3, b'x');
    body.extend_from_slice(br#""}}"#);
    body
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bootstrap =
        std::env::var("FOOTFALL_KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:19092".to_owned());
    let secs: u64 = std::env::var("FOOTFALL_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let topic = format!("ff-bench-{}", std::process::id());

    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .expect("admin client");
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let created = tokio::time::timeout(
        Duration::from_secs(15),
        admin.create_topics(
            &[NewTopic::new(&topic, 4, TopicReplication::Fixed(1))],
            &options,
        ),
    )
    .await;
    if !matches!(created, Ok(Ok(ref results)) if results.iter().all(Result::is_ok)) {
        eprintln!(
            "deliver bench: no Kafka broker at {bootstrap} (scripts/infra/kafka.sh start); skipped"
        );
        return;
    }

    let spill = tempfile::tempdir().expect("spill dir");
    let config = KafkaConfig {
        brokers: vec![bootstrap.clone()],
        events_topic: topic.clone(),
        dead_letter_topic: format!("{topic}-dead"),
        spill_dir: spill.path().to_path_buf(),
        ..KafkaConfig::default()
    };
    let delivery = Arc::new(KafkaDelivery::new(&config).expect("delivery"));

    // Warm up: connections, metadata, partition leaders.
    let warm: Vec<Record> = (0..BATCH)
        .map(|i| Record::new(format!("wk:user-{i}"), payload(i, 0)))
        .collect();
    delivery.deliver(warm, Vec::new()).await.expect("warm-up");

    let ticks = clock_ticks();
    let broker = broker_pid();
    let cpu_self_0 = cpu_seconds("self", ticks);
    let cpu_broker_0 = broker.as_deref().and_then(|p| cpu_seconds(p, ticks));
    let stop = Arc::new(AtomicBool::new(false));
    let delivered = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..DELIVERERS)
        .map(|d| {
            let delivery = Arc::clone(&delivery);
            let stop = Arc::clone(&stop);
            let delivered = Arc::clone(&delivered);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut seq = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let batch: Vec<Record> = (0..BATCH)
                        .map(|i| {
                            let user = (d * 7919 + seq as usize * BATCH + i) % USERS;
                            Record::new(format!("wk_bench:user-{user}"), payload(user, seq))
                        })
                        .collect();
                    seq += 1;
                    let t = Instant::now();
                    delivery.deliver(batch, Vec::new()).await.expect("deliver");
                    latencies.push(t.elapsed());
                    delivered.fetch_add(BATCH as u64, Ordering::Relaxed);
                }
                latencies
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("deliverer"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_self = cpu_seconds("self", ticks)
        .zip(cpu_self_0)
        .map(|(b, a)| b - a);
    let cpu_broker = broker
        .as_deref()
        .and_then(|p| cpu_seconds(p, ticks))
        .zip(cpu_broker_0)
        .map(|(b, a)| b - a);
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    let records = delivered.load(Ordering::Relaxed) as f64;
    let stats = delivery.stats();

    println!(
        "deliver: {DELIVERERS} deliverers x {BATCH}-record batches of {PAYLOAD} B, {elapsed:.1} s"
    );
    println!(
        "  {:.0} records/s ({:.1} MB/s payload), {} batches",
        records / elapsed,
        records * PAYLOAD as f64 / elapsed / 1e6,
        latencies.len()
    );
    println!(
        "  deliver latency p50 {:?}  p99 {:?}  max {:?}",
        pct(0.5),
        pct(0.99),
        latencies.last().copied().unwrap_or_default()
    );
    if let Some(cpu) = cpu_self {
        println!(
            "  collector-side CPU {cpu:.2} s = {:.0}% of one core ({:.1} us/record)",
            cpu / elapsed * 100.0,
            cpu / records * 1e6
        );
    }
    if let Some(cpu) = cpu_broker {
        println!(
            "  broker CPU {cpu:.2} s = {:.0}% of one core",
            cpu / elapsed * 100.0
        );
    }
    println!(
        "  direct {} spilled {} mode {:?}",
        stats.produced_total, stats.spilled_total, stats.mode
    );
    delivery.shutdown(Duration::from_secs(5)).await;
}
