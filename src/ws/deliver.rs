//! Delivery without a wake-up: another thread (a fan-out thread handing
//! messages to many clients) writes frames straight to this socket while
//! nothing waits, and wakes the writer thread only when bytes must.
//!
//! A server's frames are not masked, so a message's frame is the same bytes
//! for every client, made once ([`text_frame`]):
//!
//! ```text
//! offer(81 05 68 65 6c 6c 6f)      "hello" (or several frames: one sendmsg)
//!   nothing waiting, protocol lock free → send(.., MSG_DONTWAIT)
//!       all of it    → done; no thread woken
//!       part of it   → keep the rest: written before any other frame
//!       none of it   → queue the message, wake the writer
//!   something waiting, or the lock held (the writer or reader is
//!   writing)          → queue behind it (full: the client is too slow, 1008)
//! ```
//!
//! The writer drains the queue under the protocol lock with blocking
//! writes (`Inner::drain`), then hands the socket back. Whoever takes the protocol lock
//! writes a half-sent frame's rest first, so frames never interleave.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tungstenite::Message;
use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::frame::coding::{Data, OpCode};

use super::connection::{Connection, SendError};
use super::inner::{Inner, Outbox};
use super::on_demand;
use crate::send_now::send_frames_now;

/// What [`Connection::offer`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offered {
    /// Written to the socket (or its rest kept to be written first).
    Sent,
    /// Queued for the writer.
    Queued,
    /// The queue is full: the client is too slow and is being closed (1008).
    TooSlow,
    /// The connection is closing or gone.
    Closed,
}

/// The bytes of a server's text frame carrying `text` (already UTF-8).
pub fn text_frame(text: Bytes) -> Bytes {
    frame_bytes(text, Data::Text)
}

/// A whole, final, unmasked frame of `data` carrying `payload`.
fn frame_bytes(payload: Bytes, data: Data) -> Bytes {
    let mut out = Vec::with_capacity(payload.len() + 10);
    Frame::message(payload, OpCode::Data(data), true)
        .format(&mut out)
        .expect("formatting into a Vec cannot fail");
    out.into()
}

impl Connection {
    /// Offers `n` messages without waiting: `frame(i)` is message `i`'s
    /// bytes on the wire (see [`text_frame`]), `message(i)` the same
    /// message for the queue, made only if it has to wait. As many as the
    /// socket takes go now, [`MAX_PARTS`](crate::send_now::MAX_PARTS) to a `sendmsg`; the rest queue.
    pub fn offer(
        &self,
        n: usize,
        frame: impl Fn(usize) -> Bytes,
        message: impl Fn(usize) -> Message,
    ) -> Offered {
        let inner = self.inner();
        let mut outbox = inner.outbox();
        if inner.closing() {
            return Offered::Closed;
        }
        let mut next = 0;
        if !outbox.owned {
            match send_direct(inner, &mut outbox, n, frame) {
                Some(sent) => next = sent,
                None => return Offered::Closed,
            }
        }
        if next == n {
            if outbox.owned {
                // Half a frame went: the writer sends the rest.
                on_demand::ensure(inner, &mut outbox);
            }
            return Offered::Sent;
        }
        if outbox.queue.len() - outbox.replayed + (n - next) > inner.outbox_cap {
            drop(outbox);
            self.too_slow();
            return Offered::TooSlow;
        }
        outbox.queue.extend((next..n).map(message));
        outbox.owned = true;
        let _ = inner.wake_tx.try_send(());
        on_demand::ensure(inner, &mut outbox);
        Offered::Queued
    }

    /// Sends or queues `message`, waiting for room until `deadline` (not
    /// at all without one): `send` and `try_send`.
    pub(super) fn deliver(
        &self,
        message: Message,
        deadline: Option<Instant>,
    ) -> Result<(), SendError> {
        let frame = data_frame(&message);
        match self.offer_until(frame.as_ref(), || message, deadline) {
            Offered::Sent | Offered::Queued => Ok(()),
            Offered::TooSlow => Err(SendError::TooSlow),
            Offered::Closed => Err(SendError::Closed),
        }
    }

