//! Delivery without a wake-up: a fan-out thread writes messages straight to
//! a streaming subscriber's socket, and the subscriber's thread is woken
//! only when bytes must wait.
//!
//! Waking a thread per delivered message (a futex wake, a context switch,
//! then the `write`) costs more than the write. So while a subscriber has
//! nothing waiting, [`Outbox::offer`] (on a fan-out thread) sends the
//! messages' ready-made chunks, all in one `sendmsg` with `MSG_DONTWAIT`:
//!
//! ```text
//! offer([m42])   nothing waiting → send(26\r\nid: 42\ndata: …\r\n, MSG_DONTWAIT)
//!                    all of it   → done; the subscriber's thread sleeps on
//!                    part of it  → keep the rest, the thread is woken to write it
//!                    none of it  → queue m42, the thread is woken
//! offer([m43])   something waiting → queue m43 behind it (full queue: too slow)
//! ```
//!
//! While bytes wait, the subscriber's thread owns the socket: it writes the
//! rest of a half-sent chunk first, then the queue, with ordinary blocking
//! writes (bounded by the write timeout), and hands the socket back once
//! nothing waits. Its own writes (a keepalive, the last chunk) happen only
//! while it owns the socket, so chunks never interleave.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender, bounded};

use super::wire::Framing;
use crate::hub::{Offer, Published, Sink};
use crate::metrics::{Metrics, Written};
use crate::send_now::send_frames_now;

/// One streaming subscriber's way out: direct sends, or a backlog its
/// thread writes.
pub struct Outbox {
    stream: Arc<TcpStream>,
    framing: Framing,
    chunked: bool,
    cap: usize,
    /// Bytes fan-out threads sent here, for the access log and `/metrics`.
    written: Written,
    state: Mutex<State>,
    wake_tx: Sender<()>,
    wake_rx: Receiver<()>,
}

struct State {
    /// The subscriber's thread owns the socket: offers queue. Always set
    /// while `rest` or `queue` hold anything.
    owned: bool,
    /// The unsent end of a chunk a direct send left half-done.
    rest: Option<Bytes>,
    queue: VecDeque<Arc<Published>>,
    /// Dropped as too slow: the thread sends what waits, then a notice.
    dropped: bool,
    /// A direct send failed: the client is gone.
    gone: bool,
    /// The last id sent or queued: what the client will have seen.
    last_id: Option<u64>,
}

/// What [`Outbox::drain`] found once nothing more waited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// All written.
    Empty,
    /// All written, and the subscriber was dropped for falling behind; the
    /// last id it got.
    Dropped(Option<u64>),
}

impl Outbox {
    /// An outbox over `stream` whose thread owns the socket until its first
    /// [`drain`](Outbox::drain) (it sends the gap and the replay first).
    /// At most `cap` messages wait.
    pub fn new(
        stream: Arc<TcpStream>,
        (framing, chunked): (Framing, bool),
        cap: usize,
        since: Option<u64>,
        metrics: Arc<Metrics>,
    ) -> Arc<Outbox> {
        let (wake_tx, wake_rx) = bounded(1);
        Arc::new(Outbox {
            stream,
            framing,
            chunked,
            cap,
            written: metrics.written_by_one(),
            state: Mutex::new(State {
                owned: true,
                rest: None,
                queue: VecDeque::new(),
                dropped: false,
                gone: false,
                last_id: since,
            }),
            wake_tx,
            wake_rx,
        })
    }

    /// Reports a message once bytes wait for the thread to write them.
    pub fn wake(&self) -> &Receiver<()> {
        &self.wake_rx
    }

    /// Notes that the thread itself sent message `id` (the replay).
    pub fn sent_by_thread(&self, id: u64) {
        let mut state = self.state();
        state.last_id = state.last_id.max(Some(id));
    }

    /// Bytes fan-out threads sent on this subscriber's socket.
    pub fn sent_directly(&self) -> u64 {
        self.written.get()
    }

    /// Writes everything waiting to `w`, in order, and then hands the
    /// socket back to direct sends, or keeps it when `keep` (the thread is
    /// about to write something of its own, or to end the body).
    ///
    /// # Errors
    /// When a write fails: the client is gone or stopped reading.
    pub fn drain(&self, w: &mut impl Write, keep: bool) -> io::Result<Drained> {
        loop {
            let (rest, queue) = {
                let mut state = self.state();
                if state.gone {
                    // A direct send found the client gone: end the stream now.
                    return Err(io::ErrorKind::BrokenPipe.into());
                }
                if state.rest.is_none() && state.queue.is_empty() {
                    if state.dropped {
                        return Ok(Drained::Dropped(state.last_id));
                    }
                    state.owned = keep;
                    return Ok(Drained::Empty);
                }
                state.owned = true;
                (state.rest.take(), std::mem::take(&mut state.queue))
            };
            if let Some(rest) = rest {
                w.write_all(&rest)?;
            }
            for m in queue {
                w.write_all(&self.framing.message(&m, self.chunked))?;
            }
            w.flush()?;
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every update is a few plain assignments: a panic cannot tear one.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wake_thread(&self) {
        // A wake already pending is as good as a second one.
        let _ = self.wake_tx.try_send(());
    }
}

impl Sink for Outbox {
    fn offer(&self, messages: &[Arc<Published>]) -> Offer {
        let Some(last) = messages.last() else {
            return Offer::Taken;
        };
        let mut state = self.state();
        if state.gone {
            return Offer::Gone;
        }
        let mut waiting = messages;
        if !state.owned {
            match self.send_direct(&mut state, messages) {
                Ok(left) => waiting = left,
                Err(_) => {
                    state.gone = true;
                    self.wake_thread();
                    return Offer::Gone;
                }
            }
        }
        if !waiting.is_empty() {
            if state.queue.len() + waiting.len() > self.cap {
                state.dropped = true;
                self.wake_thread();
                return Offer::TooSlow;
            }
            state.queue.extend(waiting.iter().cloned());
            state.owned = true;
            self.wake_thread();
        }
        state.last_id = Some(last.id);
        Offer::Taken
    }
}

impl Outbox {
    /// Sends `messages` now, [`MAX_PARTS`](crate::send_now::MAX_PARTS) to a call, as far as the socket
    /// takes them; the ones not begun are returned, to queue. The rest of
    /// one half-sent is kept for the thread.
    ///
    /// # Errors
    /// The client is gone.
    fn send_direct<'m>(
        &self,
        state: &mut State,
        messages: &'m [Arc<Published>],
    ) -> io::Result<&'m [Arc<Published>]> {
        let frame = |i: usize| self.framing.message(&messages[i], self.chunked);
        let sent = send_frames_now(&self.stream, messages.len(), frame)?;
        self.written.add(sent.bytes);
        if let Some(rest) = sent.rest {
            state.rest = Some(rest);
            state.owned = true;
            self.wake_thread();
        }
        Ok(&messages[sent.frames..])
    }
}

#[cfg(test)]
mod tests;
