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
//! A cursor says where a subscription starts (`since.rs`): `?since=` on
//! any of the three, or `Last-Event-ID` (SSE; it wins over `since`,
//! because a reconnecting browser sends it with the original URL):
//!
//! ```text
//! since=41 | 0 | all | latest | 10m | a:41,b:7,c:0
//! after 41 | everything held | the newest, then live | the last ten minutes | per topic
//! ```
//!
//! A cursor the history cannot serve gets a gap first: `event: gap` on
//! SSE, `{"event":"gap",...}` on NDJSON and JSON WebSockets. A quiet SSE
//! stream gets `: keepalive` comments, an NDJSON stream
//! `{"event":"keepalive",...}` objects (a comment is not JSON); WebSockets
//! have ping frames. A subscriber dropped for falling behind gets
//! `event: error` (SSE), an `error` object (NDJSON) or close 1008, and may
//! resume from its last id. `poll=1` (SSE and NDJSON) answers the history
//! and ends the body instead of staying open.
//!
//! Who may publish and subscribe is `crate::access`'s to say: each handler
//! asks it once it knows the topics (401 without a needed token, 403
//! without the scope; a multi-topic subscription needs every topic).
//!
//! Several topics on one connection, up to 32 (`select.rs`): every
//! message names its topic, and a multi-topic SSE event's `id:` is the
//! composite cursor, so EventSource's own reconnect resumes every topic:
//!
//! ```text
//! GET /topics/a,b,c/sse     id: a:41,b:7,c:0\n
//!                           data: {"event":"message","id":41,"topic":"a",…}\n
//!                           \n
//! ```
//!
//! Files: `publish.rs`; `select.rs` (the topics and starts a request
//! selects) and `since.rs` (the cursor grammar); `stream.rs` (SSE and
//! NDJSON), `replay.rs` (what goes before live), `poll.rs`, and
//! `outbox/` (how live messages reach the socket without waking the
//! thread); `ws.rs` and `ws_sink.rs`; `send_buffer.rs` (a subscriber's
//! kernel send buffer, capped); `wire.rs` (the bytes of each format),
//! `framer.rs` (a subscriber's bytes of a message) and `position.rs` (the
//! composite cursor).

mod framer;
mod outbox;
mod poll;
mod position;
mod publish;
mod replay;
mod select;
mod send_buffer;
mod since;
mod stream;
mod wire;
mod ws;
mod ws_sink;

use log::debug;

use super::App;
use super::cors::{self, PUBLISH_METHODS, SUBSCRIBE_METHODS};
use crate::error::{Error, Result};
use crate::http::exchange::{Exchange, Outcome};
use wire::Framing;

/// The grammars a subscribe URL is read with, for the fuzz targets
/// (`fuzz/fuzz_targets/cursor.rs`).
#[doc(hidden)]
pub mod grammar {
    pub use super::position::Positions;
    pub use super::select::{MAX_TOPICS, Selection, topics};
    pub use super::since::{Cursor, parse, requested};
}

/// Routes `/topics/` + `rest`, every answer with the CORS headers
/// `connection::respond` put on the exchange (`cors.rs`).
pub fn route(x: &mut Exchange, app: &App, rest: &str) -> Result<Outcome> {
    let subscribing = rest.contains('/');
    let methods = match subscribing {
        false => PUBLISH_METHODS,
        true => SUBSCRIBE_METHODS,
    };
    if let Some(preflight) = cors::preflight(x, methods)? {
        return Ok(preflight);
    }
    if subscribing {
        // A subscriber that stops reading holds this much kernel memory at most.
        let bytes = x.shared.config.topics.subscriber_send_buffer;
        if let Err(e) = send_buffer::cap(x.stream, bytes) {
            debug!("{} send buffer not capped: {e}", x.peer);
        }
    }
    match rest.split_once('/') {
        None => publish::publish(x, app, rest),
        Some((topics, "sse")) => stream::subscribe(x, app, topics, Framing::Sse),
        Some((topics, "stream")) => stream::subscribe(x, app, topics, Framing::Ndjson),
        Some((topics, "ws")) => ws::subscribe(x, app, topics),
        Some(_) => Err(Error::NotFound),
    }
}
