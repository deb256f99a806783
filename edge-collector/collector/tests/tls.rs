//! HTTPS and HTTP/2: the real server on 127.0.0.1:0 with a self-signed certificate, spoken to by
//! reqwest (rustls), as a browser or a mobile SDK would.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use footfall_collector::config::TlsFiles;
use footfall_collector::{serve_state, AppState, Config, MemorySink};
use reqwest::{Certificate, Client, Version};

const HOST: &str = "collector.test";
const TRACK: &str = r#"{"type":"track","event":"Signed Up","userId":"u1","messageId":"m1"}"#;

fn self_signed() -> rcgen::CertifiedKey {
    rcgen::generate_simple_self_signed(vec![HOST.to_owned()]).unwrap()
}

/// Writes `generated` where `files` say.
fn install(files: &TlsFiles, generated: &rcgen::CertifiedKey) {
    std::fs::write(&files.cert, generated.cert.pem()).unwrap();
    std::fs::write(&files.key, generated.key_pair.serialize_pem()).unwrap();
}

struct Running {
    addr: SocketAddr,
    state: AppState,
    config: Config,
    sink: Arc<MemorySink>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<Result<(), footfall_collector::Error>>,
}

impl Running {
    async fn start(config: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sink = Arc::new(MemorySink::new());
        let state = AppState::new(&config, sink.clone()).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_state(state.clone(), listener, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            state,
            config,
            sink,
            stop: Some(stop),
            server,
        }
    }

    fn https(&self, path: &str) -> String {
        format!("https://{HOST}:{}{path}", self.addr.port())
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.server.await.unwrap().unwrap();
    }
}

/// A collector serving HTTPS with a fresh self-signed certificate, written to files in its own
/// directory (kept as long as the first value lives).
async fn serving_https() -> (tempfile::TempDir, TlsFiles, rcgen::CertifiedKey, Running) {
    let dir = tempfile::tempdir().unwrap();
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    let generated = self_signed();
    install(&files, &generated);
    let mut config = common::config();
    config.tls = Some(files.clone());
    let running = Running::start(config).await;
    (dir, files, generated, running)
}

/// A client that trusts only `trusted` and finds the collector at `addr` under [`HOST`]; a new one
/// per use, so that each request makes its own connection and handshake.
fn client(trusted: &rcgen::CertifiedKey, addr: SocketAddr) -> reqwest::ClientBuilder {
    Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(Certificate::from_pem(trusted.cert.pem().as_bytes()).unwrap())
        .resolve(HOST, addr)
        .timeout(Duration::from_secs(10))
}

async fn track(client: &Client, url: &str) -> reqwest::Result<(u16, Version)> {
    let response = client
        .post(url)
        .header(
            "authorization",
            footfall_protocol::auth::basic_authorization(common::KEY),
        )
        .body(TRACK)
        .send()
        .await?;
    Ok((response.status().as_u16(), response.version()))
}

#[tokio::test]
async fn https_serves_http2_and_http1_and_the_events_are_stored() {
    let (_dir, _files, generated, running) = serving_https().await;

    let h2 = client(&generated, running.addr).build().unwrap();
    let (status, version) = track(&h2, &running.https("/v1/track")).await.unwrap();
    assert_eq!((status, version), (200, Version::HTTP_2), "ALPN picks h2");

    let h1 = client(&generated, running.addr)
        .http1_only()
        .build()
        .unwrap();
    let (status, version) = track(&h1, &running.https("/v1/track")).await.unwrap();
    assert_eq!((status, version), (200, Version::HTTP_11));
    assert_eq!(running.sink.events().len(), 2);

    // The client's address still reaches enrichment through the TLS listener.
    let stored = common::events(&running.sink);
    assert_eq!(stored[0]["context"]["ip"], "127.0.0.1", "{}", stored[0]);

    // Plain HTTP on the HTTPS port is a failed handshake, counted, and not a request.
    let plain = Client::new();
    let url = format!("http://{}/v1/track", running.addr);
    assert!(plain.post(&url).body(TRACK).send().await.is_err());
    let metrics = h1
        .get(running.https("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"footfall_collector_tls_handshakes_failed_total{reason="failed"}"#),
        "{metrics}"
    );
    assert_eq!(running.sink.events().len(), 2);
    running.stop().await;
}

#[tokio::test]
async fn a_client_that_never_finishes_its_handshake_holds_up_nobody() {
    let (_dir, _files, generated, running) = serving_https().await;

    // Connected and silent: a handshake done in the accept loop would keep everyone else waiting
    // until it timed out (10 s).
    let _silent = tokio::net::TcpStream::connect(running.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let client = client(&generated, running.addr).build().unwrap();
    let answered = tokio::time::timeout(
        Duration::from_secs(5),
        track(&client, &running.https("/v1/track")),
    )
    .await
    .expect("answered while another connection's handshake is pending");
    assert_eq!(answered.unwrap().0, 200);
    running.stop().await;
}

#[tokio::test]
async fn a_renewed_certificate_is_served_after_a_reload_and_a_broken_one_is_refused() {
    let (_dir, files, first, running) = serving_https().await;
    let url = running.https("/v1/track");
    let trusting_first = || client(&first, running.addr).build().unwrap();
    assert_eq!(track(&trusting_first(), &url).await.unwrap().0, 200);

    // Renewed in place, as certbot does; new connections get the new certificate.
    let renewed = self_signed();
    install(&files, &renewed);
    let reloaded = running.state.reload(&running.config).unwrap();
    assert!(reloaded.certificate_reread);
    assert!(reloaded.need_restart.is_empty(), "{reloaded:?}");
    let trusting_renewed = client(&renewed, running.addr).build().unwrap();
    assert_eq!(track(&trusting_renewed, &url).await.unwrap().0, 200);
    assert!(
        track(&trusting_first(), &url).await.is_err(),
        "the old certificate is still served"
    );

    // A key that does not match is refused as a whole; the renewed certificate stays.
    std::fs::write(&files.key, self_signed().key_pair.serialize_pem()).unwrap();
    let error = running.state.reload(&running.config).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("does not belong to the certificate"),
        "{error}"
    );
    let fresh = client(&renewed, running.addr).build().unwrap();
    assert_eq!(track(&fresh, &url).await.unwrap().0, 200);

    // Turning HTTPS off needs a restart: reported, and the certificate stays in force.
    let mut plain = running.config.clone();
    plain.tls = None;
    let reloaded = running.state.reload(&plain).unwrap();
    assert_eq!(reloaded.need_restart, vec!["tls"]);
    assert_eq!(running.state.config().tls, Some(files.clone()));
    running.stop().await;
}

#[tokio::test]
async fn the_plain_port_speaks_http2_with_prior_knowledge() {
    let running = Running::start(common::config()).await;
    let h2c = Client::builder().http2_prior_knowledge().build().unwrap();
    let url = format!("http://{}/v1/track", running.addr);
    let (status, version) = track(&h2c, &url).await.unwrap();
    assert_eq!((status, version), (200, Version::HTTP_2));
    assert_eq!(running.sink.events().len(), 1);
    running.stop().await;
}
