//! The [`Client`]: the API every SDK exposes, and the state behind it.
//!
//! Messages are written by hand in Segment's field order (`type`, `messageId`, `anonymousId`, `userId`,
//! `timestamp`, the call's own fields, `properties` or `traits`, `context`), with the caller's JSON
//! spliced in as checked text: see [`crate::json`] for why there is no JSON library on this path.

use alloc::borrow::{Cow, ToOwned};
use alloc::string::String;
use alloc::vec::Vec;

use footfall_protocol::limits::MAX_MESSAGE_BYTES;
use footfall_protocol::{write_rfc3339_millis, MessageType};

use crate::clock::{duration_millis, Clock, Millis};
use crate::config::Config;
use crate::error::{Error, ErrorKind};
use crate::ids::IdGenerator;
use crate::json::{self, Kind};
use crate::session::Session;
use crate::stats::{DropReason, DroppedEvent, Recorder, Stats};
use crate::storage::Storage;
use crate::upload::UploadState;

/// Names of the values the client keeps in [`Storage`].
mod keys {
    pub(super) const ANONYMOUS_ID: &str = "anonymous_id";
    pub(super) const USER_ID: &str = "user_id";
    pub(super) const TRAITS: &str = "traits";
    pub(super) const SESSION: &str = "session";
    pub(super) const SUPER_PROPERTIES: &str = "super_properties";
    pub(super) const OPTED_OUT: &str = "opted_out";
}

/// How often the session's last-activity time is written back, at most. Writing it on every event would
/// double the storage writes; losing up to a minute of it on a crash only shortens one idle gap.
const SESSION_PERSIST_EVERY: Millis = 60_000;

/// The SDK engine: records events into the queue and decides when and what to upload.
///
/// `S` is the platform's [`Storage`], `C` its [`Clock`]. All methods are synchronous and do no I/O
/// beyond the storage; uploads are driven by the platform through
/// [`next_action`](Client::next_action) and [`on_upload_result`](Client::on_upload_result).
#[derive(Debug)]
pub struct Client<S, C> {
    pub(crate) config: Config,
    pub(crate) storage: S,
    pub(crate) clock: C,
    pub(crate) ids: IdGenerator,
    pub(crate) recorder: Recorder,
    pub(crate) upload: UploadState,
    pub(crate) authorization: String,
    anonymous_id: String,
    user_id: Option<String>,
    /// The traits kept from `identify` calls, as a JSON object's text (`{}` for none), like the two
    /// below; each is kept in the compact form [`json::merge`] writes.
    traits: String,
    super_properties: String,
    /// The platform's context without the engine's `library` and `sessionId`.
    platform_context: String,
    session: Option<Session>,
    session_persisted_at: Millis,
    /// The `context` object sent with every event, rebuilt only when it changes.
    context_json: String,
    opted_out: bool,
}

/// The parts of a message that differ by call; `properties` and `traits` are checked JSON objects.
#[derive(Default)]
struct Fields<'a> {
    event: Option<&'a str>,
    name: Option<&'a str>,
    category: Option<&'a str>,
    group_id: Option<&'a str>,
    previous_id: Option<&'a str>,
    properties: Option<&'a str>,
    traits: Option<&'a str>,
}

const EMPTY: &str = "{}";

impl<S: Storage, C: Clock> Client<S, C> {
    /// Opens a client over the platform's storage, restoring the anonymous id, user, session and consent
    /// kept there. `seed` seeds the id generator: pass entropy from the platform (the OS, or
    /// `crypto.getRandomValues`), or a constant in tests.
    pub fn new(config: Config, storage: S, clock: C, seed: u64) -> Result<Self, Error> {
        config.validate()?;
        let authorization = footfall_protocol::auth::basic_authorization(&config.write_key);
        let mut client = Client {
            upload: UploadState::new(&config),
            config,
            storage,
            clock,
            ids: IdGenerator::new(seed),
            recorder: Recorder::default(),
            authorization,
            anonymous_id: String::new(),
            user_id: None,
            traits: EMPTY.to_owned(),
            super_properties: EMPTY.to_owned(),
            platform_context: EMPTY.to_owned(),
            session: None,
            session_persisted_at: Millis::MIN,
            context_json: String::new(),
            opted_out: false,
        };
        client.restore()?;
        client.refresh_context();
        Ok(client)
    }

