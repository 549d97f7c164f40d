//! Request bodies: how long they are (RFC 9112, section 6) and reading them
//! under a byte cap.
//!
//! A body is framed by `Content-Length: 5` (then exactly 5 bytes), or by
//! `Transfer-Encoding: chunked`, the same framing `chunked.rs` writes:
//!
//! ```text
//! 5\r\nhello\r\n
//! 0\r\n\r\n
//! ```
//!
//! A request with both, with differing lengths, or with another transfer
//! coding is refused with 400: a server and a proxy that disagree on where a
//! body ends let one request hide inside another ("request smuggling").
//! POST and PUT need one of the two (411). Chunk lines are taken strictly,
//! for the same reason: hex digits for the size, no bare CR or LF anywhere.
//! The body is always read in full, even for a request we then refuse, so
//! the next pipelined request starts at the right byte; only a body the
//! client holds back for a go-ahead is not (`expect.rs`).

use std::time::Instant;

use super::inbound::{Inbound, Source};
use super::request::Request;
use crate::config::HttpConfig;
use crate::error::{Error, Result, is_timeout};

/// How the request's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    Empty,
    /// `Content-Length` bytes.
    Length(usize),
    /// Chunks until the zero-length one.
    Chunked,
}

/// Longest chunk-size or trailer line we read.
const MAX_LINE: usize = 1024;

/// Decides the body framing from the head.
///
/// # Errors
/// 400 for conflicting or malformed framing headers, 413 when the declared
/// length is over the cap, 411 for POST or PUT with no framing at all.
pub fn framing(req: &Request, config: &HttpConfig) -> Result<Framing> {
    let mut codings = req.headers_named("Transfer-Encoding").peekable();
    let has_te = codings.peek().is_some();
    let codings: Vec<&str> = codings.flat_map(|v| v.split(',')).map(str::trim).collect();
    let chunked_only = codings.len() == 1 && codings[0].eq_ignore_ascii_case("chunked");
    let mut lengths = req
        .headers_named("Content-Length")
        .flat_map(|v| v.split(','));
    let length = match lengths.next() {
        None => None,
        Some(first) => {
            let first = first.trim();
            if !lengths.all(|v| v.trim() == first) {
                return Err(Error::BadRequest("conflicting Content-Length values"));
            }
            if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::BadRequest("Content-Length is not a number"));
            }
            // Too many digits for usize is as much "too large" as any other.
            Some(first.parse::<usize>().unwrap_or(usize::MAX))
        }
    };
    match (has_te, length) {
        (true, Some(_)) => Err(Error::BadRequest(
            "both Transfer-Encoding and Content-Length",
        )),
        (true, None) if !req.is_http11() => Err(Error::BadRequest(
            "Transfer-Encoding in an HTTP/1.0 request",
        )),
        (true, None) if !chunked_only => Err(Error::BadRequest(
            "only chunked transfer coding is supported",
        )),
        (true, None) => Ok(Framing::Chunked),
        (false, Some(n)) if n > config.max_body_bytes => {
            Err(Error::BodyTooLarge(config.max_body_bytes))
        }
        (false, Some(0)) => Ok(Framing::Empty),
        (false, Some(n)) => Ok(Framing::Length(n)),
        (false, None) if matches!(req.method.as_str(), "POST" | "PUT") => {
            Err(Error::LengthRequired)
        }
        (false, None) => Ok(Framing::Empty),
    }
}

/// Reads the whole body; it must arrive within the head timeout.
///
/// # Errors
/// 413 past the cap, 400 for bad chunk framing, 408 when too slow, `Io` when
/// the client hangs up.
pub fn read_body<S: Source>(
    inbound: &mut Inbound<S>,
    framing: Framing,
    config: &HttpConfig,
) -> Result<Vec<u8>> {
    let deadline = Instant::now() + config.head_timeout;
    match framing {
        Framing::Empty => Ok(Vec::new()),
        Framing::Length(n) => read_exact(inbound, n, deadline),
        Framing::Chunked => read_chunked(inbound, config.max_body_bytes, deadline),
    }
}

fn read_exact<S: Source>(inbound: &mut Inbound<S>, n: usize, deadline: Instant) -> Result<Vec<u8>> {
    while inbound.buffered().len() < n {
        let want = n - inbound.buffered().len();
        fill(inbound, deadline, want.min(64 * 1024))?;
    }
    Ok(inbound.take(n))
}

fn read_chunked<S: Source>(
    inbound: &mut Inbound<S>,
    max: usize,
    deadline: Instant,
) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(inbound, deadline)?;
        let size = chunk_size(&line).ok_or(Error::BadRequest("malformed chunk size"))?;
        if size == 0 {
            // Trailer fields until the blank line; we read and drop them.
            while !read_line(inbound, deadline)?.is_empty() {}
            return Ok(body);
        }
        if size > max - body.len() {
            return Err(Error::BodyTooLarge(max));
        }
        body.extend(read_exact(inbound, size, deadline)?);
        if !read_line(inbound, deadline)?.is_empty() {
            return Err(Error::BadRequest("chunk data longer than its size"));
        }
    }
}

