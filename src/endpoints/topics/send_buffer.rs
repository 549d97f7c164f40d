//! A subscriber's kernel send buffer, capped (`--subscriber-send-buffer`,
//! 256 KiB by default).
//!
//! Left alone, Linux grows a socket's send buffer as the connection seems
//! to need it, up to `net.ipv4.tcp_wmem`'s maximum:
//!
//! ```text
//! $ sysctl net.ipv4.tcp_wmem
//! net.ipv4.tcp_wmem = 4096  16384  4194304      min, start, max (bytes)
//! ```
//!
//! A subscriber that stops reading is only noticed as slow once its queue
//! fills, and its queue fills only once the kernel stops taking bytes: up
//! to 4 MiB later. Five thousand such clients could hold gigabytes of kernel
//! memory between them; with too few messages to fill 4 MiB, never-readers
//! were not dropped at all. Setting `SO_SNDBUF` turns that growth off for
//! the socket and fixes its buffer at twice the value asked (the kernel
//! doubles it to leave room for its own bookkeeping):
//!
//! ```text
//! setsockopt(fd, SOL_SOCKET, SO_SNDBUF, 262144)   → getsockopt gives 524288
//! ```
//!
//! What that bounds: a never-reader holds about twice the value asked,
//! plus the kernel's overhead, before it is dropped (measured: 139 KiB each
//! at 64 KiB), against up to 4 MiB each with autotuning. Past that, the
//! kernel's own TCP memory limit (`net.ipv4.tcp_mem`, shared by every
//! socket of the machine) is what stops them: 5,000 never-readers at
//! 256 KiB reached it (about 2 GiB here). A server expecting thousands of
//! stalled clients can ask for less.
//!
//! What it costs: a stream cannot have more than the buffer in flight, so
//! one subscriber's rate is at most about 512 KiB per round trip (50 MB/s
//! at 10 ms). On loopback one SSE stream of 64 KiB messages showed no
//! difference beyond the noise of a loaded machine. 0 restores the
//! kernel's autotuning.
//!
//! Applied when a request asks for a subscription (SSE, NDJSON or
//! WebSocket), before its answer; the connection keeps the cap for any
//! request after it.

use std::io;
use std::net::TcpStream;

use socket2::SockRef;

/// Fixes `stream`'s send buffer at `bytes` (the kernel doubles it); 0
/// leaves the kernel's autotuning on.
///
/// # Errors
/// The kernel refuses the option.
pub fn cap(stream: &TcpStream, bytes: usize) -> io::Result<()> {
    if bytes == 0 {
        return Ok(());
    }
    SockRef::from(stream).set_send_buffer_size(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::socket_pair as pair;

    #[test]
    fn the_kernel_doubles_the_cap() {
        let (server, _client) = pair();
        cap(&server, 256 * 1024).unwrap();
        let got = SockRef::from(&server).send_buffer_size().unwrap();
        assert_eq!(got, 512 * 1024);
    }

    #[test]
    fn zero_leaves_the_buffer_alone() {
        let (server, _client) = pair();
        let before = SockRef::from(&server).send_buffer_size().unwrap();
        cap(&server, 0).unwrap();
        assert_eq!(SockRef::from(&server).send_buffer_size().unwrap(), before);
    }
}
