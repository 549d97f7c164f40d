//! The WebSocket demo endpoints: `/echo` and `/socket` send every message
//! back; `/ws` does too, and sends a `heartbeat` text message every second.
//!
//! ```text
//! client → server   81 85 <mask> <"hello" masked>     text "hello", masked
//! server → client   81 05 68 65 6c 6c 6f              text "hello"
//! server → client   81 09 "heartbeat"                 (/ws only, every second)
//! ```
//!
//! The handler runs on the connection's own thread, which becomes the
//! reader; the echo is a plain loop over incoming messages.

use std::sync::Arc;

use super::App;
use crate::error::Result;
use crate::http::exchange::{Exchange, Outcome};
use crate::metrics::Kind;
use crate::ws::{self, handshake};

/// `GET /echo`, `GET /socket` (no heartbeat) and `GET /ws` (heartbeat).
pub fn echo(x: &mut Exchange, app: &App, heartbeat: bool) -> Result<Outcome> {
    let accepted = handshake::check(x.req, &x.shared.config)?;
    let options = app.ws_options(x.shared, heartbeat)?;
    handshake::switching_head(&accepted).write_to(x.out)?;
    x.gauge.set(Kind::Ws);
    let leftover = x.inbound.take_all();
    let shutdown = x.shared.shutdown.clone();
    let (conn, incoming) = ws::start(Arc::clone(x.stream), leftover, x.peer, options, shutdown)?;
    for message in incoming {
        if conn.send(message).is_err() {
            break;
        }
    }
    x.out.bytes += conn.bytes_written();
    Ok(Outcome {
        status: 101,
        keep_alive: false,
    })
}
