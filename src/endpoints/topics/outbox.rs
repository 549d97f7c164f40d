//! Delivery without a wake-up: the publisher writes a message straight to
//! a streaming subscriber's socket, and the subscriber's thread is woken
//! only when bytes must wait.
//!
//! Waking a thread per delivered message (a futex wake, a context switch,
//! then the `write`) costs more than the write. So while a subscriber has
//! nothing waiting, [`Outbox::offer`] (on the publisher's thread, under the
//! topic's lock) sends the message's ready-made chunk with `MSG_DONTWAIT`:
//!
//! ```text
//! offer(m42)   nothing waiting → send(26\r\nid: 42\ndata: …\r\n, MSG_DONTWAIT)
//!                  all of it   → done; the subscriber's thread sleeps on
//!                  part of it  → keep the rest, the thread is woken to write it
//!                  none of it  → queue m42, the thread is woken
//! offer(m43)   something waiting → queue m43 behind it (full queue: too slow)
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
use socket2::SockRef;

use super::wire::Framing;
use crate::hub::{Offer, Published, Sink};
use crate::metrics::Metrics;

/// One streaming subscriber's way out: direct sends, or a backlog its
/// thread writes.
pub struct Outbox {
    stream: Arc<TcpStream>,
    framing: Framing,
    chunked: bool,
    cap: usize,
    metrics: Arc<Metrics>,
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
    /// Bytes sent by the publisher's thread, for the access log.
    sent: u64,
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
            metrics,
            state: Mutex::new(State {
                owned: true,
                rest: None,
                queue: VecDeque::new(),
                dropped: false,
                gone: false,
                last_id: since,
                sent: 0,
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

    /// Bytes the publisher's thread sent on this subscriber's socket.
    pub fn sent_directly(&self) -> u64 {
        self.state().sent
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
    fn offer(&self, m: &Arc<Published>) -> Offer {
        let mut state = self.state();
        if state.gone {
            return Offer::Gone;
        }
        if state.owned {
            if state.queue.len() >= self.cap {
                state.dropped = true;
                self.wake_thread();
                return Offer::TooSlow;
            }
            state.queue.push_back(Arc::clone(m));
            state.last_id = Some(m.id);
            self.wake_thread();
            return Offer::Taken;
        }
        let bytes = self.framing.message(m, self.chunked);
        match send_now(&self.stream, &bytes) {
            Ok(n) => {
                self.metrics.wrote(n);
                state.sent += n as u64;
                if n < bytes.len() {
                    state.rest = Some(bytes.slice(n..));
                    state.owned = true;
                    self.wake_thread();
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                state.queue.push_back(Arc::clone(m));
                state.owned = true;
                self.wake_thread();
            }
            Err(_) => {
                state.gone = true;
                self.wake_thread();
                return Offer::Gone;
            }
        }
        state.last_id = Some(m.id);
        Offer::Taken
    }
}

/// One `send` that never blocks: as much of `bytes` as the socket buffer
/// takes now. `MSG_NOSIGNAL`: a client gone is an error, not a SIGPIPE.
fn send_now(stream: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
    loop {
        match SockRef::from(stream).send_with_flags(bytes, flags) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::TcpListener;
    use std::time::Duration;

    use super::*;

    /// A socket pair, the server end's send buffer small, and an outbox on it.
    fn outbox(cap: usize) -> (Arc<Outbox>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let (server, _) = listener.accept().unwrap();
        SockRef::from(&server).set_send_buffer_size(4096).unwrap();
        let metrics = Arc::new(Metrics::default());
        let outbox = Outbox::new(Arc::new(server), (Framing::Sse, true), cap, None, metrics);
        (outbox, client)
    }

    fn message(id: u64, data: &str) -> Arc<Published> {
        Arc::new(Published {
            id,
            topic: "t".into(),
            time_ms: 0,
            data: data.to_string().into(),
            encoded: Default::default(),
        })
    }

    fn read_exactly(client: &mut TcpStream, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        client.read_exact(&mut buf).unwrap();
        buf
    }

    #[test]
    fn while_the_thread_owns_the_socket_offers_queue_then_it_writes_them() {
        let (outbox, mut client) = outbox(8);
        assert_eq!(outbox.offer(&message(1, "a")), Offer::Taken);
        let mut body = Vec::new();
        assert_eq!(outbox.drain(&mut body, false).unwrap(), Drained::Empty);
        assert_eq!(body, b"f\r\nid: 1\ndata: a\n\n\r\n");
        // Released: the next offer goes straight to the socket.
        assert_eq!(outbox.offer(&message(2, "b")), Offer::Taken);
        assert_eq!(
            read_exactly(&mut client, 20),
            b"f\r\nid: 2\ndata: b\n\n\r\n"
        );
        assert_eq!(outbox.sent_directly(), 20);
        assert!(
            outbox.wake().try_recv().is_ok(),
            "woken for the queued one only"
        );
        assert!(outbox.wake().try_recv().is_err());
    }

    #[test]
    fn a_full_socket_keeps_order_half_chunk_first_then_the_queue() {
        let (outbox, mut client) = outbox(1000);
        let _ = outbox.drain(&mut Vec::new(), false).unwrap();
        let big = "x".repeat(3000);
        let mut offered = 0;
        // The client reads nothing: the socket buffer fills, a send goes
        // half-way, and what follows waits.
        while {
            let state = outbox.state();
            state.rest.is_none() && state.queue.is_empty()
        } {
            offered += 1;
            assert_eq!(outbox.offer(&message(offered, &big)), Offer::Taken);
        }
        for _ in 0..3 {
            offered += 1;
            assert_eq!(outbox.offer(&message(offered, &big)), Offer::Taken);
        }
        assert!(outbox.wake().try_recv().is_ok());
        // The thread writes the rest and the queue, blocking, while the
        // client reads: every chunk arrives whole and in order.
        let want: Vec<u8> = (1..=offered)
            .flat_map(|id| Framing::Sse.message(&message(id, &big), true).to_vec())
            .collect();
        let len = want.len();
        let reader = std::thread::spawn(move || read_exactly(&mut client, len));
        let stream = Arc::clone(&outbox.stream);
        assert_eq!(outbox.drain(&mut &*stream, false).unwrap(), Drained::Empty);
        assert!(
            reader.join().unwrap() == want,
            "the bytes differ from the chunks in order"
        );
    }

    #[test]
    fn a_full_queue_is_too_slow_and_the_thread_learns_the_last_id() {
        let (outbox, _client) = outbox(2);
        assert_eq!(outbox.offer(&message(5, "a")), Offer::Taken);
        assert_eq!(outbox.offer(&message(6, "b")), Offer::Taken);
        assert_eq!(outbox.offer(&message(7, "c")), Offer::TooSlow);
        let mut body = Vec::new();
        assert_eq!(
            outbox.drain(&mut body, false).unwrap(),
            Drained::Dropped(Some(6))
        );
        assert_eq!(
            body,
            b"f\r\nid: 5\ndata: a\n\n\r\nf\r\nid: 6\ndata: b\n\n\r\n"
        );
    }

    #[test]
    fn a_client_gone_is_gone() {
        let (outbox, client) = outbox(8);
        let _ = outbox.drain(&mut Vec::new(), false).unwrap();
        drop(client);
        // The first send may still be taken by the kernel; a later one fails.
        let gone = (1..100).any(|id| outbox.offer(&message(id, "a")) == Offer::Gone);
        assert!(gone);
    }
}
