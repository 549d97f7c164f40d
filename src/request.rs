//! Reading request heads: bytes off the socket under a size cap and a
//! deadline, parsed by `httparse`.
//!
//! A request head is a request line, header lines and a blank line:
//!
//! ```text
//! GET /stream?count=3 HTTP/1.1\r\n
//! Host: 127.0.0.1:8080\r\n
//! \r\n
//! ```
//!
//! [`Inbound`] owns the connection's read buffer. Bytes past the head (a body,
//! or the next pipelined request) stay in it for the next read, so nothing
//! the client sent is lost. The buffer starts small and grows only as a head
//! needs: thousands of idle streams each keep one.

use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::error::{Error, Result};

/// A parsed request head.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target as sent: path and optional `?query`.
    pub target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// Header names and values in order; values that are not UTF-8 are
    /// replaced lossily (no header we read may contain such bytes).
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The path part of the target, before any `?`.
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    /// The value of query parameter `name`, taken as is (no percent-decoding:
    /// the parameters we read are numbers).
    pub fn query(&self, name: &str) -> Option<&str> {
        let (_, query) = self.target.split_once('?')?;
        query
            .split('&')
            .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header called `name` (case-insensitive), in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether a comma-separated header such as `Connection` lists `token`.
    pub fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.headers_named(name)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// True for HTTP/1.1, which has chunked coding and keep-alive by default.
    pub fn is_http11(&self) -> bool {
        self.minor_version == 1
    }

    /// Whether the client wants the connection kept open after the response.
    pub fn wants_keep_alive(&self) -> bool {
        if self.is_http11() {
            !self.header_has_token("Connection", "close")
        } else {
            self.header_has_token("Connection", "keep-alive")
        }
    }

    /// True for HEAD, whose response has a head and no body.
    pub fn is_head(&self) -> bool {
        self.method == "HEAD"
    }
}

/// How long to wait for the start of the next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// A new connection: the head must arrive within the head timeout, or 408.
    First,
    /// Between keep-alive requests: silence until the keep-alive timeout just
    /// closes the connection; once a byte arrives the head timeout applies.
    Idle,
}

/// The read side of one connection: the socket and the bytes read from it
/// but not yet used.
pub struct Inbound {
    stream: Arc<TcpStream>,
    buf: Vec<u8>,
}

/// Bytes read per `read` call; the buffer grows by at most this much.
const READ_STEP: usize = 2048;

impl Inbound {
    /// Reads from `stream`, starting with an empty buffer.
    pub fn new(stream: Arc<TcpStream>) -> Self {
        Inbound {
            stream,
            buf: Vec::new(),
        }
    }

