//! The reading side of a WebSocket: the connection's own thread blocks in
//! `read` on the socket without the lock, then feeds the bytes to the shared
//! protocol state through [`Feed`] and hands out every complete message.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::ops::ControlFlow::{self, Break, Continue};
use std::sync::Arc;

use crossbeam_channel::Sender;
use log::{debug, info};
use tungstenite::Message;
use tungstenite::error::{CapacityError, Error as WsError, ProtocolError};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketContext};

use crate::error::is_timeout;

use super::feed::Feed;
use super::inner::{Inner, READ_CHUNK};
use super::on_demand;
use super::options::Options;

/// The reading side: an iterator over the client's text and binary
/// messages, reading the socket on the caller's thread. It ends when the
/// connection does; dropping it ends the connection and waits for the writer.
pub struct Incoming {
    inner: Arc<Inner>,
    buf: Vec<u8>,
    pending: VecDeque<Message>,
    // We failed the connection (a protocol error): what the client still
    // sends is read and dropped, never parsed, until it closes.
    failed: bool,
    // The handshake carried frame bytes not parsed yet.
    unparsed: bool,
    // Dropped when reading ends; the writer selects on it.
    reader_alive: Option<Sender<()>>,
}

impl Iterator for Incoming {
    type Item = Message;

    /// The next text or binary message; `None` once the connection ended.
    fn next(&mut self) -> Option<Message> {
        loop {
            if let Some(message) = self.pending.pop_front() {
                return Some(message);
            }
            self.reader_alive.as_ref()?;
            if self.read_some().is_break() {
                self.end();
            }
        }
    }
}

impl Incoming {
    pub(super) fn new(inner: Arc<Inner>, unparsed: bool, reader_alive: Sender<()>) -> Self {
        Incoming {
            inner,
            buf: vec![0; READ_CHUNK],
            pending: VecDeque::new(),
            failed: false,
            unparsed,
            reader_alive: Some(reader_alive),
        }
    }

    /// One blocking read (without the lock), then every complete message
    /// those bytes finish (with the lock). Breaks when reading is over.
    fn read_some(&mut self) -> ControlFlow<()> {
        // Bytes that came with the handshake are already in the context:
        // parse them before blocking on the socket.
        let n = if std::mem::take(&mut self.unparsed) {
            None
        } else {
            match (&*self.inner.stream).read(&mut self.buf) {
                Ok(n) => Some(n),
                // A signal, or a read timeout: not the end of anything.
                Err(e) if e.kind() == io::ErrorKind::Interrupted || is_timeout(&e) => {
                    return Continue(());
                }
                // Reset, or our own shutdown: the same as end of stream.
                Err(_) => Some(0),
            }
        };
        if self.failed {
            // Draining after a failure: until the client closes, or the
            // writer's bounded wait ends with `shutdown(Both)`.
            return if n == Some(0) {
                Break(())
            } else {
                Continue(())
            };
        }
        let len = n.unwrap_or(0);
        if len > 0 {
            self.inner.heard_now();
        }
        match self.parse(len, n == Some(0)) {
            Ok(flow) => flow,
            Err(frame) => {
                self.fail(frame);
                // The rest of these bytes follow a framing error: unusable.
                Continue(())
            }
        }
    }

    /// Feeds the first `len` bytes of the buffer to the protocol state and
    /// collects every message they complete. A protocol error is answered
    /// with its close frame at once, and returned.
    fn parse(&mut self, len: usize, eof: bool) -> Result<ControlFlow<()>, CloseFrame> {
        let inner = Arc::clone(&self.inner);
        let Ok(mut context) = inner.context() else {
            // The end of a half-sent frame could not be written: gone.
            return Ok(Break(()));
        };
        let mut feed = Feed::new(&self.buf[..len], eof, &inner.stream, &inner.written);
        take_messages(&mut context, &mut feed, &mut self.pending, inner.peer)
    }

    /// "Fail the WebSocket Connection" (RFC 6455, 7.1.7): our close frame is
    /// out; there is no close handshake to wait for, so FIN now, and read
    /// only to drain from here on.
    fn fail(&mut self, frame: CloseFrame) {
        let _ = self.inner.stream.shutdown(Shutdown::Write);
        self.failed = true;
        if self.inner.start_closing() {
            // The writer stops sending and bounds the wait.
            let _ = self.inner.close_requests.try_send(frame);
            on_demand::ensure(&self.inner, &mut self.inner.outbox());
        }
    }

