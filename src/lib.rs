//! tinypush: a small, blocking, thread-per-connection push server.
//!
//! One port serves hand-written HTTP/1.1 chunked streams and Server-Sent
//! Events, WebSocket (synchronous tungstenite), a topic hub that fans one
//! published message out to every subscriber on any of the three, and
//! static files. Every thread, and what wakes it:
//!
//! ```text
//! main ── signals: SIGINT/SIGTERM → ShutdownHandle::shutdown,
//!  │              SIGHUP → auth-reload thread → Access::reload
//!  ├─ allocator     after a burst of connections ends, gives freed memory back
//!  └─ accept thread (Server::run)
//!       ├─ conn-{peer}   one per connection: read request → route → respond
//!       │    ├─ a stream: select! { woken, tick, deadline, closed, shutdown }
//!       │    └─ a WebSocket: this thread reads; ws-write-{id}, started only
//!       │         while frames wait: select! { woken, close, shutdown, idle }
//!       ├─ watcher       one epoll over every streaming socket; drops a
//!       │                stream's `closed` Sender when its client hangs up
//!       └─ ws-timer      every WebSocket's pings and silence deadline
//! hub: topics → { last id, history, subscribers' sinks, unsent }
//!  ├─ fanout-{n}     one per core: hands each topic's unsent messages to its sinks
//!  ├─ store-commit   with --data-dir: numbers and writes every waiting publish
//!  │                 in one transaction, one fsync, then acknowledges them
//!  └─ redis-listen   with --redis: the shared channel, into the hub in Redis's order
//! ```
//!
//! A fan-out thread writes the messages published since its last pass
//! straight to every subscriber's socket, in one `sendmsg` each, without
//! blocking while nothing waits there; a stream's or WebSocket's own thread
//! is woken only for a backlog. Threads are counted against a budget
//! ([`threads`]): past it, 503 rather than an abort.
//!
//! Modules, in the order a request meets them, each depending only on the
//! ones after it: [`server`] (listen, accept, the connection cap, shutdown),
//! [`connection`] (the keep-alive loop and the route table), [`endpoints`]
//! (what each path does), [`access`] (who may publish and subscribe), then
//! the protocol parts they use: [`http`], [`sse`], [`watcher`] and
//! [`ws`]; the topic [`hub`], with [`send_now`] for its fan-out, its disk
//! history in [`store`] and its nodes' shared channel in [`cluster`]; the
//! per-client [`limits`] and the [`threads`] budget; and at the bottom
//! [`metrics`], [`clock`], [`config`] and [`error`]. [`cli`] and [`client`]
//! serve the command.
//!
//! Linux only: the hang-up watcher and the listener's wake-up at shutdown
//! rely on Linux's epoll and `shutdown` on a listening socket.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod access;
pub mod cli;
pub mod client;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod connection;
pub mod endpoints;
pub mod error;
pub mod http;
pub mod hub;
pub mod limits;
pub mod metrics;
pub mod send_now;
pub mod server;
pub mod sse;
pub mod store;
pub mod threads;
pub mod watcher;
pub mod ws;

pub use config::Config;
pub use error::{Error, Result};
pub use server::{Server, ShutdownHandle};
