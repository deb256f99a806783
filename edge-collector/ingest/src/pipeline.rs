//! The ingestion pipeline: write key → per-message validation → enrichment → records.
//!
//! [`Ingestor::parse`] reads the body down to raw messages and resolves the write key (so that a caller
//! can rate-limit by key before doing the work); [`Ingestor::process`] validates and enriches each
//! message on its own. A good message becomes an accepted [`Record`]; a bad one becomes a dead-letter
//! [`Record`] and an [`EventResult::drop`] naming the field. Nothing is dropped silently. Values are
//! kept as sent, but a message holding a number beyond a 64-bit float (`1e999`) is refused, naming
//! it (see [`crate::number_beyond_f64`]): the backend could not read it.
//!
//! # What an accepted event looks like
//!
//! The message as the client sent it, unknown fields kept, with these fields set by the collector:
//!
//! * `type` (forced from the path on single-message endpoints), `messageId` (a UUID v4 if absent);
//! * `timestamp`: skew-corrected (see [`crate::timestamp`]); `originalTimestamp`: the client's
//!   `timestamp` as sent, unless the client sent an `originalTimestamp` itself; `receivedAt`: now;
//! * `context.ip`: the client's own `context.ip` if it is an address, else the request's client address
//!   (see [`crate::ip`]), anonymized if configured;
//! * `context.footfall`: `{projectId, sourceId, ua?, geo?, clampedTimestamp?, schemaViolations?}`;
//!   `clampedTimestamp: true` marks an event whose timestamp was more than 23 h ahead and was replaced
//!   by `receivedAt`. A client's own `context.footfall` is replaced.
//!
//! A batch's own `context` and `integrations` objects (beside `batch`, as analytics-java sends its
//! `context.library`) apply to each of its messages: a message gets each of their keys it lacks, and
//! keeps its own value for the keys it has.
//!
//! Its ordering key is `"<writeKey>:<userId or anonymousId>"`, so one person's events stay in order.
//!
//! # What a dead letter looks like
//!
//! `{"writeKey", "projectId", "sourceId", "receivedAt", "messageId", "index", "cause", "reason",
//! "payload"}` where `payload` is the message exactly as received; its key is the write key.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use footfall_protocol::auth::{write_key_from_authorization, AuthError};
use footfall_protocol::json::push_str as push_json_str;
use footfall_protocol::limits::MAX_MESSAGE_BYTES;
use footfall_protocol::{format_rfc3339_millis, rfc3339_millis_bytes, EventResult, MessageType};
use ipnet::IpNet;
use serde_json::value::RawValue;
use serde_json::Value;
use time::OffsetDateTime;

use crate::envelope::{parse_batch, parse_single, Fields, Message};
use crate::geo::{Geo, GeoLookup};
use crate::ip::{anonymize, client_ip};
use crate::keys::{Source, WriteKeys};
use crate::number_range::{self, number_beyond_f64};
use crate::schema::{SchemaKind, SchemaOutcome, SchemaPolicy, SchemaRegistry, TrackingPlan};
use crate::timestamp::{corrected_timestamp, parse_timestamp, unix_millis};
use crate::useragent::UserAgentCache;
use crate::IngestError;

/// Which endpoint a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /v1/batch`: an envelope of messages of any type.
    Batch,
    /// `POST /v1/<type>`: one message whose `type` is set by the path.
    Single(MessageType),
}

impl Endpoint {
    /// Every API path, the endpoint it is and its metric label. Each also answers with a trailing
    /// slash; `/v1/{t,p,s,i,g,a,b}` are the short aliases analytics.js uses.
    pub const ROUTES: [(&'static str, Endpoint, &'static str); 16] = [
        ("/v1/batch", Endpoint::Batch, "batch"),
        ("/v1/import", Endpoint::Batch, "batch"),
        ("/v1/track", Endpoint::Single(MessageType::Track), "track"),
        ("/v1/page", Endpoint::Single(MessageType::Page), "page"),
        (
            "/v1/screen",
            Endpoint::Single(MessageType::Screen),
            "screen",
        ),
        (
            "/v1/identify",
            Endpoint::Single(MessageType::Identify),
            "identify",
        ),
        ("/v1/group", Endpoint::Single(MessageType::Group), "group"),
        ("/v1/alias", Endpoint::Single(MessageType::Alias), "alias"),
        ("/v1/t", Endpoint::Single(MessageType::Track), "track"),
        ("/v1/p", Endpoint::Single(MessageType::Page), "page"),
        ("/v1/s", Endpoint::Single(MessageType::Screen), "screen"),
        ("/v1/i", Endpoint::Single(MessageType::Identify), "identify"),
        ("/v1/g", Endpoint::Single(MessageType::Group), "group"),
        ("/v1/a", Endpoint::Single(MessageType::Alias), "alias"),
        ("/v1/b", Endpoint::Batch, "batch"),
        // RudderStack's beacon, the write key in the query (`?writeKey=`).
        ("/beacon/v1/batch", Endpoint::Batch, "batch"),
    ];

