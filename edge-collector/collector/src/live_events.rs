//! Live events: what the collector stores, as it stores it, for the developer wiring up an app and
//! the data steward asking why events are dropped (Segment's source debugger, RudderStack's live
//! events). An SDK swallows the per-event reasons of the answer; this shows them.
//!
//! `GET /live-events`, with `Authorization: Bearer <live_events_token>`, answers Server-Sent Events:
//!
//! * `event: accepted`, `data:` the event as stored (enriched, with `context.footfall`);
//! * `event: dropped`, `data:` its dead letter: `cause`, `reason` and the message as sent;
//! * `event: refused`, `data: {"path", "status", "code", "message", "writeKey"?}`: a request refused
//!   whole (an unknown write key, a rate limit, a sink that cannot take events), none of whose events
//!   was stored: the SDK will resend them, or drop them on a 4xx;
//! * `event: lagged`, `data: {"skipped": n}`: the watcher read too slowly and missed `n` records.
//!
//! The query narrows it: `project`, `source` and `outcome` (`accepted`, `dropped` or `refused`). A
//! record is shown once it is durable. A refusal belongs to a project when its `Authorization` (or
//! `?writeKey=`) names a known key; an unknown key's, or one sent only in the body, is shown only to
//! watchers that do not narrow by project or source. The stream ends when the
//! collector begins to shut down, so that it does not hold the drain; `curl -N` or an `EventSource`
//! reconnects elsewhere. At most [`MAX_WATCHERS`] watch at once. Without a token configured the
//! endpoint is off (404).
//!
//! Cost: while nobody watches, one atomic load per request. While someone does, each stored record
//! is copied once into a channel of [`BUFFER`] records that the watchers share.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::response::sse::Event;
use footfall_ingest::{Record, Source};
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::{broadcast, watch};

/// How many records the watchers share; one further behind skips to the newest (`lagged`).
pub const BUFFER: usize = 4096;

/// How many watchers at once; each costs a copy of every record it is shown.
pub const MAX_WATCHERS: usize = 8;

/// Whether a record was stored as an event or as a dead letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// An accepted event.
    Accepted,
    /// A dead letter.
    Dropped,
    /// A request refused whole.
    Refused,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Dropped => "dropped",
            Outcome::Refused => "refused",
        }
    }
}

/// What a watcher wants to see; each field left out matches everything.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Only this project's records.
    pub project: Option<String>,
    /// Only this source's records.
    pub source: Option<String>,
    /// Only accepted events, only dead letters, or only refused requests.
    pub outcome: Option<Outcome>,
}

impl Filter {
    fn matches(&self, record: &LiveRecord) -> bool {
        let is = |wanted: &Option<String>, got: &Option<Arc<str>>| {
            wanted
                .as_deref()
                .is_none_or(|w| got.as_deref().is_some_and(|g| g == w))
        };
        is(&self.project, &record.project)
            && is(&self.source, &record.source)
            && self.outcome.is_none_or(|o| o == record.outcome)
    }
}

struct LiveRecord {
    project: Option<Arc<str>>,
    source: Option<Arc<str>>,
    outcome: Outcome,
    payload: Vec<u8>,
}

/// A request's records, copied while they were being made durable.
pub(crate) struct Copied(Vec<LiveRecord>);

/// The channel between the requests and the watchers.
pub(crate) struct LiveEvents {
    sender: broadcast::Sender<Arc<LiveRecord>>,
    watchers: Arc<AtomicUsize>,
    closed: watch::Sender<bool>,
}

/// A watcher refused because [`MAX_WATCHERS`] already watch.
#[derive(Debug)]
pub(crate) struct TooManyWatchers;

impl LiveEvents {
    pub(crate) fn new() -> Self {
        Self {
            sender: broadcast::channel(BUFFER).0,
            watchers: Arc::new(AtomicUsize::new(0)),
            closed: watch::channel(false).0,
        }
    }

