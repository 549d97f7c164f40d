//! What a WebSocket's handle, reader and writer share: the socket, the one
//! protocol state behind its lock, the outbox of frames waiting to be
//! written, and the channels that start a close.
//!
//! Two locks, always taken in this order when both are needed: the
//! protocol lock (held while writing, which may block for the write
//! timeout), then the outbox lock (held only for a few assignments). A
//! publisher takes the outbox lock and only *tries* the protocol lock, so
//! it never waits behind a slow client.

use std::collections::VecDeque;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender};
use tungstenite::Message;
use tungstenite::protocol::{CloseFrame, WebSocketContext};

use super::feed::Feed;
use crate::metrics::{Metrics, Written};
use crate::threads::ThreadBudget;

/// How long the writer waits for the client's reply to our close frame.
pub const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// Bytes the reader takes off the socket per `read`.
pub(super) const READ_CHUNK: usize = 1024;

/// Shared by the handle, the reader and the writer of one connection.
pub(super) struct Inner {
    pub peer: SocketAddr,
    pub stream: Arc<TcpStream>,
    context: Mutex<WebSocketContext>,
    pub outbox: Mutex<Outbox>,
    /// Most frames the outbox holds before the client counts as too slow.
    pub outbox_cap: usize,
    /// Tells the writer that frames wait in the outbox.
    pub wake_tx: Sender<()>,
    /// Signalled when the writer takes frames out of the outbox, or ends:
    /// a `send` waiting for room looks again.
    pub room: Condvar,
    pub close_requests: Sender<CloseFrame>,
    // Time of the last bytes from the client; read by the writer's deadline.
    heard: Mutex<Instant>,
    // Time of the last ping the shared timer sent.
    pinged: Mutex<Instant>,
    pub writer_alive: Receiver<()>,
    /// What it takes to start a writer thread, again and again.
    pub kit: Kit,
    /// The writer thread running now, if any, for the reader to join.
    pub writer: Mutex<Option<JoinHandle<()>>>,
    pub send_wait: Duration,
    /// Bytes this connection wrote (the server's total counts them too).
    pub written: Written,
    // Set by whoever first decides to close (a caller, the writer, the
    // reader failing the connection); later closes are no-ops.
    close_started: AtomicBool,
    // When the close started: a close with no writer to finish it is ended
    // by the timer.
    closing_since: Mutex<Option<Instant>>,
    /// Asked at each offer and each timer scan (`Connection::watch`).
    watch: Mutex<Option<Watch>>,
}

/// Asked whether the connection must close now: `Some(reason)` closes it
/// with 1008 and that reason (a subscription's token revoked, say).
pub type Watch = Box<dyn FnMut() -> Option<String> + Send>;

/// Frames offered by other threads that could not be sent at once.
#[derive(Default)]
pub(super) struct Outbox {
    /// The writer owns the socket: offers queue behind what waits. Always
    /// set while `rest` or `queue` hold anything.
    pub owned: bool,
    /// The unsent end of a frame a direct send left half-done. Taken only
    /// under the protocol lock, and written before anything else.
    pub rest: Option<Bytes>,
    pub queue: VecDeque<Message>,
    /// Of `queue`, the messages put there by `enqueue` (a replay): they do
    /// not count against the cap, which measures falling behind live.
    pub replayed: usize,
    /// A writer thread is running (or starting).
    pub writer_running: bool,
    /// The reader has ended: no writer is started any more.
    pub reader_ended: bool,
}

/// Everything a writer thread is started with.
pub(super) struct Kit {
    pub id: u64,
    pub wake: Receiver<()>,
    pub close_rx: Receiver<CloseFrame>,
    pub reader_done: Receiver<()>,
    pub shutdown: Receiver<()>,
    /// Cloned into each writer; dropped by the reader at its end, so
    /// `Connection::closed` fires once the reader and every writer are done.
    pub alive: Mutex<Option<Sender<()>>>,
    pub ping_interval: Duration,
    pub timeout: Duration,
    pub heartbeat: Option<Duration>,
    /// Started only while something waits (pings and silence are the
    /// shared timer's); else one writer runs for the connection's life.
    pub on_demand: bool,
    /// Where an on-demand writer gets its place.
    pub threads: Option<Arc<ThreadBudget>>,
}

/// The parts of [`Inner`] made by `start`.
pub(super) struct Parts {
    pub peer: SocketAddr,
    pub stream: Arc<TcpStream>,
    pub context: WebSocketContext,
    pub outbox_cap: usize,
    pub wake_tx: Sender<()>,
    pub close_requests: Sender<CloseFrame>,
    pub writer_alive: Receiver<()>,
    pub send_wait: Duration,
    pub metrics: Arc<Metrics>,
    pub kit: Kit,
}

