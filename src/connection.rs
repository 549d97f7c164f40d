//! One connection, from its first byte to its close: read a request, route
//! it, answer, and go round again while keep-alive allows.
//!
//! ```text
//! loop {
//!     read head          (idle wait, then the head timeout)   → 408, 431, 400, 505
//!     decide body length (Content-Length / chunked)           → 400, 411, 413
//!     read body          (capped; with Expect: 100-continue,  → 413, 408
//!                        when the handler asks: expect.rs)
//!     the Host named     (one this server answers to: host.rs) → 400, 403
//!     who is the client  (X-Forwarded-For behind a trusted proxy) → 429
//!     route              → the table in `route` below
//!     access log line    (a `token=` in the target written as `token=REDACTED`)
//! }
//! ```
//!
//! An error found while reading the request is answered and the connection
//! closed: once the framing is wrong, the bytes after it cannot be trusted to
//! start a new request. An error from a handler (404, 405, a bad parameter)
//! comes after a complete request, so keep-alive goes on.

use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, info};

use crate::access;
use crate::endpoints::{App, cors, demos, echo, health, static_files, topics};
use crate::error::{Error, Result};
use crate::http::body;
use crate::http::exchange::{Counted, Exchange, Outcome, Shared, write_error};
use crate::http::expect::{self, Body};
use crate::http::forwarded::{self, Who};
use crate::http::host;
use crate::http::inbound::{Inbound, Wait};
use crate::http::request::Request;
use crate::metrics::Kind;
use crate::server::conns::Ticket;

/// The routing table: a path to the handler that answers it.
fn route(x: &mut Exchange, app: &App) -> Result<Outcome> {
    match x.req.path() {
        "/healthz" => health::healthz(x, &app.hub),
        "/metrics" => health::metrics(x, &app.hub),
        "/stream" => demos::stream(x),
        "/event" => demos::event(x),
        "/echo" | "/socket" => echo::echo(x, app, false),
        "/ws" => echo::echo(x, app, true),
        path => match path.strip_prefix("/topics/") {
            Some(rest) => topics::route(x, app, rest),
            None => static_files::serve(x),
        },
    }
}

/// Serves one connection until it closes; runs on its own thread.
pub fn handle(
    stream: Arc<TcpStream>,
    peer: SocketAddr,
    shared: &Shared,
    app: &App,
    ticket: Ticket,
) {
    debug!("{peer} connected");
    let Ok(()) = configure(&stream, shared, peer) else {
        return;
    };
    let mut inbound = Inbound::new(Arc::clone(&stream));
    let mut out = Counted::new(Arc::clone(&stream), Arc::clone(&shared.metrics));
    let mut gauge = shared.metrics.open_connection();
    let mut wait = Wait::First;
    while let Some((req, body, started)) =
        next_request(&mut inbound, &mut out, &stream, peer, &ticket, shared, wait)
    {
        let bytes_before = out.bytes;
        // Until a body held back for the go-ahead is read, the answer closes (`expect.rs`).
        let keep_alive = shared.keeps_alive(&req) && !body.awaiting();
        let mut exchange = Exchange {
            req: &req,
            body,
            inbound: &mut inbound,
            out: &mut out,
            stream: &stream,
            peer,
            client: forwarded::client(peer.ip(), &req, |ip| shared.limits.is_proxy(ip)),
            shared,
            gauge: &mut gauge,
            keep_alive,
            extra_headers: Vec::new(),
        };
        let outcome = respond(&mut exchange, app);
        let (who, unfinished) = (Who(peer, exchange.client), exchange.body.unfinished());
        log_access(who, &req, outcome.status, out.bytes - bytes_before, started);
        if unfinished {
            // Body bytes may still come (sent without waiting, or past an
            // error): let the answer arrive before the close, not be lost
            // to a reset.
            linger_close(&stream);
            break;
        }
        if !outcome.keep_alive {
            break;
        }
        inbound.shrink();
        wait = Wait::Idle;
    }
    debug!("{peer} closed");
}

