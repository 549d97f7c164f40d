//! WebSocket (RFC 6455) on a socket whose HTTP request we already read:
//! the handshake, then one connection run by its reader thread, a writer
//! thread when there is something to write, and one protocol state.
//!
//! ```text
//!                 ┌──────────── Mutex<WebSocketContext> ────────────┐
//!                 │ (frame codec, close state, queued pong/close)   │
//!                 └────────▲─────────────────▲───────────▲──────────┘
//!                          │ feed bytes,     │ try, send │ write what waits
//!                          │ drain messages  │ at once   │
//! socket ─read (no lock)─► reader ─Message─► handler ─┐  writer (ws-write-N) ◄─ select! {
//! (one fd, Arc)            (the connection's          │  started on demand       outbox woken
//!                           own thread)     publisher ┘  (on_demand.rs)          close request
//!                                                                                shutdown, reader done
//!                                                                                idle: end }
//! ws-timer (one per server): pings, silence deadlines, a writer retried, 1001 at shutdown
//! ```
//!
//! Which thread writes to the socket, always holding the lock, so frames
//! never interleave: a sender (a publisher, or the reader echoing) while
//! nothing waits (`deliver.rs`); the writer, for what had to wait and for
//! the close; the reader, for the pong and close replies tungstenite writes
//! from inside `read`; the timer, for a ping. An idle WebSocket is one
//! thread, its reader. Without the shared timer (the tests, and `/ws` with
//! its heartbeat), one writer runs for the connection's life and keeps the
//! ping tick and silence deadline itself: the select-loop shape in full.
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
//! `inner.rs` (what the threads share), `deliver.rs` (frames sent by the
//! sending thread), `feed.rs` (the adapter that lets the reader feed bytes
//! without holding the lock while it waits), `reader.rs`, `writer.rs`,
//! `on_demand.rs` (starting writers), `timer.rs` and `ticker.rs` (the
//! shared timer).
//!
//! Close codes sent: 1000 normal, 1001 server shutting down or client
//! silent, 1002 protocol error, 1003 binary on a text topic, 1007 invalid
//! UTF-8, 1008 client too slow, a refused publish or a subscription's token
//! revoked (the connection's watch), 1009 message too big.
//! Not supported: extensions (permessage-deflate), fragmented sends.

mod connection;
mod deliver;
mod feed;
pub mod handshake;
mod inner;
mod on_demand;
mod options;
mod reader;
mod ticker;
mod timer;
mod writer;

pub use connection::{Connection, SendError, start};
pub use deliver::{Offered, text_frame};
pub use inner::{CLOSE_WAIT, Watch};
pub use options::Options;
pub use reader::Incoming;
#[doc(hidden)]
pub use reader::{FramesRead, read_frames};
pub use ticker::start_timer;
pub use timer::Timer;
