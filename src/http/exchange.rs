//! One request and its answer: what a handler is given ([`Exchange`]), what
//! it reports back ([`Outcome`]), and the two ways every handler answers
//! in a line: [`reply`] for a 200 with a body, [`write_error`] for an error.
//!
//! Every error a client sees goes out through [`write_error`], with the
//! status from [`Error::status`], the header that status calls for, and the
//! reason on one line:
//!
//! ```text
//! HTTP/1.1 405 Method Not Allowed\r\n
//! Content-Type: text/plain; charset=utf-8\r\n
//! Allow: GET, HEAD\r\n
//! Content-Length: 34\r\n
//! \r\n
//! method not allowed; use GET, HEAD\n
//! ```

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;

use crossbeam_channel::{Receiver, TryRecvError};

use super::expect::Body;
use super::inbound::Inbound;
use super::request::Request;
use super::response::{Head, Header, text_head};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::metrics::{Gauge, Metrics};
use crate::threads::ThreadBudget;
use crate::watcher::Watcher;

/// What every connection thread shares.
pub struct Shared {
    /// The server's settings.
    pub config: Config,
    /// The hang-up watcher for streams.
    pub watcher: Arc<Watcher>,
    /// Reports disconnection once the server is shutting down; every
    /// stream's `select!` includes it.
    pub shutdown: Receiver<()>,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Places for more threads; a WebSocket takes one for its writer.
    pub threads: Arc<ThreadBudget>,
    /// Per-client limits: connections from one address, publishes per second.
    pub limits: Limits,
}

impl Shared {
    /// Whether the connection may carry another request after `req`.
    pub fn keeps_alive(&self, req: &Request) -> bool {
        req.wants_keep_alive() && !self.shutting_down()
    }

    /// Whether shutdown has begun.
    pub fn shutting_down(&self) -> bool {
        matches!(self.shutdown.try_recv(), Err(TryRecvError::Disconnected))
    }
}

/// Everything a handler needs for one request.
pub struct Exchange<'a> {
    /// The request head.
    pub req: &'a Request,
    /// The request body: read in full, or awaiting the go-ahead that
    /// [`Exchange::body`] gives (`expect.rs`).
    pub body: Body,
    /// The connection's read side, holding any bytes past this request.
    pub inbound: &'a mut Inbound,
    /// Where the response goes; counts the bytes for the access log.
    pub out: &'a mut Counted,
    /// The socket itself, for the hang-up watcher and protocol switches.
    pub stream: &'a Arc<TcpStream>,
    /// The TCP peer's address, for log lines.
    pub peer: SocketAddr,
    /// The client: the peer's address, or behind a trusted proxy the one
    /// `X-Forwarded-For` names (`http/forwarded.rs`). Limits count this.
    pub client: IpAddr,
    /// Server-wide state.
    pub shared: &'a Shared,
    /// This connection in the `/metrics` gauges; handlers that start a
    /// stream or a WebSocket move it to that kind.
    pub gauge: &'a mut Gauge,
    /// Whether the connection may carry another request after this one.
    pub keep_alive: bool,
    /// Headers every answer to this request carries, errors included:
    /// [`reply`], the stream heads and [`write_error`] add them (CORS,
    /// set by `endpoints/cors.rs`).
    pub extra_headers: Vec<Header>,
}

/// What a handler did, for the access log and the keep-alive loop.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// The status sent (0 when nothing could be sent).
    pub status: u16,
    /// Whether the connection can carry another request.
    pub keep_alive: bool,
}

/// A writer over the socket that counts the bytes written.
pub struct Counted {
    stream: Arc<TcpStream>,
    metrics: Arc<Metrics>,
    /// Bytes written so far on this connection.
    pub bytes: u64,
}

impl Exchange<'_> {
    /// The request's body, taken; one held back for the go-ahead gets it
    /// now, and the connection its keep-alive back (`expect.rs`).
    ///
    /// # Errors
    /// As [`Body::take`]: 413, 400, 408 or `Io`; the connection then closes.
    pub fn body(&mut self) -> Result<Vec<u8>> {
        let held_back = self.body.awaiting();
        let config = &self.shared.config.http;
        let bytes = self.body.take(self.inbound, self.out, config)?;
        if held_back {
            self.keep_alive = self.shared.keeps_alive(self.req);
        }
        Ok(bytes)
    }
}

impl Counted {
    /// Counts what is written to `stream`, here and in `metrics`.
    pub fn new(stream: Arc<TcpStream>, metrics: Arc<Metrics>) -> Self {
        Counted {
            stream,
            metrics,
            bytes: 0,
        }
    }
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = (&*self.stream).write(buf)?;
        self.bytes += n as u64;
        self.metrics.wrote(n);
        Ok(n)
    }

    /// One `writev` for several buffers (the default would write only the first).
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let n = (&*self.stream).write_vectored(bufs)?;
        self.bytes += n as u64;
        self.metrics.wrote(n);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self.stream).flush()
    }
}