    /// A copy of `events` and `dead_letters` to show once they are durable, when anyone watches.
    pub(crate) fn copy(
        &self,
        source: &Source,
        events: &[Record],
        dead_letters: &[Record],
    ) -> Option<Copied> {
        if !self.is_watched() {
            return None;
        }
        let project: Option<Arc<str>> = Some(source.project_id.as_str().into());
        let source: Option<Arc<str>> = Some(source.source_id.as_str().into());
        let outcomes = [
            (Outcome::Accepted, events),
            (Outcome::Dropped, dead_letters),
        ];
        let records = outcomes
            .into_iter()
            .flat_map(|(outcome, records)| records.iter().map(move |r| (outcome, r)))
            .map(|(outcome, record)| LiveRecord {
                project: project.clone(),
                source: source.clone(),
                outcome,
                payload: record.payload.clone(),
            })
            .collect();
        Some(Copied(records))
    }

    /// Whether anyone watches: only then is a refusal worth describing.
    pub(crate) fn is_watched(&self) -> bool {
        self.watchers.load(Ordering::Relaxed) > 0
    }

    /// Shows a request refused whole, `answer` describing it, under `source` when the request named
    /// a known key.
    pub(crate) fn refused(&self, source: Option<&Source>, answer: &serde_json::Value) {
        let record = LiveRecord {
            project: source.map(|s| s.project_id.as_str().into()),
            source: source.map(|s| s.source_id.as_str().into()),
            outcome: Outcome::Refused,
            payload: answer.to_string().into_bytes(),
        };
        // An error means nobody watches any more.
        let _ = self.sender.send(Arc::new(record));
    }

    /// Shows records that are now durable.
    pub(crate) fn publish(&self, copied: Copied) {
        for record in copied.0 {
            // An error means the last watcher just left: nobody to show it to.
            let _ = self.sender.send(Arc::new(record));
        }
    }

    /// Ends every stream, and those started from now on at once: shutdown began.
    pub(crate) fn close(&self) {
        self.closed.send_replace(true);
    }

    /// A new watcher's stream of SSE events.
    pub(crate) fn watch(
        &self,
        filter: Filter,
    ) -> Result<impl Stream<Item = Result<Event, Infallible>> + Send + 'static, TooManyWatchers>
    {
        let watching = Watching::join(&self.watchers)?;
        let state = (
            self.sender.subscribe(),
            self.closed.subscribe(),
            filter,
            watching,
        );
        Ok(futures_util::stream::unfold(
            state,
            |(mut records, mut closed, filter, watching)| async move {
                let event = loop {
                    if *closed.borrow_and_update() {
                        return None;
                    }
                    tokio::select! {
                        _ = closed.changed() => return None,
                        next = records.recv() => match next {
                            Ok(record) if filter.matches(&record) => break sse(&record),
                            Ok(_) => {}
                            Err(broadcast::error::RecvError::Lagged(skipped)) => {
                                break Event::default()
                                    .event("lagged")
                                    .data(format!("{{\"skipped\":{skipped}}}"));
                            }
                            Err(broadcast::error::RecvError::Closed) => return None,
                        },
                    }
                };
                Some((Ok(event), (records, closed, filter, watching)))
            },
        ))
    }
}

fn sse(record: &LiveRecord) -> Event {
    Event::default()
        .event(record.outcome.as_str())
        .data(String::from_utf8_lossy(&record.payload))
}

/// One watcher, counted while its stream lives.
struct Watching(Arc<AtomicUsize>);

