//! `footfall demo`: synthetic e-commerce journeys through the real SDK engine over HTTP, into a
//! `footfall serve` started in-process, then a funnel and a retention table from the query API.
//!
//! Journeys: browse, search, add to cart, checkout, purchase, with drop-offs at each step.
//! Visits are spread over the past two weeks and recorded on a clock set to the visit time, then
//! uploaded now (a late mobile backlog: the collector's skew correction puts every event back at
//! its hour). Most visitors log in at checkout (identify), some on a second device; one upload in
//! ten is reported to the engine as a network error after the collector stored it, so the engine
//! sends the same batch again (duplicates with the same messageIds). A few invalid messages become
//! dead letters.

use std::time::{Duration, Instant};

use anyhow::Context;
use footfall_core::{Action, Client, Clock, Config, ManualClock, MemoryStorage, UploadOutcome};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::config::{ServeConfig, DEMO_READ_KEY, DEMO_WRITE_KEY};
use crate::http::Http;
use crate::print::{funnel_table, retention_table};

const DAY: i64 = 86_400_000;
const QUERIES: [&str; 3] = ["shoes", "socks", "hats"];
/// The journey: the same e-commerce steps as the stores' conformance dataset.
pub use footfall_store::conformance::STEPS;

/// Demo settings.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Visitors.
    pub visitors: usize,
    /// Seed.
    pub seed: u64,
    /// Hide the progress bar.
    pub quiet: bool,
}

