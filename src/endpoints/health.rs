//! `/healthz` and `/metrics`: is the server well, and what is it doing.
//!
//! ```text
//! GET /healthz   200 ok\n                       (503 while the hang-up watcher fails,
//!                                                while writes to the history fail,
//!                                                or while Redis is away)
//! GET /metrics   # HELP tinypush_subscribers Subscribers, all transports.
//!                # TYPE tinypush_subscribers gauge
//!                tinypush_subscribers 3
//! ```

use crate::error::{Error, Result};
use crate::http::exchange::{Exchange, Outcome, reply, require_get};
use crate::hub::Hub;

/// `GET /healthz`: `ok`, or 503 with the reason when a part of the server
/// that every stream relies on has stopped working.
pub fn healthz(x: &mut Exchange, hub: &Hub) -> Result<Outcome> {
    require_get(x.req)?;
    if !x.shared.watcher.healthy() {
        return Err(Error::Unavailable("hang-up watcher failing"));
    }
    if let Some(why) = hub.degraded() {
        return Err(Error::Unavailable(why));
    }
    reply(x, "text/plain; charset=utf-8", b"ok\n")
}

/// `GET /metrics`: the Prometheus text.
pub fn metrics(x: &mut Exchange, hub: &Hub) -> Result<Outcome> {
    require_get(x.req)?;
    let text = x
        .shared
        .metrics
        .render(hub.topic_count(), hub.subscriber_count());
    reply(
        x,
        "text/plain; version=0.0.4; charset=utf-8",
        text.as_bytes(),
    )
}
