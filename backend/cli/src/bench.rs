//! `footfall bench`: the figures of docs/benchmarks.md ("Backend"). Timed checks live here, not in
//! tests. Build with `--release`.
//!
//! * `freshness`: one event at a time through `footfall serve` (collector → log → processor →
//!   DuckDB), from the collector's 200 to the event showing in the query API's timeline; p50/p99.
//! * `funnel`: a 3-step funnel over N generated events (10 M for the docs' figure), in DuckDB or
//!   ClickHouse; the dataset is generated inside the store once and kept.
//! * `processor`: N enriched events (20 % duplicates, 1000 persons by default, a third identified)
//!   appended to a fresh log, then the time for the processor to store them all, into DuckDB or
//!   ClickHouse.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use footfall_eventlog::{EventLog, LogConfig, Record};
use footfall_processor::sources::embedded::EmbeddedSource;
use footfall_processor::{Processor, RunOptions};
use footfall_store::query::funnel;
use footfall_store::sql::SqlBuilder;
use footfall_store::{ClickHouseStore, Dialect, DuckStore, Sql, Store};
use indicatif::ProgressBar;
use serde_json::json;

use crate::config::{ServeConfig, DEMO_READ_KEY, DEMO_WRITE_KEY};
use crate::http::Http;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Freshness, accepted → queryable, on the embedded default.
pub async fn freshness(config: ServeConfig, events: usize) -> anyhow::Result<()> {
    let running = crate::serve::start(config).await?;
    let collector = format!("http://{}", running.collector()?);
    let api = format!("http://{}", running.api()?);
    let latencies = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<f64>> {
        let http = Http::default();
        let auth = footfall_protocol::auth::basic_authorization(DEMO_WRITE_KEY);
        let mut out = Vec::with_capacity(events);
        // Event 0 warms the path up (a Kafka consumer group's first assignment takes seconds) and
        // is not timed.
        for i in 0..=events {
            let person = format!("fresh-{i}");
            let body = json!({"event": "Fresh", "anonymousId": person, "messageId": person});
            let (status, _) =
                http.post(&format!("{collector}/v1/track"), &auth, &body.to_string())?;
            anyhow::ensure!(status == 200, "collector answered {status}");
            let accepted = Instant::now();
            loop {
                let t = http.api(
                    "GET",
                    &format!("{api}/v1/persons/{person}/timeline"),
                    DEMO_READ_KEY,
                    None,
                )?;
                if t["events"].as_array().is_some_and(|e| !e.is_empty()) {
                    break;
                }
                let limit = Duration::from_secs(if i == 0 { 120 } else { 30 });
                anyhow::ensure!(
                    accepted.elapsed() < limit,
                    "event {i} not queryable after {} s",
                    limit.as_secs()
                );
                std::thread::sleep(Duration::from_millis(2));
            }
            if i > 0 {
                out.push(accepted.elapsed().as_secs_f64() * 1000.0);
            }
        }
        Ok(out)
    })
    .await??;
    running.shutdown().await;
    let mut sorted = latencies.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "freshness over {} events (accepted → queryable): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        sorted.len(),
        percentile(&sorted, 0.5),
        percentile(&sorted, 0.99),
        sorted.last().copied().unwrap_or(0.0)
    );
    Ok(())
}

