//! One connection, from its first byte to its close: read a request, route
//! it, answer, and go round again while keep-alive allows.
//!
//! ```text
//! loop {
//!     read head          (idle wait, then the head timeout)   → 408, 431, 400, 505
//!     decide body length (Content-Length / chunked)           → 400, 411, 413
//!     read body          (capped)                             → 413, 408
//!     route              → /healthz, /stream, /event, static files
//!     access log line
//! }
//! ```
//!
//! An error found while reading the request is answered and the connection
//! closed: once the framing is wrong, the bytes after it cannot be trusted to
//! start a new request. An error from a handler (404, 405, a bad parameter)
//! comes after a complete request, so keep-alive goes on.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, info};

use crate::body;
use crate::conns::Ticket;
use crate::demos;
use crate::echo;
use crate::error::{Error, Result};
use crate::metrics::{Gauge, Kind, Metrics};
use crate::request::{Inbound, Request, Wait};
use crate::response::{Head, text_head};
use crate::server::Shared;
use crate::static_files;
use crate::topics;

/// Everything a handler needs for one request.
pub struct Exchange<'a> {
    /// The request head.
    pub req: &'a Request,
    /// The request body, already read in full.
    pub body: Vec<u8>,
    /// The connection's read side, holding any bytes past this request.
    pub inbound: &'a mut Inbound,
    /// Where the response goes; counts the bytes for the access log.
    pub out: &'a mut Counted,
    /// The socket itself, for the hang-up watcher.
    pub stream: &'a Arc<TcpStream>,
    /// The client's address, for log lines.
    pub peer: SocketAddr,
    /// Server-wide state.
    pub shared: &'a Shared,
    /// This connection in the `/metrics` gauges; handlers that start a
    /// stream or a WebSocket move it to that kind.
    pub gauge: &'a mut Gauge,
    /// Whether the connection may carry another request after this one.
    pub keep_alive: bool,
}

/// What a handler did, for the access log and the keep-alive loop.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// The status sent.
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

/// Serves one connection until it closes; runs on its own thread.
pub fn handle(stream: Arc<TcpStream>, peer: SocketAddr, shared: &Shared, ticket: Ticket) {
    debug!("{peer} connected");
    if let Err(e) = configure(&stream, shared) {
        debug!("{peer} cannot configure socket: {e}");
        return;
    }
    let mut inbound = Inbound::new(Arc::clone(&stream));
    let mut out = Counted {
        stream: Arc::clone(&stream),
        metrics: Arc::clone(&shared.metrics),
        bytes: 0,
    };
    let mut gauge = shared.metrics.open_connection();
    let mut wait = Wait::First;
    loop {
        // Idle: shutdown may wake this read. Refused when already shutting down.
        if !ticket.set_idle(true) {
            break;
        }
        let head = inbound.read_head(&shared.config, wait);
        ticket.set_idle(false);
        let started = Instant::now();
        let req = match head {
            Ok(Some(req)) => req,
            Ok(None) => break,
            Err(e) => {
                reject(&mut out, peer, None, &e);
                break;
            }
        };
        let body = match body::framing(&req, &shared.config)
            .and_then(|framing| continue_if_asked(&mut out, &req, framing))
            .and_then(|framing| body::read_body(&mut inbound, framing, &shared.config))
        {
            Ok(body) => body,
            Err(e) => {
                reject(&mut out, peer, Some(&req), &e);
                break;
            }
        };
        let bytes_before = out.bytes;
        let keep_alive = req.wants_keep_alive() && !shared.conns.shutting_down();
        let mut exchange = Exchange {
            req: &req,
            body,
            inbound: &mut inbound,
            out: &mut out,
            stream: &stream,
            peer,
            shared,
            gauge: &mut gauge,
            keep_alive,
        };
        let outcome = match route(&mut exchange) {
            Ok(outcome) => outcome,
            Err(e) => reply_error(&mut out, &req, &e, keep_alive),
        };
        gauge.set(Kind::Http);
        let written = out.bytes - bytes_before;
        let ms = started.elapsed().as_millis();
        info!(
            "{peer} \"{} {}\" {} {written} {ms}ms",
            req.method, req.target, outcome.status
        );
        if !outcome.keep_alive {
            break;
        }
        inbound.shrink();
        wait = Wait::Idle;
    }
    debug!("{peer} closed");
}

