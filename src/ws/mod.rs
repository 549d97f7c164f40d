//! One WebSocket connection: a reader and a writer thread sharing one
//! protocol state.
//!
//! ```text
//!                 ┌──────────── Mutex<WebSocketContext> ────────────┐
//!                 │ (frame codec, close state, queued pong/close)   │
//!                 └────────▲─────────────────────────────▲──────────┘
//!                          │ feed bytes, then            │ write frames
//!                          │ drain every message         │
//! socket ─read (no lock)─► reader ──Message──► handler   writer ◄── select! {
//! (one fd, Arc)            (the connection's             (ws-write-N)   outgoing queue (bounded)
//!                           own thread)                                 ping tick, heartbeat tick
//!                                                                       silent-peer deadline
//!                                                                       close request, shutdown
//!                                                                       reader done }
//! ```
//!
//! The reader blocks in `read` on the shared `TcpStream` **without** the
//! lock. When bytes arrive it takes the lock and hands them to the
//! context through `Feed`, a stream whose `read` returns those bytes and
//! then `WouldBlock`; tungstenite keeps a partial frame across `WouldBlock`,
//! so every complete message is drained and the rest waits for more bytes.
//! Pong and close replies, which tungstenite writes from inside `read`, go
//! out under the same lock. The writer takes the lock only to write a frame.
//!
//! Why not `WebSocket::read` on a blocking socket behind a mutex: the reader
//! would hold the lock while waiting for the network, and a push would wait
//! until the client spoke. Why not two `WebSocket`s over two clones of the
//! socket: `read` itself writes pongs and close replies, so two protocol
//! states would interleave frames on one wire (and each clone is one more
//! file descriptor). Here there is one protocol state; only the waiting is
//! split.
//!
//! Ending: [`Connection::close`] (from any thread, idempotent) asks the writer
//! to send a close frame; the writer then waits up to a second for the
//! reader to see the client's close reply, and ends with `shutdown(Both)`,
//! which also wakes a reader still blocked in `read`. A client that closes
//! first gets its close echoed by tungstenite, and the reader shuts the
//! socket down. A client that breaks the protocol gets a close frame and a
//! FIN at once ("fail the connection"), and the reader drains what it still
//! sends until it closes too. Either way both threads end.
//!
//! Files: this one has the handle ([`Connection`]) and [`start`];
//! `reader.rs` the reading side and the `Feed` adapter;
//! `writer.rs` the writer thread.
//!
//! Close codes sent: 1000 normal, 1001 server shutting down or client
//! silent, 1002 protocol error, 1007 invalid UTF-8, 1008 client too slow,
//! 1009 message too big.

mod reader;
mod writer;

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, SendTimeoutError, Sender, TrySendError, bounded};
use log::{debug, info};
use tungstenite::Message;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig, WebSocketContext};

use crate::config::Config;
use crate::hub::Published;
use crate::metrics::Metrics;

use reader::Feed;
pub use reader::Incoming;

/// How long the writer waits for the client's reply to our close frame.
pub const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// Bytes the reader takes off the socket per `read`.
const READ_CHUNK: usize = 4096;

/// How a connection behaves; see the `ws_*` fields of [`Config`].
#[derive(Clone)]
pub struct Options {
    /// How often to ping the client.
    pub ping_interval: Duration,
    /// A client silent this long is closed with 1001.
    pub timeout: Duration,
    /// Send a `heartbeat` text message this often (the `/ws` demo).
    pub heartbeat: Option<Duration>,
    /// Outgoing messages queued before the client counts as too slow.
    pub queue: usize,
    /// How long [`Connection::send`] waits for room in the queue.
    pub send_wait: Duration,
    /// Largest message accepted (1009 past it).
    pub max_message: usize,
    /// Largest frame accepted (1009 past it).
    pub max_frame: usize,
    /// A topic subscription for the writer to drain.
    pub push: Option<Push>,
    /// Where written bytes are counted.
    pub metrics: Arc<Metrics>,
}

/// A topic subscription the writer drains itself, so a WebSocket
/// subscriber needs no third thread.
#[derive(Clone)]
pub struct Push {
    /// Sent first: a gap notice.
    pub gap: Option<Message>,
    /// Sent next, in order, each rendered as it goes out: the replay.
    pub replay: Vec<Arc<Published>>,
    /// Live messages. Disconnection means the hub dropped this subscriber
    /// for falling behind: the writer closes with 1008.
    pub live: Receiver<Arc<Published>>,
    /// Turns a message into its frame (bare text, or a JSON object).
    pub render: fn(&Published) -> Message,
}

