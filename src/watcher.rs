//! Noticing that a streaming client hung up, without a thread per stream.
//!
//! A stream's own thread spends its life in `select!` waiting for the next
//! message, so it never reads the socket and would only learn of a hang-up at
//! its next write, which may be minutes away. Something has to wait on the
//! read side. A second thread per stream blocked in `read` would do, but it
//! doubles the memory of an idle subscriber; instead one watcher thread holds
//! every streaming socket in one epoll set (through `mio`):
//!
//! ```text
//! conn-A ─watch()─┐                     ┌─► drop Sender A ─► conn-A's `closed` fires
//! conn-B ─watch()─┼─► epoll: hang-up? ──┤
//! conn-C ─watch()─┘  (watcher thread)   └─► (B, C still connected: nothing)
//! ```
//!
//! The watcher never reads a byte: it asks only for readiness, and treats
//! "read side closed" (EPOLLRDHUP, the client's FIN) and errors (EPOLLHUP,
//! EPOLLERR, a reset) as the end. Bytes a client sends while streaming stay
//! in the socket for the connection thread. The signal is the drop of a
//! `Sender<()>`: the stream's `Receiver` then reports disconnection, which
//! `select!` sees at once.

use std::collections::HashMap;
use std::io;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use crossbeam_channel::{Receiver, Sender, bounded};
use log::{debug, error};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token, Waker};

/// Wakes the watcher thread so it can see `stopping` and end.
const WAKE: Token = Token(0);

/// The shared hang-up watcher; one per server.
pub struct Watcher {
    registry: Registry,
    waker: Waker,
    waiters: Mutex<HashMap<Token, Sender<()>>>,
    next_token: AtomicUsize,
    stopping: AtomicBool,
}

/// One watched socket; dropping it stops the watch.
pub struct Watch {
    watcher: Arc<Watcher>,
    // Held so the descriptor stays open (and is not reused) until we
    // deregister it in `drop`.
    stream: Arc<TcpStream>,
    token: Token,
    closed: Receiver<()>,
}

impl Watcher {
    /// Starts the watcher thread.
    ///
    /// # Errors
    /// When epoll or the thread cannot be created.
    pub fn start() -> io::Result<Arc<Watcher>> {
        let poll = Poll::new()?;
        let watcher = Arc::new(Watcher {
            registry: poll.registry().try_clone()?,
            waker: Waker::new(poll.registry(), WAKE)?,
            waiters: Mutex::new(HashMap::new()),
            next_token: AtomicUsize::new(1),
            stopping: AtomicBool::new(false),
        });
        let shared = Arc::clone(&watcher);
        thread::Builder::new()
            .name("watcher".into())
            .stack_size(64 * 1024)
            .spawn(move || shared.run(poll))?;
        Ok(watcher)
    }

    /// Watches `stream` until the returned [`Watch`] is dropped.
    ///
    /// # Errors
    /// When epoll refuses the socket.
    pub fn watch(self: &Arc<Self>, stream: &Arc<TcpStream>) -> io::Result<Watch> {
        let token = Token(self.next_token.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = bounded(0);
        self.waiters().insert(token, tx);
        let fd = stream.as_raw_fd();
        if let Err(e) = self
            .registry
            .register(&mut SourceFd(&fd), token, Interest::READABLE)
        {
            self.waiters().remove(&token);
            return Err(e);
        }
        Ok(Watch {
            watcher: Arc::clone(self),
            stream: Arc::clone(stream),
            token,
            closed: rx,
        })
    }

    /// Ends the watcher thread.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        if let Err(e) = self.waker.wake() {
            error!("watcher: cannot wake: {e}");
        }
    }

    fn waiters(&self) -> std::sync::MutexGuard<'_, HashMap<Token, Sender<()>>> {
        // A panic while holding this lock leaves the map consistent (every
        // operation on it is one insert or remove), so a poisoned lock is safe.
        self.waiters.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn run(&self, mut poll: Poll) {
        let mut events = Events::with_capacity(256);
        loop {
            if let Err(e) = poll.poll(&mut events, None) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                error!("watcher: poll failed: {e}");
                return;
            }
            if self.stopping.load(Ordering::SeqCst) {
                debug!("watcher: stopped");
                return;
            }
            for event in &events {
                // Edge-triggered readiness that is neither a close nor an
                // error means the client sent bytes; they are not ours.
                if event.token() != WAKE && (event.is_read_closed() || event.is_error()) {
                    // Dropping the Sender is the signal.
                    self.waiters().remove(&event.token());
                }
            }
        }
    }
}

impl Watch {
    /// Fires (reports disconnection) once the client has hung up.
    pub fn closed(&self) -> &Receiver<()> {
        &self.closed
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let fd = self.stream.as_raw_fd();
        // Fails only if the socket is already gone from the set; nothing to undo.
        let _ = self.watcher.registry.deregister(&mut SourceFd(&fd));
        self.watcher.waiters().remove(&self.token);
    }
}
