//! A response that stays open: the head every stream shares, the two
//! channels that can end it from outside, and how it ends.
//!
//! ```text
//! HTTP/1.1 200 OK\r\n
//! Content-Type: text/event-stream\r\n
//! Cache-Control: no-cache\r\n
//! X-Accel-Buffering: no\r\n
//! X-Content-Type-Options: nosniff\r\n
//! Transfer-Encoding: chunked\r\n
//! \r\n
//! ```
//!
//! `Cache-Control: no-cache` and `X-Accel-Buffering: no` keep proxies
//! (nginx, CDNs) from holding pieces back; `nosniff` stops a browser from
//! buffering a `text/plain` stream to guess its type. Over HTTP/1.0 there is
//! no chunked coding: the body is sent raw and ends when we close.
//!
//! A handler gets a [`Live`] stream and runs its own `select!` over its data
//! plus [`Live::closed`] (the client hung up; see `watcher.rs`) and
//! [`Live::shutdown`] (the server is stopping; end the body cleanly).
//! A stream that has all it will say at once (a topic's `poll=1`) is
//! [`whole`]: the same head, its body written through a buffer, then the
//! last chunk, and the connection goes on to its next request.

use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;

use crossbeam_channel::Receiver;
use log::info;

use super::chunked::ChunkedWriter;
use super::exchange::{Counted, Exchange, Outcome};
use super::response::Head;
use crate::error::Result;
use crate::metrics::Kind;
use crate::watcher::Watch;

/// How many bytes of a [`whole`] body are gathered before a write.
pub const WHOLE_BUFFER_BYTES: usize = 64 * 1024;

/// The body writer of a [`whole`] stream.
pub type WholeBody<'x> = ChunkedWriter<BufWriter<&'x mut Counted>>;

/// An open stream: the body writer and the channels that can end it.
pub struct Live<'x> {
    /// The body; each `chunk` is flushed at once.
    pub body: ChunkedWriter<&'x mut Counted>,
    watch: Watch,
    shutdown: &'x Receiver<()>,
    peer: SocketAddr,
    keep_alive: bool,
}

/// How a stream's loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// It said all it had, or the server is stopping: end the body cleanly.
    Done,
    /// The client hung up.
    Gone,
}

/// What [`open`] started.
pub enum Opened<'x> {
    /// A stream to run.
    Live(Live<'x>),
    /// A HEAD request: the head was the whole answer.
    HeadOnly(Outcome),
}

/// Sends the stream's head and starts watching for a hang-up; a HEAD
/// request gets the head alone.
///
/// # Errors
/// `Io` when the head cannot be written or the socket cannot be watched.
pub fn open<'x>(x: &'x mut Exchange<'_>, content_type: &'static str) -> Result<Opened<'x>> {
    let (http11, keep_alive) = write_head(x, content_type)?;
    x.gauge.set(if content_type == "text/event-stream" {
        Kind::Sse
    } else {
        Kind::Chunked
    });
    if x.req.is_head() {
        return Ok(Opened::HeadOnly(Outcome {
            status: 200,
            keep_alive,
        }));
    }
    // The request buffer's capacity would otherwise live as long as the stream.
    x.inbound.shrink();
    Ok(Opened::Live(Live {
        watch: x.shared.watcher.watch(x.stream)?,
        shutdown: &x.shared.shutdown,
        peer: x.peer,
        keep_alive,
        body: ChunkedWriter::new(&mut *x.out, http11),
    }))
}

/// Answers with a stream's head and a body `write` makes at once, then the
/// last chunk; a HEAD request gets the head alone.
///
/// # Errors
/// `Io` when the head cannot be written.
pub fn whole(
    x: &mut Exchange<'_>,
    content_type: &'static str,
    write: impl FnOnce(&mut WholeBody<'_>) -> io::Result<()>,
) -> Result<Outcome> {
    let (http11, keep_alive) = write_head(x, content_type)?;
    if x.req.is_head() {
        return Ok(Outcome {
            status: 200,
            keep_alive,
        });
    }
    let buffered = BufWriter::with_capacity(WHOLE_BUFFER_BYTES, &mut *x.out);
    let mut body = ChunkedWriter::new(buffered, http11);
    let written = write(&mut body).and_then(|()| body.finish()?.flush());
    if let Err(e) = &written {
        info!("{} session closed ({e})", x.peer);
    }
    Ok(Outcome {
        status: 200,
        keep_alive: keep_alive && written.is_ok(),
    })
}

/// Writes the head every stream shares; returns whether the request is
/// HTTP/1.1 and whether the connection may stay open after the body.
fn write_head(x: &mut Exchange<'_>, content_type: &'static str) -> Result<(bool, bool)> {
    let http11 = x.req.is_http11();
    // HTTP/1.0 streams end with the connection, so they cannot keep it alive.
    let keep_alive = x.keep_alive && http11;
    let mut head = Head::new(200)
        .header("Content-Type", content_type)
        .header("Cache-Control", "no-cache")
        .header("X-Accel-Buffering", "no")
        .header("X-Content-Type-Options", "nosniff")
        .headers(&x.extra_headers);
    if http11 {
        head = head.header("Transfer-Encoding", "chunked");
    }
    head.connection(keep_alive, http11).write_to(x.out)?;
    Ok((http11, keep_alive))
}

impl Live<'_> {
    /// Reports disconnection once the client has hung up.
    pub fn closed(&self) -> &Receiver<()> {
        self.watch.closed()
    }

    /// Reports disconnection once the server is shutting down.
    pub fn shutdown(&self) -> &Receiver<()> {
        self.shutdown
    }

    /// Ends the stream: the last chunk when the loop ended cleanly, a
    /// `session closed` log line when the client left (seen by the watcher,
    /// or as a failed write).
    pub fn finish(self, ended: io::Result<End>) -> Outcome {
        let clean = matches!(ended, Ok(End::Done)) && self.body.finish().is_ok();
        if !clean {
            info!("{} session closed", self.peer);
        }
        Outcome {
            status: 200,
            keep_alive: clean && self.keep_alive,
        }
    }
}
