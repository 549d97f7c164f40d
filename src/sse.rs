//! Server-Sent Events framing (the `text/event-stream` format of the HTML
//! standard).
//!
//! An event is a few `field: value` lines and a blank line. Multi-line data
//! becomes one `data:` line per line; the browser joins them with `\n`:
//!
//! ```text
//! id: 7\n
//! event: tick\n
//! data: first line\n
//! data: second line\n
//! \n
//! ```
//!
//! A line starting with `:` is a comment that EventSource ignores; a stream
//! sends `: keepalive\n\n` when quiet so proxies do not cut it. `retry: 3000`
//! tells the browser how long to wait before reconnecting, and on reconnect it
//! sends the last `id:` it saw as `Last-Event-ID`.
//!
//! Each event is written as one chunk and flushed. Not supported: reading
//! event streams (this is the server side only).

use std::io::{self, Write};

use crate::http::chunked::ChunkedWriter;

/// One event, built with the methods below and sent by [`SseWriter::send`].
#[derive(Debug, Default, Clone)]
pub struct Event {
    id: Option<u64>,
    event: Option<&'static str>,
    retry_ms: Option<u64>,
    data: String,
}

impl Event {
    /// An event of the default type `message` carrying `data`.
    pub fn data(data: impl Into<String>) -> Self {
        Event {
            data: data.into(),
            ..Event::default()
        }
    }

    /// Sets the `id:` field, which a reconnecting browser sends back as `Last-Event-ID`.
    pub fn id(mut self, id: u64) -> Self {
        self.id = Some(id);
        self
    }

    /// Sets the `event:` field; a name, so it may not contain a line break.
    pub fn event(mut self, name: &'static str) -> Self {
        debug_assert!(!name.contains(['\n', '\r']), "event names are one line");
        self.event = Some(name);
        self
    }

    /// Sets the `retry:` field: the browser's reconnect delay in milliseconds.
    pub fn retry(mut self, ms: u64) -> Self {
        self.retry_ms = Some(ms);
        self
    }

    /// The exact bytes of this event on the wire, blank line included.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 32);
        if let Some(id) = self.id {
            out.extend_from_slice(format!("id: {id}\n").as_bytes());
        }
        if let Some(name) = self.event {
            out.extend_from_slice(format!("event: {name}\n").as_bytes());
        }
        if let Some(ms) = self.retry_ms {
            out.extend_from_slice(format!("retry: {ms}\n").as_bytes());
        }
        // CRLF, CR and LF all end a line in an event stream, so each must
        // start a new `data:` field or it would end the field early.
        for line in split_lines(&self.data) {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        out
    }
}

/// A comment block: `: text\n` per line, then a blank line.
pub fn encode_comment(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 4);
    for line in split_lines(text) {
        out.extend_from_slice(b": ");
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
    out
}

/// Splits on CRLF, CR or LF; an empty string is one empty line.
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let s = rest?;
        match s.find(['\r', '\n']) {
            None => {
                rest = None;
                Some(s)
            }
            Some(i) => {
                let skip = if s[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = Some(&s[i + skip..]);
                Some(&s[..i])
            }
        }
    })
}

/// Writes events to a body, one chunk each.
pub struct SseWriter<'a, W: Write> {
    body: &'a mut ChunkedWriter<W>,
}

impl<'a, W: Write> SseWriter<'a, W> {
    /// Sends events through `body`.
    pub fn new(body: &'a mut ChunkedWriter<W>) -> Self {
        SseWriter { body }
    }

    /// Writes one event and flushes it.
    pub fn send(&mut self, event: &Event) -> io::Result<()> {
        self.body.chunk(&event.encode())
    }

    /// Writes a comment, which clients ignore; used as a keepalive.
    pub fn comment(&mut self, text: &str) -> io::Result<()> {
        self.body.chunk(&encode_comment(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_and_data() {
        assert_eq!(Event::data("1").id(1).encode(), b"id: 1\ndata: 1\n\n");
    }

    #[test]
    fn all_fields_in_order() {
        let e = Event::data("x").id(7).event("tick").retry(3000);
        assert_eq!(e.encode(), b"id: 7\nevent: tick\nretry: 3000\ndata: x\n\n");
    }

    #[test]
    fn every_line_break_starts_a_data_line() {
        let e = Event::data("a\nb\r\nc\rd");
        assert_eq!(e.encode(), b"data: a\ndata: b\ndata: c\ndata: d\n\n");
    }

    #[test]
    fn empty_and_trailing_lines_are_kept() {
        assert_eq!(Event::data("").encode(), b"data: \n\n");
        assert_eq!(Event::data("a\n").encode(), b"data: a\ndata: \n\n");
    }

    #[test]
    fn comments() {
        assert_eq!(encode_comment("keepalive"), b": keepalive\n\n");
        assert_eq!(encode_comment("a\nb"), b": a\n: b\n\n");
    }

    #[test]
    fn writer_sends_one_chunk_per_event() {
        let mut body = ChunkedWriter::new(Vec::new(), true);
        let mut w = SseWriter::new(&mut body);
        w.send(&Event::data("1").id(1)).unwrap();
        w.comment("keepalive").unwrap();
        let out = body.finish().unwrap();
        assert_eq!(
            out,
            b"f\r\nid: 1\ndata: 1\n\n\r\nd\r\n: keepalive\n\n\r\n0\r\n\r\n"
        );
    }
}
