//! The writing side of a WebSocket: one thread `select!`ing over everything
//! that can make it write, taking the protocol lock only to write a frame.
//!
//! Two ways to run. For the life of the connection (the teaching shape, and
//! `/ws` with its heartbeat): the writer also keeps the ping tick and the
//! silence deadline, `heard + timeout`, where `heard` is when the reader last
//! got bytes; the reader moves it on while the writer waits, so when the
//! deadline fires the writer looks at `heard` again, and a client that
//! answered the last ping is never closed. On demand (every connection of a
//! server): pings and silence are the shared timer's (`timer.rs`), and a
//! writer is started only when frames wait or a close must be made, and
//! ends once nothing has waited for half a second: an idle WebSocket costs
//! one thread, its reader.
//!
//! However the writer ends (but idle), even by a panic, it shuts the socket
//! down: that is what wakes a reader blocked in `read`, so the connection
//! always ends.

use std::io;
use std::net::Shutdown;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, after, at, never, select, tick};
use log::{debug, info};
use tungstenite::Message;
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;

use super::inner::{CLOSE_WAIT, Inner};
use crate::threads::Permit;

/// Stack of the writer thread: it only formats frames.
const WRITER_STACK: usize = 64 * 1024;
/// An on-demand writer with nothing to write for this long ends.
const WRITER_IDLE: Duration = Duration::from_millis(500);

struct Writer {
    inner: Arc<Inner>,
    // Held, never sent on: `Connection::closed` fires once every clone is gone.
    _alive: Sender<()>,
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
    /// Nothing left to write (an on-demand writer): the connection goes on.
    Idle,
}

/// Marks the writer gone on every way out of the thread, even a panic;
/// unless it retired idle, also shuts the socket down, which is what
/// wakes a reader blocked in `read`.
struct Exit {
    inner: Arc<Inner>,
    retired: bool,
    _permit: Option<Permit>,
}

impl Drop for Exit {
    fn drop(&mut self) {
        if self.retired {
            return;
        }
        // Nothing more will be written: later sends fail, waiting ones wake.
        self.inner.start_closing();
        self.inner.outbox().writer_running = false;
        let _ = self.inner.stream.shutdown(Shutdown::Both);
    }
}

/// Starts a writer thread, named `ws-write-{id}`, holding `permit`.
///
/// # Errors
/// When the thread cannot be spawned, or the connection has ended.
pub(super) fn spawn(inner: &Arc<Inner>, permit: Option<Permit>) -> io::Result<JoinHandle<()>> {
    let alive = inner
        .kit
        .alive
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let Some(alive) = alive else {
        return Err(io::Error::other("the connection has ended"));
    };
    let writer = Writer {
        inner: Arc::clone(inner),
        _alive: alive,
    };
    thread::Builder::new()
        .name(format!("ws-write-{}", inner.kit.id))
        .stack_size(WRITER_STACK)
        .spawn(move || writer.run(permit))
}

impl Writer {
    fn run(self, permit: Option<Permit>) {
        let mut exit = Exit {
            inner: Arc::clone(&self.inner),
            retired: false,
            _permit: permit,
        };
        let peer = self.inner.peer;
        let ending = self.serve();
        match &ending {
            Ending::Idle => {
                exit.retired = true;
                return;
            }
            Ending::Close(frame) => {
                debug!(
                    "{peer} websocket closing: {} {}",
                    u16::from(frame.code),
                    frame.reason
                );
                self.inner.write_close(frame.clone());
            }
            Ending::Closing | Ending::Gone => {}
        }
        if !matches!(ending, Ending::Gone) {
            // The close handshake: the reader sees the client's reply, or
            // the client's end of stream, and ends.
            select! {
                recv(self.inner.kit.reader_done) -> _ => {}
                recv(after(CLOSE_WAIT)) -> _ => debug!("{peer} websocket: no close reply"),
            }
        }
    }

    /// Writes until the connection should end, or (on demand) until
    /// nothing is left to write.
    fn serve(&self) -> Ending {
        let kit = &self.inner.kit;
        // On demand, pings and the silence deadline are the shared timer's.
        let ping = if kit.on_demand {
            never()
        } else {
            tick(kit.ping_interval)
        };
        let idle = if kit.on_demand {
            tick(WRITER_IDLE)
        } else {
            never()
        };
        let heartbeat = kit.heartbeat.map_or_else(never, tick);
        // What the starter queued (a replay) goes out first; then the
        // socket is handed to direct sends.
        if let Err(e) = self.inner.drain() {
            return self.write_failed(&e);
        }
        let mut silent_at = self.silent_at();
        loop {
            let silent = if kit.on_demand {
                never()
            } else {
                at(silent_at)
            };
            let sent = select! {
                recv(kit.wake) -> _ => self.inner.drain(),
                recv(heartbeat) -> _ => self.inner.write(Message::text("heartbeat")),
                recv(ping) -> _ => self.inner.write(Message::Ping(Default::default())),
                recv(silent) -> _ => {
                    // The reader may have heard the client since the deadline was set.
                    silent_at = self.silent_at();
                    if silent_at <= Instant::now() {
                        return self.interrupt(CloseCode::Away, "client silent");
                    }
                    Ok(())
                },
                recv(idle) -> _ => {
                    if self.inner.try_retire() {
                        return Ending::Idle;
                    }
                    Ok(())
                },
                recv(kit.close_rx) -> frame => return frame.map_or(Ending::Gone, Ending::Close),
                recv(kit.shutdown) -> _ => return self.interrupt(CloseCode::Away, "server shutting down"),
                recv(kit.reader_done) -> _ => return Ending::Gone,
            };
            if let Err(e) = sent {
                return self.write_failed(&e);
            }
        }
    }

    /// When the client counts as silent, from when it was last heard.
    fn silent_at(&self) -> Instant {
        self.inner.last_heard() + self.inner.kit.timeout
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
                .inner
                .kit
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

    use super::*;
    use crate::metrics::Metrics;
    use crate::ws::{Options, start};

    #[test]
    fn a_writer_that_panics_still_shuts_the_socket_down() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        client.set_read_timeout(Some(CLOSE_WAIT * 5)).unwrap();
        let (server, peer) = listener.accept().unwrap();
        let options = Options {
            ping_interval: Duration::from_secs(3600),
            timeout: Duration::from_secs(3600),
            heartbeat: None,
            queue: 1,
            send_wait: CLOSE_WAIT,
            max_message: 1024,
            max_frame: 1024,
            metrics: Arc::new(Metrics::default()),
            permit: None,
            timer: None,
            threads: None,
        };
        let (_shutdown, shutdown_rx) = bounded::<()>(0);
        let (conn, _incoming) =
            start(Arc::new(server), Vec::new(), peer, options, shutdown_rx).unwrap();
        // What `run` holds first, on a thread that then panics.
        let inner = Arc::clone(conn.inner());
        let panicked = thread::spawn(move || {
            let _exit = Exit {
                inner,
                retired: false,
                _permit: None,
            };
            panic!("the writer failed");
        })
        .join();
        assert!(panicked.is_err());
        // A reader blocked in `read` wakes the same way: end of stream.
        let mut rest = Vec::new();
        assert_eq!(client.read_to_end(&mut rest).unwrap(), 0);
        assert!(conn.try_send(Message::text("late")).is_err());
    }
}
