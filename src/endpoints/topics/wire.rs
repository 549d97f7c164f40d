//! The bytes a topic subscriber receives, made once per message and shared
//! by every subscriber of that format:
//!
//! ```text
//! SSE       id: 7\ndata: hello\n\n
//! NDJSON    {"event":"message","id":7,"topic":"news","time":1763755200000,"data":"hello"}\n
//! gap       {"event":"gap","topic":"news","from":3,"to":7}        (event: gap on SSE)
//! dropped   {"event":"error","topic":"news","error":"…","last_id":7} (event: error on SSE)
//! keepalive {"event":"keepalive","time":1763755200000}            (: keepalive on SSE)
//! publish   {"id":7,"topic":"news","receivers":3}
//! ```
//!
//! JSON objects are plain structs through serde_json, which escapes every
//! line break inside a string, so each object is one line.

use bytes::Bytes;
use serde::Serialize;

use crate::clock;
use crate::hub::{Gap, Published};
use crate::sse::Event;

/// `{"id":7,"topic":"news","receivers":3}`: the answer to a publish.
#[derive(Serialize)]
pub struct Receipt<'a> {
    pub id: u64,
    pub topic: &'a str,
    pub receivers: usize,
}

/// `{"event":"message","id":7,"topic":"news","time":1763755200000,"data":"hello"}`
#[derive(Serialize)]
struct MessageEvent<'a> {
    event: &'static str,
    id: u64,
    topic: &'a str,
    time: u64,
    data: &'a str,
}

/// `{"event":"gap","topic":"news","from":3,"to":7}`; `to` is null when the
/// cursor was beyond the last id.
#[derive(Serialize)]
struct GapEvent<'a> {
    event: &'static str,
    topic: &'a str,
    from: u64,
    to: Option<u64>,
}

/// `{"event":"keepalive","time":1763755200000}`
#[derive(Serialize)]
struct Keepalive {
    event: &'static str,
    time: u64,
}

/// `{"event":"error","topic":"news","error":"…","last_id":7}`
#[derive(Serialize)]
struct Dropped<'a> {
    event: &'static str,
    topic: &'a str,
    error: &'static str,
    last_id: Option<u64>,
}

/// The message's SSE event, encoded once for all subscribers.
pub fn sse_event(m: &Published) -> &Bytes {
    m.encoded
        .sse
        .get_or_init(|| Event::data(m.text()).id(m.id).encode().into())
}

/// The message's JSON object (no line end), encoded once for all subscribers.
pub fn json_object(m: &Published) -> &Bytes {
    m.encoded.json.get_or_init(|| {
        json(&MessageEvent {
            event: "message",
            id: m.id,
            topic: &m.topic,
            time: m.time_ms,
            data: m.text(),
        })
        .into()
    })
}

/// The gap object.
pub fn gap_json(topic: &str, gap: Gap) -> String {
    json(&GapEvent {
        event: "gap",
        topic,
        from: gap.from,
        to: gap.to,
    })
}

/// The keepalive object, stamped now.
pub fn keepalive_json() -> String {
    json(&Keepalive {
        event: "keepalive",
        time: clock::now_ms(),
    })
}

/// The object telling a subscriber it was dropped for falling behind.
pub fn dropped_json(topic: &str, last_id: Option<u64>) -> String {
    json(&Dropped {
        event: "error",
        topic,
        error: "subscriber too slow; resume with since=last_id",
        last_id,
    })
}

/// One JSON object on one line (serde_json escapes every newline in strings).
pub fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("these structs always serialize")
}

/// A JSON object and its line end, as bytes.
pub fn line(mut json: String) -> Vec<u8> {
    json.push('\n');
    json.into_bytes()
}