    /// The endpoint a request path names, with its metric label; a trailing slash is allowed.
    pub fn from_path(path: &str) -> Option<(Endpoint, &'static str)> {
        let path = path.strip_suffix('/').unwrap_or(path);
        Self::ROUTES
            .iter()
            .find(|(route, _, _)| *route == path)
            .map(|(_, endpoint, label)| (*endpoint, *label))
    }
}

/// How accepted events are enriched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnrichOptions {
    /// Proxies whose `X-Forwarded-For` is believed (see [`crate::ip::client_ip`]).
    pub trusted_proxies: Vec<IpNet>,
    /// Zero the host part of `context.ip` (last octet of IPv4, last 80 bits of IPv6).
    pub anonymize_ip: bool,
}

/// What the request says about the client, besides its body.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    /// The TCP peer.
    pub peer: IpAddr,
    /// `X-Forwarded-For`, repeated headers joined with commas.
    pub forwarded_for: Option<&'a str>,
    /// The request's `User-Agent`, used when a message has no `context.userAgent`.
    pub user_agent: Option<&'a str>,
    /// When the request arrived.
    pub received_at: OffsetDateTime,
    /// Where the request's client is, when the platform already knows (Cloudflare's `request.cf` at
    /// the edge). Used for events located at the request's client address instead of the
    /// [`GeoLookup`]; an event carrying another address in `context.ip` is still looked up.
    pub known_geo: Option<&'a Geo>,
}

/// A key and a payload, as a sink stores them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The ordering (partition) key.
    pub key: Vec<u8>,
    /// The serialized JSON.
    pub payload: Vec<u8>,
}

/// Why a message went to the dead letters; a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropCause {
    /// Not a valid message: wrong types, missing fields.
    Invalid,
    /// Over the 32 KB message limit.
    TooLarge,
    /// Refused by a `reject` schema.
    Schema,
}

impl DropCause {
    /// Every cause.
    pub const ALL: [DropCause; 3] = [DropCause::Invalid, DropCause::TooLarge, DropCause::Schema];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DropCause::Invalid => "invalid",
            DropCause::TooLarge => "too_large",
            DropCause::Schema => "schema",
        }
    }
}

/// A body read down to raw messages, with its write key resolved.
#[derive(Debug)]
pub struct Parsed<'a> {
    /// The write key.
    pub write_key: String,
    /// What the write key stands for.
    pub source: Source,
    endpoint: Endpoint,
    messages: Vec<Message<'a>>,
    sent_at: Option<String>,
    batch_context: Fields<'a>,
    batch_integrations: Fields<'a>,
}

impl Parsed<'_> {
    /// How many messages the request holds.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether the request holds no message.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}

/// The outcome of a request.
#[derive(Debug, Default)]
pub struct Processed {
    /// Enriched events to make durable, in request order.
    pub accepted: Vec<Record>,
    /// Refused messages with their raw payload and reason, in request order.
    pub dead_letters: Vec<Record>,
    /// Why each dead letter was refused, parallel to `dead_letters`.
    pub drop_causes: Vec<DropCause>,
    /// One result per message, in request order.
    pub results: Vec<EventResult>,
    /// Accepted events whose timestamp was clamped.
    pub clamped: usize,
    /// Accepted events flagged by a `flag` schema.
    pub schema_flagged: usize,
    /// What each message that broke the tracking plan broke, in request order: for a data steward's
    /// per-schema counts. Empty unless one did.
    pub schema_violations: Vec<SchemaViolation>,
}

/// A message that broke the tracking plan: a schema, or the rule for events without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaViolation {
    /// The schema's kind: the properties of `track`, `page` or `screen`, or the traits of
    /// `identify` or `group`.
    pub kind: SchemaKind,
    /// The name the broken schema is for: a `track` event's, a page's or a screen's. `None` for a
    /// schema of every message of its kind (traits, every page), and for a `track` event with no
    /// schema, refused or flagged by [`crate::UnplannedEvents`] (its name is the client's,
    /// unbounded, so it is not reported).
    pub event: Option<String>,
    /// Whether it was flagged or refused.
    pub policy: SchemaPolicy,
}

