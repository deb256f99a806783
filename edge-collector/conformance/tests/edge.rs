//! The conformance suite through the edge worker: `FOOTFALL_COLLECTOR_URL` is the worker under
//! `wrangler dev`, in front of a real origin collector whose embedded logs are in
//! `FOOTFALL_ORIGIN_LOG_DIR` (`events/`, `dead-letters/`). `FOOTFALL_EXPECT_GEO` is the
//! `context.footfall.geo` the worker must derive from the `request.cf` it is given.
//!
//! Run by `scripts/test.d/50-edge-worker.sh`:
//! `cargo test -p footfall-conformance --test edge -- --ignored --test-threads=1`.

use footfall_conformance::Target;

async fn target() -> Target {
    let url = std::env::var("FOOTFALL_COLLECTOR_URL").expect(
        "FOOTFALL_COLLECTOR_URL: the edge worker's URL (see scripts/test.d/50-edge-worker.sh)",
    );
    let logs = std::path::PathBuf::from(
        std::env::var("FOOTFALL_ORIGIN_LOG_DIR")
            .expect("FOOTFALL_ORIGIN_LOG_DIR: the origin collector's log directory"),
    );
    let mut target = Target::new(&url, logs.join("events"), logs.join("dead-letters"));
    target.expect_geo = std::env::var("FOOTFALL_EXPECT_GEO")
        .ok()
        .map(|geo| serde_json::from_str(&geo).expect("FOOTFALL_EXPECT_GEO is JSON"));
    target
}

footfall_conformance::suite!(
    #[ignore = "needs the edge worker under wrangler dev: scripts/test.d/50-edge-worker.sh"]
    target
);
