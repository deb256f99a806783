//! The `footfall-collector` binary: loads the configuration, sets up logging, binds and serves.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use footfall_collector::signals::{exit_on_next_signal, shutdown_signal};
use footfall_collector::{
    open_sink, reload_on_hangup, serve_state, AppState, Args, Config, LogFormat, SINK_CLOSE_TIMEOUT,
};
use tracing_subscriber::EnvFilter;

// Every request allocates (parsed ids, enriched records, producer buffers) and frees on another
// thread; mimalloc's per-thread heaps do that for a fraction of glibc malloc's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit status for a configuration the collector refuses (clap uses 2 for a bad flag, too).
const INVALID_CONFIGURATION: u8 = 2;

/// Errors end as one line on stderr with their causes, not anyhow's report, which would add a
/// backtrace wherever `RUST_BACKTRACE` is set.
fn main() -> ExitCode {
    let args = Args::parse();
    let check_only = args.check_config;
    let config = match Config::load(args.clone()) {
        Ok(config) => config,
        Err(error) => return refuse(error),
    };
    if check_only {
        return match footfall_collector::check(&config) {
            Ok(report) => {
                // A reader that stops early (`| head`) is not an error.
                match write!(std::io::stdout().lock(), "{report}") {
                    Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
                        eprintln!("footfall-collector: cannot print the settings: {error}");
                        ExitCode::FAILURE
                    }
                    _ => ExitCode::SUCCESS,
                }
            }
            Err(error) => refuse(error),
        };
    }
    match run(config, args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("footfall-collector: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn refuse(error: impl std::fmt::Display) -> ExitCode {
    eprintln!("footfall-collector: invalid configuration: {error}");
    ExitCode::from(INVALID_CONFIGURATION)
}

fn run(config: Config, args: Args) -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => subscriber.json().init(),
        LogFormat::Text => subscriber.init(),
    }
    raise_open_files_limit(config.connection_limits.max_connections);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.worker_threads.get())
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        tracing::info!(
            addr = %listener.local_addr()?,
            sink = ?config.sink,
            https = config.tls.is_some(),
            worker_threads = config.worker_threads,
            "footfall-collector listening"
        );
        let sink = open_sink(&config.sink)?;
        let state = AppState::new(&config, sink)?;
        let reloads = reload_on_hangup(state.clone(), move || Config::load(args.clone()));
        let shutdown = async {
            shutdown_signal().await;
            tokio::spawn(exit_on_next_signal());
        };
        serve_state(state.clone(), listener, shutdown).await?;
        reloads.abort();
        state.sink().close(SINK_CLOSE_TIMEOUT).await;
        tracing::info!("footfall-collector stopped");
        Ok(())
    })
}

/// Raises the soft limit on open files to the hard one: each connection and each log segment is a
/// file descriptor, and a soft limit of 1024 would refuse connections (and segments) long before
/// `max_connections`. Warns when even the hard limit is below it.
fn raise_open_files_limit(max_connections: usize) {
    #[cfg(unix)]
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < max_connections as u64 + 256 => tracing::warn!(
            open_files = limit,
            max_connections,
            "the open-files limit is below max_connections plus what the sinks need; \
             raise it (LimitNOFILE=, ulimit -n) or lower max_connections"
        ),
        Ok(limit) => tracing::debug!(open_files = limit, "open-files limit"),
        Err(error) => tracing::warn!(%error, "cannot raise the open-files limit"),
    }
}
