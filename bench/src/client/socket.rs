//! Client sockets, spread over four source addresses.
//!
//! ```text
//! connection 0   127.0.0.1:ephemeral → 127.0.0.1:PORT
//! connection 1   127.0.0.2:ephemeral → 127.0.0.1:PORT
//! connection 2   127.0.0.3:ephemeral → 127.0.0.1:PORT
//! connection 3   127.0.0.4:ephemeral → 127.0.0.1:PORT
//! connection 4   127.0.0.1:…
//! ```
//!
//! A bound source address takes its port from the ephemeral range (about
//! 28,000 ports); four addresses keep 10,000 subscribers, run after run, far
//! from that edge. Each socket closes with a zero linger (an RST), so no
//! TIME_WAIT entries pile up between reps; and has no Nagle delay, so a small
//! message leaves at once.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;

/// Longest a connect may take. A full accept queue makes the kernel retry
/// the SYN after 1 s and 3 s, so this leaves room for two retries.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How many of 127.0.0.1, 127.0.0.2, … the sockets take turns on.
const SOURCES: usize = 4;

static NEXT_SOURCE: AtomicUsize = AtomicUsize::new(0);

/// Connects to `server` from the next source address in turn.
///
/// # Errors
/// The socket cannot be made or bound, the connect fails, or it takes
/// longer than [`CONNECT_TIMEOUT`].
pub async fn connect(server: SocketAddr) -> io::Result<TcpStream> {
    let turn = NEXT_SOURCE.fetch_add(1, Ordering::Relaxed) % SOURCES;
    let last_octet = 1 + u8::try_from(turn).expect("SOURCES fits in a u8");
    let source = SocketAddr::from((Ipv4Addr::new(127, 0, 0, last_octet), 0));
    let socket = TcpSocket::new_v4()?;
    socket.set_zero_linger()?;
    socket.set_nodelay(true)?;
    socket.bind(source)?;
    match timeout(CONNECT_TIMEOUT, socket.connect(server)).await {
        Ok(connected) => connected,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "connect took over 10 s",
        )),
    }
}
