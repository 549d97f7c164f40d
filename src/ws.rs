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
//! context through [`Feed`], a stream whose `read` returns those bytes and
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
//! socket down. Either way both threads end.
//!
//! Close codes sent: 1000 normal, 1001 server shutting down or client
//! silent, 1002 protocol error, 1007 invalid UTF-8, 1008 client too slow,
//! 1009 message too big.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{
    Receiver, SendTimeoutError, Sender, TrySendError, after, at, bounded, never, select, tick,
};
use log::{debug, info};
use tungstenite::Message;
use tungstenite::error::{CapacityError, Error as WsError, ProtocolError};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig, WebSocketContext};

use crate::config::Config;
use crate::hub::Published;
use crate::metrics::Metrics;

/// How long the writer waits for the client's reply to our close frame.
pub const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// Bytes the reader takes off the socket per `read`.
const READ_CHUNK: usize = 4096;
/// Stack of the writer thread: it only formats frames.
const WRITER_STACK: usize = 64 * 1024;

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
}

/// Why a send failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The queue stayed full: the client is too slow and is being closed (1008).
    TooSlow,
    /// The connection has ended.
    Closed,
}

/// The reading side: an iterator over the client's text and binary
/// messages, reading the socket on the caller's thread. It ends when the
/// connection does; dropping it ends the connection and waits for the writer.
pub struct Incoming {
    inner: Arc<Inner>,
    buf: Vec<u8>,
    pending: VecDeque<Message>,
    // We sent a close frame: deliver nothing more, wait for the reply.
    closing: bool,
    // The handshake carried frame bytes not parsed yet.
    unparsed: bool,
    // Dropped when reading ends; the writer selects on it.
    reader_alive: Option<Sender<()>>,
    writer: Option<JoinHandle<()>>,
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
    });
    let writer = Writer {
        inner: Arc::clone(&inner),
        queue,
        close_rx,
        reader_done,
        shutdown,
        options,
        _alive: writer_alive_tx,
    };
    let handle = thread::Builder::new()
        .name(format!("ws-write-{id}"))
        .stack_size(WRITER_STACK)
        .spawn(move || writer.run())?;
    let incoming = Incoming {
        inner: Arc::clone(&inner),
        buf: vec![0; READ_CHUNK],
        pending: VecDeque::new(),
        closing: false,
        unparsed,
        reader_alive: Some(reader_alive),
        writer: Some(handle),
    };
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
    /// the first call counts; every thread of the connection ends after it.
    pub fn close(&self, code: CloseCode, reason: &str) {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        // A full slot means a close is already on its way.
        if self.inner.close_requests.try_send(frame).is_ok() {
            info!(
                "{} websocket interrupted: {} {reason}",
                self.inner.peer,
                u16::from(code)
            );
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
    /// One blocking read (without the lock), then every complete message
    /// those bytes finish (with the lock). Breaks when reading is over.
    fn read_some(&mut self) -> std::ops::ControlFlow<()> {
        use std::ops::ControlFlow::{Break, Continue};
        // Bytes that came with the handshake are already in the context:
        // parse them before blocking on the socket.
        let n = if std::mem::take(&mut self.unparsed) {
            None
        } else {
            match (&*self.inner.stream).read(&mut self.buf) {
                Ok(n) => Some(n),
                // A signal, or a read timeout: not the end of anything.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted
                            | io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Continue(());
                }
                // Reset, or our own shutdown: the same as end of stream.
                Err(_) => Some(0),
            }
        };
        let input = n.map_or(&[][..], |n| &self.buf[..n]);
        if !input.is_empty() {
            *self.inner.heard.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        }
        let mut context = self.inner.context();
        let mut feed = Feed {
            input,
            eof: n == Some(0),
            stream: &self.inner.stream,
            metrics: &self.inner.metrics,
        };
        loop {
            match context.read(&mut feed) {
                Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                    if !self.closing {
                        self.pending.push_back(message);
                    }
                }
                Ok(Message::Close(frame)) => {
                    debug!("{} websocket close from client: {frame:?}", self.inner.peer);
                }
                // Ping (tungstenite queued the pong; the next read sends it), pong.
                Ok(_) => {}
                Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => return Continue(()),
                Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => return Break(()),
                Err(e) => {
                    let Some(frame) = close_frame_for(&e) else {
                        debug!("{} websocket gone: {e}", self.inner.peer);
                        return Break(());
                    };
                    if self.closing {
                        return Break(());
                    }
                    info!(
                        "{} websocket error: {e}; closing with {}",
                        self.inner.peer,
                        u16::from(frame.code)
                    );
                    // Written here, at once, so the close frame is on the
                    // wire before anything can shut the socket down.
                    let _ = context.close(&mut feed, Some(frame.clone()));
                    // "Fail the WebSocket Connection" (RFC 6455, 7.1.7): no
                    // close handshake to wait for, so FIN now; the reader
                    // drains until the client closes too.
                    let _ = self.inner.stream.shutdown(Shutdown::Write);
                    self.closing = true;
                    // The writer stops sending and bounds the wait for the client.
                    let _ = self.inner.close_requests.try_send(frame);
                    // The rest of these bytes follow a framing error: unusable.
                    return Continue(());
                }
            }
        }
    }

    /// Reading is over: tell the writer, close the socket, wait for the writer.
    fn end(&mut self) {
        self.reader_alive = None;
        // The server closes the TCP connection first (RFC 6455, 7.1.1).
        let _ = self.inner.stream.shutdown(Shutdown::Both);
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        self.end();
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

/// The writer thread's state.
struct Writer {
    inner: Arc<Inner>,
    queue: Receiver<Message>,
    close_rx: Receiver<CloseFrame>,
    reader_done: Receiver<()>,
    shutdown: Receiver<()>,
    options: Options,
    _alive: Sender<()>,
}

impl Writer {
    fn run(mut self) {
        let peer = self.inner.peer;
        if let Some(frame) = self.serve() {
            debug!(
                "{peer} websocket closing: {} {}",
                u16::from(frame.code),
                frame.reason
            );
            self.inner.write_close(frame);
            // The close handshake: the reader sees the client's reply and ends.
            select! {
                recv(self.reader_done) -> _ => {}
                recv(after(CLOSE_WAIT)) -> _ => debug!("{peer} websocket: no close reply"),
            }
        }
        // Ends the TCP connection and wakes a reader blocked in `read`.
        let _ = self.inner.stream.shutdown(Shutdown::Both);
    }

    /// Writes until the connection should close; returns the close frame to
    /// send, or `None` when the client is gone (nothing more can be sent).
    fn serve(&mut self) -> Option<CloseFrame> {
        let peer = self.inner.peer;
        let ping = tick(self.options.ping_interval);
        let heartbeat = self.options.heartbeat.map_or_else(never, tick);
        let (live, render) = match self.options.push.take() {
            Some(push) => {
                // The gap and the replay go out before any live message, in
                // order; each replayed message is let go once it is sent.
                let gap = push.gap.into_iter();
                let replay = push.replay.into_iter().map(|m| (push.render)(&m));
                if let Err(e) = gap
                    .chain(replay)
                    .try_for_each(|message| self.inner.write(message))
                {
                    debug!("{peer} websocket write failed: {e}");
                    return None;
                }
                (push.live, push.render)
            }
            None => (never(), render_nothing as fn(&Published) -> Message),
        };
        loop {
            let heard = *self.inner.heard.lock().unwrap_or_else(|p| p.into_inner());
            let silent = at(heard + self.options.timeout);
            let sent = select! {
                recv(self.queue) -> message => match message {
                    Ok(message) => self.inner.write(message),
                    Err(_) => return None,
                },
                recv(live) -> message => match message {
                    Ok(message) => self.inner.write(render(&message)),
                    Err(_) => return Some(self.interrupt(CloseCode::Policy, "client too slow")),
                },
                recv(heartbeat) -> _ => self.inner.write(Message::text("heartbeat")),
                recv(ping) -> _ => self.inner.write(Message::Ping(Default::default())),
                recv(silent) -> _ => return Some(self.interrupt(CloseCode::Away, "client silent")),
                recv(self.close_rx) -> frame => return frame.ok(),
                recv(self.shutdown) -> _ => return Some(self.interrupt(CloseCode::Away, "server shutting down")),
                recv(self.reader_done) -> _ => return None,
            };
            if let Err(e) = sent {
                debug!("{peer} websocket write failed: {e}");
                return None;
            }
        }
    }

    /// A close the writer decides on itself; logged like [`Connection::close`].
    fn interrupt(&self, code: CloseCode, reason: &'static str) -> CloseFrame {
        info!(
            "{} websocket interrupted: {} {reason}",
            self.inner.peer,
            u16::from(code)
        );
        CloseFrame {
            code,
            reason: reason.into(),
        }
    }
}

/// The renderer of a connection with no subscription; never called.
fn render_nothing(_: &Published) -> Message {
    Message::text("")
}

/// The stream tungstenite sees: reads return the bytes the reader already
/// took off the socket and then `WouldBlock` (or end of stream, if the socket
/// ended); writes go straight to the socket.
struct Feed<'a> {
    input: &'a [u8],
    eof: bool,
    stream: &'a TcpStream,
    metrics: &'a Metrics,
}

impl<'a> Feed<'a> {
    fn writer(inner: &'a Inner) -> Feed<'a> {
        Feed {
            input: &[],
            eof: false,
            stream: &inner.stream,
            metrics: &inner.metrics,
        }
    }
}

impl Read for Feed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.input.is_empty() {
            return if self.eof {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        let n = self.input.read(buf)?;
        Ok(n)
    }
}

impl Write for Feed<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.stream.write(buf)?;
        self.metrics.wrote(n);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}
