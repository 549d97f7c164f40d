//! tinypush: a small, blocking, thread-per-connection push server.
//!
//! One port serves hand-written HTTP/1.1 chunked streams and Server-Sent
//! Events, plus static files. Every thread, and what wakes it:
//!
//! ```text
//! main ── signal thread: SIGINT/SIGTERM → ShutdownHandle::shutdown
//!  └─ accept thread (Server::run)
//!       ├─ conn-{peer}   one per connection: read request → route → respond
//!       │    └─ a stream: select! { data, tick, deadline, closed, shutdown }
//!       └─ watcher       one epoll over every streaming socket; drops a
//!                        stream's `closed` Sender when its client hangs up
//! ```
//!
//! Modules, in the order a request meets them: [`server`] (listen, accept),
//! [`connection`] (the per-connection loop), [`request`] and [`body`]
//! (reading), [`response`], [`chunked`] and [`sse`] (writing),
//! [`streaming`] and [`watcher`] (open responses), [`demos`] and
//! [`static_files`] (the handlers), [`conns`] (the cap and shutdown),
//! [`config`], [`cli`] and [`error`].

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