    /// Reads and parses the next request head.
    ///
    /// Returns `Ok(None)` when the client closed the connection, or stayed
    /// silent through an idle keep-alive wait, before sending a byte.
    ///
    /// # Errors
    /// 431 past the size or header-count cap, 408 when the head is not
    /// complete in time, 400 or 505 when it does not parse, `Io` when the
    /// client hangs up halfway.
    pub fn read_head(&mut self, config: &Config, wait: Wait) -> Result<Option<Request>> {
        let first_wait = match (wait, self.buf.is_empty()) {
            (Wait::Idle, true) => config.keepalive_timeout,
            _ => config.head_timeout,
        };
        let mut deadline = Instant::now() + first_wait;
        let mut started = !self.buf.is_empty();
        loop {
            if started {
                if let Some((request, len)) = parse_head(&self.buf, config)? {
                    self.buf.drain(..len);
                    return Ok(Some(request));
                }
                if self.buf.len() >= config.max_head_bytes {
                    return Err(Error::HeadTooLarge(config.max_head_bytes));
                }
            }
            // Never read past the cap: a client may not make us buffer more.
            let room = config.max_head_bytes - self.buf.len();
            match self.fill(deadline, room.min(READ_STEP)) {
                Ok(0) if !started => return Ok(None),
                Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
                Ok(_) if !started => {
                    started = true;
                    deadline = Instant::now() + config.head_timeout;
                }
                Ok(_) => {}
                Err(e) if is_timeout(&e) && !started && wait == Wait::Idle => return Ok(None),
                Err(e) if is_timeout(&e) => return Err(Error::Timeout),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Appends up to `max` bytes from the socket to the buffer, waiting no
    /// later than `deadline`. Returns how many arrived; 0 means end of stream.
    ///
    /// # Errors
    /// `TimedOut` when the deadline passes, or the socket's own error.
    pub fn fill(&mut self, deadline: Instant, max: usize) -> io::Result<usize> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        // A zero timeout means "block forever" to the OS, hence the check above.
        self.stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
        let start = self.buf.len();
        self.buf.resize(start + max, 0);
        let result = loop {
            match (&*self.stream).read(&mut self.buf[start..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        self.buf.truncate(start + *result.as_ref().unwrap_or(&0));
        result
    }

    /// The bytes read but not yet used.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Removes the first `n` buffered bytes and returns them.
    pub fn take(&mut self, n: usize) -> Vec<u8> {
        self.buf.drain(..n).collect()
    }

    /// Removes and returns every buffered byte (for a protocol switch).
    pub fn take_all(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// Frees the buffer's memory when it holds nothing; called before a long
    /// stream so an idle subscriber keeps no spare capacity.
    pub fn shrink(&mut self) {
        if self.buf.is_empty() {
            self.buf = Vec::new();
        }
    }
}

/// Whether a read error is our own timeout (`set_read_timeout` reports
/// `WouldBlock` on Unix).
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Parses a complete head at the start of `buf`, or `None` if more bytes are
/// needed. Returns the request and the head's length in bytes.
fn parse_head(buf: &[u8], config: &Config) -> Result<Option<(Request, usize)>> {
    let mut headers = vec![httparse::EMPTY_HEADER; config.max_headers];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Error::TooManyHeaders(config.max_headers));
        }
        Err(httparse::Error::Version) => return Err(Error::VersionNotSupported),
        Err(_) => return Err(Error::BadRequest("malformed request head")),
    };
    let request = Request {
        method: req.method.unwrap_or_default().to_string(),
        target: req.path.unwrap_or_default().to_string(),
        minor_version: req.version.unwrap_or(1),
        headers: req
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_string(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect(),
    };
    if !request.target.starts_with('/') {
        // Absolute-form (`GET http://host/`) is for proxies, `*` for OPTIONS.
        return Err(Error::BadRequest("request target must start with /"));
    }
    if request.is_http11() && request.header("Host").is_none() {
        return Err(Error::BadRequest("HTTP/1.1 request without Host"));
    }
    Ok(Some((request, len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> Result<Option<(Request, usize)>> {
        parse_head(raw, &Config::default())
    }

    #[test]
    fn parses_target_and_headers() {
        let raw = b"GET /stream?count=3&x HTTP/1.1\r\nHost: t\r\nConnection: Keep-Alive, Upgrade\r\n\r\nrest";
        let (req, len) = parse(raw).unwrap().unwrap();
        assert_eq!(len, raw.len() - 4);
        assert_eq!(req.path(), "/stream");
        assert_eq!(req.query("count"), Some("3"));
        assert_eq!(req.query("x"), Some(""));
        assert_eq!(req.query("y"), None);
        assert!(req.header_has_token("connection", "upgrade"));
        assert!(req.wants_keep_alive());
    }

    #[test]
    fn partial_head_needs_more() {
        assert!(parse(b"GET / HTTP/1.1\r\nHost: t\r\n").unwrap().is_none());
    }

    #[test]
    fn http10_closes_unless_asked() {
        let (req, _) = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(!req.wants_keep_alive());
        let (req, _) = parse(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(req.wants_keep_alive());
    }

    #[test]
    fn rejects_bad_heads() {
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\n\r\n"),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            parse(b"G@T / HTTP/1.1\r\n\r\n"),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            parse(b"GET / HTTP/2.0\r\n\r\n"),
            Err(Error::VersionNotSupported)
        ));
        assert!(matches!(
            parse(b"GET http://x/ HTTP/1.0\r\n\r\n"),
            Err(Error::BadRequest(_))
        ));
    }
}
