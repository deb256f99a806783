//! `footfall query ...` and `footfall dead-letters ...`: the same queries as the API, either over
//! HTTP (`--url` + `--read-key`) or directly on a DuckDB file (`--data-dir` + `--project`, with
//! `footfall serve` stopped: DuckDB allows one writer process).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use footfall_store::query::{funnel, retention, sessions, timeline, trends};
use footfall_store::{DuckStore, Store};
use serde_json::{json, Value};

use crate::http::Http;
use crate::print::{funnel_table, retention_table};

/// Where queries go.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// The query API (as served by `footfall serve`).
    #[arg(
        long,
        env = "FOOTFALL_API_URL",
        default_value = "http://127.0.0.1:8081",
        global = true
    )]
    pub url: String,
    /// A read key.
    #[arg(long, env = "FOOTFALL_READ_KEY", default_value = crate::config::DEMO_READ_KEY, global = true)]
    pub read_key: String,
    /// Query the DuckDB file under this data directory instead of the API.
    #[arg(long, env = "FOOTFALL_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// The project, with `--data-dir`.
    #[arg(long, default_value = crate::config::DEMO_PROJECT, global = true)]
    pub project: String,
    /// Print JSON even where a table exists.
    #[arg(long, global = true)]
    pub json: bool,
}