/// Fails with 405 unless the method is GET or HEAD.
pub fn require_get(req: &Request) -> Result<()> {
    match req.method.as_str() {
        "GET" | "HEAD" => Ok(()),
        _ => Err(Error::MethodNotAllowed("GET, HEAD")),
    }
}

/// Answers 200 with a fixed-length body (the head alone for HEAD).
pub fn reply(x: &mut Exchange, content_type: &'static str, body: &[u8]) -> Result<Outcome> {
    Head::new(200)
        .header("Content-Type", content_type)
        .headers(&x.extra_headers)
        .connection(x.keep_alive, x.req.is_http11())
        .write_with_body(x.out, body, x.req.is_head())?;
    Ok(Outcome {
        status: 200,
        keep_alive: x.keep_alive,
    })
}

/// Writes the answer to `e`: its status, the header that status calls for
/// (`Allow`, `WWW-Authenticate`, `Retry-After`, `Upgrade`), the exchange's
/// `extra` headers, and the reason on one line. `req` is `None` when no
/// request could be read (the reply then speaks HTTP/1.1 and has a body).
/// Returns the status sent, or `None` when `e` means the peer is gone and
/// nothing can be sent.
///
/// # Errors
/// When the reply cannot be written.
pub fn write_error(
    w: &mut impl Write,
    e: &Error,
    keep_alive: bool,
    req: Option<&Request>,
    extra: &[Header],
) -> io::Result<Option<u16>> {
    let Some(status) = e.status() else {
        return Ok(None);
    };
    let mut head = text_head(status);
    match e {
        Error::MethodNotAllowed(allow) => head = head.header("Allow", *allow),
        Error::UpgradeRequired => {
            head = head
                .header("Upgrade", "websocket")
                .header("Sec-WebSocket-Version", "13");
        }
        Error::Unauthorized(_) => head = head.header("WWW-Authenticate", "Bearer"),
        // RFC 6750, section 3.1: a token was sent, and it is not known.
        Error::InvalidToken => {
            head = head.header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
        }
        Error::Unavailable(_) => head = head.header("Retry-After", "1"),
        Error::TooMany {
            retry_after_secs, ..
        } => head = head.header("Retry-After", retry_after_secs.to_string()),
        _ => {}
    }
    head = head.headers(extra);
    let http11 = req.is_none_or(Request::is_http11);
    let head_only = req.is_some_and(Request::is_head);
    head.connection(keep_alive, http11).write_with_body(
        w,
        format!("{e}\n").as_bytes(),
        head_only,
    )?;
    Ok(Some(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(e: &Error, keep_alive: bool) -> String {
        let mut out = Vec::new();
        write_error(&mut out, e, keep_alive, None, &[]).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn each_error_gets_its_status_header_and_one_line() {
        assert_eq!(
            written(&Error::MethodNotAllowed("GET, HEAD"), true),
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Allow: GET, HEAD\r\nContent-Length: 34\r\n\r\nmethod not allowed; use GET, HEAD\n"
        );
        assert_eq!(
            written(&Error::Unavailable("server at its connection limit"), false),
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Retry-After: 1\r\nConnection: close\r\nContent-Length: 31\r\n\r\n\
             server at its connection limit\n"
        );
        let unauthorized = Error::Unauthorized("publishing needs Authorization: Bearer <token>");
        assert!(written(&unauthorized, true).contains("\r\nWWW-Authenticate: Bearer\r\n"));
        assert!(
            written(&Error::InvalidToken, true)
                .contains("\r\nWWW-Authenticate: Bearer error=\"invalid_token\"\r\n")
        );
        assert!(
            written(&Error::UpgradeRequired, true).contains("\r\nSec-WebSocket-Version: 13\r\n")
        );
        let too_many = Error::TooMany {
            why: "publishing too fast",
            retry_after_secs: 3,
        };
        assert_eq!(
            written(&too_many, true),
            "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Retry-After: 3\r\nContent-Length: 20\r\n\r\npublishing too fast\n"
        );
    }

    #[test]
    fn extra_headers_ride_on_errors() {
        let mut out = Vec::new();
        let extra = [("Access-Control-Allow-Origin", "*".to_string())];
        write_error(
            &mut out,
            &Error::Unauthorized("a token is needed"),
            true,
            None,
            &extra,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("\r\nAccess-Control-Allow-Origin: *\r\n"),
            "{text}"
        );
    }

    #[test]
    fn a_gone_peer_gets_nothing() {
        let mut out = Vec::new();
        let gone = Error::Io(io::ErrorKind::BrokenPipe.into());
        assert_eq!(write_error(&mut out, &gone, true, None, &[]).unwrap(), None);
        assert!(out.is_empty());
    }
}