/// Processor throughput into DuckDB (default) or ClickHouse.
pub fn processor(
    events: usize,
    persons: usize,
    days: u32,
    clickhouse_url: Option<&str>,
) -> anyhow::Result<()> {
    anyhow::ensure!(persons > 0, "--persons must be at least 1");
    anyhow::ensure!(days > 0, "--days must be at least 1");
    // Event times advance evenly over the days, in the order appended.
    let step_ms = (i64::from(days) * 86_400_000 / events.max(1) as i64).max(1);
    let dir = std::env::temp_dir().join(format!("footfall-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = (|| -> anyhow::Result<()> {
        let log = EventLog::open(dir.join("log"), LogConfig::default())?;
        let base = 1_793_577_600_000i64;
        let mut batch = Vec::with_capacity(10_000);
        let mut appended = 0;
        for i in 0..events {
            // One in five is a redelivered copy of the previous event.
            let n = if i % 5 == 4 { i - 1 } else { i };
            let person = n % persons;
            let user = if person % 3 == 0 {
                format!("\"userId\":\"u{person}\",")
            } else {
                String::new()
            };
            let ts = footfall_store::query::format_rfc3339_ms(base + (n as i64) * step_ms);
            let payload = format!(
                r#"{{"type":"track","event":"{}",{user}"anonymousId":"a{person}","messageId":"m{n}","timestamp":"{ts}","receivedAt":"{ts}","properties":{{"plan":"pro","price":12}},"context":{{"sessionId":"s{person}-{}","footfall":{{"projectId":"bench","sourceId":"web"}}}}}}"#,
                ["Product Viewed", "Product Added", "Order Completed"][n % 3],
                n / 20_000
            );
            batch.push(Record::new(format!("k{person}"), payload));
            if batch.len() == 10_000 {
                appended += batch.len();
                log.append_blocking(std::mem::take(&mut batch))?;
            }
        }
        if !batch.is_empty() {
            appended += batch.len();
            log.append_blocking(batch)?;
        }
        let store: Arc<dyn Store> = match clickhouse_url {
            Some(url) => {
                let ch = ClickHouseStore::open(url, "footfall_bench")?;
                for t in ["events", "identities", "sessions", "dead_letters"] {
                    ch.execute(&format!("TRUNCATE TABLE {t}"))?;
                }
                Arc::new(ch)
            }
            None => Arc::new(DuckStore::open(dir.join("bench.duckdb"))?),
        };
        let processor = Mutex::new(Processor::new(store)?);
        let mut source = EmbeddedSource::new(log.reader(), None, "bench")?;
        let stop = AtomicBool::new(false);
        let started = Instant::now();
        let mut stored = 0;
        footfall_processor::run(
            &processor,
            &mut source,
            &RunOptions {
                batch_size: 10_000,
                ..Default::default()
            },
            &stop,
            |r| {
                stored += r.records;
                if stored >= appended {
                    stop.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            },
        );
        let secs = started.elapsed().as_secs_f64();
        println!(
            "processor → {}: {appended} records of {persons} persons over {days} days in {secs:.2} s = {:.0} records/s",
            if clickhouse_url.is_some() {
                "ClickHouse"
            } else {
                "DuckDB"
            },
            appended as f64 / secs
        );
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result.context("processor benchmark")
}

/// The project the funnel benchmark's dataset lives in.
const FUNNEL_PROJECT: &str = "bench_funnel";
/// 2026-11-01T00:00:00Z: the dataset spans the 14 days after it.
const FUNNEL_BASE_MS: i64 = 1_793_491_200_000;
const DAY_MS: i64 = 86_400_000;

/// The statements that generate `events` synthetic events inside the store, identically on both
/// dialects: persons of 8 events each, 2 minutes apart, spread over 14 days. Every person views a
/// product; 3 in 4 add it to the cart and 1 in 2 complete the order (in that order, within 15
/// minutes). A third of the persons are identified by userId, a third log in later (their
/// anonymous id maps to a userId in `identities`), a third stay anonymous.
pub fn funnel_dataset(dialect: Dialect, events: u64) -> Vec<Sql> {
    fn duck_text(e: &str) -> String {
        format!("CAST({e} AS VARCHAR)")
    }
    fn ch_text(e: &str) -> String {
        format!("toString({e})")
    }
    let (text, numbers): (fn(&str) -> String, String) = match dialect {
        Dialect::DuckDb => (
            duck_text,
            format!("(SELECT range AS n, range // 8 AS p, range % 8 AS k FROM range({events}))"),
        ),
        Dialect::ClickHouse => (
            ch_text,
            format!(
                "(SELECT number AS n, intDiv(number, 8) AS p, number % 8 AS k FROM system.numbers LIMIT {events})"
            ),
        ),
    };
    let event = "CASE WHEN k = 0 OR k = 5 THEN 'Product Viewed' \
                 WHEN (k = 2 AND p % 4 >= 1) OR (k = 7 AND p % 4 = 3) THEN 'Product Added' \
                 WHEN k = 4 AND p % 4 >= 2 THEN 'Order Completed' ELSE 'Page Viewed' END";
    let user = format!(
        "CASE WHEN p % 3 = 0 THEN concat('u', {}) ELSE '' END",
        text("p")
    );
    let anon = format!("concat('a', {})", text("p"));
    let ts = format!(
        "({FUNNEL_BASE_MS} + (p * 7919 * 1000) % {} + k * 120000)",
        14 * DAY_MS
    );
    let distinct = match dialect {
        Dialect::DuckDb => "",
        Dialect::ClickHouse => ", distinct_id",
    };
    let distinct_value = match dialect {
        Dialect::DuckDb => String::new(),
        Dialect::ClickHouse => format!(
            ", CASE WHEN p % 3 = 0 THEN concat('u', {}) ELSE {anon} END",
            text("p")
        ),
    };
    let mut b = SqlBuilder::new(dialect);
    b.push(&format!(
        "INSERT INTO events (project_id, message_id, type, event, anonymous_id, user_id{distinct}, ts_ms, \
         received_ms, session_id, properties) \
         SELECT '{FUNNEL_PROJECT}', concat('m', {}), 'track', {event}, {anon}, {user}{distinct_value}, {ts}, {ts}, '', \
         CASE WHEN p % 2 = 0 THEN '{{\"plan\":\"pro\"}}' ELSE '{{\"plan\":\"free\"}}' END FROM {numbers}",
        text("n")
    ));
    let insert_events = b.finish();
    let persons = events.div_ceil(8);
    let numbers = match dialect {
        Dialect::DuckDb => format!("(SELECT range AS p FROM range({persons}))"),
        Dialect::ClickHouse => {
            format!("(SELECT number AS p FROM system.numbers LIMIT {persons})")
        }
    };
    let mut b = SqlBuilder::new(dialect);
    b.push(&format!(
        "INSERT INTO identities (project_id, anonymous_id, user_id, version) \
         SELECT '{FUNNEL_PROJECT}', {anon}, concat('u', {}), 1 FROM {numbers} WHERE p % 3 = 1",
        text("p")
    ));
    vec![insert_events, b.finish()]
}

/// A 3-step funnel over a generated dataset, in DuckDB (default) or ClickHouse.
pub fn funnel(
    events: u64,
    runs: usize,
    data_dir: Option<&std::path::Path>,
    clickhouse_url: Option<&str>,
) -> anyhow::Result<()> {
    let dir = data_dir.map_or_else(
        || std::env::temp_dir().join("footfall-bench-funnel"),
        std::path::Path::to_path_buf,
    );
    std::fs::create_dir_all(&dir)?;
    let (store, name): (Box<dyn Store>, &str) = match clickhouse_url {
        Some(url) => (
            Box::new(ClickHouseStore::open(url, "footfall_bench_funnel")?),
            "ClickHouse",
        ),
        None => (
            Box::new(DuckStore::open(dir.join("funnel.duckdb"))?),
            "DuckDB",
        ),
    };
    let dialect = store.dialect();
    let mut count = SqlBuilder::new(dialect);
    count
        .push("SELECT count(*) FROM events WHERE project_id = ")
        .bind(FUNNEL_PROJECT);
    let have = store
        .select(&count.finish())?
        .first()
        .map_or(0, |r| r[0].as_i64());
    if have != events as i64 {
        let spinner = ProgressBar::new_spinner();
        spinner.enable_steady_tick(Duration::from_millis(100));
        spinner.set_message(format!(
            "generating {events} events in {name} (once; kept in {})",
            dir.display()
        ));
        let started = Instant::now();
        for table in ["events", "identities"] {
            let mut clear = SqlBuilder::new(dialect);
            match dialect {
                Dialect::DuckDb => clear.push(&format!("DELETE FROM {table} WHERE project_id = ")),
                Dialect::ClickHouse => {
                    clear.push(&format!("ALTER TABLE {table} DELETE WHERE project_id = "))
                }
            };
            clear.bind(FUNNEL_PROJECT);
            store.apply(&clear.finish())?;
        }
        if dialect == Dialect::ClickHouse {
            // Mutations are asynchronous on 18.16: wait until the old rows are gone.
            while store.select(&{
                let mut b = SqlBuilder::new(dialect);
                b.push("SELECT count(*) FROM events WHERE project_id = ")
                    .bind(FUNNEL_PROJECT);
                b.finish()
            })?[0][0]
                .as_i64()
                > 0
            {
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        for statement in funnel_dataset(dialect, events) {
            store.apply(&statement)?;
        }
        spinner.finish_with_message(format!(
            "generated {events} events in {name} in {:.1} s",
            started.elapsed().as_secs_f64()
        ));
    }
    let params = funnel::RawFunnelParams {
        steps: vec![
            "Product Viewed".into(),
            "Product Added".into(),
            "Order Completed".into(),
        ],
        from: FUNNEL_BASE_MS.into(),
        to: (FUNNEL_BASE_MS + 15 * DAY_MS).into(),
        window_seconds: Some(3600),
        breakdown: None,
    }
    .validate(FUNNEL_PROJECT)?;
    let mut times = Vec::with_capacity(runs);
    let mut answer = None;
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        answer = Some(funnel::run(store.as_ref(), &params)?);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    // The engine's share: the same query once more, its rows fetched but not computed on.
    let started = Instant::now();
    let mut rows = 0;
    store.select_each(&funnel::build(&params, dialect), &mut |_| {
        rows += 1;
        Ok(())
    })?;
    let query_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let answer = answer.unwrap_or_else(|| unreachable!("at least one run"));
    let counts: Vec<String> = answer.total.iter().map(|s| s.count.to_string()).collect();
    println!(
        "3-step funnel over {events} events in {name}: median {:.0} ms, min {:.0} ms, max {:.0} ms over {} runs; persons per step {}; the query and fetching its {rows} rows alone: {query_ms:.0} ms",
        percentile(&sorted, 0.5),
        sorted[0],
        sorted[sorted.len() - 1],
        sorted.len(),
        counts.join(" → ")
    );
    Ok(())
}
