//! `GET /topics/{topic}/sse` and `/stream`: a subscription as an open
//! response, Server-Sent Events or NDJSON, in one `select!` loop:
//!
//! ```text
//! gap (if the cursor is older than the history)
//! replay: every message after the cursor still in the history
//! loop select! {
//!     live message     → one chunk
//!     keepalive tick   → `: keepalive` (SSE) or a keepalive object (NDJSON)
//!     dropped as slow  → an error event, then the body ends
//!     client hung up   → end
//!     server stopping  → the last chunk, end
//! }
//! ```

use std::io;

use crossbeam_channel::{select, tick};
use log::info;

use super::wire::{dropped_json, gap_json, json_object, keepalive_json, line, sse_event};
use crate::endpoints::params::cursor;
use crate::error::Result;
use crate::http::chunked::ChunkedWriter;
use crate::http::exchange::{Exchange, Outcome, require_get};
use crate::http::stream::{self, End, Opened};
use crate::hub::{Gap, Hub, Published};
use crate::sse::{Event, encode_comment};

/// How a streamed subscription frames what it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Server-Sent Events.
    Sse,
    /// One JSON object per line.
    Ndjson,
}

impl Framing {
    fn content_type(self) -> &'static str {
        match self {
            Framing::Sse => "text/event-stream",
            Framing::Ndjson => "application/x-ndjson",
        }
    }

    /// Writes one message as one chunk, from its shared encoding.
    fn write<W: io::Write>(self, body: &mut ChunkedWriter<W>, m: &Published) -> io::Result<()> {
        match self {
            Framing::Sse => body.chunk(sse_event(m)),
            Framing::Ndjson => body.chunk_parts(&[json_object(m), b"\n"]),
        }
    }

    fn gap(self, topic: &str, gap: Gap) -> Vec<u8> {
        match self {
            Framing::Sse => Event::data(gap_json(topic, gap)).event("gap").encode(),
            Framing::Ndjson => line(gap_json(topic, gap)),
        }
    }

    fn keepalive(self) -> Vec<u8> {
        match self {
            Framing::Sse => encode_comment("keepalive"),
            Framing::Ndjson => line(keepalive_json()),
        }
    }

    fn dropped(self, topic: &str, last_id: Option<u64>) -> Vec<u8> {
        let json = dropped_json(topic, last_id);
        match self {
            Framing::Sse => Event::data(json).event("error").encode(),
            Framing::Ndjson => line(json),
        }
    }
}

/// The gap, the replay, then live messages until the stream ends.
pub fn subscribe(x: &mut Exchange, hub: &Hub, topic: &str, framing: Framing) -> Result<Outcome> {
    require_get(x.req)?;
    let since = cursor(x.req, framing == Framing::Sse)?;
    // Subscribing before the head goes out lets a 400 or 503 still be sent.
    let mut sub = hub.subscribe(topic, since)?;
    let keepalive = tick(x.shared.config.http.stream_keepalive);
    let peer = x.peer;
    let mut live = match stream::open(x, framing.content_type())? {
        Opened::Live(live) => live,
        Opened::HeadOnly(outcome) => return Ok(outcome),
    };
    let (closed, shutdown) = (live.closed().clone(), live.shutdown().clone());
    let body = &mut live.body;
    let mut last_id = since;
    let ended = (|| -> io::Result<End> {
        if let Some(gap) = sub.gap {
            body.chunk(&framing.gap(sub.topic(), gap))?;
        }
        // Each replayed message is let go once sent: one that has left the
        // history meanwhile is not held for the life of the stream.
        for m in std::mem::take(&mut sub.replay) {
            framing.write(body, &m)?;
            last_id = Some(m.id);
        }
        loop {
            select! {
                recv(sub.live) -> m => match m {
                    Ok(m) => {
                        framing.write(body, &m)?;
                        last_id = Some(m.id);
                    }
                    Err(_) => {
                        info!("{peer} topic {}: dropped, too slow", sub.topic());
                        body.chunk(&framing.dropped(sub.topic(), last_id))?;
                        return Ok(End::Done);
                    }
                },
                recv(keepalive) -> _ => body.chunk(&framing.keepalive())?,
                recv(closed) -> _ => return Ok(End::Gone),
                recv(shutdown) -> _ => return Ok(End::Done),
            }
        }
    })();
    drop(sub);
    Ok(live.finish(ended))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `framing` writes for `m`, unchunked.
    fn written(framing: Framing, m: &Published) -> String {
        let mut out = Vec::new();
        let mut body = ChunkedWriter::new(&mut out, false);
        framing.write(&mut body, m).expect("writing to a Vec");
        String::from_utf8(out).expect("UTF-8")
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
