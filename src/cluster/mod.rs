//! Several nodes, one set of topics: every node publishes through Redis
//! and hears every message back from it (`--redis URL`).
//!
//! ```text
//! node A: POST /topics/news "hi"
//!   EVALSHA publish.lua   INCR tinypush:{news}:id          → 42
//!                         XADD tinypush:{news}:stream 42-0 t 1763755200000 d hi
//!                         trim the stream to the history's bounds
//!                         PUBLISH tinypush:messages "7\nnews\n42\n1763755200000\nhi"
//!   → 200 {"id":42,...}
//! nodes A, B, C: one SUBSCRIBE tinypush:messages each (listen.rs)
//!   → the hub keeps 42 in "news" and fans it out to local subscribers
//! ```
//!
//! The script runs alone in Redis, so ids are per topic, the same on every
//! node, and published in order; the one channel delivers them in that
//! order. A node that sees a hole (42 after 40: a message lost on the
//! channel, or a reconnect) fills it from the stream before going on, and
//! a topic a node has not used yet is read from the stream the first time
//! (so a client resumes on any node). While Redis is away, publishes get
//! 503; subscribers stay; the listener reconnects and fills what it missed.
//!
//! Files: `publish.lua` (the script), `client.rs` (calls to Redis),
//! `pool.rs` (at most 16 connections for them, reused newest first), `listen.rs` (the channel,
//! reconnecting), `url.rs` (a URL for the log).
//!
//! Keys carry the topic in braces (`tinypush:{news}:id`), so that all three
//! land on one slot of a Redis Cluster. Left out: one channel per topic
//! (every node hears every topic), Redis Cluster and Sentinel, TLS.

mod client;
mod listen;
mod pool;
mod url;

pub use client::{CHANNEL, Cluster, Held};
pub use listen::{Inbox, Remote, listen};
pub use pool::is_busy;
pub use url::redacted;
