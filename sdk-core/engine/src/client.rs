//! The [`Client`]: the API every SDK exposes, and the state behind it.

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use footfall_protocol::limits::MAX_MESSAGE_BYTES;
use footfall_protocol::{format_rfc3339_millis, MessageRef, MessageType};

use crate::clock::{duration_millis, Clock, Millis};
use crate::config::Config;
use crate::error::{Error, ErrorKind};
use crate::ids::IdGenerator;
use crate::session::Session;
use crate::stats::{DropReason, DroppedEvent, Recorder, Stats};
use crate::storage::{NewEvent, Storage};
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
    traits: Map<String, Value>,
    super_properties: Map<String, Value>,
    platform_context: Map<String, Value>,
    session: Option<Session>,
    session_persisted_at: Millis,
    context_json: Box<RawValue>,
    opted_out: bool,
}

/// The parts of a message that differ by call.
#[derive(Default)]
struct Fields<'a> {
    event: Option<&'a str>,
    name: Option<&'a str>,
    category: Option<&'a str>,
    group_id: Option<&'a str>,
    previous_id: Option<&'a str>,
    properties: Option<Map<String, Value>>,
    traits: Option<&'a Map<String, Value>>,
}

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
            traits: Map::new(),
            super_properties: Map::new(),
            platform_context: Map::new(),
            session: None,
            session_persisted_at: Millis::MIN,
            context_json: RawValue::from_string("{}".to_owned()).expect("static JSON"),
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
            .and_then(|text| serde_json::from_str::<Session>(&text).ok());
        self.session_persisted_at = self
            .session
            .as_ref()
            .map_or(Millis::MIN, |s| s.last_activity);
        Ok(())
    }

    // ---- recording -------------------------------------------------------------------------------

    /// Records that the user did something. Returns the event's messageId, or `None` if the user opted
    /// out.
    ///
    /// `properties` must be a JSON object (or `null` for none).
    pub fn track(&mut self, event: &str, properties: Value) -> Result<Option<String>, Error> {
        if event.trim().is_empty() {
            return Err(ErrorKind::EmptyEventName.into());
        }
        let properties = self.with_super_properties(object_or_empty("properties", properties)?);
        self.record(
            MessageType::Track,
            Fields {
                event: Some(event),
                properties: Some(properties),
                ..Fields::default()
            },
        )
    }

    /// Records a web page view.
    pub fn page(
        &mut self,
        category: Option<&str>,
        name: Option<&str>,
        properties: Value,
    ) -> Result<Option<String>, Error> {
        let properties = self.with_super_properties(object_or_empty("properties", properties)?);
        self.record(
            MessageType::Page,
            Fields {
                name,
                category,
                properties: Some(properties),
                ..Fields::default()
            },
        )
    }

    /// Records a mobile screen view.
    pub fn screen(&mut self, name: &str, properties: Value) -> Result<Option<String>, Error> {
        let properties = self.with_super_properties(object_or_empty("properties", properties)?);
        self.record(
            MessageType::Screen,
            Fields {
                name: Some(name).filter(|n| !n.is_empty()),
                properties: Some(properties),
                ..Fields::default()
            },
        )
    }

    /// Says who the user is. A `Some` user id is kept for every later event; the traits are merged into
    /// the ones kept from earlier calls and sent in full.
    pub fn identify(
        &mut self,
        user_id: Option<&str>,
        traits: Value,
    ) -> Result<Option<String>, Error> {
        let new_traits = object_or_empty("traits", traits)?;
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
        if !new_traits.is_empty() {
            self.traits.extend(new_traits);
            self.storage.store(
                keys::TRAITS,
                Some(&Value::Object(self.traits.clone()).to_string()),
            )?;
        }
        let traits = std::mem::take(&mut self.traits);
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

    /// Associates the user with a group (a company, an account).
    pub fn group(&mut self, group_id: &str, traits: Value) -> Result<Option<String>, Error> {
        non_empty("groupId", group_id)?;
        let traits = object_or_empty("traits", traits)?;
        self.record(
            MessageType::Group,
            Fields {
                group_id: Some(group_id),
                traits: Some(&traits),
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
        self.traits.clear();
        self.storage.store(keys::TRAITS, None)?;
        self.session = None;
        self.storage.store(keys::SESSION, None)?;
        self.refresh_context();
        Ok(())
    }

    /// Properties sent with every later `track`, `page` and `screen`, merged into those kept already. A
    /// property given in a call wins over one registered here.
    pub fn register(&mut self, properties: Value) -> Result<(), Error> {
        let properties = object_or_empty("properties", properties)?;
        self.super_properties.extend(properties);
        let text = Value::Object(self.super_properties.clone()).to_string();
        self.storage.store(keys::SUPER_PROPERTIES, Some(&text))?;
        Ok(())
    }

    /// Stops sending a property registered with [`register`](Client::register).
    pub fn unregister(&mut self, key: &str) -> Result<(), Error> {
        if self.super_properties.remove(key).is_some() {
            let text = Value::Object(self.super_properties.clone()).to_string();
            self.storage.store(keys::SUPER_PROPERTIES, Some(&text))?;
        }
        Ok(())
    }

    /// Sets the platform's default context (`device`, `os`, `app`, `locale`, `userAgent`, `page`, …),
    /// sent in `context` with every event. `library` and `sessionId` are the engine's and cannot be
    /// overridden.
    pub fn set_context(&mut self, context: Value) -> Result<(), Error> {
        self.platform_context = object_or_empty("context", context)?;
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

    fn with_super_properties(&self, mut properties: Map<String, Value>) -> Map<String, Value> {
        for (key, value) in &self.super_properties {
            if !properties.contains_key(key) {
                properties.insert(key.clone(), value.clone());
            }
        }
        properties
    }

    fn record(&mut self, kind: MessageType, fields: Fields<'_>) -> Result<Option<String>, Error> {
        if self.opted_out {
            return Ok(None);
        }
        let now = self.clock.now();
        self.touch_session(now)?;
        let message_id = self.ids.uuid_v7(now);
        let timestamp = format_rfc3339_millis(now);
        let message = MessageRef {
            kind,
            message_id: &message_id,
            anonymous_id: Some(&self.anonymous_id),
            user_id: self.user_id.as_deref(),
            timestamp: &timestamp,
            event: fields.event,
            name: fields.name,
            category: fields.category,
            group_id: fields.group_id,
            previous_id: fields.previous_id,
            properties: fields.properties.as_ref(),
            traits: fields.traits,
            context: Some(&self.context_json),
            integrations: None,
        };
        // Serializing a tree of serde_json values cannot fail: keys are strings and numbers are finite.
        let payload = serde_json::to_string(&message).expect("a JSON value always serializes");
        if payload.len() > MAX_MESSAGE_BYTES {
            return Err(ErrorKind::MessageTooLarge {
                bytes: payload.len(),
                limit: MAX_MESSAGE_BYTES,
            }
            .into());
        }
        self.make_room_for(payload.len() as u64)?;
        self.storage.append(NewEvent {
            message_id: &message_id,
            created_at: now,
            payload: &payload,
        })?;
        self.recorder.stats.accepted += 1;
        Ok(Some(message_id))
    }

    /// Evicts the oldest events until one more of `bytes` fits the bounds, counting each eviction.
    fn make_room_for(&mut self, bytes: u64) -> Result<(), Error> {
        let max_events = self.config.max_queue_events as u64;
        while self.storage.count() > 0
            && (self.storage.count() >= max_events
                || self.storage.bytes() + bytes > self.config.max_queue_bytes)
        {
            let oldest = self.storage.read_batch(1, usize::MAX)?;
            let Some(oldest) = oldest.into_iter().next() else {
                break;
            };
            self.storage.acknowledge(&[oldest.seq])?;
            self.recorder
                .dropped(oldest.message_id, DropReason::QueueFull);
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
        let ended = self
            .session
            .as_ref()
            .is_none_or(|s| s.has_ended(now, idle, max_length));
        if ended {
            self.session = Some(Session::new(self.ids.uuid_v7(now), now));
            self.refresh_context();
        } else if let Some(session) = &mut self.session {
            session.last_activity = session.last_activity.max(now);
        }
        let session = self.session.as_ref().expect("a session was just ensured");
        if ended || session.last_activity - self.session_persisted_at >= SESSION_PERSIST_EVERY {
            let text = serde_json::to_string(session).expect("a session always serializes");
            self.storage.store(keys::SESSION, Some(&text))?;
            self.session_persisted_at = session.last_activity;
        }
        Ok(())
    }

    /// Re-serializes the context sent with every event; called only when it changes.
    fn refresh_context(&mut self) {
        let mut context = self.platform_context.clone();
        context.insert(
            "library".to_owned(),
            serde_json::json!({"name": self.config.library_name, "version": self.config.library_version}),
        );
        match &self.session {
            Some(session) => {
                context.insert("sessionId".to_owned(), Value::String(session.id.clone()))
            }
            None => context.remove("sessionId"),
        };
        let text = Value::Object(context).to_string();
        self.context_json = RawValue::from_string(text).expect("serialized JSON is valid JSON");
    }
}

fn object_or_empty(field: &'static str, value: Value) -> Result<Map<String, Value>, Error> {
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        other => Err(Error::not_an_object(field, &other)),
    }
}

fn non_empty(field: &'static str, id: &str) -> Result<(), Error> {
    if id.trim().is_empty() {
        return Err(ErrorKind::EmptyId { field }.into());
    }
    Ok(())
}

fn load_object<S: Storage>(storage: &S, key: &str) -> Result<Map<String, Value>, Error> {
    // A value that no longer parses (written by a future version, or damaged) is dropped rather than
    // making the app unable to start.
    Ok(storage
        .load(key)?
        .and_then(|text| serde_json::from_str::<Map<String, Value>>(&text).ok())
        .unwrap_or_default())
}
