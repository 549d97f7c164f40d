//! The set of open connections: the cap, and a clean shutdown.
//!
//! Every connection thread holds a [`Ticket`] while it lives. The set knows
//! each connection's socket and whether its thread is idle (waiting for a
//! request head) or busy (answering one, or streaming). Shutdown then goes:
//!
//! ```text
//! shutdown()  ─► no new tickets
//!             ─► drop the shutdown Sender: every stream's `select!` sees it,
//!                writes its last bytes (a chunked stream its `0\r\n\r\n`)
//!             ─► shutdown(Read) on idle sockets: their blocked `read`
//!                returns 0 and the thread ends
//! drained()   ─► waits until every Ticket is dropped, or the drain time ends
//! ```
//!
//! Busy connections are not interrupted: they finish their response, answer
//! with `Connection: close`, and end.

use std::collections::HashMap;
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};

use crate::limits::Place;

/// Open connections, and the shutdown signal every stream listens to.
pub struct Connections {
    cap: usize,
    state: Mutex<State>,
    shutdown_rx: Receiver<()>,
    alive_rx: Receiver<()>,
}

struct State {
    next_id: u64,
    open: HashMap<u64, Entry>,
    // Dropped (set to None) at shutdown: the drop is the signal.
    shutdown_tx: Option<Sender<()>>,
    alive_tx: Option<Sender<()>>,
}

struct Entry {
    stream: Arc<TcpStream>,
    idle: bool,
}

/// A connection's place in the set (and in its address's count, see
/// `limits/`); dropping it frees both.
pub struct Ticket {
    conns: Arc<Connections>,
    id: u64,
    // Dropped with the ticket, before the connection thread closes the
    // socket: a client that sees the close can connect again at once.
    _place: Option<Place>,
    // Never sent on: `drained` waits for the last clone to be dropped.
    _alive: Sender<()>,
}

impl Connections {
    /// An empty set that admits at most `cap` connections.
    pub fn new(cap: usize) -> Arc<Connections> {
        let (shutdown_tx, shutdown_rx) = bounded(0);
        let (alive_tx, alive_rx) = bounded(0);
        Arc::new(Connections {
            cap,
            state: Mutex::new(State {
                next_id: 0,
                open: HashMap::new(),
                shutdown_tx: Some(shutdown_tx),
                alive_tx: Some(alive_tx),
            }),
            shutdown_rx,
            alive_rx,
        })
    }

    /// Admits a connection, or `None` when at the cap or shutting down.
    pub fn admit(self: &Arc<Self>, stream: &Arc<TcpStream>) -> Option<Ticket> {
        let mut state = self.state();
        let alive = state.alive_tx.clone()?;
        if state.open.len() >= self.cap {
            return None;
        }
        state.next_id += 1;
        let id = state.next_id;
        let entry = Entry {
            stream: Arc::clone(stream),
            idle: false,
        };
        state.open.insert(id, entry);
        Some(Ticket {
            conns: Arc::clone(self),
            id,
            _place: None,
            _alive: alive,
        })
    }

    /// The number of open connections.
    pub fn open(&self) -> usize {
        self.state().open.len()
    }

    /// A receiver that reports disconnection once shutdown has begun; every
    /// stream's `select!` includes it.
    pub fn shutdown_signal(&self) -> &Receiver<()> {
        &self.shutdown_rx
    }

    /// Whether shutdown has begun.
    pub fn shutting_down(&self) -> bool {
        self.state().shutdown_tx.is_none()
    }

    /// Begins shutdown; see the module docs. Idempotent.
    pub fn shutdown(&self) {
        let mut state = self.state();
        state.shutdown_tx = None;
        state.alive_tx = None;
        for entry in state.open.values().filter(|e| e.idle) {
            // Wakes the thread blocked in `read` with end-of-stream.
            let _ = entry.stream.shutdown(Shutdown::Read);
        }
    }

    /// Waits until every connection has ended, at most `limit`. Returns
    /// whether they all did.
    pub fn drained(&self, limit: Duration) -> bool {
        matches!(
            self.alive_rx.recv_timeout(limit),
            Err(RecvTimeoutError::Disconnected)
        )
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every update under this lock is a single insert, remove or flag,
        // so a panic elsewhere cannot leave it half-done.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Ticket {
    /// Keeps the connection's place in its address's count while it lives.
    pub fn hold(&mut self, place: Option<Place>) {
        self._place = place;
    }

    /// Marks the connection idle (about to wait for a request head) or busy.
    /// Returns `false` when going idle during shutdown: the thread should end.
    pub fn set_idle(&self, idle: bool) -> bool {
        let mut state = self.conns.state();
        if idle && state.shutdown_tx.is_none() {
            return false;
        }
        if let Some(entry) = state.open.get_mut(&self.id) {
            entry.idle = idle;
        }
        true
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.conns.state().open.remove(&self.id);
    }
}
