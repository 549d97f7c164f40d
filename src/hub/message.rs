//! What the hub hands around: a published message, a gap in a subscriber's
//! history, a publish receipt, and the rules for names and ids.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;

use crate::error::Error;
use crate::store::Stored;

/// One published message, shared by the history and every subscriber's queue.
#[derive(Debug)]
pub struct Published {
    /// The topic's sequence number, one more than the last: from 1 on a new
    /// durable topic (after the floor of a replaced file), after the time
    /// the topic was first used in memory mode.
    pub id: u64,
    /// The topic's name.
    pub topic: Arc<str>,
    /// When it was published, in milliseconds since the Unix epoch; never
    /// earlier than the time of the message before it.
    pub time_ms: u64,
    /// The body, UTF-8 text; cheap to clone into a frame.
    pub data: Bytes,
    /// Its bytes in each subscriber format, made by the first subscriber
    /// that needs them and shared by the rest: a thousand subscribers cost
    /// one encoding, not a thousand.
    pub encoded: Encodings,
}

/// Lazily made encodings of one message (the endpoints define the formats).
#[derive(Debug, Default)]
pub struct Encodings {
    /// The Server-Sent Events event.
    pub sse: OnceLock<Bytes>,
    /// The JSON object, without a line end.
    pub json: OnceLock<Bytes>,
    /// The SSE event as one whole HTTP chunk.
    pub sse_chunk: OnceLock<Bytes>,
    /// The JSON object and its line end as one whole HTTP chunk.
    pub ndjson_chunk: OnceLock<Bytes>,
    /// The body as a server's WebSocket text frame (unmasked: the same
    /// bytes for every client).
    pub ws_text: OnceLock<Bytes>,
    /// The JSON object as a WebSocket text frame.
    pub ws_json: OnceLock<Bytes>,
}

impl Published {
    /// The body as text.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.data).expect("a published body is a String's bytes")
    }
}

impl Published {
    /// A message read back from the disk or from Redis, when it may be
    /// kept: its id in 1 to [`MAX_ID`] (one more is always possible) and its
    /// body UTF-8 text (every encoding reads it as text). A checksum or a
    /// shared Redis does not promise that: anyone may write there.
    pub fn read_back(topic: &Arc<str>, m: Stored) -> Option<Arc<Published>> {
        let text = std::str::from_utf8(&m.data).is_ok();
        ((1..=MAX_ID).contains(&m.id) && text).then(|| {
            Arc::new(Published {
                id: m.id,
                topic: Arc::clone(topic),
                time_ms: m.time_ms,
                data: Bytes::from(m.data),
                encoded: Encodings::default(),
            })
        })
    }
}

/// Messages a subscriber asked for that the history no longer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// The first missing id (the cursor + 1).
    pub from: u64,
    /// The last missing id, or `None` when the cursor is beyond the last id:
    /// a cursor the server never gave out (or from a history since lost),
    /// so what came after it is unknown.
    pub to: Option<u64>,
}

/// Where a subscription's replay begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// After this id: the cursor of a returning subscriber (0: everything held).
    After(u64),
    /// The newest message held (a topic's current value), then live.
    Latest,
    /// The messages published in this window before now, then live.
    Window(Duration),
}

/// What a subscriber is sent before live messages.
#[derive(Debug, Default)]
pub struct Replay {
    /// Sent first when the history cannot serve the cursor.
    pub gap: Option<Gap>,
    /// The messages held after the cursor, oldest first.
    pub messages: Vec<Arc<Published>>,
    /// The id the subscriber is at before the replay: the id before its
    /// first message, or, with nothing to replay, the topic's last id. A
    /// cursor saved here and resumed from misses nothing.
    pub start: u64,
}

/// What `publish` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// The message's id.
    pub id: u64,
    /// Live subscribers when it was published: the fan-out threads hand
    /// it to each of them.
    pub receivers: usize,
}

/// The largest id or cursor: 2^53 - 1, the largest integer JavaScript
/// reads exactly, and far from overflowing when we add one.
pub const MAX_ID: u64 = (1 << 53) - 1;

/// Topic names: what a URL path segment can carry without escaping.
pub fn valid_topic(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The refusal of a name [`valid_topic`] rejects.
pub const BAD_TOPIC: Error = Error::BadRequest("topic name must be 1 to 64 of A-Z a-z 0-9 _ -");