impl Processed {
    /// When every message of the request was refused: the code and message of the 400 to answer, once
    /// the dead letters are durable. `message_too_large` when every message was over 32 KB.
    pub fn refusal(&self) -> Option<(footfall_protocol::ErrorCode, String)> {
        if !self.accepted.is_empty() || self.dead_letters.is_empty() {
            return None;
        }
        let code = if self.drop_causes.iter().all(|c| *c == DropCause::TooLarge) {
            footfall_protocol::ErrorCode::MessageTooLarge
        } else {
            footfall_protocol::ErrorCode::InvalidRequest
        };
        let reason = self
            .results
            .iter()
            .find(|r| r.status == footfall_protocol::EventStatus::Drop)
            .and_then(|r| r.reason.as_deref())
            .unwrap_or("invalid message");
        let total = self.results.len();
        let message = if total == 1 {
            reason.to_owned()
        } else {
            format!("all {total} messages were refused; the first: {reason}")
        };
        Some((code, message))
    }
}

/// The request-independent ingestion logic. Cheap to share behind an `Arc`.
pub struct Ingestor {
    write_keys: WriteKeys,
    options: EnrichOptions,
    geo: Option<Arc<dyn GeoLookup>>,
    user_agents: Arc<UserAgentCache>,
}

impl std::fmt::Debug for Ingestor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingestor")
            .field("write_keys", &self.write_keys.len())
            .field("options", &self.options)
            .field("geo", &self.geo.is_some())
            .field("user_agents", &self.user_agents)
            .finish()
    }
}

impl Ingestor {
    /// An ingestor for these write keys, without geo lookup.
    pub fn new(write_keys: WriteKeys, options: EnrichOptions) -> Self {
        Self {
            write_keys,
            options,
            geo: None,
            user_agents: Arc::default(),
        }
    }

    /// An ingestor for other write keys, options and geo lookup that shares this one's cache of
    /// parsed user agents, so that a configuration reload does not parse every agent again.
    pub fn reconfigured(
        &self,
        write_keys: WriteKeys,
        options: EnrichOptions,
        geo: Option<Arc<dyn GeoLookup>>,
    ) -> Self {
        Self {
            write_keys,
            options,
            geo,
            user_agents: Arc::clone(&self.user_agents),
        }
    }

    /// What a write key stands for, `None` when it is unknown.
    pub fn source(&self, write_key: &str) -> Option<&Source> {
        self.write_keys.resolve(write_key)
    }

    /// Adds a geo lookup of the client IP.
    pub fn with_geo(mut self, geo: Arc<dyn GeoLookup>) -> Self {
        self.geo = Some(geo);
        self
    }

    /// [`IngestError::UnknownWriteKey`] when the `Authorization` header yields a write key that is
    /// not known. That key wins over one in the body, so the answer is known before the body is read:
    /// a server can refuse without reading it, and an old app version still sending with a revoked
    /// key costs no parsing. [`Ingestor::parse`] checks this first too, so that the answer is the
    /// same 401 whatever the body holds, even when it is not JSON.
    pub fn refuse_unknown_header_key(
        &self,
        authorization: Option<&str>,
    ) -> Result<(), IngestError> {
        self.header_key(authorization).map(drop)
    }

    /// What the `Authorization` header yields (`None` without one), refused as in
    /// [`Ingestor::refuse_unknown_header_key`] when it names an unknown key.
    fn header_key(
        &self,
        authorization: Option<&str>,
    ) -> Result<Option<Result<String, AuthError>>, IngestError> {
        let from_header = authorization.map(write_key_from_authorization);
        match &from_header {
            Some(Ok(key)) if self.write_keys.resolve(key).is_none() => {
                Err(IngestError::UnknownWriteKey)
            }
            _ => Ok(from_header),
        }
    }

