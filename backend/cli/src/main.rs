//! `footfall`: the whole pipeline in one binary.
//!
//! * `footfall demo`: synthetic journeys through the SDK engine over HTTP, then a funnel and a
//!   retention table (the README's first command).
//! * `footfall serve`: collector, processor and query API on the embedded store.
//! * `footfall query trends|funnel|retention|timeline|sessions`, `footfall dead-letters
//!   list|show|replay`, `footfall reprocess --from --to`.

mod bench;
mod config;
mod demo;
mod http;
mod print;
mod query;
mod serve;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

// As in footfall-collector: the collector, the processor and the API allocate per request and per
// record on many threads, which mimalloc's per-thread heaps serve far cheaper than glibc malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Footfall: customer-journey analytics, Segment-compatible, in one binary.
#[derive(Debug, Parser)]
#[command(name = "footfall", version)]
struct Cli {
    /// Log filter (tracing env-filter syntax).
    #[arg(long, env = "FOOTFALL_LOG", default_value = "info", global = true)]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the collector, the processor and the query API on the embedded store.
    Serve(config::ServeFlags),
    /// Feed synthetic journeys through the SDK engine and print a funnel and a retention table.
    Demo {
        /// Visitors to simulate.
        #[arg(long, default_value_t = 300)]
        visitors: usize,
        /// Random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Keep the data here (default: a temporary directory, deleted afterwards).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Run a query.
    Query {
        #[command(flatten)]
        target: query::Target,
        #[command(subcommand)]
        command: query::QueryCommand,
    },
    /// List, show and replay dead letters.
    DeadLetters {
        #[command(flatten)]
        target: query::Target,
        #[command(subcommand)]
        command: query::DeadLetterCommand,
    },
    /// Measure freshness or processor throughput (build with --release).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Re-read the events log for a time range and store it again (stop `serve` first).
    Reprocess {
        /// The data directory.
        #[arg(long, env = "FOOTFALL_DATA_DIR")]
        data_dir: PathBuf,
        /// The project.
        #[arg(long)]
        project: String,
        /// Start (Unix ms or RFC 3339).
        #[arg(long)]
        from: String,
        /// End (exclusive).
        #[arg(long)]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Accepted → queryable latency through `footfall serve`, one event at a time.
    Freshness {
        /// Events to time.
        #[arg(long, default_value_t = 200)]
        events: usize,
        /// Store in ClickHouse at this URL instead of DuckDB.
        #[arg(long)]
        clickhouse_url: Option<String>,
        /// Carry the events through Kafka (these brokers) instead of the embedded log.
        #[arg(long = "kafka-broker", value_delimiter = ',')]
        kafka_brokers: Vec<String>,
    },
    /// A 3-step funnel over a generated dataset (generated inside the store once, then kept).
    Funnel {
        /// Events in the dataset.
        #[arg(long, default_value_t = 10_000_000)]
        events: u64,
        /// Timed runs (the median is reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Where the DuckDB file is kept (default: a directory under the system's temp dir).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Use ClickHouse at this URL instead of DuckDB.
        #[arg(long)]
        clickhouse_url: Option<String>,
    },
    /// Records per second from the log into a store.
    Processor {
        /// Records to process.
        #[arg(long, default_value_t = 200_000)]
        events: usize,
        /// Persons the records are spread over (fewer persons, longer histories: each batch
        /// re-sessionizes every person it touches from all of their events).
        #[arg(long, default_value_t = 1000)]
        persons: usize,
        /// Days the records' event times spread over, in order (a live stream's history).
        #[arg(long, default_value_t = 1)]
        days: u32,
        /// Use ClickHouse at this URL instead of DuckDB.
        #[arg(long)]
        clickhouse_url: Option<String>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cli.log)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve(flags) => {
            let load = move || {
                let file = flags
                    .config
                    .as_deref()
                    .map(config::read_file)
                    .transpose()?
                    .unwrap_or_default();
                config::merge(file, flags.clone())
            };
            let config = load()?;
            runtime()?.block_on(async {
                use tokio::signal::unix::{signal, SignalKind};
                // Installed before the servers answer, so that no signal meant for them finds the
                // default action (ending the process at once).
                let terminate = signal(SignalKind::terminate())?;
                let hangup = signal(SignalKind::hangup())?;
                let running = serve::start(config).await?;
                serve_until_stopped(&running, load, terminate, hangup).await?;
                tracing::info!("shutting down: finishing requests in flight");
                tokio::spawn(footfall_collector::signals::exit_on_next_signal());
                running.shutdown().await;
                Ok(())
            })
        }
        Command::Demo {
            visitors,
            seed,
            data_dir,
            quiet,
        } => {
            let temp = std::env::temp_dir().join(format!("footfall-demo-{}", std::process::id()));
            let dir = data_dir.clone().unwrap_or_else(|| temp.clone());
            let config = config::ServeConfig::embedded(dir)?;
            let result = runtime()?.block_on(demo::run(
                config,
                demo::DemoOptions {
                    visitors,
                    seed,
                    quiet,
                },
            ));
            if data_dir.is_none() {
                let _ = std::fs::remove_dir_all(&temp);
            }
            result
        }
        Command::Query { target, command } => query::query(&target, command),
        Command::DeadLetters { target, command } => query::dead_letters(&target, command),
        Command::Bench {
            command:
                BenchCommand::Freshness {
                    events,
                    clickhouse_url,
                    kafka_brokers,
                },
        } => {
            let temp =
                std::env::temp_dir().join(format!("footfall-bench-serve-{}", std::process::id()));
            let mut config = config::ServeConfig::embedded(temp.clone())?;
            let run_id = std::process::id();
            if let Some(url) = clickhouse_url {
                config.store = config::StoreConfig::ClickHouse {
                    url,
                    database: format!("footfall_bench_fresh_{run_id}"),
                };
            }
            if !kafka_brokers.is_empty() {
                // Fresh topics, so the consumer group starts at this run's events.
                config.transport = config::Transport::Kafka {
                    brokers: kafka_brokers,
                    events_topic: format!("footfall.bench.{run_id}.events"),
                    dead_letter_topic: format!("footfall.bench.{run_id}.dead-letters"),
                };
            }
            let result = runtime()?.block_on(bench::freshness(config, events));
            let _ = std::fs::remove_dir_all(&temp);
            result
        }
        Command::Bench {
            command:
                BenchCommand::Funnel {
                    events,
                    runs,
                    data_dir,
                    clickhouse_url,
                },
        } => bench::funnel(events, runs, data_dir.as_deref(), clickhouse_url.as_deref()),
        Command::Bench {
            command:
                BenchCommand::Processor {
                    events,
                    persons,
                    days,
                    clickhouse_url,
                },
        } => bench::processor(events, persons, days, clickhouse_url.as_deref()),
        Command::Reprocess {
            data_dir,
            project,
            from,
            to,
        } => query::reprocess(&data_dir, &project, &from, &to),
    }
}

/// Waits for Ctrl-C or SIGTERM; on each SIGHUP, reloads the collector's write keys and settings from
/// the configuration `load` reads again (the files; flags and variables keep their values from the
/// start).
async fn serve_until_stopped(
    running: &serve::Running,
    load: impl Fn() -> anyhow::Result<config::ServeConfig> + Clone + Send + 'static,
    mut terminate: tokio::signal::unix::Signal,
    mut hangup: tokio::signal::unix::Signal,
) -> anyhow::Result<()> {
    loop {
        tokio::select! {
            stopped = tokio::signal::ctrl_c() => return Ok(stopped?),
            _ = terminate.recv() => return Ok(()),
            _ = hangup.recv() => {
                let Some(collector) = running.collector_state() else {
                    tracing::warn!("SIGHUP: the collector does not run in this process; nothing to reload");
                    continue;
                };
                let load = load.clone();
                // Reading the file blocks; the outcome is logged and counted by the reload.
                let _ = tokio::task::spawn_blocking(move || serve::reload(&collector, load)).await;
            }
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
