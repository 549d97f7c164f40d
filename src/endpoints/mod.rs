//! What the server does with each request, one file per endpoint family:
//!
//! ```text
//! health.rs        GET /healthz, GET /metrics
//! demos.rs         GET /stream (chunked text), GET /event (SSE counter)
//! echo.rs          GET /echo, /socket, /ws (WebSocket echo, /ws with a heartbeat)
//! topics/          POST /topics/{t}; GET /topics/{t}[,{t}…]/sse | stream | ws
//! cors.rs          OPTIONS preflights and Access-Control-* headers for /topics/
//! static_files.rs  GET /<file> from the static folder
//! params.rs        query numbers and the /event demo's cursor
//! app.rs           what they share beyond HTTP: the hub, the access policy, ws-timer
//! ```
//!
//! Each handler takes the [`Exchange`](crate::http::exchange::Exchange) (the
//! request, the socket, the server's shared parts), and the topic ones the
//! hub, and returns an [`Outcome`](crate::http::exchange::Outcome) or an
//! error for the one error writer to answer.

mod app;
pub mod cors;
pub mod demos;
pub mod echo;
pub mod health;
pub mod params;
pub mod static_files;
pub mod topics;

pub use app::App;