/// The size a chunk-size line gives: hex digits, then optional spaces or
/// tabs, then the end or a `;` chunk extension, which is ignored
/// (RFC 9112, section 7.1.1). `None` for anything else, such as a sign,
/// other whitespace, or a size past `usize`.
fn chunk_size(line: &[u8]) -> Option<usize> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let rest = &line[digits..];
    let blank = rest.iter().take_while(|b| b" \t".contains(b)).count();
    if digits == 0 || !(rest.len() == blank || rest[blank] == b';') {
        return None;
    }
    let digits = std::str::from_utf8(&line[..digits]).ok()?;
    usize::from_str_radix(digits, 16).ok()
}

/// Reads one CRLF-terminated line, without the CRLF.
///
/// # Errors
/// 400 for a line holding a bare CR or LF, or a NUL.
fn read_line<S: Source>(inbound: &mut Inbound<S>, deadline: Instant) -> Result<Vec<u8>> {
    loop {
        if let Some(end) = inbound.buffered().windows(2).position(|w| w == b"\r\n") {
            let mut line = inbound.take(end + 2);
            line.truncate(end);
            // Where one parser ends a line at a bare LF (or CR) and another
            // reads on, a request can hide inside a body (smuggling).
            if line.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0)) {
                return Err(Error::BadRequest("bare CR, LF or NUL in a chunk line"));
            }
            return Ok(line);
        }
        if inbound.buffered().len() > MAX_LINE {
            return Err(Error::BadRequest("chunk line too long"));
        }
        fill(inbound, deadline, MAX_LINE)?;
    }
}

fn fill<S: Source>(inbound: &mut Inbound<S>, deadline: Instant, max: usize) -> Result<()> {
    match inbound.fill(deadline, max) {
        Ok(0) => Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into()),
        Ok(_) => Ok(()),
        Err(e) if is_timeout(&e) => Err(Error::Timeout),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(headers: &[(&str, &str)], method: &str) -> Request {
        Request {
            method: method.into(),
            target: "/".into(),
            minor_version: 1,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn framing_of(headers: &[(&str, &str)], method: &str) -> Result<Framing> {
        framing(&req(headers, method), &crate::Config::default().http)
    }

    fn read_chunked_body(wire: &[u8]) -> Result<Vec<u8>> {
        let config = crate::Config::default().http;
        read_body(&mut Inbound::new(wire), Framing::Chunked, &config)
    }

    #[test]
    fn chunk_lines_are_strict() {
        for (wire, body) in [
            (&b"5\r\nhello\r\n0\r\n\r\n"[..], &b"hello"[..]),
            (
                b"5 ;name=value\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n",
                b"hello",
            ),
            (b"05\t\r\nhello\r\n0000\r\n\r\n", b"hello"),
        ] {
            assert_eq!(
                read_chunked_body(wire).unwrap(),
                body,
                "{}",
                wire.escape_ascii()
            );
        }
        // A bare CR or LF that another parser may end the line at (the
        // first found by fuzz/fuzz_targets/body.rs), and sizes that are
        // not plain hex digits.
        for wire in [
            &b"0\r\nhello\r\n0\r\x1aX-Trailer: 1\r\n\r\n"[..],
            b"5;a\nb\r\nhello\r\n0\r\n\r\n",
            b"0\r\nX: 1\n\r\n",
            b"0\r\nX: \x00\r\n\r\n",
            b" 5\r\nhello\r\n0\r\n\r\n",
            b"5\x0b\r\nhello\r\n0\r\n\r\n",
            b"\xc2\xa05\r\nhello\r\n0\r\n\r\n",
            b"+5\r\nhello\r\n0\r\n\r\n",
            b"10000000000000000\r\n",
        ] {
            assert!(
                matches!(read_chunked_body(wire), Err(Error::BadRequest(_))),
                "{}",
                wire.escape_ascii()
            );
        }
    }

    #[test]
    fn framing_rules() {
        assert_eq!(framing_of(&[], "GET").unwrap(), Framing::Empty);
        assert_eq!(
            framing_of(&[("Content-Length", "5")], "POST").unwrap(),
            Framing::Length(5)
        );
        assert_eq!(
            framing_of(&[("Content-Length", "5, 5")], "POST").unwrap(),
            Framing::Length(5)
        );
        assert_eq!(
            framing_of(&[("transfer-encoding", "Chunked")], "POST").unwrap(),
            Framing::Chunked
        );
        assert!(matches!(
            framing_of(&[], "POST"),
            Err(Error::LengthRequired)
        ));
        assert!(matches!(
            framing_of(&[("Content-Length", "-1")], "POST"),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            framing_of(&[("Content-Length", "5"), ("Content-Length", "6")], "POST"),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            framing_of(&[("Content-Length", "99999999999999999999999")], "POST"),
            Err(Error::BodyTooLarge(_))
        ));
        assert!(matches!(
            framing_of(&[("Transfer-Encoding", "gzip, chunked")], "POST"),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            framing_of(
                &[("Transfer-Encoding", "chunked"), ("Content-Length", "5")],
                "POST"
            ),
            Err(Error::BadRequest(_))
        ));
    }
}
