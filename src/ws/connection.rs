//! The handle to one WebSocket ([`Connection`]) and [`start`], which sets
//! up the shared state, hands the connection to the shared timer (or starts
//! its writer for life), and gives back the reader.
//!
//! Ending: [`Connection::close`] (from any thread, idempotent) asks a
//! writer (started for it if none runs) to send a close frame; the writer
//! then waits up to
//! [`CLOSE_WAIT`](super::CLOSE_WAIT) for the reader to see the client's close
//! reply, and ends with `shutdown(Both)`, which also wakes a reader still
//! blocked in `read`. A client that closes first gets its close echoed by
//! tungstenite, and the reader shuts the socket down. A client that breaks
//! the protocol gets a close frame and a FIN at once ("fail the
//! connection"), and the reader drains what it still sends until it closes
//! too, or its close wait ends. Either way every thread of it ends.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crossbeam_channel::{Receiver, bounded};
use log::{debug, info};
use tungstenite::Message;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketContext};

use super::inner::{Inner, Kit, Parts, Watch};
use super::options::Options;
use super::reader::Incoming;
use super::{on_demand, writer};

/// A handle to one WebSocket: cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
}

/// Why a send failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The queue stayed full: the client is too slow and is being closed (1008).
    TooSlow,
    /// The connection has ended.
    Closed,
}

/// Starts a WebSocket on a socket whose handshake is done: spawns the writer
/// thread and returns the handle and the reader. `leftover` holds bytes the
/// client sent right after its handshake, which must not be lost.
///
/// # Errors
/// When the writer thread cannot be spawned.
pub fn start(
    stream: Arc<TcpStream>,
    leftover: Vec<u8>,
    peer: SocketAddr,
    options: Options,
    shutdown: Receiver<()>,
) -> io::Result<(Connection, Incoming)> {
    // The reader blocks for as long as the client is quiet: the read timeout
    // left from reading the request head must go. Dead clients are the
    // writer's job (the silent-client deadline).
    stream.set_read_timeout(None)?;
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let unparsed = !leftover.is_empty();
    let context =
        WebSocketContext::from_partially_read(leftover, Role::Server, Some(options.protocol()));
    let (wake_tx, wake) = bounded(1);
    let (close_requests, close_rx) = bounded(1);
    let (reader_alive, reader_done) = bounded::<()>(0);
    let (alive, writer_alive) = bounded::<()>(0);
    // With the server's shared timer, writers start only when needed.
    let on_demand = options.timer.is_some() && options.heartbeat.is_none();
    let kit = Kit {
        id,
        wake,
        close_rx,
        reader_done,
        shutdown,
        alive: Mutex::new(Some(alive)),
        ping_interval: options.ping_interval,
        timeout: options.timeout,
        heartbeat: options.heartbeat,
        on_demand,
        threads: options.threads.clone(),
    };
    let inner = Arc::new(Inner::new(Parts {
        peer,
        stream,
        context,
        outbox_cap: options.queue,
        wake_tx,
        close_requests,
        writer_alive,
        send_wait: options.send_wait,
        metrics: Arc::clone(&options.metrics),
        kit,
    }));
    start_writing(&inner, options)?;
    let incoming = Incoming::new(Arc::clone(&inner), unparsed, reader_alive);
    let how = if on_demand {
        "writer on demand"
    } else {
        "one writer"
    };
    debug!("{peer} websocket open (ws-{id}, {how})");
    Ok((Connection { inner }, incoming))
}

/// Hands the connection to the shared timer (writers on demand), or
/// starts its one writer for life.
fn start_writing(inner: &Arc<Inner>, options: Options) -> io::Result<()> {
    match &options.timer {
        Some(timer) if inner.kit.on_demand => timer.register(inner),
        _ => {
            inner.outbox().writer_running = true;
            let handle = writer::spawn(inner, options.permit)?;
            *inner.writer.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
        }
    }
    Ok(())
}

impl Connection {
    /// Sends a message: at once from this thread when nothing waits, else
    /// through the writer's queue, waiting at most the write timeout for
    /// room in it. A client that cannot take it in that time is closed (1008).
    ///
    /// # Errors
    /// [`SendError::TooSlow`] or [`SendError::Closed`].
    pub fn send(&self, message: Message) -> Result<(), SendError> {
        let deadline = Instant::now() + self.inner.send_wait;
        self.deliver(message, Some(deadline))
    }

    /// Sends a message without waiting: at once when nothing waits, else
    /// queued; a full queue closes the client (1008). For fan-out, where one
    /// slow client must not hold up others.
    ///
    /// # Errors
    /// [`SendError::TooSlow`] or [`SendError::Closed`].
    pub fn try_send(&self, message: Message) -> Result<(), SendError> {
        self.deliver(message, None)
    }

    pub(super) fn too_slow(&self) -> SendError {
        self.close(CloseCode::Policy, "client too slow");
        SendError::TooSlow
    }

    /// Closes the connection with `code` and `reason`, from any thread. Only
    /// the first close counts; every thread of the connection ends after it.
    pub fn close(&self, code: CloseCode, reason: &str) {
        if self.inner.start_closing() {
            info!(
                "{} websocket interrupted: {} {reason}",
                self.inner.peer,
                u16::from(code)
            );
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            // The slot is free: nothing else sends on it after start_closing.
            let _ = self.inner.close_requests.try_send(frame);
            on_demand::ensure(&self.inner, &mut self.inner.outbox());
        }
    }

    /// Has `watch` asked, at each [`Connection::close_if_watched`] (a
    /// fan-out's offer) and at each scan of the shared timer (at most a
    /// second apart), whether the connection must close: `Some(reason)`
    /// closes it with 1008. A quiet connection so closes without waiting
    /// for a message.
    pub fn watch(&self, watch: Watch) {
        self.inner.set_watch(watch);
    }

    /// Asks the watch, and closes with 1008 and its reason when it says so;
    /// returns whether it did.
    pub fn close_if_watched(&self) -> bool {
        let Some(why) = self.inner.watched() else {
            return false;
        };
        self.close(CloseCode::Policy, &why);
        true
    }

    /// Whether a close has begun, from either side or the timer.
    pub fn closing(&self) -> bool {
        self.inner.closing()
    }

    /// Reports disconnection once the writer thread has ended.
    pub fn closed(&self) -> &Receiver<()> {
        &self.inner.writer_alive
    }

    /// Bytes written to the client so far, past the handshake.
    pub fn bytes_written(&self) -> u64 {
        self.inner().written.get()
    }

    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.inner.peer
    }

    pub(super) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }

    /// The handle of a connection the shared timer holds.
    pub(super) fn from_inner(inner: Arc<Inner>) -> Connection {
        Connection { inner }
    }
}