impl Inner {
    pub fn new(parts: Parts) -> Inner {
        Inner {
            peer: parts.peer,
            stream: parts.stream,
            context: Mutex::new(parts.context),
            // A writer for the connection's life owns the socket until its
            // first drain: nothing is sent before what the starter queued.
            outbox: Mutex::new(Outbox {
                owned: !parts.kit.on_demand,
                ..Outbox::default()
            }),
            outbox_cap: parts.outbox_cap,
            wake_tx: parts.wake_tx,
            room: Condvar::new(),
            close_requests: parts.close_requests,
            heard: Mutex::new(Instant::now()),
            pinged: Mutex::new(Instant::now()),
            writer_alive: parts.writer_alive,
            kit: parts.kit,
            writer: Mutex::new(None),
            send_wait: parts.send_wait,
            written: parts.metrics.written_by_one(),
            close_started: AtomicBool::new(false),
            closing_since: Mutex::new(None),
            watch: Mutex::new(None),
        }
    }

    /// Sets what [`Inner::watched`] asks.
    pub fn set_watch(&self, watch: Watch) {
        *self.watch.lock().unwrap_or_else(|p| p.into_inner()) = Some(watch);
    }

    /// Why the watch closes the connection now, if it does.
    pub fn watched(&self) -> Option<String> {
        let mut watch = self.watch.lock().unwrap_or_else(|p| p.into_inner());
        watch.as_mut().and_then(|ask| ask())
    }

    /// The protocol state, waiting for it; then the end of any half-sent
    /// frame is written first, so whatever the caller writes next starts
    /// on a frame boundary.
    ///
    /// # Errors
    /// When that write fails.
    pub fn context(&self) -> tungstenite::Result<MutexGuard<'_, WebSocketContext>> {
        // tungstenite leaves the context consistent between calls; a panic
        // in a caller does not corrupt it.
        let context = self.context.lock().unwrap_or_else(|p| p.into_inner());
        // Taken in a statement of its own: the outbox lock is not held
        // through the write.
        let rest = self.outbox().rest.take();
        if let Some(rest) = rest {
            use std::io::Write;
            Feed::writer(&self.stream, &self.written).write_all(&rest)?;
        }
        Ok(context)
    }

    /// The protocol state if no one holds it now (a publisher never waits).
    pub fn try_context(&self) -> Option<MutexGuard<'_, WebSocketContext>> {
        match self.context.try_lock() {
            Ok(context) => Some(context),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    pub fn outbox(&self) -> MutexGuard<'_, Outbox> {
        // Every update is a few plain assignments: a panic cannot tear one.
        self.outbox.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes one message and flushes it, under the lock.
    pub fn write(&self, message: Message) -> tungstenite::Result<()> {
        let mut context = self.context()?;
        let mut io = Feed::writer(&self.stream, &self.written);
        context.write(&mut io, message)?;
        context.flush(&mut io)
    }

    /// Writes what waits in the outbox, in order, then hands the socket back
    /// to direct sends. Runs on the writer thread.
    ///
    /// # Errors
    /// When a write fails.
    pub fn drain(&self) -> tungstenite::Result<()> {
        loop {
            // Writes a half-sent frame's rest first.
            let mut context = self.context()?;
            let queue = {
                let mut outbox = self.outbox();
                if outbox.queue.is_empty() && outbox.rest.is_none() {
                    outbox.owned = false;
                    return Ok(());
                }
                self.room.notify_all();
                outbox.replayed = 0;
                std::mem::take(&mut outbox.queue)
            };
            let mut io = Feed::writer(&self.stream, &self.written);
            for message in queue {
                context.write(&mut io, message)?;
            }
            context.flush(&mut io)?;
        }
    }

    /// Sends our close frame (once: tungstenite ignores a second).
    pub fn write_close(&self, frame: CloseFrame) {
        if let Ok(mut context) = self.context() {
            let _ = context.close(&mut Feed::writer(&self.stream, &self.written), Some(frame));
        }
    }

    /// Marks the close as started; true only for the first caller. Senders
    /// waiting for room give up.
    pub fn start_closing(&self) -> bool {
        let first = !self.close_started.swap(true, Ordering::SeqCst);
        if first {
            *self.closing_since.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        }
        let _outbox = self.outbox();
        self.room.notify_all();
        first
    }

    /// How long ago the close started, if it has.
    pub fn closing_for(&self) -> Option<Duration> {
        let since = *self.closing_since.lock().unwrap_or_else(|p| p.into_inner());
        since.map(|t| t.elapsed())
    }

    /// Whether a close has started.
    pub fn closing(&self) -> bool {
        self.close_started.load(Ordering::SeqCst)
    }

    /// Notes that the client just sent bytes.
    pub fn heard_now(&self) {
        *self.heard.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    /// When the client last sent anything.
    pub fn last_heard(&self) -> Instant {
        *self.heard.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An on-demand writer with nothing to write steps down; false when
    /// something waits or a close is under way.
    pub fn try_retire(&self) -> bool {
        let mut outbox = self.outbox();
        if outbox.owned || !outbox.queue.is_empty() || self.closing() {
            return false;
        }
        outbox.writer_running = false;
        true
    }

    /// Whether a ping is due; if so, notes it as sent now.
    pub fn ping_due(&self, now: Instant) -> bool {
        let mut pinged = self.pinged.lock().unwrap_or_else(|p| p.into_inner());
        let due = now >= *pinged + self.kit.ping_interval;
        if due {
            *pinged = now;
        }
        due
    }
}
