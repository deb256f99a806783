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

#[tokio::test]
async fn requests_past_the_memory_budget_wait_unread_until_others_finish() {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = common::config();
    config.max_request_memory_bytes = 4 * 1024 * 1024;
    let sink = Arc::new(MemorySink::new());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_with_sink(config, sink.clone(), listener, async {
        let _ = stopped.await;
    }));

    // Each of these declares a 400 000-byte gzip body and sends none of it: it holds 400 000 bytes
    // for the body and twice 500 000 for what that may decode to, 1.4 MB. Three of them are more
    // than 4 MiB, so the third waits.
    let head = format!(
        "POST /v1/batch HTTP/1.1\r\nhost: {addr}\r\nauthorization: {}\r\ncontent-encoding: gzip\r\ncontent-length: 400000\r\n\r\n",
        footfall_protocol::auth::basic_authorization(common::KEY),
    );
    let mut holders = Vec::new();
    for _ in 0..3 {
        let mut holder = tokio::net::TcpStream::connect(addr).await.unwrap();
        holder.write_all(head.as_bytes()).await.unwrap();
        holders.push(holder);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // A small batch queues behind the waiting one rather than passing it, so that large requests
    // are not starved by a stream of small ones.
    let url = format!("http://{addr}/v1/batch");
    let small = tokio::spawn(async move {
        let body =
            r#"{"batch":[{"type":"track","event":"Small","userId":"u","messageId":"m-small"}]}"#;
        post(&client(), &url, body, false).await
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        !small.is_finished(),
        "a request was served while the memory budget was spent"
    );
    assert!(sink.events().is_empty());

    // The first holder's client goes away: its request ends and gives its memory back.
    drop(holders.remove(0));
    let (status, answer) = tokio::time::timeout(std::time::Duration::from_secs(10), small)
        .await
        .expect("the waiting requests were not let in once memory was given back")
        .unwrap();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(sink.events().len(), 1);

    let metrics = client()
        .get(format!("http://{addr}/metrics").parse().unwrap())
        .await
        .unwrap()
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes();
    let metrics = String::from_utf8_lossy(&metrics);
    let waits: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("footfall_collector_request_memory_waits_total "))
        .expect("the waits counter is exported")
        .parse()
        .unwrap();
    assert!(waits >= 2.0, "{metrics}");

    drop(holders);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
