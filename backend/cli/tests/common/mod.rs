//! `footfall serve` as a child process, for the integration tests of this crate.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const WRITE_KEY: &str = "wk_test";
pub const READ_KEY: &str = "rk_test";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The body of `GET url` as text (a Prometheus scrape, say).
pub fn get_text(url: &str) -> String {
    agent()
        .get(url)
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap()
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// A running `footfall serve`, killed when dropped.
pub struct Serve {
    child: Child,
    pub collector: String,
    pub api: String,
}

impl Serve {
    pub fn start(dir: &Path) -> Self {
        Self::start_with(dir, &[])
    }

    /// Starts it with these flags added to the test's keys and ports.
    pub fn start_with(dir: &Path, flags: &[&str]) -> Self {
        let (c, a) = (free_port(), free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_footfall"))
            .args(["serve", "--data-dir"])
            .arg(dir)
            .args(["--listen", &format!("127.0.0.1:{c}")])
            .args(["--api-listen", &format!("127.0.0.1:{a}")])
            .args(["--write-key", &format!("{WRITE_KEY}=shop/web")])
            .args(["--read-key", &format!("{READ_KEY}=shop")])
            .args(flags)
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

    pub fn send(&self, path: &str, body: &Value) -> (u16, Value) {
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

    pub fn query(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
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
    pub fn eventually(&self, path: &str, body: &Value, check: impl Fn(&Value) -> bool) -> Value {
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

    /// The messageIds of a person's timeline, asked by any of their ids.
    pub fn timeline_ids(&self, id: &str) -> Vec<String> {
        let (status, timeline) = self.query("GET", &format!("/v1/persons/{id}/timeline"), None);
        assert_eq!(status, 200, "{timeline}");
        timeline["events"]
            .as_array()
            .unwrap_or_else(|| panic!("no events in {timeline}"))
            .iter()
            .filter_map(|e| e["message_id"].as_str().map(str::to_owned))
            .collect()
    }

    /// Sends `signal` (a `kill` name: HUP, TERM) to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits up to `limit` for the process to exit, and returns its status.
    pub fn wait_for_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(started.elapsed() < limit, "still running after {limit:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The status of `POST /v1/track` with one event and `write_key`.
    pub fn track_with(&self, write_key: &str) -> u16 {
        agent()
            .post(format!("{}/v1/track", self.collector))
            .header(
                "authorization",
                footfall_protocol::auth::basic_authorization(write_key),
            )
            .send(r#"{"event":"Signed Up","userId":"u-reload"}"#)
            .unwrap()
            .status()
            .as_u16()
    }

    pub fn kill9(mut self) {
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

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub fn iso(ms: i64) -> String {
    footfall_store::query::format_rfc3339_ms(ms)
}

/// A visitor browses anonymously, logs in, and buys; the SDK retries the whole batch; one message
/// is invalid.
pub fn journey(base: i64) -> Value {
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

pub fn funnel_body(base: i64) -> Value {
    json!({
        "steps": ["Product Viewed", "Product Added", "Order Completed"],
        "from": base - 3_600_000, "to": base + 3_600_000, "window_seconds": 3600
    })
}

pub fn counts(funnel: &Value) -> Vec<i64> {
    funnel["total"]
        .as_array()
        .map(|steps| steps.iter().filter_map(|s| s["count"].as_i64()).collect())
        .unwrap_or_default()
}