    fn offer_until(
        &self,
        frame: Option<&Bytes>,
        message: impl FnOnce() -> Message,
        deadline: Option<Instant>,
    ) -> Offered {
        let inner = self.inner();
        let mut message = Some(message);
        let mut outbox = inner.outbox();
        loop {
            if inner.closing() {
                return Offered::Closed;
            }
            if !outbox.owned
                && let Some(frame) = frame
            {
                match send_direct(inner, &mut outbox, 1, |_| frame.clone()) {
                    None => return Offered::Closed,
                    Some(1) => {
                        if outbox.owned {
                            on_demand::ensure(inner, &mut outbox);
                        }
                        return Offered::Sent;
                    }
                    // The lock was held, or the buffer full: queue it.
                    Some(_) => {}
                }
            }
            if outbox.queue.len() - outbox.replayed < inner.outbox_cap
                && let Some(message) = message.take()
            {
                outbox.queue.push_back(message());
                outbox.owned = true;
                let _ = inner.wake_tx.try_send(());
                on_demand::ensure(inner, &mut outbox);
                return Offered::Queued;
            }
            let left = deadline.map_or(Duration::ZERO, |d| {
                d.saturating_duration_since(Instant::now())
            });
            if left.is_zero() {
                drop(outbox);
                self.too_slow();
                return Offered::TooSlow;
            }
            // The writer signals when it takes frames out, or ends.
            outbox = inner
                .room
                .wait_timeout(outbox, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Queues messages behind whatever waits, with no cap: a replay, which
    /// the history already bounds.
    pub fn enqueue(&self, messages: impl IntoIterator<Item = Message>) {
        let inner = self.inner();
        let mut outbox = inner.outbox();
        let before = outbox.queue.len();
        outbox.queue.extend(messages);
        outbox.replayed += outbox.queue.len() - before;
        if outbox.queue.len() > before {
            outbox.owned = true;
            let _ = inner.wake_tx.try_send(());
            on_demand::ensure(inner, &mut outbox);
        }
    }

    /// Pings the client from the calling thread when nothing waits, else
    /// through the writer (the shared timer's ping).
    pub(super) fn ping(&self) {
        const PING: [u8; 2] = [0x89, 0x00];
        {
            let inner = self.inner();
            let outbox = inner.outbox();
            if outbox.queue.len() - outbox.replayed >= inner.outbox_cap {
                // Its backlog keeps the socket busy: a ping would only close it.
                return;
            }
        }
        let frame = Bytes::from_static(&PING);
        let _ = self.offer_until(Some(&frame), || Message::Ping(Bytes::new()), None);
    }
}

/// A data message's frame, for a direct send; `None` for control frames,
/// which go through the writer and tungstenite.
fn data_frame(message: &Message) -> Option<Bytes> {
    match message {
        Message::Text(text) => Some(frame_bytes(Bytes::from(text.clone()), Data::Text)),
        Message::Binary(bytes) => Some(frame_bytes(bytes.clone(), Data::Binary)),
        _ => None,
    }
}

/// Sends frames `0..n` now as far as the socket takes them, if the
/// protocol lock is free: how many went (or were begun: the rest of a
/// half-sent one is kept, and the writer woken); `None` when the
/// connection can no longer be written.
fn send_direct(
    inner: &Inner,
    outbox: &mut Outbox,
    n: usize,
    frame: impl Fn(usize) -> Bytes,
) -> Option<usize> {
    // Held by the writer or the reader, who may block on a slow client:
    // never wait for it here.
    let Some(context) = inner.try_context() else {
        return Some(0);
    };
    if inner.closing() || !context.can_write() {
        return None;
    }
    let sent = send_frames_now(&inner.stream, n, frame).ok()?;
    inner.written.add(sent.bytes);
    if let Some(rest) = sent.rest {
        outbox.rest = Some(rest);
        outbox.owned = true;
        let _ = inner.wake_tx.try_send(());
    }
    Some(sent.frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_frames_are_unmasked_and_sized() {
        assert_eq!(text_frame(Bytes::from("hello"))[..], b"\x81\x05hello"[..]);
        let long = text_frame(Bytes::from("x".repeat(300)));
        assert_eq!(long[..4], [0x81, 126, 0x01, 0x2c]);
        assert_eq!(long.len(), 4 + 300);
    }
}
