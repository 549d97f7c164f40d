//! The connections the shared timer keeps the clock of (see `ticker.rs`
//! for the thread): each WebSocket started with a timer registers here, and
//! is forgotten once its reader has ended.

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::inner::Inner;

/// The shared clock of a server's WebSockets: made, and run, by
/// [`start_timer`](super::start_timer).
pub struct Timer {
    conns: Mutex<Vec<Weak<Inner>>>,
}

impl Timer {
    pub(super) fn new() -> Timer {
        Timer {
            conns: Mutex::new(Vec::new()),
        }
    }

    /// Keeps the clock of `inner` until the connection is gone.
    pub(super) fn register(&self, inner: &Arc<Inner>) {
        self.conns().push(Arc::downgrade(inner));
    }

    fn conns(&self) -> MutexGuard<'_, Vec<Weak<Inner>>> {
        // Every update is one push or retain.
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The connections still open; the gone ones are forgotten.
    pub(super) fn live(&self) -> Vec<Arc<Inner>> {
        let mut conns = self.conns();
        conns.retain(|weak| {
            weak.upgrade()
                .is_some_and(|inner| !inner.outbox().reader_ended)
        });
        conns.iter().filter_map(Weak::upgrade).collect()
    }
}
