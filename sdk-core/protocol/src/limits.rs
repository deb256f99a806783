//! Segment's size limits, which Footfall keeps so that a client that fits Segment fits Footfall.

/// The largest serialized message, in bytes (Segment: "32KB per call").
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;

/// The largest batch body, in bytes, after decompression (Segment: "500KB per batch request").
pub const MAX_BATCH_BYTES: usize = 500 * 1024;

/// Bytes of the batch envelope around the messages, `{"batch":[` … `],"sentAt":"…"}`, rounded up.
///
/// An SDK subtracts this from [`MAX_BATCH_BYTES`] when it packs messages, so the body it sends stays
/// within the limit whatever the timestamp.
pub const BATCH_ENVELOPE_BYTES: usize = 64;
