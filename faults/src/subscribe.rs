//! A subscriber that reads what it is sent, over any of the three
//! transports, as one kind of [`Item`].
//!
//! ```text
//! SSE      id: 7\ndata: hello\n\n          (in chunks: 16\r\nid: 7…\r\n)
//! NDJSON   {"event":"message","id":7,"topic":"t","time":…,"data":"hello"}\n
//! WS       ?format=json: the same object as one text message
//! gap      event: gap (SSE) / {"event":"gap",…}        → Item::Gap
//! dropped  event: error (SSE) / {"event":"error",…} / close 1008 → Item::Dropped
//! ```
//!
//! Left out: multi-topic subscriptions, and SSE `data:` spread over lines
//! (a single-topic message body here never holds a newline).

use std::io::{self, BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use tungstenite::{Message, WebSocket};

use crate::http::{bad, connect_from, read_head};

/// How the subscriber listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// `GET /topics/t/sse`.
    Sse,
    /// `GET /topics/t/stream`.
    Ndjson,
    /// `GET /topics/t/ws?format=json`.
    Ws,
}

/// One thing the server sent.
#[derive(Debug, PartialEq, Eq)]
pub enum Item {
    /// A message: its id and text.
    Message(u64, String),
    /// A gap event: messages the history no longer holds.
    Gap,
    /// The server dropped us (too slow), or closed.
    Dropped(String),
    /// A keepalive or anything else without a message.
    Other,
}

/// An open subscription.
pub enum Feed {
    /// SSE or NDJSON over a chunked response.
    Http(Transport, BufReader<Chunked>),
    /// A WebSocket with JSON messages.
    Ws(Box<WebSocket<TcpStream>>),
}

/// Subscribes to `topic` from `source` with `query` (`since=7`,
/// `since=0&poll=1`, or empty); reads time out after `timeout`.
///
/// # Errors
/// The connect or the handshake fails, or the answer is not 200/101.
pub fn open(
    server: SocketAddr,
    source: [u8; 4],
    transport: Transport,
    topic: &str,
    query: &str,
    timeout: Duration,
) -> io::Result<Feed> {
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    let stream = connect_from(source, server, None)?;
    stream.set_read_timeout(Some(timeout))?;
    if transport == Transport::Ws {
        let sep = if query.is_empty() { '?' } else { '&' };
        let url = format!("ws://{server}/topics/{topic}/ws{query}{sep}format=json");
        let (ws, _) = tungstenite::client(url, stream).map_err(io::Error::other)?;
        return Ok(Feed::Ws(Box::new(ws)));
    }
    let path = if transport == Transport::Sse {
        "sse"
    } else {
        "stream"
    };
    let request = format!("GET /topics/{topic}/{path}{query} HTTP/1.1\r\nHost: faults\r\n\r\n");
    io::Write::write_all(&mut &stream, request.as_bytes())?;
    let mut reader = BufReader::new(stream);
    let (status, _) = read_head(&mut reader)?;
    if status != 200 {
        return Err(crate::http::bad_owned(format!(
            "subscribe answered {status}"
        )));
    }
    Ok(Feed::Http(transport, BufReader::new(Chunked::new(reader))))
}

impl Feed {
    /// The next item.
    ///
    /// # Errors
    /// The read fails or times out, or what came is malformed.
    pub fn next(&mut self) -> io::Result<Item> {
        match self {
            Feed::Http(Transport::Sse, reader) => next_sse(reader),
            Feed::Http(_, reader) => {
                let mut line = String::new();
                if reader.read_line(&mut line)? == 0 {
                    return Ok(Item::Dropped("stream ended".into()));
                }
                Ok(from_json(&line))
            }
            Feed::Ws(ws) => match ws.read() {
                Ok(Message::Text(text)) => Ok(from_json(&text)),
                Ok(Message::Close(frame)) => Ok(Item::Dropped(format!("close {frame:?}"))),
                Ok(_) => Ok(Item::Other),
                Err(tungstenite::Error::Io(e)) => Err(e),
                Err(e) => Err(io::Error::other(e)),
            },
        }
    }
}

/// One SSE event: lines up to a blank one.
fn next_sse(reader: &mut impl BufRead) -> io::Result<Item> {
    let (mut event, mut id, mut data) = (String::from("message"), None, None);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(Item::Dropped("stream ended".into()));
        }
        let line = line.trim_end_matches(['\n', '\r']);
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("event: ") {
            event = v.to_string();
        } else if let Some(v) = line.strip_prefix("id: ") {
            id = v.parse().ok();
        } else if let Some(v) = line.strip_prefix("data: ") {
            data = Some(v.to_string());
        }
    }
    Ok(match (event.as_str(), id, data) {
        ("message", Some(id), Some(data)) => Item::Message(id, data),
        ("gap", _, _) => Item::Gap,
        ("error", _, data) => Item::Dropped(data.unwrap_or_default()),
        _ => Item::Other,
    })
}

fn from_json(text: &str) -> Item {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
        return Item::Dropped(format!("not JSON: {text:?}"));
    };
    match (v["event"].as_str(), v["id"].as_u64(), v["data"].as_str()) {
        (Some("message"), Some(id), Some(data)) => Item::Message(id, data.to_string()),
        (Some("gap"), _, _) => Item::Gap,
        (Some("error"), _, _) => Item::Dropped(text.trim().to_string()),
        _ => Item::Other,
    }
}

/// The body of a chunked response, as a plain `Read`:
/// `5\r\nhello\r\n` gives `hello`; `0\r\n\r\n` gives the end.
pub struct Chunked {
    inner: BufReader<TcpStream>,
    left: usize,
    done: bool,
}

impl Chunked {
    fn new(inner: BufReader<TcpStream>) -> Chunked {
        Chunked {
            inner,
            left: 0,
            done: false,
        }
    }
}

impl Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        if self.left == 0 {
            let mut line = String::new();
            if self.inner.read_line(&mut line)? == 0 {
                return Ok(0);
            }
            if line == "\r\n" {
                // The CRLF after the previous chunk's bytes.
                line.clear();
                self.inner.read_line(&mut line)?;
            }
            let size = line.trim().split(';').next().unwrap_or("");
            self.left = usize::from_str_radix(size, 16).map_err(|_| bad("bad chunk size"))?;
            if self.left == 0 {
                self.done = true;
                return Ok(0);
            }
        }
        let want = buf.len().min(self.left);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.left -= n;
        Ok(n)
    }
}