    /// Reading is over: tell the writer, close the socket, wait for the
    /// writer, and start no other.
    fn end(&mut self) {
        if self.reader_alive.take().is_none() {
            return;
        }
        // The server closes the TCP connection first (RFC 6455, 7.1.1).
        let _ = self.inner.stream.shutdown(Shutdown::Both);
        self.inner.outbox().reader_ended = true;
        let writer = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(writer) = writer {
            let _ = writer.join();
        }
        // `Connection::closed` fires once no writer holds a clone either.
        self.inner
            .kit
            .alive
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        self.end();
    }
}

/// Hands what `feed` holds to the protocol state and queues every text or
/// binary message it completes in `pending`. A protocol error is answered
/// with its close frame at once, and returned.
fn take_messages<S: Write>(
    context: &mut WebSocketContext,
    feed: &mut Feed<'_, S>,
    pending: &mut VecDeque<Message>,
    peer: SocketAddr,
) -> Result<ControlFlow<()>, CloseFrame> {
    loop {
        match context.read(feed) {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => pending.push_back(message),
            Ok(Message::Close(frame)) => {
                debug!("{} websocket close from client: {frame:?}", peer);
            }
            // Ping (tungstenite queued the pong; the next read sends it), pong.
            Ok(_) => {}
            Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                // A pong tungstenite could not finish must not be left
                // half-written for the next frame to follow.
                return Ok(match context.flush(feed) {
                    Ok(()) => Continue(()),
                    Err(_) => Break(()),
                });
            }
            Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => return Ok(Break(())),
            Err(e) => {
                let Some(frame) = close_frame_for(&e) else {
                    debug!("{} websocket gone: {e}", peer);
                    return Ok(Break(()));
                };
                info!(
                    "{} websocket error: {e}; closing with {}",
                    peer,
                    u16::from(frame.code)
                );
                // Written here, at once, so the close frame is on the
                // wire before anything can shut the socket down.
                let _ = context.close(feed, Some(frame.clone()));
                return Err(frame);
            }
        }
    }
}

/// The close code for a protocol failure, or `None` when the peer is gone.
fn close_frame_for(e: &WsError) -> Option<CloseFrame> {
    let (code, reason) = match e {
        WsError::Io(_) | WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            return None;
        }
        WsError::Capacity(CapacityError::MessageTooLong { .. }) => {
            (CloseCode::Size, "message too big")
        }
        WsError::Capacity(_) => (CloseCode::Size, "frame too big"),
        WsError::Utf8(_) => (CloseCode::Invalid, "invalid UTF-8"),
        _ => (CloseCode::Protocol, "protocol error"),
    };
    Some(CloseFrame {
        code,
        reason: reason.into(),
    })
}

/// What [`read_frames`] saw.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct FramesRead {
    /// The text and binary messages, in order.
    pub messages: Vec<Message>,
    /// The close frame the connection was failed with, after a protocol error.
    pub failed: Option<CloseFrame>,
    /// Whether reading ended: a close handshake, or the end of stream.
    pub ended: bool,
    /// What the protocol state wrote back: pongs, close frames.
    pub written: Vec<u8>,
}

/// The reader's parsing run on bytes in memory, for the fuzz target
/// (`fuzz/fuzz_targets/ws_read.rs`): a fresh server-side protocol state
/// with `options`' limits gets `leftover` (bytes that came with the
/// handshake), then each of `reads` as one socket read, an empty one being
/// the end of stream. As in [`Incoming`], nothing is parsed after a close
/// or a protocol error.
#[doc(hidden)]
pub fn read_frames(leftover: &[u8], reads: &[&[u8]], options: &Options) -> FramesRead {
    let written = options.metrics.written_by_one();
    let mut context = WebSocketContext::from_partially_read(
        leftover.to_vec(),
        Role::Server,
        Some(options.protocol()),
    );
    let mut out = FramesRead::default();
    let mut pending = VecDeque::new();
    let peer = SocketAddr::from(([127, 0, 0, 1], 0));
    // Bytes from the handshake are parsed first, as `Incoming` does.
    let handshake = (!leftover.is_empty()).then_some((&[][..], false));
    let steps = handshake
        .into_iter()
        .chain(reads.iter().map(|r| (*r, r.is_empty())));
    for (input, eof) in steps {
        let mut feed = Feed::to(input, eof, &mut out.written, &written);
        match take_messages(&mut context, &mut feed, &mut pending, peer) {
            Ok(Continue(())) => {}
            Ok(Break(())) => {
                out.ended = true;
                break;
            }
            Err(frame) => {
                out.failed = Some(frame);
                break;
            }
        }
    }
    out.messages = pending.into();
    out
}
