//! The accept loop: hyper's connections, with the limits a collector facing the internet needs, which
//! `axum::serve` does not set.
//!
//! - **Idle and slow clients.** A connection that does not send a request's headers within
//!   [`ConnectionLimits::idle_timeout`] is closed. That covers a client sending its headers a byte at a
//!   time (slowloris) and a keep-alive connection left idle. The default, 75 s, is longer than the 60 s
//!   idle timeout of common load balancers: the balancer must be the one to close an idle connection,
//!   or it may send a request on a connection the collector is closing, and answer its client 502.
//!   HTTP/2 connections are pinged at that interval, so that a peer that vanished is noticed.
//! - **Open connections.** At most [`ConnectionLimits::max_connections`] at once. Past it, the collector
//!   stops accepting until one closes (new clients wait in the kernel's backlog), instead of running
//!   out of file descriptors, which the event log needs to open its segments.
//!   `footfall_collector_open_connections` shows how many are open, per listener.
//!
//! Shutting down stops accepting, gives connections accepted in the last moment half a second to send
//! their first request, and lets every connection finish the request it is serving, as
//! `axum::serve`'s graceful shutdown does, for at most [`ConnectionLimits::drain_timeout`]. Past it
//! the connections still open are closed: their requests were not answered, so their clients send
//! them again (to another collector), and nothing they sent was acknowledged. Without the deadline a
//! client trickling a body would hold the shutdown for up to the idle timeout, longer than an
//! orchestrator waits before it kills the process (30 s on Kubernetes).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::extract::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::sync::Semaphore;
use tower::Service as _;

/// The limits of [`serve_connections`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// How long a connection may wait for the next request's headers, idle time included.
    pub idle_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
    /// How long shutting down waits for the requests in flight before it closes their connections.
    pub drain_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(75),
            max_connections: 10_000,
            drain_timeout: Duration::from_secs(20),
        }
    }
}

/// How long connections have, once the listener is closed, to send a first request before the
/// connections without a request in progress are closed.
const FIRST_REQUEST_GRACE: Duration = Duration::from_millis(500);

/// Serves `router` on the connections `listener` accepts until `shutdown` resolves, then lets the
/// requests in flight finish, for at most `limits.drain_timeout`. `name` labels the open-connections
/// gauge (`listener="collector"`), so that a process serving two ports (`footfall serve`: the
/// collector's and the query API's) shows each.
pub async fn serve_connections<L, F>(
    mut listener: L,
    name: &'static str,
    router: Router,
    limits: ConnectionLimits,
    shutdown: F,
) where
    L: axum::serve::Listener<Addr = SocketAddr>,
    F: Future<Output = ()> + Send,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.idle_timeout);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    // Closes the connections still open at the drain deadline; dropping one closes its socket.
    let (close_all, closing) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        // A free slot first, so that a full collector leaves new connections in the backlog.
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let router = router.clone();
        // What `into_make_service_with_connect_info` gives each request: the client's address.
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().call(request)
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(io), service)
            .into_owned();
        let connection = graceful.watch(connection);
        crate::metrics::connection_opened(name);
        let mut closing = closing.clone();
        tokio::spawn(async move {
            tokio::select! {
                served = connection => {
                    if let Err(error) = served {
                        // Timeouts, resets and malformed requests: the client's doing, not the
                        // collector's.
                        tracing::debug!(%peer, %error, "connection closed with an error");
                    }
                }
                _ = closing.wait_for(|closing| *closing) => {
                    tracing::debug!(%peer, "connection closed at the shutdown's drain deadline");
                }
            }
            crate::metrics::connection_closed(name);
            drop(slot);
        });
    }
    drop(listener);
    let drain = async {
        // hyper closes a connection that has not sent its first request yet at once, and the client
        // of one accepted in the last moment finds it closed under its request. Such clients get a
        // short grace to send it, as Go's server gives new connections.
        tokio::time::sleep(FIRST_REQUEST_GRACE).await;
        graceful.shutdown().await;
    };
    if tokio::time::timeout(limits.drain_timeout, drain)
        .await
        .is_err()
    {
        let open = limits.max_connections - slots.available_permits();
        tracing::warn!(
            listener = name,
            open_connections = open,
            drain_timeout_secs = limits.drain_timeout.as_secs_f64(),
            "requests still in flight at the drain deadline: closing their connections; \
             nothing they sent was acknowledged, so their clients will send it again"
        );
        let _ = close_all.send(true);
        // Each task closes its connection and frees its slot; wait for that, briefly, so that the
        // caller's next step (closing the sink) comes after the last of them.
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            slots.acquire_many(u32::try_from(limits.max_connections).unwrap_or(u32::MAX)),
        )
        .await;
    }
}

#[cfg(test)]
mod tests;
