//! The subscribe URL's grammars (`src/endpoints/topics/since.rs` and
//! `select.rs`): a cursor (`since=` or `Last-Event-ID`: `41`, `0`, `all`,
//! `latest`, `10m`, `a:41,b:7`) and a topic list (`a,b,c`).
//!
//! Input: UTF-8 text; up to the first newline is the cursor, the rest the
//! topic list (`a:41,b:7\na,b,c`).
//!
//! Asserts: never a panic; every refusal a 400; what each form parses to
//! follows from its text (an id within 0 to 9007199254740991, topics valid
//! and named once, at most 32 of them); a composite cursor written back as
//! the SSE `id:` line writes it (`Positions::cursor`) parses to itself; the
//! same cursor percent-encoded in a URL or sent as `Last-Event-ID` reads the
//! same; each topic's start is the one the cursor names for it.

#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use tinypush::Error;
use tinypush::endpoints::topics::grammar::{
    Cursor, MAX_TOPICS, Positions, Selection, parse, requested, topics,
};
use tinypush::http::request::Request;
use tinypush::hub::{MAX_ID, Since, valid_topic};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (cursor_text, list) = text.split_once('\n').unwrap_or((text, "a"));
    let cursor = parse(cursor_text);
    match &cursor {
        Ok(cursor) => check_cursor(cursor_text, cursor),
        Err(e) => assert_400(e),
    }
    let names = topics(list);
    match &names {
        Ok(names) => check_topics(list, names),
        Err(e) => assert_400(e),
    }
    check_request(cursor_text, list, &cursor, &names);
});

fn assert_400(e: &Error) {
    assert_eq!(e.status(), Some(400), "{e:?}");
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn check_cursor(text: &str, cursor: &Cursor) {
    match cursor {
        Cursor::Every(Since::After(n)) => {
            assert!(*n <= MAX_ID);
            assert!(text == "all" && *n == 0 || is_digits(text) && text.parse() == Ok(*n));
        }
        Cursor::Every(Since::Latest) => assert_eq!(text, "latest"),
        Cursor::Every(Since::Window(_)) => {
            assert!(!text.contains(':') && !is_digits(text) && text != "all");
        }
        Cursor::PerTopic(pairs) => {
            assert!(!pairs.is_empty());
            for (i, (topic, id)) in pairs.iter().enumerate() {
                assert!(valid_topic(topic) && *id <= MAX_ID);
                assert!(pairs[..i].iter().all(|(t, _)| t != topic), "{topic} twice");
            }
            // Written back as a multi-topic SSE stream writes its `id:` lines.
            let written = Positions::new(pairs.iter().map(|(t, id)| (Arc::from(t.as_str()), *id)));
            assert_eq!(parse(&written.cursor()).as_ref().ok(), Some(cursor));
        }
    }
}

fn check_topics(list: &str, names: &[Arc<str>]) {
    assert!((1..=MAX_TOPICS).contains(&names.len()));
    assert_eq!(names.join(","), list);
    for (i, name) in names.iter().enumerate() {
        assert!(valid_topic(name) && !names[..i].contains(name));
    }
}

/// The cursor as a client sends it: percent-encoded in `since=`, or as
/// `Last-Event-ID` (trimmed, and percent-decoded too); then where each
/// topic starts.
fn check_request(
    text: &str,
    list: &str,
    cursor: &Result<Cursor, Error>,
    names: &Result<Vec<Arc<str>>, Error>,
) {
    let url = get(&format!("/t?since={}", percent_encode(text)), None);
    same(text, requested(&url, false), cursor);
    let header = text.trim();
    let from_header = requested(&get("/t?since=0", Some(text)), true);
    match percent_decode(header) {
        // An empty or blank Last-Event-ID counts as none: `since=0` here.
        _ if header.is_empty() => same(text, from_header, &parse("0")),
        Some(decoded) => same(text, from_header, &parse(&decoded)),
        None => assert_400(&from_header.unwrap_err()),
    }
    let (Ok(cursor), Ok(names)) = (cursor, names) else {
        return;
    };
    let Ok(starts) = cursor.starts(names) else {
        let Cursor::PerTopic(pairs) = cursor else {
            panic!("only a composite can name a topic not subscribed");
        };
        assert!(pairs.iter().any(|(t, _)| !names.iter().any(|n| **n == **t)));
        return;
    };
    assert_eq!(starts.len(), names.len());
    for (name, start) in names.iter().zip(&starts) {
        let want = match cursor {
            Cursor::Every(since) => Some(*since),
            Cursor::PerTopic(pairs) => pairs
                .iter()
                .find(|(t, _)| **t == **name)
                .map(|(_, id)| Since::After(*id)),
        };
        assert_eq!(*start, want, "{name}");
    }
    let selection = Selection::read(&url, list, false);
    let selection = selection.expect("the same request parsed in parts");
    assert_eq!(selection.topics, *names);
    assert_eq!(selection.starts, starts);
}

fn same(text: &str, read: Result<Option<Cursor>, Error>, alone: &Result<Cursor, Error>) {
    match (&read, alone) {
        (Ok(got), Ok(want)) => assert_eq!(got.as_ref(), Some(want)),
        (Err(e), Err(_)) => assert_400(e),
        (got, want) => panic!("{text:?} read as {got:?} from a request, {want:?} alone"),
    }
}

/// `%XX` to its byte, any other `%` kept; `None` when that is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match hex.map(|h| (h, u8::from_str_radix(h, 16))) {
            Some((h, Ok(b))) if bytes[i] == b'%' && !h.starts_with('+') => {
                out.push(b);
                i += 3;
            }
            _ => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// A GET of `target`, with `Last-Event-ID` when given.
fn get(target: &str, last_event_id: Option<&str>) -> Request {
    Request {
        method: "GET".into(),
        target: target.into(),
        minor_version: 1,
        headers: last_event_id
            .map(|v| vec![("Last-Event-ID".to_string(), v.to_string())])
            .unwrap_or_default(),
    }
}

/// Every byte but the unreserved ones as `%XX`, as `encodeURIComponent`
/// writes it (it keeps a few more).
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
