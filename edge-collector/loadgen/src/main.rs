//! `footfall-loadgen`: sends realistic Segment batches to a collector and reports throughput, latency
//! and the server's CPU cost per event.
//!
//! Each of `--connections` tasks keeps one HTTP/1.1 keep-alive connection and posts batches back to back
//! until `--duration` has passed or `--requests` were sent. Bodies are generated up front (a pool of
//! distinct batches of track/page/identify events, about 300 bytes each, for `--users` users), so the
//! generator spends its CPU on sending, not on JSON. With `--server-pid`, the server's user+system CPU
//! time is read from `/proc/<pid>/stat` before and after, giving events per server CPU-second.
//!
//! An `https://` URL measures the collector's TLS (`--ca-cert` names the certificate to trust): each
//! connection makes one handshake and then keeps it, as an SDK's keep-alive connection does.
//!
//! With `--rate`, each connection sends on a fixed schedule and latency counts from when a request was
//! due. A request can only be sent once its connection's previous answer is back; that wait is the
//! "send lag", reported separately so that a slow answer's knock-on delay on the next request is visible.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use bytes::Bytes;
use clap::Parser;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;

use footfall_loadgen::{first_due, Arrivals};

/// Load generator for the Footfall collector.
#[derive(Debug, Parser)]
#[command(name = "footfall-loadgen", version, about, long_about)]
struct Args {
    /// Collector base URL, e.g. http://127.0.0.1:8080, or https://localhost:8443 with --ca-cert.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// PEM certificate(s) to trust for an https:// URL (a self-signed certificate, or its CA).
    #[arg(long)]
    ca_cert: Option<std::path::PathBuf>,
    /// Write key sent in Basic auth.
    #[arg(long, default_value = "wk_load")]
    write_key: String,
    /// Concurrent keep-alive connections.
    #[arg(long, short = 'c', default_value_t = 8)]
    connections: usize,
    /// How long to run, in seconds (ignored when --requests is given).
    #[arg(long, short = 'd', default_value_t = 10)]
    duration: u64,
    /// Stop after this many requests in total.
    #[arg(long, short = 'n')]
    requests: Option<u64>,
    /// Events per batch.
    #[arg(long, default_value_t = 50)]
    batch_size: usize,
    /// Distinct users the events are spread over.
    #[arg(long, default_value_t = 10_000)]
    users: u64,
    /// Gzip the bodies (Content-Encoding: gzip).
    #[arg(long)]
    gzip: bool,
    /// Distinct pre-generated batch bodies.
    #[arg(long, default_value_t = 256)]
    pool: usize,
    /// PID of the collector, to measure its CPU time from /proc/<pid>/stat.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Pace the load at this many events per second in total instead of as fast as possible, e.g. half
    /// of the peak a first run found. Latency is then measured from when each request was due, so a
    /// stalled server is not hidden by requests that were never sent (coordinated omission).
    #[arg(long)]
    rate: Option<u64>,
    /// With --rate: `even` spreads the connections' requests across each interval, as independent
    /// clients send; `burst` fires every connection's request at the same instant.
    #[arg(long, value_enum, default_value_t = Arrivals::Even)]
    arrivals: Arrivals,
    /// Threads of the load generator's own runtime. One takes the least CPU from a server on the same
    /// machine; more keep one preempted thread from delaying every connection's requests at once.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    threads: u16,
    /// Clock ticks per second of /proc/<pid>/stat (`getconf CLK_TCK`).
    #[arg(long, default_value_t = 100)]
    clk_tck: u64,
}

fn bodies(args: &Args) -> Vec<(Bytes, usize)> {
    let mut rng = fastrand::Rng::with_seed(7);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    (0..args.pool.max(1))
        .map(|_| {
            let json = footfall_loadgen::batch_body(&mut rng, args.batch_size, args.users, now_ms);
            let raw_len = json.len();
            let body = if args.gzip {
                use std::io::Write;
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                enc.write_all(&json).expect("in memory");
                enc.finish().expect("in memory")
            } else {
                json
            };
            (Bytes::from(body), raw_len)
        })
        .collect()
}

/// A TLS client that trusts only the certificates in `ca_cert`, for the host part of `host:port`.
fn tls_connector(
    ca_cert: &std::path::Path,
    host: &str,
) -> anyhow::Result<(
    tokio_rustls::TlsConnector,
    rustls::pki_types::ServerName<'static>,
)> {
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    let pem =
        std::fs::read(ca_cert).with_context(|| format!("cannot read {}", ca_cert.display()))?;
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.with_context(|| format!("{} is not PEM", ca_cert.display()))?)?;
    }
    if roots.is_empty() {
        bail!("no certificate in {}", ca_cert.display());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = host.rsplit_once(':').map_or(host, |(name, _port)| name);
    let name = rustls::pki_types::ServerName::try_from(name.to_owned())
        .with_context(|| format!("{name} is not a host name for TLS"))?;
    Ok((tokio_rustls::TlsConnector::from(Arc::new(config)), name))
}

