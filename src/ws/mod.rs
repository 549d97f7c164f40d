//! WebSocket (RFC 6455) on a socket whose HTTP request we already read:
//! the handshake, then one connection run by a reader and a writer thread
//! sharing one protocol state.
//!
//! ```text
//!                 ┌──────────── Mutex<WebSocketContext> ────────────┐
//!                 │ (frame codec, close state, queued pong/close)   │
//!                 └────────▲─────────────────────────────▲──────────┘
//!                          │ feed bytes, then            │ write frames
//!                          │ drain every message         │
//! socket ─read (no lock)─► reader ──Message──► handler   writer ◄── select! {
//! (one fd, Arc)            (the connection's             (ws-write-N)   outgoing queue (bounded)
//!                           own thread)                                 outbox woken (deliver.rs)
//!                                                                       ping tick, heartbeat tick
//!                                                                       silent-peer deadline
//!                                                                       close request, shutdown
//!                                                                       reader done }
//! ```
//!
//! Which thread writes to the socket: the writer, for everything it sends;
//! the reader, for the pong and close replies tungstenite writes from inside
//! `read`; and a publisher offering a frame while nothing waits
//! (`deliver.rs`). All only while holding the lock, so frames never
//! interleave.
//!
//! Why not `WebSocket::read` on a blocking socket behind a mutex: the reader
//! would hold the lock while waiting for the network, and a push would wait
//! until the client spoke. Why not two `WebSocket`s over two clones of the
//! socket: `read` itself writes pongs and close replies, so two protocol
//! states would interleave frames on one wire (and each clone is one more
//! file descriptor). Here there is one protocol state; only the waiting is
//! split.
//!
//! Files, in reading order: `handshake.rs` (the upgrade request and the 101),
//! `options.rs` (settings), `connection.rs` (the handle and `start`),
//! `inner.rs` (what the threads share), `deliver.rs` (frames sent by other
//! threads without waking the writer), `feed.rs` (the adapter that lets the reader feed bytes without
//! holding the lock while it waits), `reader.rs`, `writer.rs`.
//!
//! Close codes sent: 1000 normal, 1001 server shutting down or client
//! silent, 1002 protocol error, 1003 binary on a text topic, 1007 invalid
//! UTF-8, 1008 client too slow or a refused publish, 1009 message too big.
//! Not supported: extensions (permessage-deflate), fragmented sends.

mod connection;
mod deliver;
mod feed;
pub mod handshake;
mod inner;
mod options;
mod reader;
mod writer;

pub use connection::{Connection, SendError, start};
pub use deliver::{Offered, text_frame};
pub use inner::CLOSE_WAIT;
pub use options::Options;
pub use reader::Incoming;