/// `Expect: 100-continue`: the client waits for a go-ahead before sending
/// its body (curl asks for bodies over 1 KiB and for `-T`). The framing is
/// acceptable by now, so the answer is yes; without it curl waits a second.
fn continue_if_asked(
    out: &mut Counted,
    req: &Request,
    framing: body::Framing,
) -> Result<body::Framing> {
    if framing != body::Framing::Empty
        && req.is_http11()
        && req.header_has_token("Expect", "100-continue")
    {
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    Ok(framing)
}

/// Sockets get a write timeout so a client that stops reading holds a
/// thread for bounded time, and no Nagle delay so each chunk leaves at once.
fn configure(stream: &TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_write_timeout(Some(shared.config.write_timeout))?;
    stream.set_nodelay(true)
}

/// The routing table.
fn route(x: &mut Exchange) -> Result<Outcome> {
    match x.req.path() {
        "/healthz" => healthz(x),
        "/stream" => demos::stream(x),
        "/event" => demos::event(x),
        "/echo" | "/socket" => echo::echo(x, false),
        "/ws" => echo::echo(x, true),
        "/metrics" => metrics(x),
        path => match path.strip_prefix("/topics/") {
            Some(rest) => topics::route(x, rest),
            None => static_files::serve(x),
        },
    }
}

/// Fails with 405 unless the method is GET or HEAD.
pub fn require_get(req: &Request) -> Result<()> {
    match req.method.as_str() {
        "GET" | "HEAD" => Ok(()),
        _ => Err(Error::MethodNotAllowed("GET, HEAD")),
    }
}

fn healthz(x: &mut Exchange) -> Result<Outcome> {
    require_get(x.req)?;
    reply(x, "text/plain; charset=utf-8", b"ok\n")
}

fn metrics(x: &mut Exchange) -> Result<Outcome> {
    require_get(x.req)?;
    let hub = &x.shared.hub;
    let text = x
        .shared
        .metrics
        .render(hub.topic_count(), hub.subscriber_count());
    reply(
        x,
        "text/plain; version=0.0.4; charset=utf-8",
        text.as_bytes(),
    )
}

/// Answers 200 with a fixed-length body (the head alone for HEAD).
pub fn reply(x: &mut Exchange, content_type: &'static str, body: &[u8]) -> Result<Outcome> {
    Head::new(200)
        .header("Content-Type", content_type)
        .connection(x.keep_alive, x.req.is_http11())
        .write_with_body(x.out, body, x.req.is_head())?;
    Ok(Outcome {
        status: 200,
        keep_alive: x.keep_alive,
    })
}

/// Answers an error found while reading the request, then closes gently.
fn reject(out: &mut Counted, peer: SocketAddr, req: Option<&Request>, e: &Error) {
    let Some(status) = e.status() else {
        debug!("{peer} gone while sending its request: {e}");
        return;
    };
    let what = req.map_or(String::new(), |r| format!(" \"{} {}\"", r.method, r.target));
    info!("{peer}{what} {status} ({e})");
    let head = text_head(status).connection(false, true);
    if head
        .write_with_body(out, format!("{e}\n").as_bytes(), false)
        .is_ok()
    {
        linger_close(&out.stream);
    }
}

/// How long, and how many bytes, a lingering close reads before giving up.
const LINGER_TIME: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 256 * 1024;

/// Closes after an error without destroying the error reply. Closing a
/// socket that still has unread bytes (the rest of an oversized head, a body
/// we refused) makes the kernel send a reset, and a reset can discard our
/// reply before the client reads it (RFC 9112, section 9.6). So: send FIN,
/// then read and drop what the client still sends until it closes too, for
/// a bounded time and byte count.
fn linger_close(stream: &TcpStream) {
    if stream.shutdown(Shutdown::Write).is_err() {
        return;
    }
    let deadline = Instant::now() + LINGER_TIME;
    let mut scratch = [0u8; 4096];
    let mut drained = 0;
    while drained < LINGER_BYTES {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match (&*stream).read(&mut scratch) {
            Ok(0) | Err(_) => return,
            Ok(n) => drained += n,
        }
    }
}

/// Answers a handler's error: a one-line reason, `Allow` for 405.
fn reply_error(out: &mut Counted, req: &Request, e: &Error, keep_alive: bool) -> Outcome {
    let Some(status) = e.status() else {
        // The peer is gone (or the stream broke midway): nothing to send.
        return Outcome {
            status: 0,
            keep_alive: false,
        };
    };
    let mut head = text_head(status);
    match e {
        Error::MethodNotAllowed(allow) => head = head.header("Allow", *allow),
        Error::UpgradeRequired => {
            head = head
                .header("Upgrade", "websocket")
                .header("Sec-WebSocket-Version", "13");
        }
        Error::Unauthorized => head = head.header("WWW-Authenticate", "Bearer"),
        Error::Unavailable(_) => head = head.header("Retry-After", "1"),
        _ => {}
    }
    let sent = head
        .connection(keep_alive, req.is_http11())
        .write_with_body(out, format!("{e}\n").as_bytes(), req.is_head());
    Outcome {
        status,
        keep_alive: keep_alive && sent.is_ok(),
    }
}
