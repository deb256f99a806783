//! The collector's ingestion tests as a black-box HTTP suite, so that the same cases run against the
//! native collector and through the edge worker in front of it.
//!
//! # Overview
//!
//! A [`Target`] is a live front door (a base URL) and the origin's embedded event logs, which the cases
//! read to check that what was acknowledged is stored. The cases in [`cases`] are the ones of the
//! collector's `tests/http.rs` and `tests/golden.rs` that need no special configuration, written against
//! HTTP only; [`suite!`] turns them into one `#[tokio::test]` each.
//!
//! * `tests/native.rs` runs them against a `footfall-collector` served in-process on 127.0.0.1, one
//!   fresh collector per test.
//! * `tests/edge.rs` runs them against the URL in `FOOTFALL_COLLECTOR_URL` (the worker under
//!   `wrangler dev`, in front of a real origin) with the origin's logs in `FOOTFALL_ORIGIN_LOG_DIR`;
//!   `scripts/test.d/50-edge-worker.sh` sets both. Those tests are `#[ignore]`d otherwise.
//!
//! What the server must be configured with: write keys `wk_test` (project `shop`, source `web`) and
//! `wk_burst` (`shop`/`burst`), a rate limit of 100 events/s with a burst of 1000 per key, no schemas,
//! and the client address taken from `X-Forwarded-For` (native: 127.0.0.1 is a trusted proxy) or
//! `CF-Connecting-IP` (edge). Cases share a live target, so they must run one at a time
//! (`--test-threads=1`): each reads only the records appended since it started.
//!
//! # Example
//!
//! ```no_run
//! async fn target() -> footfall_conformance::Target {
//!     footfall_conformance::Target::new("http://127.0.0.1:8787", "/tmp/origin/events", "/tmp/origin/dead-letters")
//! }
//! footfall_conformance::suite!(#[ignore] target);
//! ```
#![deny(missing_docs)]

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use footfall_eventlog::LogReader;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

pub mod cases;

/// The write key most cases use.
pub const KEY: &str = "wk_test";
/// The write key the rate-limit case exhausts.
pub const BURST_KEY: &str = "wk_burst";
/// The client address every request claims, through `X-Forwarded-For` and `CF-Connecting-IP`.
pub const CLIENT_IP: &str = "203.0.113.10";

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// A live front door and the logs behind it.
#[derive(Debug, Clone)]
pub struct Target {
    base: String,
    events_dir: PathBuf,
    dead_letter_dir: PathBuf,
    /// The `context.footfall.geo` every stored event must carry (the edge's `request.cf`), if any.
    pub expect_geo: Option<Value>,
    client: HttpClient,
}

/// An answer: status, headers (names in lower case) and body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The body as text, for a failed assertion's message.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Where both logs stood when a case started.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    events: u64,
    dead_letters: u64,
}

/// A request to send.
#[derive(Debug, Clone)]
pub struct Call {
    method: &'static str,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Call {
    /// `POST path` with Basic auth for [`KEY`], JSON content type and the client address headers.
    pub fn post(path: &str) -> Self {
        Self::bare("POST", path)
            .header(
                "authorization",
                &footfall_protocol::auth::basic_authorization(KEY),
            )
            .header("content-type", "application/json")
    }

    /// A request with only the client address headers.
    pub fn bare(method: &'static str, path: &str) -> Self {
        Self {
            method,
            path: path.to_owned(),
            headers: vec![
                ("x-forwarded-for".into(), CLIENT_IP.into()),
                ("cf-connecting-ip".into(), CLIENT_IP.into()),
            ],
            body: Vec::new(),
        }
    }