fn server_cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("no process {pid}"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat
        .rsplit_once(')')
        .context("unexpected /proc stat format")?
        .1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    Ok(utime + stime)
}

#[derive(Default)]
struct Outcome {
    latency: Option<Histogram<u64>>,
    /// Paced runs only: how long requests were held past their due time because the connection's
    /// previous answer had not come back yet.
    send_lag: Option<Histogram<u64>>,
    statuses: std::collections::BTreeMap<String, u64>,
    ok_requests: u64,
    ok_events: u64,
}

/// What every connection sends, and the shared stop condition.
struct Plan {
    host: String,
    /// For an https:// URL: how to make the TLS connection, and the name the certificate must have.
    tls: Option<(
        tokio_rustls::TlsConnector,
        rustls::pki_types::ServerName<'static>,
    )>,
    authorization: String,
    path: String,
    gzip: bool,
    bodies: Vec<(Bytes, usize)>,
    batch_size: usize,
    sent: AtomicU64,
    limit: Option<u64>,
    deadline: Instant,
    /// Time between two requests of one connection, when paced.
    interval: Option<std::time::Duration>,
}

/// An HTTP/1.1 client connection over `io`, its connection task running.
async fn http1_over<I>(io: I) -> anyhow::Result<http1::SendRequest<Full<Bytes>>>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

