//! The client side: sockets spread over source addresses, the HTTP and
//! WebSocket pieces the bench speaks, and a subscriber over either transport.
//!
//! Files: `socket.rs` (source addresses, zero linger), `http.rs` (one
//! request/response connection), `chunked.rs` and `events.rs` (decoding an
//! SSE body), `publisher.rs`, `sse.rs`, `ws.rs`.

pub mod chunked;
pub mod events;
pub mod http;
pub mod publisher;
pub mod socket;
pub mod sse;
pub mod ws;

use std::io;
use std::net::SocketAddr;

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

use sse::SseReader;
use ws::WsClient;

/// How a subscriber receives a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `GET /topics/{t}/sse`.
    Sse,
    /// `GET /topics/{t}/ws`, bare text frames.
    Ws,
}

impl Transport {
    /// `SSE` or `WS`, as the table prints it.
    pub fn label(self) -> &'static str {
        match self {
            Transport::Sse => "SSE",
            Transport::Ws => "WS",
        }
    }
}

/// A subscription to one topic over one connection.
pub enum Subscriber {
    /// Server-Sent Events.
    Sse(SseReader),
    /// WebSocket text frames.
    Ws(Box<WsClient>),
}

impl Subscriber {
    /// Subscribes to `topic`; once this returns, the server has sent its
    /// 200 or 101 head.
    ///
    /// # Errors
    /// The connect fails or the server refuses (the status is in the message).
    pub async fn open(addr: SocketAddr, transport: Transport, topic: &str) -> io::Result<Self> {
        Ok(match transport {
            Transport::Sse => {
                Subscriber::Sse(SseReader::open(addr, &format!("/topics/{topic}/sse")).await?)
            }
            Transport::Ws => Subscriber::Ws(Box::new(
                ws::open(addr, &format!("/topics/{topic}/ws")).await?,
            )),
        })
    }

    /// Waits for the next message(s) and calls `on_message` with each one's
    /// SSE id (none over WS) and body; `Ok(false)` once the server has
    /// ended the subscription. Cancel-safe.
    ///
    /// # Errors
    /// The connection fails.
    pub async fn next(
        &mut self,
        on_message: &mut impl FnMut(Option<u64>, &[u8]),
    ) -> io::Result<bool> {
        match self {
            Subscriber::Sse(reader) => Ok(reader.read(on_message).await?.is_some()),
            Subscriber::Ws(ws) => match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    on_message(None, text.as_bytes());
                    Ok(true)
                }
                Some(Ok(Message::Close(_))) | None => Ok(false),
                Some(Ok(_)) => Ok(true),
                Some(Err(e)) => Err(io::Error::other(e)),
            },
        }
    }
}
