//! The SDK's hot path: recording an event and packing it into an upload.
//!
//! `track_and_batch` records 100 events of about 300 bytes (five properties, a context with library,
//! session and device), builds the batch body and acknowledges it, as the platform loop would. The goal
//! is at most 1 µs per event. Run with `cargo bench -p footfall-core --bench enqueue`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use footfall_core::{Action, Client, Clock, Config, ManualClock, MemoryStorage, UploadOutcome};
use serde_json::json;

const EVENTS: u64 = 100;

fn client() -> (Client<MemoryStorage, ManualClock>, ManualClock) {
    let clock = ManualClock::new(1_795_000_000_000);
    let config = Config {
        flush_at: EVENTS as usize,
        max_batch_events: EVENTS as usize,
        ..Config::new("wk_bench")
    };
    let mut client = Client::new(config, MemoryStorage::new(), clock.clone(), 1).unwrap();
    client
        .set_context(json!({"device": {"type": "mobile"}, "os": {"name": "iOS", "version": "19.1"}, "locale": "en-GB"}))
        .unwrap();
    client.identify(Some("user-12345"), json!({})).unwrap();
    client.flush();
    if let Action::Upload(r) = client.next_action(clock.now()).unwrap() {
        client
            .on_upload_result(r.batch_id, UploadOutcome::response(200, None, "{}"))
            .unwrap();
    }
    (client, clock)
}

fn bench(c: &mut Criterion) {
    let properties = json!({
        "product_id": "sku-48213", "price": 29.99, "currency": "EUR", "category": "shoes", "quantity": 1
    });
    let mut group = c.benchmark_group("sdk-core");
    group.throughput(Throughput::Elements(EVENTS));

    group.bench_function("track_only", |b| {
        b.iter_batched_ref(
            client,
            |(client, _)| {
                for _ in 0..EVENTS {
                    client.track("Product Added", properties.clone()).unwrap();
                }
            },
            BatchSize::SmallInput,
        )
    });

    group.bench_function("track_and_batch", |b| {
        let (mut client, clock) = client();
        b.iter(|| {
            for _ in 0..EVENTS {
                client.track("Product Added", properties.clone()).unwrap();
            }
            let Action::Upload(request) = client.next_action(clock.now()).unwrap() else {
                panic!("a full batch is due")
            };
            client
                .on_upload_result(
                    request.batch_id,
                    UploadOutcome::response(200, None, r#"{"success":true}"#),
                )
                .unwrap();
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
