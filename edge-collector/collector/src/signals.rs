//! The signals that stop a collector, for its binary and for `footfall serve`.

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Ends the process at the next SIGTERM or Ctrl-C: spawned once shutdown began, so that a second
/// signal exits at once, as an operator who repeats it means. Every event already acknowledged is
/// durable, and the requests cut short were not answered, so their clients send them again.
pub async fn exit_on_next_signal() {
    shutdown_signal().await;
    tracing::warn!("a second signal: exiting now, without waiting for the requests in flight");
    std::process::exit(130);
}
