//! HTTPS on the collector's own port, for a deployment without a reverse proxy in front: a page
//! served over HTTPS may not post to plain `http://` (browsers block it as mixed content), so the
//! web SDK needs this or a proxy.
//!
//! - The certificate chain and key are PEM files ([`crate::config::TlsFiles`]). They are read at
//!   start, by `--check-config`, and again on every `SIGHUP`, so a renewed certificate (certbot,
//!   cert-manager) is served without a restart: [`ServerCert`] is the rustls resolver whose
//!   certificate a reload swaps. Connections already open keep the one they were made with.
//! - ALPN offers `h2` and `http/1.1`; the plain port serves HTTP/1.1 and HTTP/2 with prior
//!   knowledge (h2c), as a load balancer's connection to its backends may use.
//! - The certificate's expiry is on `/metrics`
//!   (`footfall_collector_tls_certificate_expiry_timestamp_seconds`, for an alert well before it), in
//!   `--check-config`'s report, and in the log whenever a certificate is put in force: a warning
//!   within [`EXPIRY_WARNING`] of it, an error once it has passed.
//! - [`TlsListener`] runs handshakes concurrently, each limited to [`HANDSHAKE_TIMEOUT`], so a client
//!   that connects and stays silent holds up nobody else; at most [`MAX_PENDING_HANDSHAKES`] at
//!   once. A failed handshake is counted (`footfall_collector_tls_handshakes_failed_total`) and logged
//!   at debug level: scanners make many.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use time::OffsetDateTime;
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;
use crate::Error;

/// How long a client has to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress at once; past it, new connections wait in the kernel's backlog. Finished
/// connections count against `max_connections`; these are the ones not finished yet, which a flood
/// of silent clients would otherwise multiply.
pub const MAX_PENDING_HANDSHAKES: usize = 1024;

/// How long before its expiry a certificate put in force is logged as a warning.
pub const EXPIRY_WARNING: Duration = Duration::from_secs(14 * 24 * 3600);

/// Whom a certificate names and until when it is valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// The subject's distinguished name, such as `CN=collect.example.com`.
    pub subject: String,
    /// The end of its validity.
    pub not_after: OffsetDateTime,
}

impl CertificateInfo {
    /// The leaf certificate's, or `None` if it cannot be parsed (rustls checks it at the handshake).
    pub fn of(key: &CertifiedKey) -> Option<Self> {
        let (_, leaf) = x509_parser::parse_x509_certificate(key.cert.first()?.as_ref()).ok()?;
        Some(Self {
            subject: leaf.subject().to_string(),
            not_after: OffsetDateTime::from_unix_timestamp(leaf.validity().not_after.timestamp())
                .ok()?,
        })
    }

    /// The end of its validity, in RFC 3339.
    pub fn expires(&self) -> String {
        footfall_protocol::format_rfc3339_millis(self.not_after.unix_timestamp() * 1000)
    }

    /// Publishes the expiry on `/metrics` and logs the certificate put in force.
    fn announce(&self) {
        crate::metrics::tls_certificate_expiry(self.not_after.unix_timestamp());
        let expires = self.expires();
        let left = self.not_after - OffsetDateTime::now_utc();
        if left.is_negative() {
            tracing::error!(subject = %self.subject, %expires,
                "the TLS certificate has expired: clients refuse it; renew it and reload (SIGHUP)");
        } else if left < EXPIRY_WARNING {
            tracing::warn!(subject = %self.subject, %expires, days_left = left.whole_days(),
                "the TLS certificate expires soon; renew it and reload (SIGHUP)");
        } else {
            tracing::info!(subject = %self.subject, %expires, "TLS certificate in force");
        }
    }
}

fn announce(key: &CertifiedKey) {
    match CertificateInfo::of(key) {
        Some(info) => info.announce(),
        None => tracing::warn!("the TLS certificate's expiry cannot be read"),
    }
}

/// The certificate the collector presents, replaced in place by a reload.
#[derive(Debug)]
pub struct ServerCert {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ServerCert {
    /// Reads the chain and key `files` names.
    pub fn load(files: &TlsFiles) -> Result<Self, Error> {
        let key = read_certified_key(files)?;
        announce(&key);
        Ok(Self {
            current: RwLock::new(Arc::new(key)),
        })
    }

    /// Presents `key` from the next handshake on.
    pub fn replace(&self, key: CertifiedKey) {
        announce(&key);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(key);
    }

    /// Whom the certificate in force names, and until when.
    pub fn info(&self) -> Option<CertificateInfo> {
        CertificateInfo::of(&self.get())
    }

