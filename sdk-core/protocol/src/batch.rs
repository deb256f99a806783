//! The `POST /v1/batch` envelope.
//!
//! ```json
//! {"batch": [ {message}, … ], "sentAt": "2026-11-22T10:00:00.000Z", "writeKey": "optional"}
//! ```
//!
//! The write key normally travels in HTTP Basic auth (see [`crate::auth`]); Segment's libraries also put
//! it in the body, and a collector accepts either. `sentAt` is stamped on every attempt, so a collector
//! can correct the client's clock skew: `timestamp + (receivedAt − sentAt)`.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Message;

/// The batch envelope with its messages parsed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Batch {
    /// The messages, oldest first.
    pub batch: Vec<Message>,
    /// When the client sent this attempt (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    /// The write key, when the client sends it in the body rather than in Basic auth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_key: Option<String>,
    /// Envelope fields this crate does not know (`context`, `integrations`, …), kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
