//! `/topics/{topic}`: publish with POST or PUT, subscribe over SSE, NDJSON
//! or WebSocket. The same message, three framings:
//!
//! ```text
//! curl -d hello http://127.0.0.1:8080/topics/news
//! {"id":7,"topic":"news","receivers":3}
//!
//! GET /topics/news/sse      id: 7\n
//!                           data: hello\n
//!                           \n
//! GET /topics/news/stream   {"event":"message","id":7,"topic":"news","time":1763755200000,"data":"hello"}\n
//! GET /topics/news/ws       text frame "hello" (with ?format=json: the object above)
//! ```
//!
//! A cursor resumes: `?since=N` on any of the three, or `Last-Event-ID: N`
//! (SSE; it wins over `since`, because a reconnecting browser sends it with
//! the original URL). A cursor the history cannot serve gets a gap first:
//! `event: gap` on SSE, `{"event":"gap",...}` on NDJSON and JSON WebSockets.
//! A quiet SSE stream gets `: keepalive` comments, an NDJSON stream
//! `{"event":"keepalive",...}` objects (a comment is not JSON); WebSockets
//! have ping frames. A subscriber dropped for falling behind gets
//! `event: error` (SSE), an `error` object (NDJSON) or close 1008, and may
//! resume from its last id.
//!
//! Files: `publish.rs`, `stream.rs` (SSE and NDJSON) and `outbox.rs` (how
//! their messages reach the socket without waking the thread), `ws.rs`,
//! and `wire.rs` (the bytes of each format).

mod outbox;
mod publish;
mod stream;
mod wire;
mod ws;

use super::App;
use crate::error::{Error, Result};
use crate::http::exchange::{Exchange, Outcome};
use wire::Framing;

/// Routes `/topics/` + `rest`.
pub fn route(x: &mut Exchange, app: &App, rest: &str) -> Result<Outcome> {
    let hub = &app.hub;
    match rest.split_once('/') {
        None => publish::publish(x, hub, rest),
        Some((topic, "sse")) => stream::subscribe(x, hub, topic, Framing::Sse),
        Some((topic, "stream")) => stream::subscribe(x, hub, topic, Framing::Ndjson),
        Some((topic, "ws")) => ws::subscribe(x, app, topic),
        Some(_) => Err(Error::NotFound),
    }
}
