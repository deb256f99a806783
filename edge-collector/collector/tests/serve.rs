//! The real server on 127.0.0.1:0, spoken to over HTTP with a hyper client, then shut down gracefully.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use footfall_collector::{serve, serve_with_sink, MemorySink};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn post(client: &HttpClient, url: &str, body: &str, gzip: bool) -> (u16, serde_json::Value) {
    let mut request = hyper::Request::post(url)
        .header(
            "authorization",
            footfall_protocol::auth::basic_authorization(common::KEY),
        )
        .header("content-type", "application/json");
    let body = if gzip {
        request = request.header("content-encoding", "gzip");
        common::gzip(body.as_bytes())
    } else {
        body.as_bytes().to_vec()
    };
    let response = client
        .request(request.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn serves_http_and_stops_gracefully() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sink = Arc::new(MemorySink::new());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_with_sink(
        common::config(),
        sink.clone(),
        listener,
        async {
            let _ = stopped.await;
        },
    ));

    let client = client();
    let body = r#"{"batch":[{"type":"track","event":"A","userId":"u","messageId":"m1"},{"type":"page","messageId":"m2"}],"sentAt":"2026-11-22T10:00:00Z"}"#;
    let (status, answer) = post(&client, &format!("http://{addr}/v1/batch"), body, true).await;
    assert_eq!(status, 200);
    assert_eq!(answer["results"][0]["status"], "ok");
    assert_eq!(answer["results"][1]["status"], "drop");
    let event: serde_json::Value = serde_json::from_slice(&sink.events()[0].payload).unwrap();
    assert_eq!(
        event["context"]["ip"], "127.0.0.1",
        "the peer address comes from the connection"
    );

    let (status, _) = post(&client, &format!("http://{addr}/v1/batch"), "{", false).await;
    assert_eq!(status, 400);
    let health = client
        .get(format!("http://{addr}/health").parse().unwrap())
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
}

#[tokio::test]
async fn serve_builds_the_configured_memory_sink() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(common::config(), listener, async {
        let _ = stopped.await;
    }));
    let (status, answer) = post(
        &client(),
        &format!("http://{addr}/v1/track"),
        r#"{"event":"A","userId":"u"}"#,
        false,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn serve_with_the_log_sink_acknowledges_durable_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config();
    config.sink = footfall_collector::SinkConfig::Log {
        events_dir: dir.path().join("events"),
        dead_letter_dir: dir.path().join("dead-letters"),
        max_disk_bytes: None,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(config, listener, async {
        let _ = stopped.await;
    }));
    let body = r#"{"batch":[{"type":"track","event":"A","userId":"u","messageId":"m1"},{"type":"track","userId":"u"}]}"#;
    let (status, answer) = post(&client(), &format!("http://{addr}/v1/batch"), body, false).await;
    assert_eq!(status, 200, "{answer}");
    // The logs' own figures are on /metrics: one event and one dead letter, each fsynced.
    let uri: hyper::Uri = format!("http://{addr}/metrics").parse().unwrap();
    let response = client().get(uri).await.unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let metrics = String::from_utf8(bytes.to_vec()).unwrap();
    for line in [
        r#"footfall_collector_log_records_total{log="events"} 1"#,
        r#"footfall_collector_log_records_total{log="dead_letters"} 1"#,
        r#"footfall_collector_log_high_watermark{log="events"} 1"#,
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} missing from\n{metrics}"
        );
    }
    assert!(
        metrics.contains(r#"footfall_collector_log_fsyncs_total{log="events"}"#),
        "{metrics}"
    );
    // The request's wait for the log is counted under the log sink's name (the recorder is
    // process-wide, so another test's requests may be counted too).
    let waits = metrics
        .lines()
        .find_map(|l| l.strip_prefix(r#"footfall_collector_sink_wait_seconds_count{sink="log"} "#))
        .and_then(|n| n.parse::<u64>().ok());
    assert!(waits.is_some_and(|n| n >= 1), "{metrics}");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();

    let events = footfall_eventlog::LogReader::open(dir.path().join("events"))
        .unwrap()
        .read(0, 10, 1 << 20)
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].1.key, b"wk_test:u");
    let letters = footfall_eventlog::LogReader::open(dir.path().join("dead-letters"))
        .unwrap()
        .read(0, 10, 1 << 20)
        .unwrap();
    assert_eq!(letters.len(), 1);
}