/// Reads the next request: its head, then its body (or the framing of one
/// held back for the go-ahead), and when its head came. `None` ends the
/// connection: the client closed, shutdown began, or the request was bad
/// (answered here).
fn next_request(
    inbound: &mut Inbound,
    out: &mut Counted,
    stream: &TcpStream,
    peer: SocketAddr,
    ticket: &Ticket,
    shared: &Shared,
    wait: Wait,
) -> Option<(Request, Body, Instant)> {
    // Idle: shutdown may wake this read. Refused when already shutting down.
    if !ticket.set_idle(true) {
        return None;
    }
    let head = inbound.read_head(&shared.config.http, wait);
    ticket.set_idle(false);
    let started = Instant::now();
    let req = match head {
        Ok(Some(req)) => req,
        Ok(None) => return None,
        Err(e) => {
            reject(out, stream, peer, None, &e);
            return None;
        }
    };
    match read_body(inbound, &req, shared) {
        Ok(body) => Some((req, body, started)),
        Err(e) => {
            reject(out, stream, peer, Some(&req), &e);
            None
        }
    }
}

/// The access log line: client (and the proxy it came through), request line (any `token=` redacted),
/// status, bytes written, time taken.
fn log_access(who: Who, req: &Request, status: u16, written: u64, started: Instant) {
    let (method, ms) = (&req.method, started.elapsed().as_millis());
    let target = access::redacted(&req.target);
    info!("{who} \"{method} {target}\" {status} {written} {ms}ms");
}

/// Reads the body the head announced; a client waiting for the go-ahead
/// gets it when the handler asks for the body (`expect.rs`).
fn read_body(inbound: &mut Inbound, req: &Request, shared: &Shared) -> Result<Body> {
    let config = &shared.config.http;
    let framing = body::framing(req, config)?;
    if expect::wants_go_ahead(req, framing) {
        // The connection's keep-alive is held back until it is read (see `handle`).
        return Ok(Body::Awaiting(framing));
    }
    body::read_body(inbound, framing, config).map(Body::Read)
}

/// Sockets get a write timeout so a client that stops reading holds a
/// thread for bounded time, and no Nagle delay so each chunk leaves at once.
fn configure(stream: &TcpStream, shared: &Shared, peer: SocketAddr) -> io::Result<()> {
    stream
        .set_write_timeout(Some(shared.config.http.write_timeout))
        .and_then(|()| stream.set_nodelay(true))
        .inspect_err(|e| debug!("{peer} cannot configure socket: {e}"))
}

/// Checks the `Host` (`host.rs`), routes the request, and answers the
/// error if it fails, the CORS headers of `/topics/` on either (`cors.rs`). A request that
/// came through a trusted proxy holds its client's place in the per-address
/// count until then (`limits/`): the proxy's connection carries many clients.
/// Afterwards the connection counts as plain HTTP again in `/metrics`.
fn respond(x: &mut Exchange, app: &App) -> Outcome {
    // First, so that a 429 here carries them too.
    cors::add_headers(x);
    let routed = host::check(x.req, &x.shared.config.access.allowed_hosts)
        .and_then(|()| x.shared.limits.admit_request(x.peer.ip(), x.client))
        .and_then(|_place| route(x, app));
    let outcome = routed.unwrap_or_else(|e| answer(x, &e));
    x.gauge.set(Kind::Http);
    outcome
}

/// Answers a handler's error; keep-alive goes on if the reply went out.
fn answer(x: &mut Exchange, e: &Error) -> Outcome {
    let keep_alive = x.keep_alive;
    match write_error(x.out, e, keep_alive, Some(x.req), &x.extra_headers) {
        Ok(Some(status)) => Outcome { status, keep_alive },
        // The peer is gone (or the stream broke midway): nothing was sent.
        Ok(None) | Err(_) => Outcome {
            status: e.status().unwrap_or(0),
            keep_alive: false,
        },
    }
}

/// Answers an error found while reading the request, then closes gently.
fn reject(
    out: &mut Counted,
    stream: &TcpStream,
    peer: SocketAddr,
    req: Option<&Request>,
    e: &Error,
) {
    let Some(status) = e.status() else {
        debug!("{peer} gone while sending its request: {e}");
        return;
    };
    let what = req.map_or(String::new(), |r| {
        format!(" \"{} {}\"", r.method, access::redacted(&r.target))
    });
    info!("{peer}{what} {status} ({e})");
    if let Ok(Some(_)) = write_error(out, e, false, None, &[]) {
        linger_close(stream);
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
///
/// Never inlined: its 4 KiB scratch buffer would join the frame of
/// `handle`, under every handler, and each connection thread would keep one
/// more stack page (measured: 12 → 16 KiB a thread).
#[cold]
#[inline(never)]
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
