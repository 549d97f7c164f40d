//! tinypush: a small, blocking, thread-per-connection push server.
//!
//! One port serves hand-written HTTP/1.1 chunked streams and Server-Sent
//! Events, WebSocket (synchronous tungstenite), a topic hub that fans one
//! published message out to every subscriber on any of the three, and
//! static files. Every thread, and what wakes it:
//!
//! ```text
//! main ── signal thread: SIGINT/SIGTERM → ShutdownHandle::shutdown
//!  └─ accept thread (Server::run)
//!       ├─ conn-{peer}   one per connection: read request → route → respond
//!       │    ├─ a stream: select! { data, tick, deadline, closed, shutdown }
//!       │    └─ a WebSocket: this thread reads; ws-write-{id} writes,
//!       │         select! { queue, subscription, ping, close, shutdown }
//!       └─ watcher       one epoll over every streaming socket; drops a
//!                        stream's `closed` Sender when its client hangs up
//! hub: topics → { last id, history, subscribers' bounded queues }
//! ```
//!
//! Modules, in the order a request meets them: [`server`] (listen, accept),
//! [`connection`] (the per-connection loop), [`request`] and [`body`]
//! (reading), [`response`], [`chunked`] and [`sse`] (writing),
//! [`streaming`] and [`watcher`] (open responses), [`upgrade`] and [`ws`]
//! (WebSocket), [`hub`] and [`topics`] (publish and subscribe), [`demos`],
//! [`echo`] and [`static_files`] (the demo handlers), [`conns`] (the cap
//! and shutdown), [`metrics`], [`config`], [`cli`], [`client`] and
//! [`error`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod body;
pub mod chunked;
pub mod cli;
pub mod client;
pub mod config;
pub mod connection;
pub mod conns;
pub mod demos;
pub mod echo;
pub mod error;
pub mod hub;
pub mod metrics;
pub mod request;
pub mod response;
pub mod server;
pub mod sse;
pub mod static_files;
pub mod streaming;
pub mod topics;
pub mod upgrade;
pub mod watcher;
pub mod ws;

pub use config::Config;
pub use error::{Error, Result};
pub use server::{Server, ShutdownHandle};