    /// Reads a decoded body (see [`crate::decode_body`]) and resolves its write key.
    ///
    /// The key comes from `Authorization: Basic` when that header yields one, else from the body's
    /// `writeKey`.
    pub fn parse<'a>(
        &self,
        endpoint: Endpoint,
        authorization: Option<&str>,
        body: &'a [u8],
    ) -> Result<Parsed<'a>, IngestError> {
        let from_header = self.header_key(authorization)?;
        let envelope = match endpoint {
            Endpoint::Batch => parse_batch(body)?,
            Endpoint::Single(_) => parse_single(body)?,
        };
        let write_key = match (from_header, envelope.write_key) {
            (Some(Ok(key)), _) => key,
            (_, Some(key)) if !key.is_empty() => key,
            (Some(Err(e)), _) => return Err(IngestError::BadAuthorization(e)),
            (None, _) => return Err(IngestError::MissingWriteKey),
        };
        let source = self
            .write_keys
            .resolve(&write_key)
            .ok_or(IngestError::UnknownWriteKey)?
            .clone();
        // They go into every message, so one such number refuses them all.
        for (field, values) in [
            ("context", &envelope.context),
            ("integrations", &envelope.integrations),
        ] {
            for (key, value) in &values.0 {
                if let Some(number) = number_beyond_f64(value.get()) {
                    return Err(IngestError::InvalidRequest(format!(
                        "{field}.{key}: {}",
                        number_range::reason(number)
                    )));
                }
            }
        }
        Ok(Parsed {
            write_key,
            source,
            endpoint,
            messages: envelope.messages,
            sent_at: envelope.sent_at,
            batch_context: envelope.context,
            batch_integrations: envelope.integrations,
        })
    }

    /// Validates and enriches every message of a parsed request.
    pub fn process(
        &self,
        mut parsed: Parsed<'_>,
        request: &RequestInfo<'_>,
        schemas: &SchemaRegistry,
    ) -> Processed {
        let messages = std::mem::take(&mut parsed.messages);
        let plan = schemas.plan(&parsed.source.project_id);
        let mut ctx = RequestContext::new(self, &parsed, request);
        let mut out = Processed {
            accepted: Vec::with_capacity(messages.len()),
            results: Vec::with_capacity(messages.len()),
            ..Processed::default()
        };
        for (index, message) in messages.into_iter().enumerate() {
            let raw = message.raw;
            match ctx.process_one(message, &plan) {
                Ok(event) => {
                    out.clamped += usize::from(event.clamped);
                    if let Some(violation) = event.violation {
                        out.schema_flagged += 1;
                        out.schema_violations.push(violation);
                    }
                    out.results.push(EventResult::ok(event.message_id));
                    out.accepted.push(event.record);
                }
                Err(mut drop) => {
                    if let Some(violation) = drop.violation.take() {
                        out.schema_violations.push(violation);
                    }
                    out.dead_letters.push(ctx.dead_letter(index, raw, &drop));
                    out.drop_causes.push(drop.cause);
                    out.results
                        .push(EventResult::drop(drop.message_id, drop.reason));
                }
            }
        }
        out
    }
}

struct Accepted {
    message_id: String,
    record: Record,
    clamped: bool,
    /// What it broke of the tracking plan, flagged.
    violation: Option<SchemaViolation>,
}

struct Dropped {
    message_id: String,
    cause: DropCause,
    reason: String,
    /// What it broke of the tracking plan, refused.
    violation: Option<SchemaViolation>,
}

/// Per-request state: values computed once per request and small caches.
struct RequestContext<'r> {
    ingestor: &'r Ingestor,
    write_key: &'r str,
    source: &'r Source,
    endpoint: Endpoint,
    received_at: OffsetDateTime,
    /// `received_at` as an RFC 3339 JSON string, rendered once per request.
    received_at_json: Vec<u8>,
    batch_sent_at: Option<OffsetDateTime>,
    client_ip: IpAddr,
    /// `client_ip` as it is shown in `context.ip` (anonymized if configured), a JSON string.
    client_ip_json: String,
    /// `{"projectId":…,"sourceId":…` of `context.footfall`, the same for every event of the request.
    footfall_head: Vec<u8>,
    /// The batch's own `context` and `integrations`: defaults for each message's.
    batch_context: &'r Fields<'r>,
    batch_integrations: &'r Fields<'r>,
    header_user_agent: Option<&'r str>,
    known_geo: Option<&'r Geo>,
    /// The last address looked up and its serialized `geo` object.
    geo_cache: Option<(IpAddr, Option<String>)>,
}

/// A JSON string's value, borrowed when it holds no escape (the raw text was validated by the parser).
fn json_str(text: &str) -> Option<Cow<'_, str>> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(text).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

/// An id: a string or a number (read as its decimal text); `null` and `""` read as absent.
fn id_value(raw: &RawValue) -> Result<Option<Cow<'_, str>>, ()> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'"') => Ok(json_str(text).ok_or(())?).map(|s| (!s.is_empty()).then_some(s)),
        Some(b'n') if text == "null" => Ok(None),
        Some(b'-' | b'0'..=b'9') => serde_json::from_str::<serde_json::Number>(text)
            .map(|n| Some(Cow::Owned(n.to_string())))
            .map_err(|_| ()),
        _ => Err(()),
    }
}

/// [`id_value`] of a field that may be absent.
fn optional_id(raw: Option<&RawValue>) -> Result<Option<Cow<'_, str>>, ()> {
    raw.map_or(Ok(None), id_value)
}

/// [`string_value`] of a field that may be absent.
fn optional_string(raw: Option<&RawValue>) -> Result<Option<Cow<'_, str>>, ()> {
    raw.map_or(Ok(None), string_value)
}

fn string_value(raw: &RawValue) -> Result<Option<Cow<'_, str>>, ()> {
    if raw.get() == "null" {
        return Ok(None);
    }
    json_str(raw.get()).map(Some).ok_or(())
}

fn is_object_or_null(raw: &RawValue) -> bool {
    let text = raw.get();
    text.starts_with('{') || text == "null"
}

fn push_field(out: &mut Vec<u8>, first: &mut bool, key: &str, value: &[u8]) {
    if !std::mem::take(first) {
        out.push(b',');
    }
    push_json_str(out, key);
    out.push(b':');
    out.extend_from_slice(value);
}

