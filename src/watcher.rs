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
//!
//! If `epoll_wait` itself fails (it should not: only a bad descriptor or
//! bad memory makes it), the watcher logs at error, reports itself
//! unhealthy (`/healthz` answers 503), and polls again after a pause,
//! instead of ending quietly and leaving every later hang-up unnoticed.

use std::collections::HashMap;
use std::io;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};
use log::{debug, error, info};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token, Waker};

/// Wakes the watcher thread so it can see `stopping` and end.
const WAKE: Token = Token(0);
/// Pause after a failed poll before polling again.
const RETRY_AFTER: Duration = Duration::from_millis(100);
/// At most one "poll failed" log line per this interval.
const LOG_EVERY: Duration = Duration::from_secs(1);

/// The shared hang-up watcher; one per server.
pub struct Watcher {
    registry: Registry,
    waker: Waker,
    waiters: Mutex<HashMap<Token, Sender<()>>>,
    next_token: AtomicUsize,
    stopping: AtomicBool,
    // False while polling fails; `/healthz` reports it.
    healthy: AtomicBool,
    // Polls that should fail, for the tests of the retry.
    #[cfg(test)]
    fail_polls: AtomicUsize,
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
            healthy: AtomicBool::new(true),
            #[cfg(test)]
            fail_polls: AtomicUsize::new(0),
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

    /// Whether the watcher is polling; false while `epoll_wait` fails.
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    fn run(&self, mut poll: Poll) {
        let mut events = Events::with_capacity(256);
        let mut last_log: Option<Instant> = None;
        loop {
            if let Err(e) = self.poll(&mut poll, &mut events) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                self.healthy.store(false, Ordering::Relaxed);
                if last_log.is_none_or(|t| t.elapsed() >= LOG_EVERY) {
                    error!(
                        "watcher: poll failed ({e}); hang-ups go unnoticed until it works again"
                    );
                    last_log = Some(Instant::now());
                }
                thread::sleep(RETRY_AFTER);
                continue;
            }
            if !self.healthy.swap(true, Ordering::Relaxed) {
                info!("watcher: polling again");
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

    fn poll(&self, poll: &mut Poll, events: &mut Events) -> io::Result<()> {
        #[cfg(test)]
        if self
            .fail_polls
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(io::Error::from_raw_os_error(9)); // EBADF
        }
        poll.poll(events, None)
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

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use crossbeam_channel::RecvTimeoutError;

    use super::*;

    fn pair() -> (TcpStream, Arc<TcpStream>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        (client, Arc::new(listener.accept().unwrap().0))
    }

    #[test]
    fn a_hang_up_is_seen() {
        let watcher = Watcher::start().unwrap();
        let (client, server) = pair();
        let watch = watcher.watch(&server).unwrap();
        drop(client);
        let closed = watch.closed().recv_timeout(Duration::from_secs(5));
        assert_eq!(closed, Err(RecvTimeoutError::Disconnected));
        watcher.stop();
    }

    #[test]
    fn a_failing_poll_is_unhealthy_then_retried_not_the_end() {
        let watcher = Watcher::start().unwrap();
        watcher.fail_polls.store(3, Ordering::SeqCst);
        // Wake the thread so its next poll is one of the failing ones.
        watcher.waker.wake().unwrap();
        // No event announces the flag; it stays down for two pauses at least.
        let deadline = Instant::now() + Duration::from_secs(5);
        while watcher.healthy() {
            assert!(
                Instant::now() < deadline,
                "a failed poll left the watcher healthy"
            );
            thread::yield_now();
        }
        let (client, server) = pair();
        let watch = watcher.watch(&server).unwrap();
        drop(client);
        let closed = watch.closed().recv_timeout(Duration::from_secs(5));
        assert_eq!(
            closed,
            Err(RecvTimeoutError::Disconnected),
            "hang-up after the failures"
        );
        assert!(watcher.healthy());
        watcher.stop();
    }
}
