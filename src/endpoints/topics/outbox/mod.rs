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
//!
//! One outbox serves every topic of a connection (`/topics/a,b,c/sse`):
//! fan-out threads of different topics offer to it, one at a time under
//! its lock. Bytes go out in the order they are made under that lock (a
//! direct send, or the thread taking the queue), so that is where a
//! multi-topic subscriber's positions move (`position.rs`): each SSE event
//! carries the cursor of exactly the events written up to it, and a drop
//! notice the cursor of everything written.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender, bounded};

use super::framer::{Framed, Framer};
use super::position::Positions;
use crate::hub::{Offer, Published, Sink};
use crate::metrics::{Metrics, Written};
use crate::send_now::send_frames_now;

/// One streaming subscriber's way out: direct sends, or a backlog its
/// thread writes.
pub struct Outbox {
    stream: Arc<TcpStream>,
    framer: Framer,
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
    /// What a direct send left of the message it stopped in: the unsent
    /// end of one part, then the parts not begun. Empty when none.
    rest: Vec<Bytes>,
    queue: VecDeque<Arc<Published>>,
    /// Dropped as too slow: the thread sends what waits, then a notice.
    dropped: bool,
    /// A direct send failed: the client is gone.
    gone: bool,
    /// The last id sent or queued: what the client will have seen.
    last_id: Option<u64>,
    /// Several topics: where the client is in each, as written.
    positions: Option<Positions>,
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
        framer: Framer,
        cap: usize,
        since: Option<u64>,
        metrics: Arc<Metrics>,
    ) -> Arc<Outbox> {
        let (wake_tx, wake_rx) = bounded(1);
        Arc::new(Outbox {
            stream,
            framer,
            cap,
            written: metrics.written_by_one(),
            state: Mutex::new(State {
                owned: true,
                rest: Vec::new(),
                queue: VecDeque::new(),
                dropped: false,
                gone: false,
                last_id: since,
                positions: None,
            }),
            wake_tx,
            wake_rx,
        })
    }

    /// Reports a message once bytes wait for the thread to write them.
    pub fn wake(&self) -> &Receiver<()> {
        &self.wake_rx
    }

    /// Notes where the thread's own replay left the client: the last id it
    /// wrote and, with several topics, their positions. Called before the
    /// first [`drain`](Outbox::drain): until then offers only queue.
    pub fn replayed(&self, last_id: Option<u64>, positions: Option<Positions>) {
        let mut state = self.state();
        state.last_id = state.last_id.max(last_id);
        state.positions = positions;
    }

    /// With several topics, the composite cursor of everything written.
    pub fn cursor(&self) -> Option<String> {
        self.state().positions.as_ref().map(Positions::cursor)
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
            let (rest, framed) = {
                let mut state = self.state();
                if state.gone {
                    // A direct send found the client gone: end the stream now.
                    return Err(io::ErrorKind::BrokenPipe.into());
                }
                if state.rest.is_empty() && state.queue.is_empty() {
                    if state.dropped {
                        return Ok(Drained::Dropped(state.last_id));
                    }
                    state.owned = keep;
                    return Ok(Drained::Empty);
                }
                state.owned = true;
                // Framed under the lock: positions move in write order.
                let queue = std::mem::take(&mut state.queue);
                let framed: Vec<Framed> = (queue.iter())
                    .map(|m| self.framer.frame(m, state.positions.as_mut()))
                    .collect();
                (std::mem::take(&mut state.rest), framed)
            };
            for part in rest {
                w.write_all(&part)?;
            }
            for message in framed {
                message.write_to(w)?;
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
        if state.dropped {
            // Another topic of this connection was too slow: it is ending,
            // and counted once.
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
    /// Sends `messages` now, [`MAX_PARTS`](crate::send_now::MAX_PARTS)
    /// parts to a call, as far as the socket takes them; the ones not
    /// begun are returned, to queue. What is left of one begun is kept for
    /// the thread.
    ///
    /// # Errors
    /// The client is gone.
    fn send_direct<'m>(
        &self,
        state: &mut State,
        messages: &'m [Arc<Published>],
    ) -> io::Result<&'m [Arc<Published>]> {
        let per = self.framer.parts_per_message();
        // Shared encodings are taken as the socket takes them; a message
        // with a head of its own is framed first, on a copy of the
        // positions, since each head depends on the messages before it.
        let own: Vec<Framed> = match &state.positions {
            Some(positions) if per > 1 => {
                let mut p = positions.clone();
                let frame = |m: &Arc<Published>| self.framer.frame(m, Some(&mut p));
                messages.iter().map(frame).collect()
            }
            _ => Vec::new(),
        };
        let part = |i: usize| match own.get(i / per) {
            Some(framed) => framed.parts()[i % per].clone(),
            None => self.framer.shared(&messages[i / per]),
        };
        let sent = send_frames_now(&self.stream, messages.len() * per, part)?;
        self.written.add(sent.bytes);
        let begun = sent.frames.div_ceil(per);
        if let Some(m) = begun.checked_sub(1).map(|i| &messages[i]) {
            // The client will have these even if the rest makes it too slow.
            state.last_id = Some(m.id);
        }
        if let Some(positions) = state.positions.as_mut() {
            messages[..begun].iter().for_each(|m| positions.advance(m));
        }
        let mut rest: Vec<Bytes> = sent.rest.into_iter().collect();
        rest.extend((sent.frames..begun * per).map(part));
        if !rest.is_empty() {
            state.rest = rest;
            state.owned = true;
            self.wake_thread();
        }
        Ok(&messages[begun..])
    }
}

#[cfg(test)]
mod tests;