    fn restore(&mut self) -> Result<(), Error> {
        let now = self.clock.now();
        self.anonymous_id = match self.storage.load(keys::ANONYMOUS_ID)? {
            Some(id) if !id.is_empty() => id,
            _ => {
                let id = self.ids.uuid_v7(now);
                self.storage.store(keys::ANONYMOUS_ID, Some(&id))?;
                id
            }
        };
        self.user_id = self
            .storage
            .load(keys::USER_ID)?
            .filter(|id| !id.is_empty());
        self.traits = load_object(&self.storage, keys::TRAITS)?;
        self.super_properties = load_object(&self.storage, keys::SUPER_PROPERTIES)?;
        self.opted_out = self.storage.load(keys::OPTED_OUT)?.as_deref() == Some("true");
        // A session that cannot be read is replaced on the next event rather than failing the app.
        self.session = self
            .storage
            .load(keys::SESSION)?
            .and_then(|text| Session::from_json(&text));
        self.session_persisted_at = self
            .session
            .as_ref()
            .map_or(Millis::MIN, |s| s.last_activity);
        Ok(())
    }

    // ---- recording -------------------------------------------------------------------------------
    //
    // JSON arguments are JSON text: an object, or nothing (empty text or `null`). Anything else is
    // refused with an error naming the argument, before any state changes.

    /// Records that the user did something. Returns the event's messageId, or `None` if the user opted
    /// out. `properties` is a JSON object's text, or empty for none.
    pub fn track_json(&mut self, event: &str, properties: &str) -> Result<Option<String>, Error> {
        if event.trim().is_empty() {
            return Err(ErrorKind::EmptyEventName.into());
        }
        let properties = object_text("properties", properties)?;
        let properties = self.with_super_properties(properties);
        self.record(
            MessageType::Track,
            Fields {
                event: Some(event),
                properties: Some(&properties),
                ..Fields::default()
            },
        )
    }

    /// Records a web page view; `properties` as for [`track_json`](Client::track_json).
    pub fn page_json(
        &mut self,
        category: Option<&str>,
        name: Option<&str>,
        properties: &str,
    ) -> Result<Option<String>, Error> {
        let properties = object_text("properties", properties)?;
        let properties = self.with_super_properties(properties);
        self.record(
            MessageType::Page,
            Fields {
                name,
                category,
                properties: Some(&properties),
                ..Fields::default()
            },
        )
    }

    /// Records a mobile screen view; `properties` as for [`track_json`](Client::track_json).
    pub fn screen_json(&mut self, name: &str, properties: &str) -> Result<Option<String>, Error> {
        let properties = object_text("properties", properties)?;
        let properties = self.with_super_properties(properties);
        self.record(
            MessageType::Screen,
            Fields {
                name: Some(name).filter(|n| !n.is_empty()),
                properties: Some(&properties),
                ..Fields::default()
            },
        )
    }