/// What the demo sent.
#[derive(Debug, Default, Clone)]
pub struct DemoStats {
    /// Events recorded by the SDK engines.
    pub events: usize,
    /// Batches sent twice.
    pub resent_batches: usize,
    /// Invalid messages sent.
    pub invalid: usize,
    /// Events the engines dropped, each for a counted reason (none are expected).
    pub dropped: usize,
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Feeds the journeys to the collector at `base_url`.
pub fn feed(base_url: &str, options: &DemoOptions) -> anyhow::Result<DemoStats> {
    let http = Http::default();
    let mut rng = fastrand_like(options.seed);
    let mut stats = DemoStats::default();
    let bar = if options.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(options.visitors as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} visitors {bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let start_of_today = now_ms() / DAY * DAY;
    for v in 0..options.visitors {
        let logs_in = v % 4 != 3;
        let devices = if logs_in && v % 5 == 0 { 2 } else { 1 };
        let user = format!("customer-{v}");
        let plan = ["free", "pro"][v % 2];
        for d in 0..devices {
            let clock = ManualClock::new(start_of_today - 14 * DAY);
            let mut config = Config::new(DEMO_WRITE_KEY);
            config.flush_at = 1000;
            // The backlog is up to two weeks old; the default (7 days) would drop half of it.
            config.max_event_age = Duration::from_secs(30 * 86_400);
            let mut client = Client::new(
                config,
                MemoryStorage::new(),
                clock.clone(),
                options.seed ^ (v as u64 * 31 + d),
            )?;
            let mut visits: Vec<i64> = (0..1 + rng(4))
                .map(|_| start_of_today - (1 + rng(13) as i64) * DAY + rng(20 * 3600) as i64 * 1000)
                .collect();
            visits.sort_unstable();
            for (i, visit) in visits.iter().enumerate() {
                clock.set(*visit);
                let mut depth = 1;
                while depth < STEPS.len() && rng(100) < [70, 60, 55, 70][depth - 1] {
                    depth += 1;
                }
                for (s, step) in STEPS.iter().take(depth).enumerate() {
                    clock.advance(Duration::from_secs(20 + rng(400)));
                    if s == 3 && logs_in && (i == 0 || d == 1) {
                        client.identify(Some(user.as_str()), json!({"plan": plan}))?;
                        stats.events += 1;
                    }
                    let props = match s {
                        0 => {
                            json!({"product": format!("sku-{}", rng(50)), "price": 5 + rng(95), "plan": plan})
                        }
                        1 => {
                            json!({"query": QUERIES[rng(3) as usize], "plan": plan})
                        }
                        4 => json!({"revenue": 10 + rng(200), "plan": plan}),
                        _ => json!({"plan": plan}),
                    };
                    client.track(step, props)?;
                    stats.events += 1;
                }
            }
            // Back online: upload the backlog now.
            clock.set(now_ms());
            client.flush();
            let mut resend_next = v % 10 == 0;
            loop {
                match client.next_action(clock.now())? {
                    Action::Upload(request) => {
                        let url = format!("{base_url}{}", request.path);
                        let outcome = match http.post(&url, &request.authorization, &request.body) {
                            Ok(_) if resend_next => {
                                resend_next = false;
                                stats.resent_batches += 1;
                                UploadOutcome::NetworkError
                            }
                            Ok((status, body)) => UploadOutcome::response(status, None, body),
                            Err(_) => UploadOutcome::NetworkError,
                        };
                        client.on_upload_result(request.batch_id, outcome)?;
                    }
                    Action::Wait(wait) => clock.advance(wait),
                    Action::Idle => break,
                }
            }
            stats.dropped += client.stats().dropped.total() as usize;
        }
        bar.inc(1);
    }
    // A few invalid messages: dead letters with their payload and reason.
    for i in 0..3 {
        let auth = footfall_protocol::auth::basic_authorization(DEMO_WRITE_KEY);
        let body = json!({"type": "track", "userId": format!("customer-{i}"), "properties": {"note": "no event name"}});
        http.post(&format!("{base_url}/v1/track"), &auth, &body.to_string())?;
        stats.invalid += 1;
    }
    bar.finish_with_message("sent");
    Ok(stats)
}

/// A tiny deterministic generator: `rng(n)` is in `0..n`.
fn fastrand_like(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut state = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    move |n: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n.max(1)
    }
}

/// Runs the demo end to end and prints the tables.
pub async fn run(config: ServeConfig, options: DemoOptions) -> anyhow::Result<()> {
    let running = crate::serve::start(config).await?;
    let base = format!("http://{}", running.collector()?);
    let api = format!("http://{}", running.api()?);
    let started = Instant::now();
    let opts = options.clone();
    let stats = tokio::task::spawn_blocking(move || feed(&base, &opts))
        .await
        .context("demo feeder")??;
    let sent = started.elapsed();
    while !running.caught_up() {
        if started.elapsed() > Duration::from_secs(120) {
            anyhow::bail!("the processor did not catch up within 2 minutes");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "\nsent {} events from {} visitors through footfall-core over HTTP in {:.1}s ({} batches sent twice, {} invalid messages); all stored after {:.1}s\n",
        stats.events,
        options.visitors,
        sent.as_secs_f64(),
        stats.resent_batches,
        stats.invalid,
        started.elapsed().as_secs_f64()
    );
    let to = (now_ms() / DAY + 1) * DAY;
    let from = to - 15 * DAY;
    let (funnel, retention, dead, trends) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let http = Http::default();
        let funnel = http.api("POST", &format!("{api}/v1/query/funnel"), DEMO_READ_KEY, Some(&json!({"steps": STEPS, "from": from, "to": to, "window_seconds": 3600})))?;
        let retention = http.api("POST", &format!("{api}/v1/query/retention"), DEMO_READ_KEY, Some(&json!({"cohort_event": STEPS[0], "return_event": STEPS[0], "from": from, "to": to, "interval": "day", "periods": 7})))?;
        let dead = http.api("GET", &format!("{api}/v1/dead-letters"), DEMO_READ_KEY, None)?;
        let trends = http.api("POST", &format!("{api}/v1/query/trends"), DEMO_READ_KEY, Some(&json!({"from": from, "to": to, "interval": "day"})))?;
        Ok((funnel, retention, dead, trends))
    })
    .await??;
    // The promise the demo exists to show: every event the SDKs recorded is stored, and retried
    // batches are not counted again.
    let stored: i64 = trends["series"]
        .as_array()
        .map_or(0, |s| s.iter().filter_map(|p| p["count"].as_i64()).sum());
    anyhow::ensure!(
        stats.dropped == 0 && stored == stats.events as i64,
        "the SDKs recorded {} events and dropped {}, but {stored} are stored",
        stats.events,
        stats.dropped
    );
    println!(
        "All {} recorded events stored exactly once ({} batches were sent twice).\n",
        stats.events, stats.resent_batches
    );
    println!(
        "Funnel (1 hour window), persons across devices and logins:\n{}",
        funnel_table(&funnel)
    );
    println!(
        "Retention: first Product Viewed → Product Viewed again, by day:\n{}",
        retention_table(&retention, now_ms())
    );
    println!(
        "Dead letters: {}",
        dead["dead_letters"].as_array().map_or(0, Vec::len)
    );
    let watermark = running
        .watermark_ms
        .load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "Watermark (latest event time stored): {}",
        footfall_store::query::format_rfc3339_ms(watermark)
    );
    running.shutdown().await;
    Ok(())
}
