//! The writing side of a WebSocket: one thread `select!`ing over everything
//! that can make it write, taking the protocol lock only to write a frame.
//!
//! The silence deadline is `heard + timeout`, where `heard` is when the
//! reader last got bytes. The reader moves `heard` on while the writer waits,
//! so when the deadline fires the writer looks at `heard` again: a client
//! that answered the last ping is given a new deadline, never closed.
//!
//! However the writer ends, even by a panic, it shuts the socket down: that
//! is what wakes a reader blocked in `read`, so the connection always ends.

use std::io;
use std::net::Shutdown;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, after, at, never, select, tick};
use log::{debug, info};
use tungstenite::Message;
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;

use super::inner::{CLOSE_WAIT, Inner};
use super::options::Options;

/// Stack of the writer thread: it only formats frames.
const WRITER_STACK: usize = 64 * 1024;

/// The channels the writer listens on.
pub(super) struct Channels {
    /// Frames wait in the outbox (`Connection::send`, `try_send`, `offer`).
    pub wake: Receiver<()>,
    /// A close someone asked for.
    pub close_rx: Receiver<CloseFrame>,
    /// Disconnects when the reader has ended.
    pub reader_done: Receiver<()>,
    /// Disconnects when the server shuts down.
    pub shutdown: Receiver<()>,
    /// Held, never sent on: dropped when the writer ends (`Connection::closed`).
    pub _alive: Sender<()>,
}

struct Writer {
    inner: Arc<Inner>,
    channels: Channels,
    options: Options,
}

/// How the writing ended.
enum Ending {
    /// Send this close frame, then wait for the client's reply.
    Close(CloseFrame),
    /// A close is already under way (the reader failed the connection):
    /// just wait for the reader, bounded.
    Closing,
    /// The client is gone: nothing more can be sent.
    Gone,
}

/// Shuts the socket down when dropped, on every way out of the thread.
struct ShutdownOnDrop(Arc<Inner>);

impl Drop for ShutdownOnDrop {
    fn drop(&mut self) {
        // Nothing more will be written: later sends fail, waiting ones wake.
        self.0.start_closing();
        // Ends the TCP connection and wakes a reader blocked in `read`.
        let _ = self.0.stream.shutdown(Shutdown::Both);
    }
}

/// Starts the writer thread, named `ws-write-{id}`.
pub(super) fn spawn(
    id: u64,
    inner: Arc<Inner>,
    channels: Channels,
    options: Options,
) -> io::Result<JoinHandle<()>> {
    let writer = Writer {
        inner,
        channels,
        options,
    };
    thread::Builder::new()
        .name(format!("ws-write-{id}"))
        .stack_size(WRITER_STACK)
        .spawn(move || writer.run())
}

impl Writer {
    fn run(mut self) {
        // Dropped last: the place in the thread budget is free once the thread is done.
        let _permit = self.options.permit.take();
        let _shutdown = ShutdownOnDrop(Arc::clone(&self.inner));
        let peer = self.inner.peer;
        let ending = self.serve();
        if let Ending::Close(frame) = &ending {
            debug!(
                "{peer} websocket closing: {} {}",
                u16::from(frame.code),
                frame.reason
            );
            self.inner.write_close(frame.clone());
        }
        if !matches!(ending, Ending::Gone) {
            // The close handshake: the reader sees the client's reply, or
            // the client's end of stream, and ends.
            select! {
                recv(self.channels.reader_done) -> _ => {}
                recv(after(CLOSE_WAIT)) -> _ => debug!("{peer} websocket: no close reply"),
            }
        }
    }

    /// Writes until the connection should end.
    fn serve(&mut self) -> Ending {
        let ping = tick(self.options.ping_interval);
        let heartbeat = self.options.heartbeat.map_or_else(never, tick);
        // What the starter queued (a replay) goes out first; then the
        // socket is handed to direct sends.
        if let Err(e) = self.inner.drain() {
            return self.write_failed(&e);
        }
        let c = &self.channels;
        let mut silent_at = self.silent_at();
        loop {
            let sent = select! {
                recv(c.wake) -> _ => self.inner.drain(),
                recv(heartbeat) -> _ => self.inner.write(Message::text("heartbeat")),
                recv(ping) -> _ => self.inner.write(Message::Ping(Default::default())),
                recv(at(silent_at)) -> _ => {
                    // The reader may have heard the client since the deadline was set.
                    silent_at = self.silent_at();
                    if silent_at <= Instant::now() {
                        return self.interrupt(CloseCode::Away, "client silent");
                    }
                    Ok(())
                },
                recv(c.close_rx) -> frame => return frame.map_or(Ending::Gone, Ending::Close),
                recv(c.shutdown) -> _ => return self.interrupt(CloseCode::Away, "server shutting down"),
                recv(c.reader_done) -> _ => return Ending::Gone,
            };
            if let Err(e) = sent {
                return self.write_failed(&e);
            }
        }
    }

    /// When the client counts as silent, from when it was last heard.
    fn silent_at(&self) -> Instant {
        self.inner.last_heard() + self.options.timeout
    }

    /// A write failed: the client is gone, unless the reader has just failed
    /// the connection (then the write was refused, and the close goes on).
    fn write_failed(&self, e: &tungstenite::Error) -> Ending {
        debug!("{} websocket write failed: {e}", self.inner.peer);
        if self.inner.start_closing() {
            Ending::Gone
        } else {
            Ending::Closing
        }
    }

    /// A close the writer decides on itself; logged like `Connection::close`.
    fn interrupt(&self, code: CloseCode, reason: &'static str) -> Ending {
        if !self.inner.start_closing() {
            // Someone else's close came first: send theirs if it is waiting
            // (a `Connection::close`), else the reader has failed the
            // connection and its close frame is out already.
            return self
                .channels
                .close_rx
                .try_recv()
                .map_or(Ending::Closing, Ending::Close);
        }
        info!(
            "{} websocket interrupted: {} {reason}",
            self.inner.peer,
            u16::from(code)
        );
        Ending::Close(CloseFrame {
            code,
            reason: reason.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};

    use crossbeam_channel::bounded;
    use tungstenite::protocol::{Role, WebSocketContext};

    use super::*;
    use crate::metrics::Metrics;
    use crate::ws::inner::Parts;

    #[test]
    fn a_writer_that_panics_still_shuts_the_socket_down() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        client.set_read_timeout(Some(CLOSE_WAIT * 5)).unwrap();
        let (server, peer) = listener.accept().unwrap();
        let (wake_tx, _wake) = bounded(1);
        let (close_requests, _close_rx) = bounded(1);
        let (_alive, writer_alive) = bounded::<()>(0);
        let inner = Arc::new(Inner::new(Parts {
            peer,
            stream: Arc::new(server),
            context: WebSocketContext::new(Role::Server, None),
            outbox_cap: 1,
            wake_tx,
            close_requests,
            writer_alive,
            send_wait: CLOSE_WAIT,
            metrics: Arc::new(Metrics::default()),
        }));
        // What `run` holds first, on a thread that then panics.
        let panicked = thread::spawn(move || {
            let _shutdown = ShutdownOnDrop(inner);
            panic!("the writer failed");
        })
        .join();
        assert!(panicked.is_err());
        // A reader blocked in `read` would wake the same way: end of stream.
        let mut rest = Vec::new();
        assert_eq!(client.read_to_end(&mut rest).unwrap(), 0);
    }
}