/// [`push_field`] for a key read from the request: one that was borrowed had no escape in valid JSON
/// text (no quote, backslash or control character), so it is copied as it is.
// The `Cow`'s variant is the point: it says whether the key had an escape.
#[allow(clippy::ptr_arg)]
fn push_read_field(out: &mut Vec<u8>, first: &mut bool, key: &Cow<'_, str>, value: &[u8]) {
    match key {
        Cow::Borrowed(key) => {
            if !std::mem::take(first) {
                out.push(b',');
            }
            out.reserve(key.len() + 3 + value.len());
            out.push(b'"');
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(b"\":");
            out.extend_from_slice(value);
        }
        Cow::Owned(key) => push_field(out, first, key, value),
    }
}

/// Whether the collector writes this field itself, replacing the client's value.
fn is_replaced(key: &str) -> bool {
    matches!(
        key,
        "type" | "messageId" | "timestamp" | "receivedAt" | "context"
    )
}

/// The fields of a message that the collector reads, found in one pass over its fields (the last of
/// a repeated key, as JSON parsers do): looking each up by name scanned the fields 18 times.
#[derive(Debug, Default)]
struct KnownFields<'a> {
    message_id: Option<&'a RawValue>,
    kind: Option<&'a RawValue>,
    user_id: Option<&'a RawValue>,
    anonymous_id: Option<&'a RawValue>,
    group_id: Option<&'a RawValue>,
    previous_id: Option<&'a RawValue>,
    event: Option<&'a RawValue>,
    name: Option<&'a RawValue>,
    category: Option<&'a RawValue>,
    properties: Option<&'a RawValue>,
    traits: Option<&'a RawValue>,
    integrations: Option<&'a RawValue>,
    context: Option<&'a RawValue>,
    timestamp: Option<&'a RawValue>,
    sent_at: Option<&'a RawValue>,
    original_timestamp: Option<&'a RawValue>,
}

impl<'a> KnownFields<'a> {
    fn of(fields: &Fields<'a>) -> Self {
        let mut known = Self::default();
        for (key, value) in &fields.0 {
            let slot = match key.as_ref() {
                "messageId" => &mut known.message_id,
                "type" => &mut known.kind,
                "userId" => &mut known.user_id,
                "anonymousId" => &mut known.anonymous_id,
                "groupId" => &mut known.group_id,
                "previousId" => &mut known.previous_id,
                "event" => &mut known.event,
                "name" => &mut known.name,
                "category" => &mut known.category,
                "properties" => &mut known.properties,
                "traits" => &mut known.traits,
                "integrations" => &mut known.integrations,
                "context" => &mut known.context,
                "timestamp" => &mut known.timestamp,
                "sentAt" => &mut known.sent_at,
                "originalTimestamp" => &mut known.original_timestamp,
                _ => continue,
            };
            *slot = Some(*value);
        }
        known
    }
}

impl<'r> RequestContext<'r> {
    fn new(ingestor: &'r Ingestor, parsed: &'r Parsed<'_>, request: &RequestInfo<'r>) -> Self {
        let client_ip = client_ip(
            request.peer,
            request.forwarded_for,
            &ingestor.options.trusted_proxies,
        );
        let received_at_text = format_rfc3339_millis(unix_millis(request.received_at));
        let mut received_at_json = Vec::with_capacity(received_at_text.len() + 2);
        push_json_str(&mut received_at_json, &received_at_text);
        let mut footfall_head = Vec::with_capacity(64);
        footfall_head.extend_from_slice(b"{\"projectId\":");
        push_json_str(&mut footfall_head, &parsed.source.project_id);
        footfall_head.extend_from_slice(b",\"sourceId\":");
        push_json_str(&mut footfall_head, &parsed.source.source_id);
        Self {
            ingestor,
            write_key: &parsed.write_key,
            source: &parsed.source,
            endpoint: parsed.endpoint,
            received_at: request.received_at,
            received_at_json,
            batch_sent_at: parsed.sent_at.as_deref().and_then(parse_timestamp),
            client_ip,
            client_ip_json: shown_ip_json(client_ip, ingestor.options.anonymize_ip),
            footfall_head,
            batch_context: &parsed.batch_context,
            batch_integrations: &parsed.batch_integrations,
            header_user_agent: request.user_agent,
            known_geo: request.known_geo,
            geo_cache: None,
        }
    }

