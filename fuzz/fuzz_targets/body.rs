//! Body framing: `http::body::framing` on a request head, then
//! `http::body::read_body` on the bytes after it, fed in pieces
//! (`pieces.rs`), as a connection reads a POST.
//!
//! Input: the two cut bytes of `pieces.rs`, one limits byte
//! (`max_body_bytes` = the byte, 0 to 255, when its top bit is clear; else
//! the default), then a request head and its body.
//!
//! Asserts: never a panic; the framing follows from the headers (chunked
//! only alone and on HTTP/1.1, a length only when every `Content-Length`
//! agrees and is within the cap); the body read equals what the reference
//! decoder below gives on the whole bytes at once, and the bytes after it
//! are left unread; or both refuse it (400 for bad chunk lines, 413 past
//! the cap, end of stream or 408 when the input ends first). Never more
//! than `max_body_bytes` of body.
//!
//! The reference takes chunk lines as RFC 9112, section 7.1 has them: a
//! size of hex digits, optional spaces or tabs, an optional `;` extension,
//! and CRLF; no CR, LF or NUL inside a line (a bare LF that one parser ends
//! a line at and another does not is how requests are smuggled).

#![no_main]

mod pieces;

use libfuzzer_sys::fuzz_target;
use tinypush::Error;
use tinypush::config::HttpConfig;
use tinypush::http::body::{Framing, framing, read_body};
use tinypush::http::inbound::{Inbound, Wait};
use tinypush::http::request::{Request, parse_head};

use pieces::Pieces;

/// The reader's longest chunk line, CRLF included (`body.rs`'s `MAX_LINE`).
const MAX_LINE: usize = 1024;

fuzz_target!(|data: &[u8]| {
    let Some((cuts, limits, wire)) = pieces::http_input(data) else {
        return;
    };
    let config = config(limits);
    let times_out = cuts.times_out;
    let Ok(Some((_, head_len))) = parse_head(wire, &config) else {
        return;
    };
    let source = Pieces::new(wire, cuts);
    let given = source.given();
    let mut inbound = Inbound::new(source);
    let request = match inbound.read_head(&config, Wait::First) {
        Ok(Some(request)) => request,
        other => panic!("parse_head took the head but read_head gave {other:?}"),
    };
    let framed = framing(&request, &config);
    check_framing(&request, &framed, &config);
    let Ok(framed) = framed else {
        return;
    };
    let after = &wire[head_len..];
    let want = reference(after, framed, config.max_body_bytes);
    let got = read_body(&mut inbound, framed, &config);
    match (&got, &want.outcome) {
        (Ok(body), Outcome::Body(want_body, used)) => {
            assert_eq!(body, want_body);
            assert!(body.len() <= config.max_body_bytes);
            // The next request starts at the right byte.
            let left = [inbound.buffered(), &wire[given.get()..]].concat();
            assert_eq!(left, &after[*used..]);
        }
        (Err(Error::BadRequest(_)), _) if want.long_line => {}
        (Err(Error::BadRequest(_)), Outcome::Malformed) => {}
        (Err(Error::BodyTooLarge(n)), Outcome::TooLarge) => {
            assert_eq!(*n, config.max_body_bytes);
        }
        (Err(Error::Io(e)), Outcome::Cut) => {
            assert!(!times_out && e.kind() == std::io::ErrorKind::UnexpectedEof);
        }
        (Err(Error::Timeout), Outcome::Cut) => assert!(times_out),
        (got, want) => panic!("read {got:?} as {framed:?}, but the reference gives {want:?}"),
    }
});

fn config(limits: u8) -> HttpConfig {
    let mut config = pieces::http_defaults();
    if limits & 0x80 == 0 {
        config.max_body_bytes = usize::from(limits);
    }
    config
}