    /// Says who the user is. A `Some` user id is kept for every later event; the traits (a JSON
    /// object's text, or empty) are merged into the ones kept from earlier calls and sent in full.
    pub fn identify_json(
        &mut self,
        user_id: Option<&str>,
        traits: &str,
    ) -> Result<Option<String>, Error> {
        let new_traits = object_text("traits", traits)?;
        if let Some(id) = user_id {
            non_empty("userId", id)?;
        }
        if self.opted_out {
            return Ok(None);
        }
        if let Some(id) = user_id {
            if self.user_id.as_deref() != Some(id) {
                self.storage.store(keys::USER_ID, Some(id))?;
                self.user_id = Some(id.to_owned());
            }
        }
        if json::members(new_traits).next().is_some() {
            self.traits = json::merge(&self.traits, new_traits, &[]);
            self.storage.store(keys::TRAITS, Some(&self.traits))?;
        }
        let traits = core::mem::take(&mut self.traits);
        let result = self.record(
            MessageType::Identify,
            Fields {
                traits: Some(&traits),
                ..Fields::default()
            },
        );
        self.traits = traits;
        result
    }

    /// Associates the user with a group (a company, an account); `traits` is a JSON object's text, or
    /// empty.
    pub fn group_json(&mut self, group_id: &str, traits: &str) -> Result<Option<String>, Error> {
        non_empty("groupId", group_id)?;
        let traits = object_text("traits", traits)?;
        self.record(
            MessageType::Group,
            Fields {
                group_id: Some(group_id),
                traits: Some(traits),
                ..Fields::default()
            },
        )
    }

    /// Merges the current identity (the user id, or the anonymous id if none) into `user_id`, which
    /// becomes the current user.
    pub fn alias(&mut self, user_id: &str) -> Result<Option<String>, Error> {
        non_empty("userId", user_id)?;
        if self.opted_out {
            return Ok(None);
        }
        let previous = self
            .user_id
            .clone()
            .unwrap_or_else(|| self.anonymous_id.clone());
        self.storage.store(keys::USER_ID, Some(user_id))?;
        self.user_id = Some(user_id.to_owned());
        self.record(
            MessageType::Alias,
            Fields {
                previous_id: Some(&previous),
                ..Fields::default()
            },
        )
    }

    /// Forgets the user, on logout: a new anonymous id and session, no user id, no traits. Queued events
    /// keep the identity they were recorded with.
    pub fn reset(&mut self) -> Result<(), Error> {
        let now = self.clock.now();
        self.anonymous_id = self.ids.uuid_v7(now);
        self.storage
            .store(keys::ANONYMOUS_ID, Some(&self.anonymous_id))?;
        self.user_id = None;
        self.storage.store(keys::USER_ID, None)?;
        EMPTY.clone_into(&mut self.traits);
        self.storage.store(keys::TRAITS, None)?;
        self.session = None;
        self.storage.store(keys::SESSION, None)?;
        self.refresh_context();
        Ok(())
    }

    /// Properties (a JSON object's text) sent with every later `track`, `page` and `screen`, merged into
    /// those kept already. A property given in a call wins over one registered here.
    pub fn register_json(&mut self, properties: &str) -> Result<(), Error> {
        let properties = object_text("properties", properties)?;
        self.super_properties = json::merge(&self.super_properties, properties, &[]);
        self.storage
            .store(keys::SUPER_PROPERTIES, Some(&self.super_properties))?;
        Ok(())
    }

    /// Stops sending a property registered with [`register_json`](Client::register_json).
    pub fn unregister(&mut self, key: &str) -> Result<(), Error> {
        if json::get(&self.super_properties, key).is_some() {
            self.super_properties = json::merge(&self.super_properties, EMPTY, &[key]);
            self.storage
                .store(keys::SUPER_PROPERTIES, Some(&self.super_properties))?;
        }
        Ok(())
    }

    /// Sets the platform's default context (`device`, `os`, `app`, `locale`, `userAgent`, `page`, …), a
    /// JSON object's text sent in `context` with every event. `library` and `sessionId` are the
    /// engine's and cannot be overridden.
    pub fn set_context_json(&mut self, context: &str) -> Result<(), Error> {
        let context = object_text("context", context)?;
        self.platform_context = json::merge(EMPTY, context, &["library", "sessionId"]);
        self.refresh_context();
        Ok(())
    }