    fn process_one(
        &mut self,
        message: Message<'_>,
        schemas: &TrackingPlan<'_>,
    ) -> Result<Accepted, Dropped> {
        let raw = message.raw;
        let read_context = message.context;
        let fields = match message.fields {
            Some(fields) => fields,
            None => match Fields::parse(raw) {
                Ok(fields) => fields,
                Err(_) => return Err(invalid(new_message_id(), "message: must be a JSON object")),
            },
        };
        let known = KnownFields::of(&fields);
        let message_id = match known.message_id.map(id_value) {
            None | Some(Ok(None)) => new_message_id(),
            Some(Ok(Some(id))) => id.into_owned(),
            Some(Err(())) => {
                return Err(invalid(
                    new_message_id(),
                    "messageId: must be a string or a number",
                ))
            }
        };
        let size = raw.len();
        if size > MAX_MESSAGE_BYTES {
            return Err(Dropped {
                message_id,
                cause: DropCause::TooLarge,
                reason: format!("message: {size} bytes is over the {MAX_MESSAGE_BYTES}-byte limit"),
                violation: None,
            });
        }
        if let Some(number) = number_beyond_f64(raw) {
            return Err(invalid(message_id, number_range::reason(number)));
        }
        macro_rules! check {
            ($e:expr, $reason:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(()) => return Err(invalid(message_id, $reason)),
                }
            };
        }
        let sent_type = match known.kind {
            None => None,
            Some(t) => {
                let name = check!(string_value(t), "type: must be a string");
                match name.as_deref().map(str::parse::<MessageType>) {
                    None => None,
                    Some(Ok(kind)) => Some(kind),
                    Some(Err(e)) => return Err(invalid(message_id, format!("type: {e}"))),
                }
            }
        };
        let kind = match (self.endpoint, sent_type) {
            (Endpoint::Single(path), None) => path,
            (Endpoint::Single(path), Some(kind)) if kind == path => kind,
            (Endpoint::Single(path), Some(kind)) => {
                return Err(invalid(
                    message_id,
                    format!("type: is {kind:?} but the endpoint is /v1/{path}"),
                ))
            }
            (Endpoint::Batch, Some(kind)) => kind,
            (Endpoint::Batch, None) => return Err(invalid(message_id, "type: missing")),
        };
        let ids = [
            ("userId", known.user_id),
            ("anonymousId", known.anonymous_id),
            ("groupId", known.group_id),
            ("previousId", known.previous_id),
        ]
        .map(|(name, raw)| optional_id(raw).map_err(|()| name));
        if let Some(Err(name)) = ids.iter().find(|id| id.is_err()) {
            let reason = format!("{name}: must be a string or a number");
            return Err(invalid(message_id, reason));
        }
        let [user_id, anonymous_id, group_id, previous_id] = ids.map(Result::unwrap_or_default);
        let texts = [
            ("event", known.event),
            ("name", known.name),
            ("category", known.category),
        ]
        .map(|(name, raw)| optional_string(raw).map_err(|()| name));
        if let Some(Err(name)) = texts.iter().find(|text| text.is_err()) {
            return Err(invalid(message_id, format!("{name}: must be a string")));
        }
        let [event, name, _] = texts.map(Result::unwrap_or_default);
        for (name, value) in [
            ("properties", known.properties),
            ("traits", known.traits),
            ("integrations", known.integrations),
            ("context", known.context),
        ] {
            if value.is_some_and(|v| !is_object_or_null(v)) {
                return Err(invalid(message_id, format!("{name}: must be an object")));
            }
        }
        let Some(distinct_id) = user_id.as_deref().or(anonymous_id.as_deref()) else {
            return Err(invalid(
                message_id,
                "userId or anonymousId: one of them is required",
            ));
        };
        match kind {
            MessageType::Track if event.as_deref().is_none_or(|e| e.trim().is_empty()) => {
                return Err(invalid(
                    message_id,
                    "event: required on a track, and must not be empty",
                ));
            }
            MessageType::Group if group_id.is_none() => {
                return Err(invalid(message_id, "groupId: required on a group"));
            }
            MessageType::Alias if user_id.is_none() => {
                return Err(invalid(message_id, "userId: required on an alias"));
            }
            MessageType::Alias if previous_id.is_none() => {
                return Err(invalid(message_id, "previousId: required on an alias"));
            }
            _ => {}
        }
        let time_field = |raw: Option<&RawValue>| -> Result<Option<OffsetDateTime>, ()> {
            match raw.map(string_value).transpose()?.flatten() {
                None => Ok(None),
                Some(text) => parse_timestamp(&text).map(Some).ok_or(()),
            }
        };
        let timestamp = check!(
            time_field(known.timestamp),
            "timestamp: must be an ISO 8601 date-time"
        );
        let sent_at = check!(
            time_field(known.sent_at),
            "sentAt: must be an ISO 8601 date-time"
        );
        let (corrected, clamped) =
            corrected_timestamp(timestamp, sent_at.or(self.batch_sent_at), self.received_at);