    fn get(&self) -> Arc<CertifiedKey> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }
}

impl ResolvesServerCert for ServerCert {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads a PEM certificate chain (leaf first) and its private key (PKCS#8, PKCS#1 or SEC1), and
/// checks that they belong together. Each error names the file and what is wrong with it.
pub fn read_certified_key(files: &TlsFiles) -> Result<CertifiedKey, Error> {
    let invalid =
        |path: &Path, why: String| Error::Startup(format!("TLS: {}: {why}", path.display()));
    let read =
        |path: &Path| std::fs::read(path).map_err(|e| invalid(path, format!("cannot read: {e}")));

    let chain_pem = read(&files.cert)?;
    let chain = CertificateDer::pem_slice_iter(&chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(&files.cert, format!("not a PEM certificate chain: {e}")))?;
    if chain.is_empty() {
        return Err(invalid(
            &files.cert,
            "no certificate in it (expected -----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    let key_pem = read(&files.key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        invalid(
            &files.key,
            format!("no PEM private key in it (PKCS#8, PKCS#1 or SEC1): {e}"),
        )
    })?;
    let signing_key = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| invalid(&files.key, format!("unusable private key: {e}")))?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(invalid(
                &files.key,
                format!(
                    "this key does not belong to the certificate in {}",
                    files.cert.display()
                ),
            ))
        }
        // `Unknown`: the key cannot tell its public half; the handshake will.
        _ => Ok(certified),
    }
}

/// The rustls server configuration over `cert`: TLS 1.2 and 1.3, ALPN `h2` then `http/1.1`.
pub fn server_config(cert: Arc<ServerCert>) -> Result<Arc<ServerConfig>, Error> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Startup(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_cert_resolver(cert);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A listener that hands axum connections whose TLS handshake is done (see the [module docs](self)).
///
/// It takes its TCP connections from another listener (the collector's, with Nagle off), which also
/// handles failed accepts as axum does.
pub struct TlsListener<L> {
    tcp: L,
    acceptor: TlsAcceptor,
    handshakes: JoinSet<(Result<TlsStream<TcpStream>, HandshakeFailure>, SocketAddr)>,
}

enum HandshakeFailure {
    TimedOut,
    Failed(io::Error),
}

impl HandshakeFailure {
    fn label(&self) -> &'static str {
        match self {
            HandshakeFailure::TimedOut => "timed_out",
            HandshakeFailure::Failed(_) => "failed",
        }
    }
}

impl<L> TlsListener<L>
where
    L: axum::serve::Listener<Io = TcpStream, Addr = SocketAddr>,
{
    /// Serves TLS with `config` on the connections `tcp` accepts.
    pub fn new(tcp: L, config: Arc<ServerConfig>) -> Self {
        Self {
            tcp,
            acceptor: TlsAcceptor::from(config),
            handshakes: JoinSet::new(),
        }
    }

    fn start_handshake(&mut self, tcp: TcpStream, peer: SocketAddr) {
        let acceptor = self.acceptor.clone();
        self.handshakes.spawn(async move {
            let outcome = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
            {
                Ok(Ok(stream)) => Ok(stream),
                Ok(Err(error)) => Err(HandshakeFailure::Failed(error)),
                Err(_) => Err(HandshakeFailure::TimedOut),
            };
            (outcome, peer)
        });
    }
}

impl<L> axum::serve::Listener for TlsListener<L>
where
    L: axum::serve::Listener<Io = TcpStream, Addr = SocketAddr>,
{
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    // Both branches are cancel-safe: a connection accepted from the socket is owned by the join set
    // before the next await, so a dropped `accept` (graceful shutdown) loses none.
    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            tokio::select! {
                (tcp, peer) = self.tcp.accept(), if self.handshakes.len() < MAX_PENDING_HANDSHAKES => {
                    self.start_handshake(tcp, peer);
                }
                Some(done) = self.handshakes.join_next(), if !self.handshakes.is_empty() => {
                    match done {
                        Ok((Ok(stream), peer)) => return (stream, peer),
                        Ok((Err(failure), peer)) => {
                            crate::metrics::tls_handshake_failed(failure.label());
                            match failure {
                                HandshakeFailure::TimedOut => {
                                    tracing::debug!(%peer, "TLS handshake timed out");
                                }
                                HandshakeFailure::Failed(error) => {
                                    tracing::debug!(%peer, %error, "TLS handshake failed");
                                }
                            }
                        }
                        Err(error) => tracing::warn!(%error, "TLS handshake task ended abnormally"),
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

#[cfg(test)]
mod tests;