/// A client still sending an oversized body reads the 413, not a connection reset: real clients retry a
/// reset forever but drop a batch on 413. Sent slowly, in pieces, the way a phone uploads.
#[tokio::test]
async fn an_oversized_body_still_being_sent_gets_its_413() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_with_sink(
        common::config(),
        Arc::new(MemorySink::new()),
        listener,
        async {
            let _ = stopped.await;
        },
    ));
    for declared in [true, false] {
        let len = 700 * 1024;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let framing = if declared {
            format!("content-length: {len}")
        } else {
            "transfer-encoding: chunked".to_owned()
        };
        let head = format!(
            "POST /v1/batch HTTP/1.1\r\nhost: {addr}\r\nauthorization: {}\r\ncontent-type: application/json\r\n{framing}\r\n\r\n",
            footfall_protocol::auth::basic_authorization(common::KEY)
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let piece = vec![b' '; 64 * 1024];
        let mut sent = 0;
        while sent < len {
            let n = piece.len().min(len - sent);
            let written = if declared {
                stream.write_all(&piece[..n]).await
            } else {
                let mut chunk = format!("{n:x}\r\n").into_bytes();
                chunk.extend_from_slice(&piece[..n]);
                chunk.extend_from_slice(b"\r\n");
                stream.write_all(&chunk).await
            };
            written.unwrap_or_else(|e| panic!("the server cut the upload at {sent} bytes: {e}"));
            sent += n;
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        if !declared {
            stream.write_all(b"0\r\n\r\n").await.unwrap();
        }
        let mut answer = vec![0u8; 4096];
        let n = stream.read(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer[..n]);
        assert!(
            answer.starts_with("HTTP/1.1 413"),
            "declared {declared}: {answer}"
        );
        assert!(answer.contains("batch_too_large"), "{answer}");
    }
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_body_that_stops_arriving_gets_a_408_and_a_slow_one_is_read_to_the_end() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = common::config();
    config.connection_limits.idle_timeout = std::time::Duration::from_secs(1);
    let sink = Arc::new(MemorySink::new());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_with_sink(config, sink.clone(), listener, async {
        let _ = stopped.await;
    }));
    let body = br#"{"type":"track","event":"Slow","userId":"u1","messageId":"m-slow"}"#;
    let head = format!(
        "POST /v1/track HTTP/1.1\r\nhost: {addr}\r\nauthorization: {}\r\ncontent-length: {}\r\n\r\n",
        footfall_protocol::auth::basic_authorization(common::KEY),
        body.len()
    );
    let answer = |mut stream: tokio::net::TcpStream| async move {
        let mut answer = vec![0u8; 4096];
        let n = stream.read(&mut answer).await.unwrap();
        String::from_utf8_lossy(&answer[..n]).into_owned()
    };

    // Slow but steady: a piece every 400 ms, each within the 1 s timeout, 2.4 s in all.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(head.as_bytes()).await.unwrap();
    for piece in body.chunks(body.len() / 6 + 1) {
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        slow.write_all(piece).await.unwrap();
    }
    let slow_answer = answer(slow).await;
    assert!(slow_answer.starts_with("HTTP/1.1 200"), "{slow_answer}");
    assert_eq!(sink.events().len(), 1);

    // Half a body, then nothing.
    let mut stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
    stalled.write_all(head.as_bytes()).await.unwrap();
    stalled.write_all(&body[..10]).await.unwrap();
    let stalled_answer = tokio::time::timeout(std::time::Duration::from_secs(10), answer(stalled))
        .await
        .expect("a stalled body was waited for beyond the idle timeout");
    assert!(
        stalled_answer.starts_with("HTTP/1.1 408"),
        "{stalled_answer}"
    );
    assert!(
        stalled_answer.contains("the request body stopped arriving"),
        "{stalled_answer}"
    );
    assert_eq!(sink.events().len(), 1);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

/// A memory sink that holds every request until the gate opens, as a slow Kafka would.
struct GatedSink {
    inner: MemorySink,
    entered: std::sync::atomic::AtomicUsize,
    gate: tokio::sync::Semaphore,
}

impl footfall_collector::EventSink for GatedSink {
    fn send(
        &self,
        events: Vec<footfall_collector::sinks::Record>,
        dead_letters: Vec<footfall_collector::sinks::Record>,
    ) -> footfall_collector::sinks::BoxFuture<'_, Result<(), footfall_collector::SinkError>> {
        Box::pin(async move {
            self.entered
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(self.gate.acquire().await.unwrap());
            self.inner.send(events, dead_letters).await
        })
    }

    fn name(&self) -> &'static str {
        "gated"
    }
}

