//! The two fault tests at once: Kafka stops, the collector keeps acknowledging from its spill log, and
//! then the collector binary is killed with `kill -9` before Kafka returns. Restarted on the same spill
//! directory once Kafka is back, it must drain every event it acknowledged to Kafka.
#![cfg(feature = "kafka-integration-tests")]

mod common;
mod kafka_common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::CollectorProcess;
use kafka_common::*;

/// The collector binary on the Kafka sink.
fn start_collector(addr: SocketAddr, events: &str, dead: &str, spill: &Path) -> CollectorProcess {
    CollectorProcess::start([
        "--listen".as_ref(),
        addr.to_string().as_ref(),
        "--write-key".as_ref(),
        "wk_test=shop/web".as_ref(),
        "--sink".as_ref(),
        "kafka".as_ref(),
        "--kafka-broker".as_ref(),
        bootstrap().as_ref(),
        "--kafka-events-topic".as_ref(),
        events.as_ref(),
        "--kafka-dead-letter-topic".as_ref(),
        dead.as_ref(),
        "--kafka-spill-dir".as_ref(),
        spill.as_os_str(),
    ])
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

async fn wait_until<F, Fut>(what: &str, limit: Duration, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !done().await {
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn spilling(metrics: &str) -> bool {
    metrics
        .lines()
        .any(|line| line.starts_with("footfall_collector_kafka_mode{mode=\"spill\"} 1"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_acknowledged_from_the_spill_reach_kafka_after_kill_minus_nine() {
    let (events, dead) = (unique("events"), unique("dead"));
    let spill = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let collector = start_collector(addr, &events, &dead, spill.path());
    let client = http();

    let acked = Arc::new(Mutex::new(HashSet::new()));
    let running = Arc::new(AtomicBool::new(true));
    let senders = spawn_senders(addr, 4, &acked, &running);

    wait_until(
        "acknowledgements from Kafka",
        Duration::from_secs(60),
        || {
            let acked = acked.clone();
            async move { acked.lock().unwrap().len() >= 200 }
        },
    )
    .await;
    let broker = stop_broker().await;
    wait_until(
        "the collector switches to its spill log",
        Duration::from_secs(60),
        || {
            let client = client.clone();
            async move { spilling(&scrape(&client, addr).await) }
        },
    )
    .await;
    // Events acknowledged now are only in the spill log.
    let at_spill = acked.lock().unwrap().len();
    wait_until(
        "acknowledgements from the spill log",
        Duration::from_secs(60),
        || {
            let acked = acked.clone();
            async move { acked.lock().unwrap().len() >= at_spill + 500 }
        },
    )
    .await;
    collector.kill_minus_nine();
    running.store(false, Ordering::Relaxed);
    for sender in senders {
        sender.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();

    broker.start().await;
    let restarted = start_collector(addr, &events, &dead, spill.path());
    let read = read_ids(&events, &acked, Duration::from_secs(180)).await;
    let in_order = read.len();
    let read: HashSet<String> = read.into_iter().collect();
    // Duplicates are allowed (a record produced but not yet marked drained is sent again after the
    // crash; the backend deduplicates by messageId), losses are not.
    eprintln!(
        "acknowledged {} events, {} of them from the spill log; read {} records, {} duplicates",
        acked.len(),
        acked.len() - at_spill,
        in_order,
        in_order - read.len()
    );
    let lost: Vec<&String> = acked.iter().filter(|id| !read.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged events never reached Kafka after the restart, e.g. {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(5)]
    );
    drop(restarted);
}