impl Options {
    /// The options the server's config asks for.
    pub fn from_config(config: &Config, metrics: &Arc<Metrics>) -> Options {
        Options {
            push: None,
            metrics: Arc::clone(metrics),
            ping_interval: config.ws_ping_interval,
            timeout: config.ws_timeout,
            heartbeat: None,
            queue: config.ws_queue,
            send_wait: config.write_timeout,
            max_message: config.ws_max_message_bytes,
            max_frame: config.ws_max_frame_bytes,
        }
    }

    /// Small buffers: tungstenite's 128 KiB default read buffer, allocated
    /// up front, would be most of an idle connection's memory.
    fn protocol(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .read_buffer_size(READ_CHUNK)
            .write_buffer_size(0)
            .max_message_size(Some(self.max_message))
            .max_frame_size(Some(self.max_frame))
    }
}

/// A handle to one WebSocket: cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
}

/// What the handle, the reader and the writer share.
struct Inner {
    peer: SocketAddr,
    stream: Arc<TcpStream>,
    context: Mutex<WebSocketContext>,
    outgoing: Sender<Message>,
    close_requests: Sender<CloseFrame>,
    // Time of the last bytes from the client; read by the writer's deadline.
    heard: Mutex<Instant>,
    writer_alive: Receiver<()>,
    send_wait: Duration,
    metrics: Arc<Metrics>,
    // Set by whoever first decides to close (a caller, the writer, the
    // reader failing the connection); later closes are no-ops.
    close_started: AtomicBool,
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
    let (outgoing, queue) = bounded(options.queue);
    let (close_requests, close_rx) = bounded(1);
    let (reader_alive, reader_done) = bounded::<()>(0);
    let (writer_alive_tx, writer_alive) = bounded::<()>(0);
    let inner = Arc::new(Inner {
        peer,
        stream,
        context: Mutex::new(context),
        outgoing,
        close_requests,
        heard: Mutex::new(Instant::now()),
        writer_alive,
        send_wait: options.send_wait,
        metrics: Arc::clone(&options.metrics),
        close_started: AtomicBool::new(false),
    });
    let channels = writer::Channels {
        queue,
        close_rx,
        reader_done,
        shutdown,
        _alive: writer_alive_tx,
    };
    let handle = writer::spawn(id, Arc::clone(&inner), channels, options)?;
    let incoming = Incoming::new(Arc::clone(&inner), unparsed, reader_alive, handle);
    debug!("{peer} websocket open (ws-write-{id})");
    Ok((Connection { inner }, incoming))
}

impl Connection {
    /// Queues a message for the client, waiting at most the write timeout
    /// for room. A client that cannot take it in that time is closed (1008).
    ///
    /// # Errors
    /// [`SendError::TooSlow`] or [`SendError::Closed`].
    pub fn send(&self, message: Message) -> Result<(), SendError> {
        match self
            .inner
            .outgoing
            .send_timeout(message, self.inner.send_wait)
        {
            Ok(()) => Ok(()),
            Err(SendTimeoutError::Timeout(_)) => Err(self.too_slow()),
            Err(SendTimeoutError::Disconnected(_)) => Err(SendError::Closed),
        }
    }

    /// Queues a message without waiting; a full queue closes the client
    /// (1008). For fan-out, where one slow client must not hold up others.
    ///
    /// # Errors
    /// [`SendError::TooSlow`] or [`SendError::Closed`].
    pub fn try_send(&self, message: Message) -> Result<(), SendError> {
        match self.inner.outgoing.try_send(message) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(self.too_slow()),
            Err(TrySendError::Disconnected(_)) => Err(SendError::Closed),
        }
    }

    fn too_slow(&self) -> SendError {
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
        }
    }

    /// Reports disconnection once the writer thread has ended.
    pub fn closed(&self) -> &Receiver<()> {
        &self.inner.writer_alive
    }

    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.inner.peer
    }
}

impl Inner {
    fn context(&self) -> MutexGuard<'_, WebSocketContext> {
        // tungstenite leaves the context consistent between calls; a panic
        // in a caller does not corrupt it.
        self.context.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes one message and flushes it, under the lock.
    fn write(&self, message: Message) -> tungstenite::Result<()> {
        let mut context = self.context();
        let mut io = Feed::writer(self);
        context.write(&mut io, message)?;
        context.flush(&mut io)
    }

    /// Sends our close frame (once: tungstenite ignores a second).
    fn write_close(&self, frame: CloseFrame) {
        let mut context = self.context();
        let _ = context.close(&mut Feed::writer(self), Some(frame));
    }

    /// Marks the close as started; true only for the first caller.
    fn start_closing(&self) -> bool {
        !self.close_started.swap(true, Ordering::SeqCst)
    }
}
