use std::time::Duration;

use axum::routing::get;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::*;

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: collector\r\n\r\n";

/// A router that answers with the client's address, served with `limits` until the guard drops.
async fn start(limits: ConnectionLimits) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    start_named("test", limits).await
}

async fn start_named(
    name: &'static str,
    limits: ConnectionLimits,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let router = Router::new().route(
        "/",
        get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_connections(listener, name, router, limits, async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// Reads until the server closes the connection (or resets it), and returns what came.
async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let _ = stream.read_to_end(&mut received).await;
    received
}

#[tokio::test]
async fn each_request_knows_its_clients_address() {
    let (addr, _stop) = start(ConnectionLimits::default()).await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    let own = client.local_addr().unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: c\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = String::from_utf8(read_to_close(&mut client).await).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with(&own.to_string()), "{answer}");
}

#[tokio::test]
async fn a_client_that_sends_half_its_headers_or_goes_idle_is_disconnected() {
    let limits = ConnectionLimits {
        idle_timeout: Duration::from_millis(300),
        ..ConnectionLimits::default()
    };
    let (addr, _stop) = start(limits).await;

    // Slowloris: the request line and one header, then nothing.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"POST /v1/track HTTP/1.1\r\nHost: c\r\n")
        .await
        .unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(10), read_to_close(&mut slow)).await;
    assert!(closed.is_ok(), "a half-sent request kept its connection");

    // Idle keep-alive: answered, then closed once idle.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(GET).await.unwrap();
    let received = tokio::time::timeout(Duration::from_secs(10), read_to_close(&mut idle))
        .await
        .expect("an idle keep-alive connection stayed open");
    assert!(received.starts_with(b"HTTP/1.1 200"));
}

#[tokio::test]
async fn past_max_connections_a_new_client_waits_for_a_free_slot() {
    let limits = ConnectionLimits {
        max_connections: 1,
        ..ConnectionLimits::default()
    };
    let (addr, _stop) = start(limits).await;
    let mut first = TcpStream::connect(addr).await.unwrap();
    first.write_all(GET).await.unwrap();
    let mut answer = [0u8; 12];
    first.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");

    // The first connection stays open, so the second waits in the backlog, unanswered.
    let mut second = TcpStream::connect(addr).await.unwrap();
    second.write_all(GET).await.unwrap();
    let early = tokio::time::timeout(Duration::from_millis(300), second.read(&mut answer)).await;
    assert!(early.is_err(), "answered past max_connections");

    drop(first);
    tokio::time::timeout(Duration::from_secs(10), second.read_exact(&mut answer))
        .await
        .expect("the second client was not served once the first left")
        .unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");
}

#[tokio::test]
async fn open_connections_are_counted_per_listener() {
    let metrics = crate::metrics::handle();
    let open = || {
        let text = metrics.render();
        text.lines()
            .find_map(|l| {
                l.strip_prefix(r#"footfall_collector_open_connections{listener="counted"} "#)
            })
            .map_or(0.0, |v| v.parse::<f64>().unwrap())
    };
    let settled = |want: f64| async move {
        for _ in 0..200 {
            if open() == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("open connections stayed at {}, not {want}", open());
    };
    let (addr, _stop) = start_named("counted", ConnectionLimits::default()).await;
    let first = TcpStream::connect(addr).await.unwrap();
    let second = TcpStream::connect(addr).await.unwrap();
    settled(2.0).await;
    drop(first);
    settled(1.0).await;
    drop(second);
    settled(0.0).await;
}

#[tokio::test]
async fn a_connection_accepted_just_before_shutdown_still_gets_its_first_request_answered() {
    let (addr, stop) = start(ConnectionLimits::default()).await;
    let mut late = TcpStream::connect(addr).await.unwrap();
    // Accepted, with no byte of its request sent yet, when the shutdown begins.
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    late.write_all(b"GET / HTTP/1.1\r\nHost: c\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(10), read_to_close(&mut late))
        .await
        .expect("the connection was neither answered nor closed");
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "closed under its first request: {:?}",
        String::from_utf8_lossy(&answer)
    );
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "still accepting after the shutdown began"
    );
}