#[tokio::test]
async fn requests_past_the_memory_budget_wait_for_others_to_finish_and_none_fails() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = common::config();
    config.max_request_memory_bytes = 4 * 1024 * 1024;
    let sink = Arc::new(GatedSink {
        inner: MemorySink::new(),
        entered: Default::default(),
        gate: tokio::sync::Semaphore::new(0),
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_with_sink(config, sink.clone(), listener, async {
        let _ = stopped.await;
    }));

    // 15 events of 30 KB: a 450 KB body, which holds 900 KB with its events. Four fit in 4 MiB
    // and reach the sink; the fifth waits for memory, before the sink.
    let padding = "x".repeat(30_000);
    let body = |request: usize| {
        let events: Vec<_> = (0..15)
            .map(|i| {
                serde_json::json!({"type": "track", "event": "Big", "userId": "u",
                "messageId": format!("m-{request}-{i}"), "properties": {"padding": padding}})
            })
            .collect();
        serde_json::json!({ "batch": events }).to_string()
    };
    // Clients still sending their bodies hold none of the budget, however large they say they are.
    let mut trickling = Vec::new();
    for _ in 0..3 {
        use tokio::io::AsyncWriteExt;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /v1/batch HTTP/1.1\r\nhost: {addr}\r\nauthorization: {}\r\ncontent-length: 450000\r\n\r\n",
            footfall_protocol::auth::basic_authorization(common::KEY),
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&[b' '; 100_000]).await.unwrap();
        trickling.push(stream);
    }
    let url = format!("http://{addr}/v1/batch");
    let requests: Vec<_> = (0..5)
        .map(|request| {
            let (url, body) = (url.clone(), body(request));
            tokio::spawn(async move { post(&client(), &url, &body, false).await })
        })
        .collect();
    let entered = || sink.entered.load(std::sync::atomic::Ordering::SeqCst);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while entered() < 4 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        entered(),
        4,
        "four requests fit the budget, the fifth must wait"
    );
    let metrics = String::from_utf8_lossy(
        &client()
            .get(format!("http://{addr}/metrics").parse().unwrap())
            .await
            .unwrap()
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes(),
    )
    .into_owned();
    let series = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("{name} is not exported:\n{metrics}"))
            .parse()
            .unwrap()
    };
    assert!(series("footfall_collector_request_memory_waits_total") >= 1.0);
    assert!(series("footfall_collector_request_memory_bytes") >= 3.0 * 900_000.0);
    // Set by every collector this test binary starts, so only its presence is certain here.
    assert!(series("footfall_collector_request_memory_budget_bytes") > 0.0);

    // The sink catches up: every request is answered 200, none refused for memory.
    sink.gate.add_permits(1_000);
    for request in requests {
        let (status, answer) = tokio::time::timeout(std::time::Duration::from_secs(10), request)
            .await
            .expect("a request waiting for memory was never let in")
            .unwrap();
        assert_eq!(status, 200, "{answer}");
    }
    assert_eq!(entered(), 5);
    assert_eq!(sink.inner.events().len(), 5 * 15);
    drop(trickling);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