async fn worker(plan: Arc<Plan>, seed: usize, start_offset: Duration) -> anyhow::Result<Outcome> {
    let Plan {
        host,
        authorization,
        path,
        gzip,
        bodies,
        batch_size,
        ..
    } = &*plan;
    let (gzip, batch_size) = (*gzip, *batch_size);
    let shared = &plan;
    let stream = tokio::net::TcpStream::connect(host.as_str())
        .await
        .with_context(|| format!("cannot connect to {host}"))?;
    stream.set_nodelay(true)?;
    let mut sender = match &plan.tls {
        None => http1_over(stream).await?,
        Some((connector, name)) => {
            let stream = connector
                .connect(name.clone(), stream)
                .await
                .with_context(|| format!("TLS handshake with {host} failed"))?;
            http1_over(stream).await?
        }
    };
    let mut outcome = Outcome {
        latency: Some(Histogram::new_with_bounds(1, 60_000_000, 3)?),
        send_lag: Some(Histogram::new_with_bounds(1, 60_000_000, 3)?),
        ..Outcome::default()
    };
    let mut i = seed;
    let mut due = Instant::now() + start_offset;
    let mut previous_answer = None;
    loop {
        if let Some(interval) = shared.interval {
            tokio::time::sleep_until(due.into()).await;
            due += interval;
        }
        if Instant::now() >= shared.deadline {
            break;
        }
        if let Some(limit) = shared.limit {
            if shared.sent.fetch_add(1, Ordering::Relaxed) >= limit {
                break;
            }
        }
        let (body, _) = &bodies[i % bodies.len()];
        i += 1;
        let mut request = hyper::Request::post(path.as_str())
            .header("host", host.as_str())
            .header("authorization", authorization.as_str())
            .header("content-type", "application/json");
        if gzip {
            request = request.header("content-encoding", "gzip");
        }
        let request = request.body(Full::new(body.clone()))?;
        sender.ready().await?;
        let start = match shared.interval {
            Some(interval) => {
                let was_due = due - interval;
                // Only the previous answer's lateness, not the timer's millisecond rounding.
                let waited = previous_answer.map_or(Duration::ZERO, |answered: Instant| {
                    answered.saturating_duration_since(was_due)
                });
                if let Some(h) = outcome.send_lag.as_mut() {
                    h.saturating_record(waited.as_micros().max(1) as u64);
                }
                was_due
            }
            None => Instant::now(),
        };
        let response = sender.send_request(request).await?;
        let status = response.status();
        response.into_body().collect().await?;
        let answered = Instant::now();
        previous_answer = Some(answered);
        let micros = answered.duration_since(start).as_micros() as u64;
        if let Some(h) = outcome.latency.as_mut() {
            h.saturating_record(micros.max(1));
        }
        *outcome
            .statuses
            .entry(status.as_u16().to_string())
            .or_default() += 1;
        if status.is_success() {
            outcome.ok_requests += 1;
            outcome.ok_events += batch_size as u64;
        }
    }
    Ok(outcome)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (rest, https) = match (
        args.url.strip_prefix("http://"),
        args.url.strip_prefix("https://"),
    ) {
        (Some(rest), _) => (rest, false),
        (_, Some(rest)) => (rest, true),
        _ => bail!("--url must start with http:// or https://"),
    };
    let (host, base_path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
    let tls = match (https, &args.ca_cert) {
        (false, None) => None,
        (false, Some(_)) => bail!("--ca-cert is for an https:// URL"),
        (true, None) => bail!("an https:// URL needs --ca-cert, the certificate to trust"),
        (true, Some(ca_cert)) => Some(tls_connector(ca_cert, host)?),
    };
    let path = format!(
        "/{}v1/batch",
        if base_path.is_empty() {
            String::new()
        } else {
            format!("{}/", base_path.trim_end_matches('/'))
        }
    );
    let host = host.to_owned();
    let pool = bodies(&args);
    let avg_body = pool.iter().map(|(b, _)| b.len()).sum::<usize>() / pool.len();
    let avg_event =
        pool.iter().map(|(_, raw)| raw).sum::<usize>() / pool.len() / args.batch_size.max(1);
    let authorization = footfall_protocol::auth::basic_authorization(&args.write_key);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(usize::from(args.threads))
        .enable_all()
        .build()?;
    let cpu_before = args.server_pid.map(server_cpu_ticks).transpose()?;
    let started = Instant::now();
    let duration = if args.requests.is_some() {
        Duration::from_secs(3600)
    } else {
        Duration::from_secs(args.duration)
    };
    let plan = Arc::new(Plan {
        host,
        tls,
        authorization,
        path,
        gzip: args.gzip,
        bodies: pool,
        batch_size: args.batch_size,
        sent: AtomicU64::new(0),
        limit: args.requests,
        deadline: started + duration,
        interval: match args.rate {
            Some(0) => bail!("--rate must be at least 1 event per second"),
            Some(rate) => Some(Duration::from_secs_f64(
                (args.connections * args.batch_size) as f64 / rate as f64,
            )),
            None => None,
        },
    });
    let outcomes = runtime.block_on(async {
        let tasks: Vec<_> = (0..args.connections)
            .map(|c| {
                let offset = plan.interval.map_or(Duration::ZERO, |interval| {
                    first_due(args.arrivals, interval, c, args.connections)
                });
                tokio::spawn(worker(plan.clone(), c * 31, offset))
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await?);
        }
        anyhow::Ok(outcomes)
    })?;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_after = args.server_pid.map(server_cpu_ticks).transpose()?;

    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut send_lag = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut statuses = std::collections::BTreeMap::<String, u64>::new();
    let (mut ok_requests, mut ok_events, mut errors) = (0u64, 0u64, Vec::new());
    for outcome in outcomes {
        match outcome {
            Ok(o) => {
                if let Some(h) = &o.latency {
                    latency.add(h)?;
                }
                if let Some(h) = &o.send_lag {
                    send_lag.add(h)?;
                }
                for (k, v) in o.statuses {
                    *statuses.entry(k).or_default() += v;
                }
                ok_requests += o.ok_requests;
                ok_events += o.ok_events;
            }
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    println!("footfall-loadgen: {} connections, {:.1} s, batches of {} events (~{avg_event} B/event, {avg_body} B/body{}){}",
        args.connections, elapsed, args.batch_size, if args.gzip { " gzipped" } else { "" },
        match args.rate {
            Some(rate) => format!(", paced at {rate} events/s, {:?} arrivals", args.arrivals),
            None => String::new(),
        });
    println!("| metric | value |");
    println!("|---|---|");
    println!("| requests ok | {ok_requests} |");
    println!("| events ok | {ok_events} |");
    println!("| requests/s | {:.0} |", ok_requests as f64 / elapsed);
    println!("| events/s | {:.0} |", ok_events as f64 / elapsed);
    println!("| latency p50 | {:.2} ms |", ms(0.5));
    println!("| latency p99 | {:.2} ms |", ms(0.99));
    println!("| latency max | {:.2} ms |", latency.max() as f64 / 1000.0);
    if args.rate.is_some() && !send_lag.is_empty() {
        let lag_ms = |q: f64| send_lag.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "| send lag p50 / p99 / max (due, previous answer not back) | {:.2} / {:.2} / {:.2} ms |",
            lag_ms(0.5),
            lag_ms(0.99),
            send_lag.max() as f64 / 1000.0
        );
    }
    for (status, n) in &statuses {
        println!("| status {status} | {n} |");
    }
    for e in &errors {
        println!("| connection error | {e} |");
    }
    if let (Some(before), Some(after)) = (cpu_before, cpu_after) {
        let cpu = (after - before) as f64 / args.clk_tck as f64;
        println!(
            "| server CPU | {cpu:.2} s ({:.0} % of one core) |",
            100.0 * cpu / elapsed
        );
        if cpu > 0.0 {
            println!(
                "| events per server CPU-second | {:.0} |",
                ok_events as f64 / cpu
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_has_one_thread_unless_asked_and_never_none() {
        let args = Args::try_parse_from(["footfall-loadgen"]).unwrap();
        assert_eq!(args.threads, 1);
        let args = Args::try_parse_from(["footfall-loadgen", "--threads", "4"]).unwrap();
        assert_eq!(args.threads, 4);
        let error = Args::try_parse_from(["footfall-loadgen", "--threads", "0"]).unwrap_err();
        assert!(error.to_string().contains("--threads"), "{error}");
    }
}
