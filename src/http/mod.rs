//! HTTP/1.1 on a plain socket, in the order a request meets it:
//!
//! ```text
//! inbound.rs   bytes off the socket until a whole head has come (caps, deadlines)
//! request.rs   the head parsed: method, target, headers        → 400, 431, 505
//! body.rs      how long the body is, and reading it            → 411, 413, 400
//! expect.rs    Expect: 100-continue, the body read when a handler asks
//! host.rs      whether this server answers to the Host named (DNS rebinding) → 400, 403
//! forwarded.rs who the client is behind a trusted proxy (X-Forwarded-For)
//! origin.rs    whether a browser page may act here (same origin, --cors-origin)
//! exchange.rs  what a handler gets and returns; every error reply
//! response.rs  status line and headers, fixed-length bodies
//! chunked.rs   chunked transfer coding, for bodies of unknown length
//! stream.rs    a response that stays open (SSE, NDJSON, /stream)
//! ```
//!
//! Nothing here knows about topics or WebSocket frames: this folder is the
//! protocol, `endpoints/` is what the server does with it. Not supported:
//! HTTP/2, TLS (put a proxy in front), trailers, ranges, compression.

pub mod body;
pub mod chunked;
pub mod exchange;
pub mod expect;
pub mod forwarded;
pub mod host;
pub mod inbound;
pub mod origin;
pub mod request;
pub mod response;
pub mod stream;

/// A connected pair on loopback, `(server end, client end)`: for unit tests.
#[cfg(test)]
pub fn socket_pair() -> (std::net::TcpStream, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let client = std::net::TcpStream::connect(listener.local_addr().expect("local address"))
        .expect("connect");
    (listener.accept().expect("accept").0, client)
}