        // The schema that applies, if any, checks the properties (`track`, `page`, `screen`) or the
        // traits (`identify`, `group`); a `track` event without one meets the rule for unplanned
        // events. The name is reported only for a schema made for it.
        let schema_kind = match kind {
            MessageType::Track => Some(SchemaKind::Track),
            MessageType::Page => Some(SchemaKind::Page),
            MessageType::Screen => Some(SchemaKind::Screen),
            MessageType::Identify => Some(SchemaKind::Identify),
            MessageType::Group => Some(SchemaKind::Group),
            MessageType::Alias => None,
        };
        let checked = schema_kind.and_then(|schema_kind| {
            let named = match schema_kind {
                SchemaKind::Track => event.as_deref(),
                _ => name.as_deref(),
            };
            let field = match schema_kind {
                SchemaKind::Identify | SchemaKind::Group => known.traits,
                _ => known.properties,
            };
            match schemas.schema(schema_kind, named) {
                Some(schema) => Some((
                    schema.check(&object_or_empty(field)),
                    schema_kind,
                    schema.name(),
                )),
                None => match (schema_kind, named) {
                    (SchemaKind::Track, Some(event)) => {
                        Some((schemas.check_unplanned(event), schema_kind, None))
                    }
                    _ => None,
                },
            }
        });
        let mut violations = Vec::new();
        let mut flagged = None;
        if let Some((outcome, schema_kind, schema_event)) = checked {
            let violation = |policy| {
                Some(SchemaViolation {
                    kind: schema_kind,
                    event: schema_event.map(str::to_owned),
                    policy,
                })
            };
            match outcome {
                SchemaOutcome::Pass => {}
                SchemaOutcome::Flag(errors) => {
                    violations = errors;
                    flagged = violation(SchemaPolicy::Flag);
                }
                SchemaOutcome::Reject(reason) => {
                    return Err(Dropped {
                        message_id,
                        cause: DropCause::Schema,
                        reason,
                        violation: violation(SchemaPolicy::Reject),
                    });
                }
            }
        }

