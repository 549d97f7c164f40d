//! Push streams read as text, whatever the chunk boundaries: a
//! [`StreamReader`] joins a chunked body's data and hands it out as NDJSON
//! lines or as SSE blocks, taken apart into [`SseEvent`]s.
//!
//! ```text
//! SSE      id: 1\ndata: hi\n\n                           → (1, "hi")
//! NDJSON   {"event":"message","id":1,"data":"hi",...}\n   → (1, "hi")
//! ```
//!
//! [`open_stream`] subscribes and checks the 200 head; [`sse_message`] and
//! [`ndjson_message`] read the next message in either format.

use std::net::SocketAddr;

use super::http::{Client, connect};

/// The head of every Server-Sent Events stream, `/event` and topics alike.
pub const SSE_HEAD: &str = "HTTP/1.1 200 OK\r\n\
    Content-Type: text/event-stream\r\n\
    Cache-Control: no-cache\r\n\
    X-Accel-Buffering: no\r\n\
    X-Content-Type-Options: nosniff\r\n\
    Transfer-Encoding: chunked\r\n\r\n";

/// The head of every NDJSON stream.
pub const NDJSON_HEAD: &str = "HTTP/1.1 200 OK\r\n\
    Content-Type: application/x-ndjson\r\n\
    Cache-Control: no-cache\r\n\
    X-Accel-Buffering: no\r\n\
    X-Content-Type-Options: nosniff\r\n\
    Transfer-Encoding: chunked\r\n\r\n";

/// A chunked body read as text, whatever the chunk boundaries: NDJSON
/// lines, or SSE events ended by a blank line.
pub struct StreamReader {
    pub client: Client,
    text: String,
    ended: bool,
}

/// One Server-Sent Event, its fields taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub id: Option<u64>,
    /// The `event:` field; `None` for the default type `message`.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

impl StreamReader {
    /// Reads the body of `client`, whose response head was already read.
    pub fn new(client: Client) -> StreamReader {
        StreamReader {
            client,
            text: String::new(),
            ended: false,
        }
    }

    /// The text up to `delim` (not included), or `None` once the body has
    /// ended (the last chunk came) with nothing pending.
    fn until(&mut self, delim: &str) -> Option<String> {
        loop {
            if let Some(at) = self.text.find(delim) {
                let piece = self.text[..at].to_string();
                self.text.drain(..at + delim.len());
                return Some(piece);
            }
            if self.ended {
                assert!(
                    self.text.is_empty(),
                    "body ended inside a piece: {:?}",
                    self.text
                );
                return None;
            }
            let chunk = self.client.chunk();
            self.ended = chunk.is_empty();
            self.text.push_str(&chunk);
        }
    }

    /// The next line without its `\n`; `None` at the end of the body.
    pub fn line(&mut self) -> Option<String> {
        self.until("\n")
    }

    /// The next line, parsed as JSON; `None` at the end of the body.
    pub fn json(&mut self) -> Option<serde_json::Value> {
        self.line()
            .map(|line| serde_json::from_str(&line).expect("an NDJSON line is JSON"))
    }

    /// The next SSE block (an event or a comment) without its blank line;
    /// `None` at the end of the body.
    pub fn raw_event(&mut self) -> Option<String> {
        self.until("\n\n")
    }

    /// The next SSE event, skipping comment blocks (`: keepalive`).
    pub fn event(&mut self) -> Option<SseEvent> {
        loop {
            let block = self.raw_event()?;
            if block.lines().all(|line| line.starts_with(':')) {
                continue;
            }
            return Some(parse_sse(&block));
        }
    }
}

/// Takes one SSE block (without its blank line) apart into its fields.
pub fn parse_sse(block: &str) -> SseEvent {
    let mut event = SseEvent {
        id: None,
        event: None,
        data: String::new(),
    };
    let mut data = Vec::new();
    for line in block.lines() {
        let (field, value) = line.split_once(": ").unwrap_or((line, ""));
        match field {
            "id" => event.id = Some(value.parse().expect("numeric id")),
            "event" => event.event = Some(value.to_string()),
            "data" => data.push(value),
            _ if field.starts_with(':') => {}
            _ => panic!("unexpected SSE line {line:?} in {block:?}"),
        }
    }
    event.data = data.join("\n");
    event
}

/// Sends a raw subscribe request (SSE or NDJSON) and expects a 200 stream
/// head. The hub registers the subscription before the head goes out, so
/// once the head is read, every later publish reaches this subscriber.
pub fn open_stream(addr: SocketAddr, raw: &[u8]) -> StreamReader {
    let mut c = connect(addr);
    c.send(raw);
    let head = c.head();
    assert_eq!(head.status, 200, "{}", head.raw);
    StreamReader::new(c)
}

/// The next SSE event as `(id, data)`; it must be a plain message.
pub fn sse_message(r: &mut StreamReader) -> (u64, String) {
    let e = r.event().expect("an event, not the end of the body");
    assert_eq!(e.event, None, "{e:?}");
    (e.id.expect("message events carry an id"), e.data)
}

/// The next NDJSON line as `(id, data)`; it must be a message object.
pub fn ndjson_message(r: &mut StreamReader) -> (u64, String) {
    let v = r.json().expect("a line, not the end of the body");
    json_message(&v)
}

/// `(id, data)` of a `{"event":"message",...}` object, the shape of an
/// NDJSON line and of a `?format=json` WebSocket frame.
pub fn json_message(v: &serde_json::Value) -> (u64, String) {
    assert_eq!(v["event"], "message", "{v}");
    let id = v["id"].as_u64().expect("numeric id");
    let data = v["data"].as_str().expect("string data");
    (id, data.to_string())
}