impl Watching {
    fn join(watchers: &Arc<AtomicUsize>) -> Result<Self, TooManyWatchers> {
        watchers
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_WATCHERS).then_some(n + 1)
            })
            .map_err(|_| TooManyWatchers)?;
        crate::metrics::live_event_watchers(1.0);
        Ok(Self(watchers.clone()))
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
        crate::metrics::live_event_watchers(-1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn source(project: &str) -> Source {
        Source {
            project_id: project.into(),
            source_id: "web".into(),
        }
    }

    fn record(payload: &str) -> Record {
        Record {
            key: b"k".to_vec(),
            payload: payload.as_bytes().to_vec(),
        }
    }

    /// The wire form, as the watcher reads it.
    async fn text(event: Event) -> String {
        let response = axum::response::IntoResponse::into_response(axum::response::Sse::new(
            futures_util::stream::iter([Ok::<_, Infallible>(event)]),
        ));
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[tokio::test]
    async fn nothing_is_copied_until_someone_watches_and_then_only_what_the_filter_asks() {
        let live = LiveEvents::new();
        assert!(live.copy(&source("shop"), &[record("{}")], &[]).is_none());

        let filter = Filter {
            project: Some("shop".into()),
            outcome: Some(Outcome::Dropped),
            ..Filter::default()
        };
        let mut stream = Box::pin(live.watch(filter).unwrap());
        let blog = live.copy(&source("blog"), &[], &[record(r#"{"blog":1}"#)]);
        live.publish(blog.unwrap());
        let shop = live.copy(
            &source("shop"),
            &[record(r#"{"accepted":1}"#)],
            &[record("{\"dropped\":\n1}")],
        );
        live.publish(shop.unwrap());
        let shown = text(stream.next().await.unwrap().unwrap()).await;
        assert_eq!(shown, "event: dropped\ndata: {\"dropped\":\ndata: 1}\n\n");

        live.close();
        assert!(stream.next().await.is_none(), "shutdown ends the stream");
        assert!(
            Box::pin(live.watch(Filter::default()).unwrap())
                .next()
                .await
                .is_none(),
            "and those started after it"
        );
    }

    #[tokio::test]
    async fn a_refusal_belongs_to_the_project_of_a_known_key_and_an_unknown_keys_to_none() {
        let live = LiveEvents::new();
        assert!(!live.is_watched());
        let shop_only = Filter {
            project: Some("shop".into()),
            ..Filter::default()
        };
        let mut shop = Box::pin(live.watch(shop_only).unwrap());
        let mut everything = Box::pin(live.watch(Filter::default()).unwrap());
        assert!(live.is_watched());
        live.refused(None, &serde_json::json!({"status": 401}));
        live.refused(Some(&source("shop")), &serde_json::json!({"status": 429}));
        let seen = |text: String| text.replace('\n', " ");
        assert_eq!(
            seen(text(everything.next().await.unwrap().unwrap()).await),
            "event: refused data: {\"status\":401}  "
        );
        assert_eq!(
            seen(text(everything.next().await.unwrap().unwrap()).await),
            "event: refused data: {\"status\":429}  "
        );
        assert_eq!(
            seen(text(shop.next().await.unwrap().unwrap()).await),
            "event: refused data: {\"status\":429}  ",
            "the unknown key's refusal is no project's"
        );
    }

    #[tokio::test]
    async fn a_slow_watcher_is_told_what_it_missed_and_the_number_of_watchers_is_bounded() {
        let live = LiveEvents::new();
        let mut slow = Box::pin(live.watch(Filter::default()).unwrap());
        let many: Vec<Record> = (0..BUFFER + 10).map(|i| record(&i.to_string())).collect();
        live.publish(live.copy(&source("shop"), &many, &[]).unwrap());
        let shown = text(slow.next().await.unwrap().unwrap()).await;
        assert_eq!(shown, "event: lagged\ndata: {\"skipped\":10}\n\n");
        assert!(text(slow.next().await.unwrap().unwrap())
            .await
            .contains("data: 10\n"));

        let others: Vec<_> = (1..MAX_WATCHERS)
            .map(|_| live.watch(Filter::default()).unwrap())
            .collect();
        assert!(live.watch(Filter::default()).is_err(), "one too many");
        drop(others);
        assert!(live.watch(Filter::default()).is_ok(), "a place came free");
    }
}
