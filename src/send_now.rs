//! One `send` that never blocks: as much of some frames as the socket's send
//! buffer takes now, for a fan-out thread writing to many subscribers'
//! sockets.
//!
//! ```text
//! sendmsg(fd, ["26\r\nid: 42\ndata: …\r\n", "26\r\nid: 43\n…\r\n"], MSG_DONTWAIT | MSG_NOSIGNAL)
//!     → 88          all of it
//!     → 57          part of it: the caller keeps the rest for the subscriber's thread
//!     → EAGAIN      none (WouldBlock): the buffer is full
//! ```
//!
//! Several frames go in one call (an I/O vector, up to [`MAX_PARTS`]), so a
//! subscriber that has several messages waiting costs one system call.
//! The socket stays in blocking mode for its own thread's writes (bounded
//! by `SO_SNDTIMEO`); `MSG_DONTWAIT` makes only this one call non-blocking.
//! `MSG_NOSIGNAL`: a client that has gone is an error, not a SIGPIPE.

use std::io::{self, IoSlice};
use std::net::TcpStream;

use bytes::Bytes;
use socket2::SockRef;

/// The most frames one call sends.
pub const MAX_PARTS: usize = 16;

/// What [`send_frames_now`] got onto the socket.
#[derive(Debug, Default)]
pub struct Sent {
    /// Frames sent whole, or begun: the caller queues the ones after.
    pub frames: usize,
    /// The unsent end of the last frame begun, to be written before any other.
    pub rest: Option<Bytes>,
    /// Bytes sent.
    pub bytes: usize,
}

/// Sends frames `0..n` (`frame(i)` makes frame `i`'s bytes) as far as the
/// socket takes them now, [`MAX_PARTS`] to a call, stopping at the first
/// call that does not take all it was given.
///
/// # Errors
/// The socket's own error: the client is gone.
pub fn send_frames_now(
    stream: &TcpStream,
    n: usize,
    frame: impl Fn(usize) -> Bytes,
) -> io::Result<Sent> {
    let mut sent = Sent::default();
    while sent.frames < n {
        let count = (n - sent.frames).min(MAX_PARTS);
        let mut parts: [Bytes; MAX_PARTS] = Default::default();
        for (i, part) in parts[..count].iter_mut().enumerate() {
            *part = frame(sent.frames + i);
        }
        let parts = &parts[..count];
        let took = match send_now(stream, parts) {
            Ok(took) => took,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => return Err(e),
        };
        sent.bytes += took;
        let (whole, part_sent) = sent_up_to(parts, took);
        sent.frames += whole;
        if whole < count {
            if part_sent > 0 {
                sent.rest = Some(parts[whole].slice(part_sent..));
                sent.frames += 1;
            }
            break;
        }
    }
    Ok(sent)
}

/// Sends what the socket takes of `parts` (at most [`MAX_PARTS`]) now;
/// `WouldBlock` when nothing.
fn send_now(stream: &TcpStream, parts: &[Bytes]) -> io::Result<usize> {
    let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
    let mut slices = [IoSlice::new(&[]); MAX_PARTS];
    for (slice, part) in slices.iter_mut().zip(parts) {
        *slice = IoSlice::new(part);
    }
    let slices = &slices[..parts.len().min(MAX_PARTS)];
    loop {
        match SockRef::from(stream).send_vectored_with_flags(slices, flags) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Where `sent` bytes of `parts` end: the first part not wholly sent, and
/// how many of its bytes went (`(parts.len(), 0)` when all did).
fn sent_up_to(parts: &[Bytes], mut sent: usize) -> (usize, usize) {
    for (i, part) in parts.iter().enumerate() {
        if sent < part.len() {
            return (i, sent);
        }
        sent -= part.len();
    }
    (parts.len(), 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sent_bytes_are_split_at_part_boundaries() {
        let parts = [Bytes::from("abc"), Bytes::from("de"), Bytes::from("f")];
        assert_eq!(sent_up_to(&parts, 0), (0, 0));
        assert_eq!(sent_up_to(&parts, 2), (0, 2));
        assert_eq!(sent_up_to(&parts, 3), (1, 0));
        assert_eq!(sent_up_to(&parts, 4), (1, 1));
        assert_eq!(sent_up_to(&parts, 6), (3, 0));
    }
}
