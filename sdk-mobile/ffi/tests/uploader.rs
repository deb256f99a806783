//! The native layer end to end: `Analytics` against a scripted HTTP server on 127.0.0.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use footfall_core::Storage;
use footfall_mobile::{Analytics, AnalyticsConfig, DropReason};
use footfall_storage_sqlite::SqliteStorage;

/// One request the server received.
#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A one-connection-at-a-time HTTP/1.1 server answering from a script (then 200 `{"success":true}`).
struct Server {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Server {
    fn start(script: Vec<(u16, &'static str)>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        std::thread::spawn(move || {
            let mut script = script.into_iter();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let Some(request) = read_request(&mut stream) else {
                    continue;
                };
                log.lock().unwrap().push(request);
                let (status, body) = script.next().unwrap_or((200, r#"{"success":true}"#));
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Server { url, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Received> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))?
        .1
        .parse()
        .ok()?;
    let mut raw = vec![0; length];
    reader.read_exact(&mut raw).ok()?;
    let gzipped = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("content-encoding") && v == "gzip");
    let body = if gzipped {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_string(&mut text)
            .ok()?;
        text
    } else {
        String::from_utf8(raw).ok()?
    };
    Some(Received { headers, body })
}

/// The events committed to the database file, as another process would see them.
fn committed_events(path: &std::path::Path) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .unwrap()
}

fn config(server: &Server, db: &std::path::Path) -> AnalyticsConfig {
    AnalyticsConfig {
        flush_at: 1000,
        flush_interval_ms: 600_000,
        ..AnalyticsConfig::new("wk_rust_test", server.url.clone(), db.to_string_lossy())
    }
}

fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some(value) = probe() {
            return value;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn uploads_gzipped_batches_with_basic_auth_and_the_returned_message_ids() {
    let server = Server::start(vec![]);
    let dir = tempfile::tempdir().unwrap();
    let analytics = Analytics::new(config(&server, &dir.path().join("q.sqlite"))).unwrap();
    let ids: Vec<String> = (0..3)
        .map(|i| {
            analytics
                .track("Clicked".into(), Some(format!(r#"{{"i":{i}}}"#)))
                .unwrap()
                .unwrap()
        })
        .collect();
    assert!(analytics.flush_and_wait(20_000));
    let received = server.received();
    assert_eq!(received.len(), 1, "one batch");
    let request = &received[0];
    assert_eq!(request.header("content-encoding"), Some("gzip"));
    assert!(request
        .header("authorization")
        .is_some_and(|a| a.starts_with("Basic ")));
    for id in &ids {
        assert!(request.body.contains(id.as_str()), "{id} not in the batch");
    }
    assert_eq!(analytics.stats().delivered, 3);
    analytics.shutdown();
}

#[test]
fn a_server_error_is_retried_with_the_same_message_ids() {
    let server = Server::start(vec![(500, "{}")]);
    let dir = tempfile::tempdir().unwrap();
    let analytics = Analytics::new(AnalyticsConfig {
        gzip: false,
        ..config(&server, &dir.path().join("q.sqlite"))
    })
    .unwrap();
    let id = analytics.track("Retried".into(), None).unwrap().unwrap();
    assert!(analytics.flush_and_wait(20_000));
    let received = server.received();
    assert_eq!(received.len(), 2, "a failure, then a success");
    assert!(received.iter().all(|r| r.body.contains(id.as_str())));
    assert_eq!(received[0].header("content-encoding"), None);
    let stats = analytics.stats();
    assert_eq!(
        (stats.upload_failures, stats.delivered),
        (1, 1),
        "{stats:?}"
    );
}

#[test]
fn a_rejected_batch_is_dropped_and_reported_with_its_reason() {
    let server = Server::start(vec![(
        400,
        r#"{"success":false,"code":"invalid_request","message":"bad batch"}"#,
    )]);
    let dir = tempfile::tempdir().unwrap();
    let analytics = Analytics::new(config(&server, &dir.path().join("q.sqlite"))).unwrap();
    let id = analytics.track("Refused".into(), None).unwrap().unwrap();
    assert!(analytics.flush_and_wait(20_000));
    let dropped = analytics.take_dropped();
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0].message_id, id);
    assert_eq!(
        dropped[0].reason,
        DropReason::Rejected {
            status: 400,
            reason: "bad batch".into()
        }
    );
    assert_eq!(analytics.stats().dropped_rejected, 1);
}

#[test]
fn grouped_writes_are_committed_when_due_and_on_background() {
    let server = Server::start(vec![]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.sqlite");
    let analytics = Analytics::new(AnalyticsConfig {
        write_batch_delay_ms: 60_000,
        ..config(&server, &path)
    })
    .unwrap();
    analytics.set_network_available(false);
    let committed = || committed_events(&path);
    analytics.track("Grouped".into(), None).unwrap();
    assert_eq!(committed(), 0, "held in the open transaction");
    analytics.on_background().unwrap();
    assert_eq!(committed(), 1, "committed when going to the background");

    let quick = tempfile::tempdir().unwrap();
    let path = quick.path().join("q.sqlite");
    let analytics = Analytics::new(AnalyticsConfig {
        write_batch_delay_ms: 20,
        ..config(&server, &path)
    })
    .unwrap();
    analytics.set_network_available(false);
    analytics.track("Grouped".into(), None).unwrap();
    eventually("the upload thread to commit the due batch", || {
        (committed_events(&path) == 1).then_some(())
    });
}

#[test]
fn bad_arguments_name_the_problem() {
    let server = Server::start(vec![]);
    let dir = tempfile::tempdir().unwrap();
    let analytics = Analytics::new(config(&server, &dir.path().join("q.sqlite"))).unwrap();
    let err = analytics.track("E".into(), Some("[1]".into())).unwrap_err();
    assert_eq!(
        err.to_string(),
        "properties is not a JSON object: found an array"
    );
    let err = analytics.group(" ".into(), None).unwrap_err();
    assert!(err.to_string().contains("groupId"), "{err}");
    let err = Analytics::new(AnalyticsConfig::new("wk", "ftp://x", "/tmp/x.sqlite")).unwrap_err();
    assert!(err.to_string().contains("endpoint"), "{err}");
}

#[test]
fn shutdown_stops_the_thread_and_keeps_recording_to_disk() {
    let server = Server::start(vec![]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.sqlite");
    let analytics = Analytics::new(config(&server, &path)).unwrap();
    let started = Instant::now();
    analytics.shutdown();
    analytics.shutdown();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "shutdown is prompt"
    );
    analytics.track("After Shutdown".into(), None).unwrap();
    drop(analytics);
    assert_eq!(SqliteStorage::open(&path).unwrap().count(), 1);
    assert!(server.received().is_empty());
}