/// The framing rules, restated from the other side: what each answer
/// implies about the headers.
fn check_framing(request: &Request, framed: &Result<Framing, Error>, config: &HttpConfig) {
    let codings: Vec<String> = request
        .headers_named("Transfer-Encoding")
        .flat_map(|v| v.split(','))
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    let has_te = request.headers_named("Transfer-Encoding").next().is_some();
    let lengths: Vec<&str> = request
        .headers_named("Content-Length")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let length = |n: usize| {
        !lengths.is_empty()
            && lengths.iter().all(|v| {
                !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) && v.parse() == Ok(n)
            })
    };
    match framed {
        Ok(Framing::Chunked) => {
            assert!(request.is_http11() && lengths.is_empty());
            assert_eq!(codings, ["chunked"]);
        }
        Ok(Framing::Length(n)) => {
            assert!(!has_te && *n > 0 && *n <= config.max_body_bytes && length(*n));
        }
        Ok(Framing::Empty) => {
            assert!(!has_te);
            let post = matches!(request.method.as_str(), "POST" | "PUT");
            assert!(length(0) || (lengths.is_empty() && !post));
        }
        Err(Error::BodyTooLarge(_)) => assert!(!has_te && !lengths.is_empty()),
        Err(Error::LengthRequired) => assert!(!has_te && lengths.is_empty()),
        Err(Error::BadRequest(_)) => assert!(has_te || !lengths.is_empty()),
        Err(other) => panic!("framing gave {other:?}"),
    }
}

/// What the reference makes of a body.
#[derive(Debug)]
struct Reference {
    outcome: Outcome,
    /// A chunk line longer than the reader takes was met: it may refuse it.
    long_line: bool,
}

#[derive(Debug)]
enum Outcome {
    /// The body, and how many bytes it took.
    Body(Vec<u8>, usize),
    /// A chunk line breaks the grammar.
    Malformed,
    /// Past the cap.
    TooLarge,
    /// The bytes end first.
    Cut,
}

fn reference(bytes: &[u8], framed: Framing, max: usize) -> Reference {
    let mut decoder = Decoder {
        bytes,
        at: 0,
        long_line: false,
    };
    let outcome = match framed {
        Framing::Empty => Outcome::Body(Vec::new(), 0),
        Framing::Length(n) if bytes.len() >= n => Outcome::Body(bytes[..n].to_vec(), n),
        Framing::Length(_) => Outcome::Cut,
        Framing::Chunked => decoder.chunked(max),
    };
    Reference {
        outcome,
        long_line: decoder.long_line,
    }
}

struct Decoder<'a> {
    bytes: &'a [u8],
    at: usize,
    long_line: bool,
}

impl Decoder<'_> {
    fn chunked(&mut self, max: usize) -> Outcome {
        let mut body = Vec::new();
        loop {
            let Some(line) = self.line() else {
                return Outcome::Cut;
            };
            let Some(size) = chunk_size(line) else {
                return Outcome::Malformed;
            };
            if size == 0 {
                loop {
                    match self.line() {
                        None => return Outcome::Cut,
                        Some(b"") => return Outcome::Body(body, self.at),
                        Some(trailer) if !clean(trailer) => return Outcome::Malformed,
                        Some(_) => {}
                    }
                }
            }
            if size > max - body.len() {
                return Outcome::TooLarge;
            }
            let Some(data) = self.bytes.get(self.at..self.at + size) else {
                return Outcome::Cut;
            };
            body.extend_from_slice(data);
            self.at += size;
            match self.line() {
                None => return Outcome::Cut,
                Some(b"") => {}
                Some(_) => return Outcome::Malformed,
            }
        }
    }

    /// The next line without its CRLF; `None` when no CRLF comes.
    fn line(&mut self) -> Option<&[u8]> {
        let rest = &self.bytes[self.at..];
        let Some(end) = rest.windows(2).position(|w| w == b"\r\n") else {
            self.long_line |= rest.len() > MAX_LINE;
            return None;
        };
        self.long_line |= end + 2 > MAX_LINE;
        self.at += end + 2;
        Some(&rest[..end])
    }
}

/// `1*HEXDIG *(SP / HTAB) [";" extension]`; `None` for anything else, or a
/// size past `usize`.
fn chunk_size(line: &[u8]) -> Option<usize> {
    if !clean(line) {
        return None;
    }
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let rest = &line[digits..];
    let blank = rest.iter().take_while(|b| b" \t".contains(b)).count();
    let rest = &rest[blank..];
    if digits == 0 || !(rest.is_empty() || rest[0] == b';') {
        return None;
    }
    let mut size = 0usize;
    for &b in &line[..digits] {
        let digit = char::from(b).to_digit(16)? as usize;
        size = size.checked_mul(16)?.checked_add(digit)?;
    }
    Some(size)
}

/// No CR, LF or NUL inside a line.
fn clean(line: &[u8]) -> bool {
    !line.iter().any(|b| matches!(b, b'\r' | b'\n' | 0))
}
