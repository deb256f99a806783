//! The `footfall` binary end to end on the embedded default: Segment-style batches into
//! `footfall serve`, then the query API, the CLI and a restart after `kill -9`.
#![allow(missing_docs)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const WRITE_KEY: &str = "wk_test";
const READ_KEY: &str = "rk_test";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// A running `footfall serve`, killed when dropped.
struct Serve {
    child: Child,
    collector: String,
    api: String,
}

impl Serve {
    fn start(dir: &Path) -> Self {
        let (c, a) = (free_port(), free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_footfall"))
            .args(["serve", "--data-dir"])
            .arg(dir)
            .args(["--listen", &format!("127.0.0.1:{c}")])
            .args(["--api-listen", &format!("127.0.0.1:{a}")])
            .args(["--write-key", &format!("{WRITE_KEY}=shop/web")])
            .args(["--read-key", &format!("{READ_KEY}=shop")])
            .env("FOOTFALL_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let serve = Self {
            child,
            collector: format!("http://127.0.0.1:{c}"),
            api: format!("http://127.0.0.1:{a}"),
        };
        let started = Instant::now();
        while agent()
            .get(format!("{}/ready", serve.collector))
            .call()
            .map_or(true, |r| r.status() != 200)
            || agent()
                .get(format!("{}/v1/health", serve.api))
                .call()
                .map_or(true, |r| r.status() != 200)
        {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "footfall serve did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        serve
    }

    fn send(&self, path: &str, body: &Value) -> (u16, Value) {
        let mut res = agent()
            .post(format!("{}{path}", self.collector))
            .header(
                "authorization",
                footfall_protocol::auth::basic_authorization(WRITE_KEY),
            )
            .header("content-type", "application/json")
            .send(body.to_string())
            .unwrap();
        let status = res.status().as_u16();
        let text = res.body_mut().read_to_string().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn query(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.api);
        let auth = format!("Bearer {READ_KEY}");
        let mut res = match body {
            None if method == "GET" => agent().get(&url).header("authorization", &auth).call(),
            _ => agent()
                .post(&url)
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .send(body.map_or_else(|| "{}".to_owned(), Value::to_string)),
        }
        .unwrap();
        let status = res.status().as_u16();
        let text = res.body_mut().read_to_string().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Waits until `check` holds for the answer of a query.
    fn eventually(&self, path: &str, body: &Value, check: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let (status, answer) = self.query("POST", path, Some(body));
            if status == 200 && check(&answer) {
                return answer;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{path} never satisfied the check; last answer {status}: {answer}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn iso(ms: i64) -> String {
    footfall_store::query::format_rfc3339_ms(ms)
}

/// A visitor browses anonymously, logs in, and buys; the SDK retries the whole batch; one message
/// is invalid.
fn journey(base: i64) -> Value {
    let sent_at = iso(now_ms());
    json!({
        "sentAt": sent_at,
        "batch": [
            {"type": "track", "event": "Product Viewed", "anonymousId": "anon-1", "messageId": "m1",
             "timestamp": iso(base), "properties": {"sku": "shoe-1", "plan": "pro"}},
            {"type": "track", "event": "Product Added", "anonymousId": "anon-1", "messageId": "m2",
             "timestamp": iso(base + 60_000), "properties": {"sku": "shoe-1"}},
            {"type": "identify", "anonymousId": "anon-1", "userId": "user-1", "messageId": "m3",
             "timestamp": iso(base + 120_000), "traits": {"plan": "pro"}},
            {"type": "track", "event": "Order Completed", "userId": "user-1", "messageId": "m4",
             "timestamp": iso(base + 180_000), "properties": {"revenue": 42.5}},
            {"type": "track", "anonymousId": "anon-2", "messageId": "m5",
             "timestamp": iso(base), "properties": {"note": "no event name"}},
        ]
    })
}

fn funnel_body(base: i64) -> Value {
    json!({
        "steps": ["Product Viewed", "Product Added", "Order Completed"],
        "from": base - 3_600_000, "to": base + 3_600_000, "window_seconds": 3600
    })
}

fn counts(funnel: &Value) -> Vec<i64> {
    funnel["total"]
        .as_array()
        .map(|steps| steps.iter().filter_map(|s| s["count"].as_i64()).collect())
        .unwrap_or_default()
}

#[test]
fn a_segment_batch_is_counted_once_stitched_to_the_person_and_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let base = now_ms() / 1000 * 1000 - 600_000;
    let serve = Serve::start(dir.path());

    let (status, answer) = serve.send("/v1/batch", &journey(base));
    assert_eq!(status, 200, "{answer}");
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    assert_eq!(results[4]["status"], "drop", "{answer}");
    // The SDK did not see the answer and sends the same batch again.
    let (status, _) = serve.send("/v1/batch", &journey(base));
    assert_eq!(status, 200);

    // Anonymous steps before the login count for the person who bought.
    let funnel = serve.eventually("/v1/query/funnel", &funnel_body(base), |f| {
        counts(f).first() == Some(&1) && counts(f).last() == Some(&1)
    });
    assert_eq!(counts(&funnel), vec![1, 1, 1], "{funnel}");
    assert_eq!(funnel["total"][1]["median_ms_from_previous"], 60_000);

    let trends = json!({"events": ["Product Viewed", "Product Added", "Order Completed"],
        "from": base - 3_600_000, "to": base + 3_600_000, "interval": "hour"});
    let (_, t) = serve.query("POST", "/v1/query/trends", Some(&trends));
    let total: i64 = t["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["count"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 3, "the retried batch must not be counted twice: {t}");
    let persons: Vec<i64> = t["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["persons"].as_i64().unwrap())
        .collect();
    assert!(persons.iter().all(|p| *p == 1), "{t}");

    // One person's timeline, whichever id asks.
    for id in ["anon-1", "user-1"] {
        let (status, timeline) = serve.query("GET", &format!("/v1/persons/{id}/timeline"), None);
        assert_eq!(status, 200, "{timeline}");
        let ids: Vec<&str> = timeline["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["message_id"].as_str())
            .collect();
        assert_eq!(ids, vec!["m1", "m2", "m3", "m4"], "{timeline}");
    }

    // The invalid message is a dead letter with its payload and reason, listed by the CLI too.
    let (_, dead) = serve.query("GET", "/v1/dead-letters", None);
    let dead = dead["dead_letters"].as_array().unwrap().clone();
    assert!(!dead.is_empty(), "no dead letter");
    assert!(
        dead[0]["payload"]
            .as_str()
            .unwrap()
            .contains("no event name"),
        "{dead:?}"
    );
    assert!(
        dead[0]["reason"].as_str().unwrap().contains("event"),
        "{dead:?}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_footfall"))
        .args([
            "dead-letters",
            "--url",
            &serve.api,
            "--read-key",
            READ_KEY,
            "list",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("no event name"));

    // Bad query parameters get a 400 that names the parameter.
    let (status, err) = serve.query(
        "POST",
        "/v1/query/funnel",
        Some(&json!({"steps": ["only one"], "from": 0, "to": 1})),
    );
    assert_eq!(status, 400);
    assert!(err.to_string().contains("steps"), "{err}");

    // The processor's progress is on /metrics beside the collector's.
    let metrics = agent()
        .get(format!("{}/metrics", serve.collector))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(
        metrics.contains("footfall_processor_events_stored_total"),
        "{metrics}"
    );

    // kill -9 and start again on the same data: nothing lost, nothing counted twice.
    serve.kill9();
    let serve = Serve::start(dir.path());
    let (status, _) = serve.send("/v1/batch", &journey(base)); // a third, late retry
    assert_eq!(status, 200);
    let (_, t) = serve.query("POST", "/v1/query/trends", Some(&trends));
    let total: i64 = t["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["count"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 3, "{t}");
    std::thread::sleep(Duration::from_millis(500));
    let (_, funnel) = serve.query("POST", "/v1/query/funnel", Some(&funnel_body(base)));
    assert_eq!(counts(&funnel), vec![1, 1, 1], "{funnel}");
}

#[test]
fn the_demo_checks_that_every_event_was_stored_once() {
    let out = Command::new(env!("CARGO_BIN_EXE_footfall"))
        .args(["demo", "--visitors", "25", "--quiet"])
        .env("FOOTFALL_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Funnel"), "{stdout}");
    assert!(stdout.contains("Retention"), "{stdout}");
    assert!(stdout.contains("stored exactly once"), "{stdout}");
}