    /// Consent: while opted out, calls record nothing and return `None`, and events already queued are
    /// discarded (each counted as [`DropReason::OptedOut`]). The choice is persisted.
    pub fn set_opted_out(&mut self, opted_out: bool) -> Result<(), Error> {
        self.opted_out = opted_out;
        self.storage.store(
            keys::OPTED_OUT,
            Some(if opted_out { "true" } else { "false" }),
        )?;
        if opted_out {
            self.discard_queue(DropReason::OptedOut)?;
        }
        Ok(())
    }

    /// Whether the user has opted out.
    pub fn is_opted_out(&self) -> bool {
        self.opted_out
    }

    /// The persistent anonymous id.
    pub fn anonymous_id(&self) -> &str {
        &self.anonymous_id
    }

    /// The current user id, if identified.
    pub fn user_id(&self) -> Option<&str> {
        self.user_id.as_deref()
    }

    /// The current session id, if a session is running.
    pub fn session_id(&self) -> Option<&str> {
        self.session.as_ref().map(|s| s.id.as_str())
    }

    /// The counters and the queue's size now.
    pub fn stats(&self) -> Stats {
        Stats {
            queued_events: self.storage.count(),
            queued_bytes: self.storage.bytes(),
            ..self.recorder.stats
        }
    }

    /// The events given up since the last call, with their reasons (the most recent 1000; all of them are
    /// counted in [`Stats::dropped`]).
    pub fn take_dropped(&mut self) -> Vec<DroppedEvent> {
        self.recorder.take_journal()
    }

    /// The storage, for platforms that share it with other components and for tests.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    // ---- internals -------------------------------------------------------------------------------

