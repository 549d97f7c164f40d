//! An SSE round trip: `sse::encode_comment` and `sse::Event::encode` on
//! arbitrary text, read back by the event-stream parser of the HTML
//! standard ("Interpreting an event stream"), written out below.
//!
//! Input: UTF-8 text in up to four parts split at NUL:
//! `id[/retry] NUL event NUL data NUL comment`, e.g.
//! `7/3000\0tick\0a\r\nb\0keepalive`. An id or retry that is not a number
//! is left out. `Event::event` takes a `&'static str` name of one line: a
//! name holding CR or LF is left out too, and names are interned, at most
//! 4096 of them, so memory stays bounded over a long run.
//!
//! Asserts: the comment block dispatches nothing; then exactly one event,
//! whose id, retry and type are the ones set (the type `message` when
//! none, or an empty name), and whose data is the data with every CRLF and
//! CR turned into LF: the line breaks a browser joins `data:` lines with.
//! That is what the encoder promises: any text, line breaks normalised.

#![no_main]

use std::collections::HashSet;
use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;
use tinypush::sse::{Event, encode_comment};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(4, '\0');
    let (numbers, name, body, comment) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let (id, retry) = numbers.split_once('/').unwrap_or((numbers, ""));
    let (id, retry) = (id.parse::<u64>().ok(), retry.parse::<u64>().ok());
    let name = (!name.contains(['\r', '\n'])).then(|| intern(name));

    let mut event = Event::data(body);
    if let Some(id) = id {
        event = event.id(id);
    }
    if let Some(name) = name {
        event = event.event(name);
    }
    if let Some(ms) = retry {
        event = event.retry(ms);
    }
    let mut stream = encode_comment(comment);
    stream.extend_from_slice(&event.encode());

    let mut decoder = Decoder::default();
    let events = decoder.feed(std::str::from_utf8(&stream).expect("UTF-8 in, UTF-8 out"));
    assert_eq!(events.len(), 1, "{:?}", String::from_utf8_lossy(&stream));
    let got = &events[0];
    assert_eq!(got.data, body.replace("\r\n", "\n").replace('\r', "\n"));
    let want_type = name.filter(|n| !n.is_empty()).unwrap_or("message");
    assert_eq!(got.kind, want_type);
    assert_eq!(got.last_id, id.map(|id| id.to_string()).unwrap_or_default());
    assert_eq!(decoder.retry, retry);
});

/// A `&'static str` for `name`, leaked once; past 4096 names, one of
/// those already held.
fn intern(name: &str) -> &'static str {
    static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut guard = NAMES.lock().unwrap_or_else(|p| p.into_inner());
    let names = guard.get_or_insert_with(HashSet::new);
    if let Some(held) = names.get(name) {
        return held;
    }
    if names.len() >= 4096 {
        return "message";
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

/// An event as dispatched to a page.
#[derive(Debug)]
struct Dispatched {
    kind: String,
    data: String,
    last_id: String,
}

/// The HTML standard's event-stream parser, for text already decoded.
#[derive(Default)]
struct Decoder {
    data: String,
    kind: String,
    last_id: String,
    retry: Option<u64>,
}

impl Decoder {
    fn feed(&mut self, stream: &str) -> Vec<Dispatched> {
        let stream = stream.strip_prefix('\u{feff}').unwrap_or(stream);
        let mut events = Vec::new();
        let mut rest = stream;
        // Lines end at CRLF, LF or CR; a last line with no end is dropped.
        while let Some(end) = rest.find(['\r', '\n']) {
            let line = &rest[..end];
            let skip = if rest[end..].starts_with("\r\n") {
                2
            } else {
                1
            };
            rest = &rest[end + skip..];
            if line.is_empty() {
                events.extend(self.dispatch());
            } else if !line.starts_with(':') {
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                self.field(field, value.strip_prefix(' ').unwrap_or(value));
            }
        }
        events
    }

    fn field(&mut self, field: &str, value: &str) {
        match field {
            "event" => self.kind = value.to_owned(),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            "id" if !value.contains('\0') => self.last_id = value.to_owned(),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry = value.parse().ok();
            }
            _ => {}
        }
    }

    fn dispatch(&mut self) -> Option<Dispatched> {
        let kind = std::mem::take(&mut self.kind);
        if self.data.is_empty() {
            return None;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop();
        let kind = if kind.is_empty() {
            "message".into()
        } else {
            kind
        };
        Some(Dispatched {
            kind,
            data,
            last_id: self.last_id.clone(),
        })
    }
}
