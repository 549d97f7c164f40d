//! The bytes a topic subscriber receives, made once per message and shared
//! by every subscriber of that format:
//!
//! ```text
//! SSE       id: 7\ndata: hello\n\n
//! NDJSON    {"event":"message","id":7,"topic":"news","time":1763755200000,"data":"hello"}\n
//! gap       {"event":"gap","topic":"news","from":3,"to":7}        (event: gap on SSE)
//! dropped   {"event":"error","topic":"news","error":"…","last_id":7} (event: error on SSE)
//!   several {"event":"error","topic":"a,b","error":"…","since":"a:41,b:7"}
//! keepalive {"event":"keepalive","time":1763755200000}            (: keepalive on SSE)
//! publish   {"id":7,"topic":"news","receivers":3}
//! ```
//!
//! JSON objects are plain structs through serde_json, which escapes every
//! line break inside a string, so each object is one line.

use bytes::Bytes;
use serde::Serialize;

use crate::clock;
use crate::http::chunked;
use crate::hub::{Gap, Published};
use crate::sse::{Event, encode_comment};

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

/// `{"event":"error","topic":"a,b","error":"…","since":"a:41,b:7"}`: a
/// multi-topic subscriber's notice, with the composite cursor to resume from.
#[derive(Serialize)]
struct DroppedMulti<'a> {
    event: &'static str,
    topic: &'a str,
    error: &'static str,
    since: &'a str,
}

/// How a streamed subscription frames what it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Server-Sent Events.
    Sse,
    /// One JSON object per line.
    Ndjson,
}

impl Framing {
    /// The response's `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Framing::Sse => "text/event-stream",
            Framing::Ndjson => "application/x-ndjson",
        }
    }

    /// One message's bytes in a body, chunk framing included when
    /// `chunked`; made once per message and shared by every subscriber.
    pub fn message(self, m: &Published, chunked: bool) -> Bytes {
        let encoded = &m.encoded;
        match (self, chunked) {
            (Framing::Sse, true) => (encoded.sse_chunk)
                .get_or_init(|| chunked::frame(sse_event(m)).into())
                .clone(),
            (Framing::Sse, false) => sse_event(m).clone(),
            (Framing::Ndjson, true) => (encoded.ndjson_chunk)
                .get_or_init(|| chunked::frame(&ndjson_line(m)).into())
                .clone(),
            (Framing::Ndjson, false) => ndjson_line(m).into(),
        }
    }

    /// The gap notice.
    pub fn gap(self, topic: &str, gap: Gap) -> Vec<u8> {
        match self {
            Framing::Sse => Event::data(gap_json(topic, gap)).event("gap").encode(),
            Framing::Ndjson => line(gap_json(topic, gap)),
        }
    }

    /// What a quiet stream sends.
    pub fn keepalive(self) -> Vec<u8> {
        match self {
            Framing::Sse => encode_comment("keepalive"),
            Framing::Ndjson => line(keepalive_json()),
        }
    }

    /// The notice that the subscriber was dropped for falling behind.
    pub fn dropped(self, topic: &str, last_id: Option<u64>) -> Vec<u8> {
        let json = dropped_json(topic, last_id);
        match self {
            Framing::Sse => Event::data(json).event("error").encode(),
            Framing::Ndjson => line(json),
        }
    }

    /// The same notice for several topics (`topics` as the URL lists
    /// them): the composite cursor `since` resumes every one of them.
    pub fn dropped_multi(self, topics: &str, since: &str) -> Vec<u8> {
        let json = json(&DroppedMulti {
            event: "error",
            topic: topics,
            error: "subscriber too slow; resume with since",
            since,
        });
        match self {
            Framing::Sse => Event::data(json).event("error").encode(),
            Framing::Ndjson => line(json),
        }
    }
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

/// The message's JSON object and its line end.
fn ndjson_line(m: &Published) -> Vec<u8> {
    let mut line = json_object(m).to_vec();
    line.push(b'\n');
    line
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What `framing` writes for `m`, unchunked.
    fn written(framing: Framing, m: &Published) -> String {
        String::from_utf8(framing.message(m, false).to_vec()).expect("UTF-8")
    }

    fn published(data: &str) -> Published {
        Published {
            id: 7,
            topic: "news".into(),
            time_ms: 1_763_755_200_000,
            data: data.to_string().into(),
            encoded: Default::default(),
        }
    }

    #[test]
    fn message_framings() {
        let m = published("a \"quote\"\nline two");
        assert_eq!(
            written(Framing::Sse, &m),
            "id: 7\ndata: a \"quote\"\ndata: line two\n\n"
        );
        assert_eq!(
            written(Framing::Ndjson, &m),
            "{\"event\":\"message\",\"id\":7,\"topic\":\"news\",\"time\":1763755200000,\"data\":\"a \\\"quote\\\"\\nline two\"}\n"
        );
        // Encoded once, then shared.
        assert!(m.encoded.sse.get().is_some() && m.encoded.json.get().is_some());
        assert_eq!(
            Framing::Sse.message(&m, true),
            "26\r\nid: 7\ndata: a \"quote\"\ndata: line two\n\n\r\n"
        );
    }

    #[test]
    fn dropped_notices() {
        assert_eq!(
            Framing::Ndjson.dropped("news", Some(7)),
            b"{\"event\":\"error\",\"topic\":\"news\",\"error\":\"subscriber too slow; \
              resume with since=last_id\",\"last_id\":7}\n"
        );
        assert_eq!(
            Framing::Sse.dropped_multi("a,b", "a:41,b:7"),
            b"event: error\ndata: {\"event\":\"error\",\"topic\":\"a,b\",\"error\":\
              \"subscriber too slow; resume with since\",\"since\":\"a:41,b:7\"}\n\n"
        );
    }

    #[test]
    fn gap_framings() {
        let gap = Gap {
            from: 3,
            to: Some(7),
        };
        assert_eq!(
            Framing::Sse.gap("news", gap),
            b"event: gap\ndata: {\"event\":\"gap\",\"topic\":\"news\",\"from\":3,\"to\":7}\n\n"
        );
        let open = Gap {
            from: 501,
            to: None,
        };
        assert_eq!(
            Framing::Ndjson.gap("t", open),
            b"{\"event\":\"gap\",\"topic\":\"t\",\"from\":501,\"to\":null}\n"
        );
    }
}