/// Sends `request` on `stream` and reads one answer: its head (lowercased) and its body, by
/// `content-length`.
async fn exchange(stream: &mut tokio::net::TcpStream, request: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let head = text[..end].to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .map_or(0, |n| n.trim().parse().unwrap());
            if received.len() >= end + 4 + length {
                return (head, text[end + 4..end + 4 + length].to_owned());
            }
        }
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "closed before a whole answer: {text}");
        received.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test]
async fn shutting_down_goes_unready_serves_out_its_delay_then_cuts_stalled_requests_at_the_deadline(
) {
    use tokio::io::AsyncReadExt;
    use tokio::io::AsyncWriteExt;
    use tokio::time::{timeout, Duration};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = common::config();
    config.shutdown_delay = Duration::from_secs(3);
    // Far beyond the test's patience: only the drain deadline can end the stalled request.
    config.connection_limits.idle_timeout = Duration::from_secs(120);
    config.connection_limits.drain_timeout = Duration::from_millis(500);
    let sink = Arc::new(MemorySink::new());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_with_sink(config, sink.clone(), listener, async {
        let _ = stopped.await;
    }));

    let auth = footfall_protocol::auth::basic_authorization(common::KEY);
    let track = |id: &str| {
        let body = format!(r#"{{"event":"A","userId":"u","messageId":"{id}"}}"#);
        format!(
            "POST /v1/track HTTP/1.1\r\nhost: c\r\nauthorization: {auth}\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let ready = "GET /ready HTTP/1.1\r\nhost: c\r\n\r\n";
    let mut keep_alive = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (head, _) = exchange(&mut keep_alive, &track("before")).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(!head.contains("connection: close"), "{head}");
    let (head, _) = exchange(&mut keep_alive, ready).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    // A client that sent its headers and part of its body, then went quiet.
    let mut stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/track HTTP/1.1\r\nhost: c\r\nauthorization: {auth}\r\ncontent-length: 1000\r\n\r\n{{\"event\":"
    );
    stalled.write_all(head.as_bytes()).await.unwrap();

    stop.send(()).unwrap();
    // Not ready from the signal on, while still serving: on the connection already open, whose
    // answer then closes it so that its client reconnects elsewhere, and on a new one.
    let mut probe = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut unready = None;
    for _ in 0..100 {
        let (head, body) = exchange(&mut probe, ready).await;
        if head.starts_with("http/1.1 503") {
            unready = Some(body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let unready: serde_json::Value =
        serde_json::from_str(&unready.expect("/ready stayed 200 after the signal")).unwrap();
    assert_eq!(unready["reason"], "shutting down", "{unready}");
    let (head, _) = exchange(&mut keep_alive, &track("during")).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    let mut rest = Vec::new();
    let closed = timeout(Duration::from_secs(5), keep_alive.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the answer's connection stayed open");
    let mut fresh = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (head, _) = exchange(&mut fresh, &track("late")).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");

    // After the delay the listener closes, and the stalled request is cut at the drain deadline
    // instead of holding the shutdown for its idle timeout.
    timeout(Duration::from_secs(30), server)
        .await
        .expect("the stalled request held the shutdown past its drain deadline")
        .unwrap()
        .unwrap();
    let mut answer = Vec::new();
    let _ = timeout(Duration::from_secs(5), stalled.read_to_end(&mut answer))
        .await
        .expect("the stalled connection is still open");
    assert!(
        !String::from_utf8_lossy(&answer).contains(" 200 "),
        "a request that never arrived whole was acknowledged"
    );
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    let stored: Vec<String> = sink
        .events()
        .iter()
        .map(|r| {
            serde_json::from_slice::<serde_json::Value>(&r.payload).unwrap()["messageId"]
                .to_string()
        })
        .collect();
    assert_eq!(stored, [r#""before""#, r#""during""#, r#""late""#]);
}
