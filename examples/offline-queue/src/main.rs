//! A day in the life of a mobile app, simulated on a fake clock: the user records events, the network
//! drops out, the collector throttles and fails, answers get lost, and the app is killed and relaunched.
//! At the end the network heals, and the table shows that every event was delivered once or more by
//! messageId, or dropped for a counted reason.
//!
//! ```text
//! cargo run -p footfall-example-offline-queue -- --events 5000 --failure-rate 0.3
//! ```

use std::collections::HashMap;
use std::time::Duration;

use clap::Parser;
use footfall_core::{
    Action, Client, Clock, Config, ManualClock, MemoryStorage, Storage, UploadOutcome,
};
use serde_json::json;

/// Simulates a mobile app on a flaky network against an in-process collector and reports delivery.
///
/// Everything runs on a simulated clock, so a day passes in well under a second. The numbers are
/// reproducible for a given --seed.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// How many events the user records over the simulated day.
    #[arg(long, default_value_t = 2000)]
    events: u32,
    /// The share of uploads that fail (5xx, 429 with Retry-After, lost answers, no network).
    #[arg(long, default_value_t = 0.3)]
    failure_rate: f64,
    /// The share of minutes the device is offline.
    #[arg(long, default_value_t = 0.2)]
    offline_rate: f64,
    /// How many times the app is killed and relaunched during the day.
    #[arg(long, default_value_t = 5)]
    kills: u32,
    /// The most events the offline queue keeps.
    #[arg(long, default_value_t = 10_000)]
    max_queue_events: usize,
    /// Seeds every random choice.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

#[derive(Default)]
struct Collector {
    /// messageId → how many times it arrived.
    received: HashMap<String, u32>,
}

fn main() {
    let args = Args::parse();
    if !(0.0..=1.0).contains(&args.failure_rate) || !(0.0..=1.0).contains(&args.offline_rate) {
        eprintln!("error: --failure-rate and --offline-rate must be between 0 and 1");
        std::process::exit(2);
    }
    let mut rng = fastrand::Rng::with_seed(args.seed);
    let clock = ManualClock::new(1_795_000_000_000);
    let storage = MemoryStorage::new();
    let config = Config {
        max_queue_events: args.max_queue_events,
        ..Config::new("wk_demo")
    };
    let open = |seed| {
        Client::new(config.clone(), storage.clone(), clock.clone(), seed).expect("valid config")
    };
    let mut client = open(args.seed);
    let mut collector = Collector::default();
    let mut dropped_by_reason: HashMap<String, u64> = HashMap::new();
    let (mut accepted, mut kills, mut uploads, mut failures) = (0u64, 0u32, 0u64, 0u64);

    let day = Duration::from_secs(24 * 3600);
    let step = day / args.events.max(1);
    let kill_every = args.events / (args.kills + 1);
    let mut offline = false;
    for i in 0..args.events {
        clock.advance(step);
        if rng.f64() < 0.05 {
            offline = rng.f64() < args.offline_rate;
            client.set_network_available(!offline);
        }
        let name = [
            "Product Viewed",
            "Product Added",
            "Checkout Started",
            "Order Completed",
        ][rng.usize(..4)];
        if client
            .track(
                name,
                json!({"sku": format!("sku-{}", rng.u32(..500)), "price": rng.u32(1..200)}),
            )
            .is_ok()
        {
            accepted += 1;
        }
        if kill_every > 0 && i > 0 && i % kill_every == 0 && kills < args.kills {
            // The process dies: whatever was in flight is forgotten, the queue on "disk" survives.
            kills += 1;
            client = open(args.seed + u64::from(kills));
            client.set_network_available(!offline);
        }
        pump(
            &mut client,
            &clock,
            &mut collector,
            &mut rng,
            args.failure_rate,
            offline,
            &mut uploads,
            &mut failures,
        );
        for d in client.take_dropped() {
            *dropped_by_reason
                .entry(format!("{:?}", d.reason))
                .or_default() += 1;
        }
    }
    // The network heals and the collector recovers: drain everything.
    client.set_network_available(true);
    client.flush();
    for _ in 0..100_000 {
        match client.next_action(clock.now()).expect("storage works") {
            Action::Upload(request) => {
                uploads += 1;
                for id in &request.message_ids {
                    *collector.received.entry(id.clone()).or_default() += 1;
                }
                client
                    .on_upload_result(
                        request.batch_id,
                        UploadOutcome::response(200, None, "{\"success\":true}"),
                    )
                    .expect("storage works");
            }
            Action::Wait(d) => clock.advance(d),
            Action::Idle => break,
        }
    }
    for d in client.take_dropped() {
        *dropped_by_reason
            .entry(format!("{:?}", d.reason))
            .or_default() += 1;
    }
    let delivered = collector.received.len() as u64;
    let duplicates: u64 = collector.received.values().map(|n| u64::from(n - 1)).sum();
    let dropped: u64 = dropped_by_reason.values().sum();
    println!(
        "simulated day: {} events, {} app kills, failure rate {:.0}%, offline {:.0}% of the time",
        args.events,
        kills,
        args.failure_rate * 100.0,
        args.offline_rate * 100.0
    );
    println!("{:<34} {:>10}", "accepted by the SDK", accepted);
    println!(
        "{:<34} {:>10}",
        "delivered (distinct messageIds)", delivered
    );
    println!("{:<34} {:>10}", "duplicate arrivals (same id)", duplicates);
    println!("{:<34} {:>10}", "dropped, counted", dropped);
    for (reason, n) in &dropped_by_reason {
        println!("  {reason:<32} {n:>10}");
    }
    println!(
        "{:<34} {:>10}",
        "uploads / failed uploads",
        format!("{uploads} / {failures}")
    );
    println!(
        "{:<34} {:>10}",
        "left in the queue",
        client.storage().count()
    );
    let lost = accepted - delivered - dropped;
    println!("{:<34} {:>10}", "lost without a trace", lost);
    if lost != 0 {
        std::process::exit(1);
    }
}

#[allow(clippy::too_many_arguments)]
fn pump(
    client: &mut Client<MemoryStorage, ManualClock>,
    clock: &ManualClock,
    collector: &mut Collector,
    rng: &mut fastrand::Rng,
    failure_rate: f64,
    offline: bool,
    uploads: &mut u64,
    failures: &mut u64,
) {
    while let Action::Upload(request) = client.next_action(clock.now()).expect("storage works") {
        *uploads += 1;
        let outcome = if offline {
            UploadOutcome::NetworkError
        } else if rng.f64() < failure_rate {
            *failures += 1;
            match rng.u8(..4) {
                0 => UploadOutcome::response(503, None, ""),
                1 => UploadOutcome::response(429, Some("30"), ""),
                2 => {
                    // The collector stored the batch, but the answer never arrived.
                    for id in &request.message_ids {
                        *collector.received.entry(id.clone()).or_default() += 1;
                    }
                    UploadOutcome::NetworkError
                }
                _ => UploadOutcome::NetworkError,
            }
        } else {
            for id in &request.message_ids {
                *collector.received.entry(id.clone()).or_default() += 1;
            }
            UploadOutcome::response(200, None, "{\"success\":true}")
        };
        client
            .on_upload_result(request.batch_id, outcome)
            .expect("storage works");
    }
}
