//! What a WebSocket's handle, reader and writer share: the socket, the one
//! protocol state behind its lock, and the channels that start a close.

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use tungstenite::Message;
use tungstenite::protocol::{CloseFrame, WebSocketContext};

use super::feed::Feed;
use crate::metrics::Metrics;

/// How long the writer waits for the client's reply to our close frame.
pub const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// Bytes the reader takes off the socket per `read`.
pub(super) const READ_CHUNK: usize = 4096;

/// Shared by the handle, the reader and the writer of one connection.
pub(super) struct Inner {
    pub peer: SocketAddr,
    pub stream: Arc<TcpStream>,
    context: Mutex<WebSocketContext>,
    pub outgoing: Sender<Message>,
    pub close_requests: Sender<CloseFrame>,
    // Time of the last bytes from the client; read by the writer's deadline.
    heard: Mutex<Instant>,
    pub writer_alive: Receiver<()>,
    pub send_wait: Duration,
    pub metrics: Arc<Metrics>,
    // Set by whoever first decides to close (a caller, the writer, the
    // reader failing the connection); later closes are no-ops.
    close_started: AtomicBool,
}

/// The parts of [`Inner`] made by `start`.
pub(super) struct Parts {
    pub peer: SocketAddr,
    pub stream: Arc<TcpStream>,
    pub context: WebSocketContext,
    pub outgoing: Sender<Message>,
    pub close_requests: Sender<CloseFrame>,
    pub writer_alive: Receiver<()>,
    pub send_wait: Duration,
    pub metrics: Arc<Metrics>,
}

impl Inner {
    pub fn new(parts: Parts) -> Inner {
        Inner {
            peer: parts.peer,
            stream: parts.stream,
            context: Mutex::new(parts.context),
            outgoing: parts.outgoing,
            close_requests: parts.close_requests,
            heard: Mutex::new(Instant::now()),
            writer_alive: parts.writer_alive,
            send_wait: parts.send_wait,
            metrics: parts.metrics,
            close_started: AtomicBool::new(false),
        }
    }

    pub fn context(&self) -> MutexGuard<'_, WebSocketContext> {
        // tungstenite leaves the context consistent between calls; a panic
        // in a caller does not corrupt it.
        self.context.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes one message and flushes it, under the lock.
    pub fn write(&self, message: Message) -> tungstenite::Result<()> {
        let mut context = self.context();
        let mut io = Feed::writer(&self.stream, &self.metrics);
        context.write(&mut io, message)?;
        context.flush(&mut io)
    }

    /// Sends our close frame (once: tungstenite ignores a second).
    pub fn write_close(&self, frame: CloseFrame) {
        let mut context = self.context();
        let _ = context.close(&mut Feed::writer(&self.stream, &self.metrics), Some(frame));
    }

    /// Marks the close as started; true only for the first caller.
    pub fn start_closing(&self) -> bool {
        !self.close_started.swap(true, Ordering::SeqCst)
    }

    /// Notes that the client just sent bytes.
    pub fn heard_now(&self) {
        *self.heard.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    /// When the client last sent anything.
    pub fn last_heard(&self) -> Instant {
        *self.heard.lock().unwrap_or_else(|p| p.into_inner())
    }
}