        let context = match (read_context, known.context) {
            (Some(context), _) => context,
            (None, Some(raw)) if raw.get() != "null" => {
                check!(
                    Fields::parse(raw.get()).map_err(|_| ()),
                    "context: must be an object"
                )
            }
            (None, _) => Fields::default(),
        };
        let context = context.with_defaults(self.batch_context);
        let payload = self.write_event(
            &fields,
            &known,
            &context,
            kind,
            &message_id,
            corrected,
            clamped,
            &violations,
        );
        let mut key = Vec::with_capacity(self.write_key.len() + 1 + distinct_id.len());
        key.extend_from_slice(self.write_key.as_bytes());
        key.push(b':');
        key.extend_from_slice(distinct_id.as_bytes());
        Ok(Accepted {
            message_id,
            record: Record { key, payload },
            clamped,
            violation: flagged,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn write_event(
        &mut self,
        fields: &Fields<'_>,
        known: &KnownFields<'_>,
        context: &Fields<'_>,
        kind: MessageType,
        message_id: &str,
        timestamp: OffsetDateTime,
        clamped: bool,
        violations: &[String],
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            fields
                .0
                .iter()
                .map(|(k, v)| k.len() + v.get().len() + 4)
                .sum::<usize>()
                + 512,
        );
        // The collector's own keys are written as literals: escaping them at run time was 1 % of
        // the collector's CPU.
        out.extend_from_slice(b"{\"type\":");
        push_json_str(&mut out, kind.as_str());
        out.extend_from_slice(b",\"messageId\":");
        push_json_str(&mut out, message_id);
        let mut first = false;
        let merge_integrations = !self.batch_integrations.0.is_empty();
        for (key, value) in &fields.0 {
            let merged_below = merge_integrations && key == "integrations";
            if !is_replaced(key) && !merged_below {
                push_read_field(&mut out, &mut first, key, value.get().as_bytes());
            }
        }
        if merge_integrations {
            // Checked by now: the message's own `integrations` is an object or null.
            let own = known
                .integrations
                .and_then(|raw| Fields::parse(raw.get()).ok())
                .unwrap_or_default();
            let merged = own.with_defaults(self.batch_integrations);
            let mut object = Vec::with_capacity(64);
            object.push(b'{');
            let mut first_entry = true;
            for (key, value) in &merged.0 {
                push_read_field(&mut object, &mut first_entry, key, value.get().as_bytes());
            }
            object.push(b'}');
            push_field(&mut out, &mut first, "integrations", &object);
        }
        out.extend_from_slice(b",\"timestamp\":\"");
        out.extend_from_slice(&rfc3339_millis_bytes(unix_millis(timestamp)));
        out.push(b'"');
        if known.original_timestamp.is_none() {
            if let Some(original) = known.timestamp.filter(|raw| raw.get() != "null") {
                out.extend_from_slice(b",\"originalTimestamp\":");
                out.extend_from_slice(original.get().as_bytes());
            }
        }
        out.extend_from_slice(b",\"receivedAt\":");
        out.extend_from_slice(&self.received_at_json);

        // context: the client's fields, then ip and footfall.
        out.extend_from_slice(b",\"context\":{");
        let mut first_ctx = true;
        let client_ip = context
            .get("ip")
            .and_then(|raw| json_str(raw.get()))
            .and_then(|text| text.parse::<IpAddr>().ok())
            .unwrap_or(self.client_ip);
        for (key, value) in &context.0 {
            if key != "ip" && key != "footfall" {
                push_read_field(&mut out, &mut first_ctx, key, value.get().as_bytes());
            }
        }
        if !std::mem::take(&mut first_ctx) {
            out.push(b',');
        }
        out.extend_from_slice(b"\"ip\":");
        if client_ip == self.client_ip {
            out.extend_from_slice(self.client_ip_json.as_bytes());
        } else {
            let shown = shown_ip_json(client_ip, self.ingestor.options.anonymize_ip);
            out.extend_from_slice(shown.as_bytes());
        }
        let user_agent = context
            .get("userAgent")
            .and_then(|raw| json_str(raw.get()))
            .or_else(|| self.header_user_agent.map(Cow::Borrowed));

        // context.footfall, last: written in place, the context is never empty by now.
        out.extend_from_slice(b",\"footfall\":");
        out.extend_from_slice(&self.footfall_head);
        if let Some(ua) = user_agent.and_then(|ua| self.ingestor.user_agents.json(&ua)) {
            out.extend_from_slice(b",\"ua\":");
            out.extend_from_slice(ua.as_bytes());
        }
        if let Some(geo) = self.geo_json(client_ip) {
            out.extend_from_slice(b",\"geo\":");
            out.extend_from_slice(geo.as_bytes());
        }
        if clamped {
            out.extend_from_slice(b",\"clampedTimestamp\":true");
        }
        if !violations.is_empty() {
            out.extend_from_slice(b",\"schemaViolations\":");
            let _ = serde_json::to_writer(&mut out, violations);
        }
        out.extend_from_slice(b"}}}");
        out
    }

    fn geo_json(&mut self, ip: IpAddr) -> Option<String> {
        let known = self.known_geo.filter(|_| ip == self.client_ip);
        if known.is_none() && self.ingestor.geo.is_none() {
            return None;
        }
        if let Some((cached, json)) = &self.geo_cache {
            if *cached == ip {
                return json.clone();
            }
        }
        let json = match (known, &self.ingestor.geo) {
            (Some(geo), _) => Some(geo.clone()),
            (None, Some(lookup)) => lookup.lookup(ip),
            (None, None) => None,
        }
        .filter(|g| *g != Geo::default())
        .and_then(|g| serde_json::to_string(&g).ok());
        self.geo_cache = Some((ip, json.clone()));
        json
    }

    fn dead_letter(&self, index: usize, raw: &str, drop: &Dropped) -> Record {
        let mut out = Vec::with_capacity(raw.len() + drop.reason.len() + 256);
        let mut first = true;
        out.push(b'{');
        let mut text = |out: &mut Vec<u8>, key: &str, value: &str| {
            let mut v = Vec::with_capacity(value.len() + 2);
            push_json_str(&mut v, value);
            push_field(out, &mut first, key, &v);
        };
        text(&mut out, "writeKey", self.write_key);
        text(&mut out, "projectId", &self.source.project_id);
        text(&mut out, "sourceId", &self.source.source_id);
        out.extend_from_slice(b",\"receivedAt\":");
        out.extend_from_slice(&self.received_at_json);
        text(&mut out, "messageId", &drop.message_id);
        text(&mut out, "cause", drop.cause.as_str());
        text(&mut out, "reason", &drop.reason);
        out.extend_from_slice(format!(",\"index\":{index},\"payload\":").as_bytes());
        out.extend_from_slice(raw.as_bytes());
        out.push(b'}');
        Record {
            key: self.write_key.as_bytes().to_vec(),
            payload: out,
        }
    }
}

/// An address as `context.ip` shows it: a JSON string, anonymized if configured.
fn shown_ip_json(ip: IpAddr, anonymize_ip: bool) -> String {
    let shown = if anonymize_ip { anonymize(ip) } else { ip };
    format!("\"{shown}\"")
}

fn invalid(message_id: String, reason: impl Into<String>) -> Dropped {
    Dropped {
        message_id,
        cause: DropCause::Invalid,
        reason: reason.into(),
        violation: None,
    }
}

/// A field for a schema to check: absent or `null` is checked as `{}` (a schema with `required`
/// catches it), anything else as it came (the type checks have already refused a non-object).
fn object_or_empty(raw: Option<&RawValue>) -> Value {
    match raw {
        Some(raw) if raw.get() != "null" => serde_json::from_str(raw.get()).unwrap_or(Value::Null),
        _ => Value::Object(Default::default()),
    }
}

fn new_message_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests;