    fn with_super_properties<'a>(&self, properties: &'a str) -> Cow<'a, str> {
        if self.super_properties == EMPTY {
            Cow::Borrowed(properties)
        } else {
            Cow::Owned(json::merge(&self.super_properties, properties, &[]))
        }
    }

    fn record(&mut self, kind: MessageType, fields: Fields<'_>) -> Result<Option<String>, Error> {
        if self.opted_out {
            return Ok(None);
        }
        let now = self.clock.now();
        self.touch_session(now)?;
        let message_id = self.ids.uuid_v7(now);
        let payload = self.message(kind, &message_id, now, &fields);
        if payload.len() > MAX_MESSAGE_BYTES {
            return Err(ErrorKind::MessageTooLarge {
                bytes: payload.len(),
                limit: MAX_MESSAGE_BYTES,
            }
            .into());
        }
        self.make_room_for(payload.len() as u64)?;
        self.storage
            .append_owned(message_id.clone(), now, payload)?;
        self.recorder.stats.accepted += 1;
        Ok(Some(message_id))
    }

    /// The message's JSON. Ids and names are escaped; `properties`, `traits` and the context are
    /// already-checked JSON and go in as they are.
    fn message(&self, kind: MessageType, message_id: &str, now: Millis, f: &Fields<'_>) -> String {
        let spliced = [
            f.properties,
            f.traits,
            f.event,
            f.name,
            f.category,
            f.group_id,
            f.previous_id,
        ]
        .iter()
        .map(|s| s.map_or(0, str::len))
        .sum::<usize>();
        // Sized for the fixed fields (about 200 bytes) so the buffer is never grown: a reallocation
        // would copy the message and leave the queue holding twice its size.
        let ids = self.anonymous_id.len() + self.user_id.as_ref().map_or(0, |u| u.len() + 12);
        let mut out = String::with_capacity(256 + ids + spliced + self.context_json.len());
        out.push_str("{\"type\":\"");
        out.push_str(kind.as_str());
        // The messageId is ours, hex and hyphens: nothing to escape.
        out.push_str("\",\"messageId\":\"");
        out.push_str(message_id);
        out.push_str("\",\"anonymousId\":");
        json::write_string(&mut out, &self.anonymous_id);
        if let Some(user_id) = &self.user_id {
            out.push_str(",\"userId\":");
            json::write_string(&mut out, user_id);
        }
        out.push_str(",\"timestamp\":\"");
        write_rfc3339_millis(&mut out, now);
        out.push('"');
        let strings = [
            ("event", f.event),
            ("name", f.name),
            ("category", f.category),
            ("groupId", f.group_id),
            ("previousId", f.previous_id),
        ];
        for (key, value) in strings {
            if let Some(value) = value {
                out.push_str(",\"");
                out.push_str(key);
                out.push_str("\":");
                json::write_string(&mut out, value);
            }
        }
        for (key, value) in [("properties", f.properties), ("traits", f.traits)] {
            if let Some(value) = value {
                out.push_str(",\"");
                out.push_str(key);
                out.push_str("\":");
                out.push_str(value);
            }
        }
        out.push_str(",\"context\":");
        out.push_str(&self.context_json);
        out.push('}');
        out
    }

    /// Evicts the oldest events until one more of `bytes` fits the bounds, counting each eviction.
    fn make_room_for(&mut self, bytes: u64) -> Result<(), Error> {
        let max_events = self.config.max_queue_events as u64;
        while self.storage.count() > 0
            && (self.storage.count() >= max_events
                || self.storage.bytes() + bytes > self.config.max_queue_bytes)
        {
            let Some((_, message_id)) = self.storage.evict_oldest()? else {
                break;
            };
            self.recorder.dropped(message_id, DropReason::QueueFull);
        }
        Ok(())
    }

    pub(crate) fn discard_queue(&mut self, reason: DropReason) -> Result<(), Error> {
        loop {
            let batch = self.storage.read_batch(1000, usize::MAX)?;
            if batch.is_empty() {
                return Ok(());
            }
            let seqs: Vec<u64> = batch.iter().map(|e| e.seq).collect();
            self.storage.acknowledge(&seqs)?;
            for event in batch {
                self.recorder.dropped(event.message_id, reason.clone());
            }
        }
    }

    fn touch_session(&mut self, now: Millis) -> Result<(), Error> {
        let idle = duration_millis(self.config.session_idle_timeout);
        let max_length = duration_millis(self.config.session_max_length);
        let (session, started) = match self.session.take() {
            Some(mut s) if !s.has_ended(now, idle, max_length) => {
                s.last_activity = s.last_activity.max(now);
                (s, false)
            }
            _ => (Session::new(self.ids.uuid_v7(now), now), true),
        };
        let last_activity = session.last_activity;
        let persist = started || last_activity - self.session_persisted_at >= SESSION_PERSIST_EVERY;
        let text = persist.then(|| session.to_json());
        self.session = Some(session);
        if started {
            self.refresh_context();
        }
        if let Some(text) = text {
            self.storage.store(keys::SESSION, Some(&text))?;
            self.session_persisted_at = last_activity;
        }
        Ok(())
    }

    /// Rebuilds the context sent with every event; called only when it changes.
    fn refresh_context(&mut self) {
        let mut out = String::with_capacity(self.platform_context.len() + 128);
        out.push('{');
        for (key, value) in json::members(&self.platform_context) {
            out.push_str(key);
            out.push(':');
            out.push_str(value);
            out.push(',');
        }
        out.push_str("\"library\":{\"name\":");
        json::write_string(&mut out, &self.config.library_name);
        out.push_str(",\"version\":");
        json::write_string(&mut out, &self.config.library_version);
        out.push('}');
        if let Some(session) = &self.session {
            out.push_str(",\"sessionId\":");
            json::write_string(&mut out, &session.id);
        }
        out.push('}');
        self.context_json = out;
    }
}

