//! The collector's per-request CPU without the network: `Ingestor::parse` and `Ingestor::process` of
//! the load generator's batches (50 events of about 300 bytes, many users, a third with a browser user
//! agent), as the collector runs them for each `POST /v1/batch`. Reported per event.
//!
//! Run: `cargo bench -p footfall-ingest --bench ingest`. End-to-end figures, with HTTP and the sinks,
//! come from `footfall-loadgen` (docs/benchmarks.md); this one isolates ingestion, so a change to it can
//! be compared A/B on a noisy machine.

// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use footfall_ingest::{
    Endpoint, EnrichOptions, Ingestor, RequestInfo, SchemaRegistry, Source, WriteKeys,
};

const BATCH: usize = 50;
const POOL: usize = 64;

fn ingest(c: &mut Criterion) {
    let mut keys = WriteKeys::new();
    keys.insert(
        "wk_load",
        Source {
            project_id: "shop".into(),
            source_id: "web".into(),
        },
    );
    let ingestor = Ingestor::new(keys, EnrichOptions::default());
    let schemas = SchemaRegistry::new();
    let now = time::OffsetDateTime::now_utc();
    let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    let mut rng = fastrand::Rng::with_seed(7);
    let bodies: Vec<Vec<u8>> = (0..POOL)
        .map(|_| footfall_loadgen::batch_body(&mut rng, BATCH, 10_000, now_ms))
        .collect();
    let authorization = footfall_protocol::auth::basic_authorization("wk_load");
    let request = RequestInfo {
        peer: "198.51.100.7".parse().expect("an address"),
        forwarded_for: None,
        user_agent: None,
        received_at: now,
        known_geo: None,
    };

    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut next = 0;
    group.bench_function("parse_and_process_batch", |b| {
        b.iter(|| {
            let body = &bodies[next % POOL];
            next += 1;
            let parsed = ingestor
                .parse(Endpoint::Batch, Some(&authorization), body)
                .expect("a valid batch");
            let processed = ingestor.process(parsed, &request, &schemas);
            assert_eq!(processed.accepted.len(), BATCH);
            processed
        })
    });
    group.finish();

    // The check every message gets for numbers beyond f64, alone: its share of the above.
    let messages: Vec<String> = bodies
        .iter()
        .flat_map(|body| {
            let batch: serde_json::Value = serde_json::from_slice(body).expect("JSON");
            batch["batch"]
                .as_array()
                .expect("a batch")
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let mut group = c.benchmark_group("number_range");
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut next = 0;
    group.bench_function("scan_batch_of_messages", |b| {
        b.iter(|| {
            let start = (next % POOL) * BATCH;
            next += 1;
            messages[start..start + BATCH]
                .iter()
                .filter(|m| footfall_ingest::number_beyond_f64(m).is_some())
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
