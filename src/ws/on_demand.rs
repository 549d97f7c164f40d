//! Writers started on demand: when frames wait in a connection's outbox, or
//! a close must be made, and no writer runs, one is started, with its place
//! in the thread budget. It ends once nothing has waited for a while
//! (`writer.rs`), so an idle WebSocket holds no writer thread.
//!
//! ```text
//! offer → socket full → queue ─┐
//! close → close request ───────┼─► ensure: writer running? yes → it will see it
//! timer → ping queued ─────────┘                           no  → start ws-write-N
//! ```

use std::io;
use std::net::Shutdown;
use std::sync::Arc;

use log::debug;

use super::inner::{Inner, Outbox};
use super::writer::spawn;

/// Makes sure a writer runs to write what waits in the outbox, whose lock
/// the caller holds. With no thread to be had, the shared timer tries again
/// later; a connection closing with none gets its socket shut down.
pub(super) fn ensure(inner: &Arc<Inner>, outbox: &mut Outbox) {
    if outbox.writer_running || outbox.reader_ended {
        return;
    }
    let permit = match &inner.kit.threads {
        None => None,
        Some(threads) => match threads.try_acquire() {
            Some(permit) => Some(permit),
            None => return no_writer(inner, &io::Error::other("thread budget spent")),
        },
    };
    match spawn(inner, permit) {
        Ok(handle) => {
            outbox.writer_running = true;
            *inner.writer.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
        }
        Err(e) => no_writer(inner, &e),
    }
}

/// No writer could be started: the timer tries again; a connection that
/// is closing cannot wait for its close handshake, so it ends now.
fn no_writer(inner: &Inner, e: &io::Error) {
    debug!("{} websocket: no writer thread now: {e}", inner.peer);
    if inner.closing() {
        let _ = inner.stream.shutdown(Shutdown::Both);
    }
}