/// Checks JSON text given for `field`: the object's text without surrounding whitespace, `{}` for
/// nothing (empty text or `null`), or an error naming the argument and the problem.
fn object_text<'a>(field: &'static str, text: &'a str) -> Result<&'a str, Error> {
    // JSON's four whitespace bytes, trimmed bytewise: a char-pattern trim is slow in WebAssembly.
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let start = text.bytes().position(|b| !ws(&b)).unwrap_or(text.len());
    let end = text.bytes().rposition(|b| !ws(&b)).map_or(start, |i| i + 1);
    let text = text.get(start..end).unwrap_or_default();
    if text.is_empty() {
        return Ok(EMPTY);
    }
    match json::check(text) {
        Ok(Kind::Object) => Ok(text),
        Ok(Kind::Null) => Ok(EMPTY),
        Ok(other) => Err(ErrorKind::NotAnObject {
            field,
            found: other.name(),
        }
        .into()),
        Err(e) => Err(ErrorKind::InvalidJson {
            field,
            offset: e.offset,
            reason: e.reason,
        }
        .into()),
    }
}

fn non_empty(field: &'static str, id: &str) -> Result<(), Error> {
    if id.trim().is_empty() {
        return Err(ErrorKind::EmptyId { field }.into());
    }
    Ok(())
}

fn load_object<S: Storage>(storage: &S, key: &str) -> Result<String, Error> {
    // A value that no longer parses (written by a future version, or damaged) is dropped rather than
    // making the app unable to start.
    Ok(match storage.load(key)? {
        Some(text) if json::check(&text) == Ok(Kind::Object) => json::merge(EMPTY, &text, &[]),
        _ => EMPTY.to_owned(),
    })
}

/// The recording methods that take `serde_json::Value`: each writes the value as JSON text and calls
/// its `*_json` twin, so both paths check and send exactly the same.
#[cfg(feature = "serde")]
impl<S: Storage, C: Clock> Client<S, C> {
    /// Records that the user did something; see [`track_json`](Client::track_json). `properties` must
    /// be a JSON object (or `null` for none).
    pub fn track(
        &mut self,
        event: &str,
        properties: serde_json::Value,
    ) -> Result<Option<String>, Error> {
        self.track_json(event, &value_text(&properties))
    }

    /// Records a web page view; see [`page_json`](Client::page_json).
    pub fn page(
        &mut self,
        category: Option<&str>,
        name: Option<&str>,
        properties: serde_json::Value,
    ) -> Result<Option<String>, Error> {
        self.page_json(category, name, &value_text(&properties))
    }

    /// Records a mobile screen view; see [`screen_json`](Client::screen_json).
    pub fn screen(
        &mut self,
        name: &str,
        properties: serde_json::Value,
    ) -> Result<Option<String>, Error> {
        self.screen_json(name, &value_text(&properties))
    }

    /// Says who the user is; see [`identify_json`](Client::identify_json).
    pub fn identify(
        &mut self,
        user_id: Option<&str>,
        traits: serde_json::Value,
    ) -> Result<Option<String>, Error> {
        self.identify_json(user_id, &value_text(&traits))
    }

    /// Associates the user with a group; see [`group_json`](Client::group_json).
    pub fn group(
        &mut self,
        group_id: &str,
        traits: serde_json::Value,
    ) -> Result<Option<String>, Error> {
        self.group_json(group_id, &value_text(&traits))
    }

    /// Properties sent with every later `track`, `page` and `screen`; see
    /// [`register_json`](Client::register_json).
    pub fn register(&mut self, properties: serde_json::Value) -> Result<(), Error> {
        self.register_json(&value_text(&properties))
    }

    /// Sets the platform's default context; see [`set_context_json`](Client::set_context_json).
    pub fn set_context(&mut self, context: serde_json::Value) -> Result<(), Error> {
        self.set_context_json(&value_text(&context))
    }
}

#[cfg(feature = "serde")]
fn value_text(value: &serde_json::Value) -> String {
    use alloc::string::ToString;
    if value.is_null() {
        String::new()
    } else {
        value.to_string()
    }
}
