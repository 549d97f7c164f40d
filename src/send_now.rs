//! One `send` that never blocks: as much of a buffer as the socket's send
//! buffer takes now, for a publisher writing to many subscribers' sockets.
//!
//! ```text
//! send(fd, "26\r\nid: 42\ndata: …\r\n", MSG_DONTWAIT | MSG_NOSIGNAL)
//!     → 44          all of it
//!     → 17          part of it: the caller keeps the rest for the subscriber's thread
//!     → EAGAIN      none (WouldBlock): the buffer is full
//! ```
//!
//! The socket stays in blocking mode for its own thread's writes (bounded
//! by `SO_SNDTIMEO`); `MSG_DONTWAIT` makes only this one call non-blocking.
//! `MSG_NOSIGNAL`: a client that has gone is an error, not a SIGPIPE.

use std::io;
use std::net::TcpStream;

use socket2::SockRef;

/// Sends what the socket takes of `bytes` now; `WouldBlock` when nothing.
///
/// # Errors
/// `WouldBlock` when the send buffer is full; the socket's own error when
/// the client is gone.
pub fn send_now(stream: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
    loop {
        match SockRef::from(stream).send_with_flags(bytes, flags) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}
