//! A WebSocket client over one of our spread sockets (tokio-tungstenite).
//!
//! ```text
//! → GET /topics/bench/ws HTTP/1.1 … Upgrade: websocket, Sec-WebSocket-Key: …
//! ← HTTP/1.1 101 Switching Protocols
//! ← 81 0e "s0:1250000000"     one text frame per message
//! ```
//!
//! Pings from the server are answered by tungstenite itself on the next read.

use std::io;
use std::net::SocketAddr;

use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

use super::http::IO_TIMEOUT;
use super::socket;

/// An open WebSocket.
pub type WsClient = WebSocketStream<TcpStream>;

/// Read buffer per WebSocket: our messages are small, and 10,000 clients
/// with tungstenite's default of 128 KiB each would weigh over a GiB.
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// Connects and completes the handshake for `path`.
///
/// # Errors
/// The connect or the handshake fails (a refusal's status is in the
/// message), or the handshake takes longer than the I/O timeout.
pub async fn open(addr: SocketAddr, path: &str) -> io::Result<WsClient> {
    let stream = socket::connect(addr).await?;
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER_BYTES);
    let url = format!("ws://{addr}{path}");
    match timeout(
        IO_TIMEOUT,
        client_async_with_config(url, stream, Some(config)),
    )
    .await
    {
        Ok(Ok((ws, _response))) => Ok(ws),
        Ok(Err(e)) => Err(io::Error::other(describe(e))),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "no handshake within 10 s",
        )),
    }
}

/// A handshake error in a few words: `HTTP 503` for a refusal.
fn describe(e: tokio_tungstenite::tungstenite::Error) -> String {
    match e {
        tokio_tungstenite::tungstenite::Error::Http(response) => {
            format!("HTTP {}", response.status().as_u16())
        }
        other => other.to_string(),
    }
}