    /// Sets a header, replacing one of the same name.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Removes a header.
    pub fn without(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a JSON body.
    pub fn json(self, value: &Value) -> Self {
        self.body(value.to_string())
    }
}

fn read_log(dir: &std::path::Path, from: u64) -> Vec<Value> {
    read_raw(dir, from)
        .into_iter()
        .enumerate()
        .map(|(i, payload)| {
            serde_json::from_slice(&payload).unwrap_or_else(|e| {
                panic!(
                    "record {} in {} is not JSON: {e}",
                    from + i as u64,
                    dir.display()
                )
            })
        })
        .collect()
}

fn read_raw(dir: &std::path::Path, from: u64) -> Vec<Vec<u8>> {
    let mut reader = LogReader::open(dir)
        .unwrap_or_else(|e| panic!("cannot open the event log {}: {e}", dir.display()));
    let mut out = Vec::new();
    let mut next = from;
    loop {
        let batch = reader
            .read(next, 10_000, 64 << 20)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
        let Some((last, _)) = batch.last() else {
            return out;
        };
        next = last + 1;
        out.extend(batch.into_iter().map(|(_, record)| record.payload));
    }
}

fn watermark(dir: &std::path::Path) -> u64 {
    LogReader::open(dir)
        .and_then(|mut r| r.high_watermark())
        .unwrap_or_else(|e| panic!("cannot open the event log {}: {e}", dir.display()))
}

impl Target {
    /// A target at `base` (e.g. `http://127.0.0.1:8787`) over the origin's two log directories.
    pub fn new(
        base: &str,
        events_dir: impl Into<PathBuf>,
        dead_letter_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            events_dir: events_dir.into(),
            dead_letter_dir: dead_letter_dir.into(),
            expect_geo: None,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a call; panics when no answer comes within 30 s.
    pub async fn send(&self, call: Call) -> Reply {
        let mut request = hyper::Request::builder()
            .method(call.method)
            .uri(format!("{}{}", self.base, call.path));
        for (name, value) in &call.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request
            .body(Full::new(Bytes::from(call.body)))
            .expect("a valid request");
        let response = tokio::time::timeout(Duration::from_secs(30), self.client.request(request))
            .await
            .unwrap_or_else(|_| panic!("{} {}: no answer in 30 s", call.method, call.path))
            .unwrap_or_else(|e| panic!("{} {}: {e}", call.method, call.path));
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes().to_vec())
            .unwrap_or_default();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Waits until `GET path` answers 200 (`/ready` on the collector, `/health` on the worker).
    pub async fn wait_until_up(&self, path: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let uri = format!("{}{path}", self.base);
            let request = hyper::Request::get(uri)
                .body(Full::new(Bytes::new()))
                .expect("a valid request");
            if let Ok(response) = self.client.request(request).await {
                if response.status() == 200 {
                    return;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{}{path} did not answer 200 in 30 s",
                self.base
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Where the logs stand now.
    pub fn mark(&self) -> Mark {
        Mark {
            events: watermark(&self.events_dir),
            dead_letters: watermark(&self.dead_letter_dir),
        }
    }

    /// The events stored since `mark`, as JSON, in log order.
    pub fn events_since(&self, mark: Mark) -> Vec<Value> {
        read_log(&self.events_dir, mark.events)
    }

    /// The dead letters stored since `mark`, as the exact bytes stored, in log order.
    pub fn raw_dead_letters_since(&self, mark: Mark) -> Vec<String> {
        read_raw(&self.dead_letter_dir, mark.dead_letters)
            .into_iter()
            .map(|p| String::from_utf8_lossy(&p).into_owned())
            .collect()
    }

    /// The dead letters stored since `mark`, as JSON, in log order.
    pub fn dead_letters_since(&self, mark: Mark) -> Vec<Value> {
        read_log(&self.dead_letter_dir, mark.dead_letters)
    }
}

/// Gzips bytes.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).expect("in memory");
    encoder.finish().expect("in memory")
}

/// Generates one `#[tokio::test]` per case in [`cases`], each calling `target().await` for its
/// [`Target`] (an `async fn target() -> impl Deref<Target = Target>`, or returning the target itself
/// via [`AsTarget`]). Attributes given first (e.g. `#[ignore]`) go on every test.
#[macro_export]
macro_rules! suite {
    ($(#[$attr:meta])* $target:path) => {
        $crate::suite!(@all [$(#[$attr])*] $target;
            single_message_endpoints_force_their_type,
            a_batch_answers_per_event_results_and_keeps_dead_letters_raw,
            a_batch_of_only_invalid_messages_is_400_after_its_dead_letters_are_stored,
            a_number_beyond_a_64_bit_float_is_dropped_naming_it,
            sdks_load_their_source_settings_from_here,
            a_beacon_batch_names_its_write_key_in_the_query,
            a_pixel_request_stores_its_message_and_answers_a_gif,
            malformed_json_and_invalid_utf8_are_400_with_code_and_message,
            a_message_over_32_kb_is_dropped_and_alone_it_is_400,
            a_batch_over_500_kb_is_413,
            a_gzip_bomb_is_413,
            gzip_labelled_form_urlencoded_is_read_as_json,
            a_text_plain_beacon_with_the_write_key_in_the_body_is_accepted,
            an_unknown_or_missing_write_key_is_401_and_nothing_is_stored,
            cors_preflight_allows_any_origin_with_auth_and_encoding_headers,
            events_are_enriched_with_the_client_ip_user_agent_and_source,
            timestamps_are_corrected_for_clock_skew_and_future_ones_clamped,
            unknown_paths_are_404,
            a_key_over_its_rate_limit_gets_429_with_retry_after,
            real_client_requests_are_accepted_unchanged,
            every_acknowledged_event_is_in_the_log
        );
    };
    (@all $attrs:tt $target:path; $($case:ident),*) => {
        $( $crate::suite!(@one $attrs $target, $case); )*
    };
    (@one [$($attr:tt)*] $target:path, $case:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $($attr)*
        async fn $case() {
            let target = $target().await;
            $crate::cases::$case($crate::AsTarget::as_target(&target)).await;
        }
    };
}

/// What a test's `target()` returns: a [`Target`], or something that keeps a server alive and
/// lends one.
pub trait AsTarget {
    /// The target.
    fn as_target(&self) -> &Target;
}

impl AsTarget for Target {
    fn as_target(&self) -> &Target {
        self
    }
}

#[cfg(test)]
mod tests {
    /// A case written in `cases.rs` but left out of `suite!` would silently never run.
    #[test]
    fn the_suite_lists_every_case() {
        let cases: Vec<&str> = include_str!("cases.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("pub async fn "))
            .filter_map(|l| l.split('(').next())
            .collect();
        let lib = include_str!("lib.rs");
        let listed = lib
            .split("$crate::suite!(@all [$(#[$attr])*] $target;")
            .nth(1)
            .and_then(|rest| rest.split(");").next())
            .expect("the suite! list");
        let listed: Vec<&str> = listed
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        assert_eq!(listed, cases);
    }
}