/// A query.
#[derive(Debug, Subcommand)]
pub enum QueryCommand {
    /// Counts and unique persons per event per interval.
    Trends {
        /// Comma-separated event names (default: all).
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
        /// Start (Unix ms or RFC 3339).
        #[arg(long)]
        from: String,
        /// End (exclusive).
        #[arg(long)]
        to: String,
        /// hour, day or week.
        #[arg(long, default_value = "day")]
        interval: String,
        /// Break down by this property.
        #[arg(long)]
        breakdown: Option<String>,
    },
    /// Ordered steps within a conversion window.
    Funnel {
        /// Comma-separated event names, in order.
        #[arg(long, value_delimiter = ',', required = true)]
        steps: Vec<String>,
        /// Start (Unix ms or RFC 3339).
        #[arg(long)]
        from: String,
        /// End (exclusive).
        #[arg(long)]
        to: String,
        /// Conversion window in seconds.
        #[arg(long, default_value_t = 86_400)]
        window_seconds: i64,
        /// Break down by this property of the first step.
        #[arg(long)]
        breakdown: Option<String>,
    },
    /// Cohorts by first event, and who came back.
    Retention {
        /// Cohort event.
        #[arg(long)]
        cohort_event: String,
        /// Returning event.
        #[arg(long)]
        return_event: String,
        /// Start (Unix ms or RFC 3339).
        #[arg(long)]
        from: String,
        /// End (exclusive).
        #[arg(long)]
        to: String,
        /// day or week.
        #[arg(long, default_value = "day")]
        interval: String,
        /// Periods after the cohort's.
        #[arg(long, default_value_t = 7)]
        periods: usize,
    },
    /// One person's events across devices and anonymous ids.
    Timeline {
        /// A userId or anonymous id.
        #[arg(long)]
        person: String,
        /// The most events.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// Session count, duration and bounce rate.
    Sessions {
        /// Start (Unix ms or RFC 3339).
        #[arg(long)]
        from: String,
        /// End (exclusive).
        #[arg(long)]
        to: String,
    },
}

/// Dead-letter commands.
#[derive(Debug, Subcommand)]
pub enum DeadLetterCommand {
    /// List dead letters, newest first.
    List {
        /// The most to list.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Include replayed ones.
        #[arg(long)]
        include_replayed: bool,
    },
    /// Show one, with its raw payload and reason.
    Show {
        /// Its id.
        id: String,
    },
    /// Replay one (after fixing the schema or the client).
    Replay {
        /// Its id.
        id: String,
    },
}

fn time(s: &str) -> Value {
    s.parse::<i64>().map_or_else(|_| json!(s), |v| json!(v))
}

fn open(target: &Target) -> anyhow::Result<Arc<DuckStore>> {
    let dir = target.data_dir.as_ref().context("--data-dir is required")?;
    let (_, _, db) = crate::serve::paths(dir);
    Ok(Arc::new(DuckStore::open(&db).with_context(|| {
        format!(
            "cannot open {} (is footfall serve running? query it with --url instead)",
            db.display()
        )
    })?))
}

fn direct(target: &Target, kind: &str, body: Value) -> anyhow::Result<Value> {
    let store = open(target)?;
    let s: &dyn Store = store.as_ref();
    let p = &target.project;
    Ok(match kind {
        "trends" => serde_json::to_value(trends::run(
            s,
            &serde_json::from_value::<trends::RawTrendsParams>(body)?.validate(p)?,
        )?)?,
        "funnel" => serde_json::to_value(funnel::run(
            s,
            &serde_json::from_value::<funnel::RawFunnelParams>(body)?.validate(p)?,
        )?)?,
        "retention" => serde_json::to_value(retention::run(
            s,
            &serde_json::from_value::<retention::RawRetentionParams>(body)?.validate(p)?,
        )?)?,
        "sessions" => serde_json::to_value(sessions::run(
            s,
            &serde_json::from_value::<sessions::RawSessionParams>(body)?.validate(p)?,
        )?)?,
        "timeline" => serde_json::to_value(timeline::run(
            s,
            &serde_json::from_value::<timeline::RawTimelineParams>(body)?.validate(p)?,
        )?)?,
        other => bail!("unknown query {other}"),
    })
}

/// Runs a query and prints the answer.
pub fn query(target: &Target, command: QueryCommand) -> anyhow::Result<()> {
    let (kind, body) = match command {
        QueryCommand::Trends {
            events,
            from,
            to,
            interval,
            breakdown,
        } => (
            "trends",
            json!({"events": events, "from": time(&from), "to": time(&to), "interval": interval, "breakdown": breakdown}),
        ),
        QueryCommand::Funnel {
            steps,
            from,
            to,
            window_seconds,
            breakdown,
        } => (
            "funnel",
            json!({"steps": steps, "from": time(&from), "to": time(&to), "window_seconds": window_seconds, "breakdown": breakdown}),
        ),
        QueryCommand::Retention {
            cohort_event,
            return_event,
            from,
            to,
            interval,
            periods,
        } => (
            "retention",
            json!({"cohort_event": cohort_event, "return_event": return_event, "from": time(&from), "to": time(&to), "interval": interval, "periods": periods}),
        ),
        QueryCommand::Timeline { person, limit } => {
            ("timeline", json!({"person": person, "limit": limit}))
        }
        QueryCommand::Sessions { from, to } => {
            ("sessions", json!({"from": time(&from), "to": time(&to)}))
        }
    };
    let answer = if target.data_dir.is_some() {
        direct(target, kind, body)?
    } else if kind == "timeline" {
        let url = format!(
            "{}/v1/persons/{}/timeline?limit={}",
            target.url,
            encode(body["person"].as_str().unwrap_or("")),
            body["limit"]
        );
        Http::default().api("GET", &url, &target.read_key, None)?
    } else {
        Http::default().api(
            "POST",
            &format!("{}/v1/query/{kind}", target.url),
            &target.read_key,
            Some(&body),
        )?
    };
    match kind {
        "funnel" if !target.json => print!("{}", funnel_table(&answer)),
        "retention" if !target.json => {
            print!("{}", retention_table(&answer, crate::demo::now_ms()))
        }
        _ => println!("{}", serde_json::to_string_pretty(&answer)?),
    }
    Ok(())
}

/// Percent-encodes a path segment.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Runs a dead-letter command.
pub fn dead_letters(target: &Target, command: DeadLetterCommand) -> anyhow::Result<()> {
    let answer = if target.data_dir.is_some() {
        let store = open(target)?;
        match command {
            DeadLetterCommand::List {
                limit,
                include_replayed,
            } => {
                let rows: Vec<_> = store
                    .dead_letters(10_000, include_replayed)?
                    .into_iter()
                    .filter(|d| d.project_id == target.project)
                    .take(limit)
                    .collect();
                json!({"dead_letters": rows})
            }
            DeadLetterCommand::Show { id } => serde_json::to_value(
                store
                    .dead_letter(&id)?
                    .with_context(|| format!("no dead letter {id:?}"))?,
            )?,
            DeadLetterCommand::Replay { id } => {
                let mut processor = footfall_processor::Processor::new(store.clone())?;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)?
                    .as_millis() as i64;
                let report =
                    footfall_processor::replay::replay_dead_letter(&mut processor, &id, now)?;
                json!({"id": id, "stored": report.stored})
            }
        }
    } else {
        let http = Http::default();
        match command {
            DeadLetterCommand::List {
                limit,
                include_replayed,
            } => http.api(
                "GET",
                &format!(
                    "{}/v1/dead-letters?limit={limit}&include_replayed={include_replayed}",
                    target.url
                ),
                &target.read_key,
                None,
            )?,
            DeadLetterCommand::Show { id } => http.api(
                "GET",
                &format!("{}/v1/dead-letters/{}", target.url, encode(&id)),
                &target.read_key,
                None,
            )?,
            DeadLetterCommand::Replay { id } => http.api(
                "POST",
                &format!("{}/v1/dead-letters/{}/replay", target.url, encode(&id)),
                &target.read_key,
                None,
            )?,
        }
    };
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}

/// `footfall reprocess`: re-reads the events log for a time range (serve must be stopped).
pub fn reprocess(
    data_dir: &std::path::Path,
    project: &str,
    from: &str,
    to: &str,
) -> anyhow::Result<()> {
    let ms = |s: &str, name: &'static str| -> anyhow::Result<i64> {
        Ok(match s.parse::<i64>() {
            Ok(v) => v,
            Err(_) => footfall_store::query::TimeArg::Text(s.to_owned()).millis(name)?,
        })
    };
    let (events_dir, _, db) = crate::serve::paths(data_dir);
    let store = Arc::new(DuckStore::open(&db)?);
    let mut processor = footfall_processor::Processor::new(store)?;
    let report = footfall_processor::replay::reprocess(
        &mut processor,
        &events_dir,
        project,
        ms(from, "from")?,
        ms(to, "to")?,
    )?;
    println!(
        "{}",
        json!({"records_read": report.records, "stored": report.stored, "sessions_recomputed": report.sessions_recomputed})
    );
    Ok(())
}
