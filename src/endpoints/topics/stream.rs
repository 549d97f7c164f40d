//! `GET /topics/{topic}/sse` and `/stream`: a subscription as an open
//! response, Server-Sent Events or NDJSON, in one `select!` loop:
//!
//! ```text
//! gap (if the cursor is older than the history)
//! replay: every message after the cursor still in the history
//! loop select! {                  (live messages: sent by a fan-out thread, see outbox.rs)
//!     woken            → write what waits (a half-sent chunk, a backlog)
//!     keepalive tick   → `: keepalive` (SSE) or a keepalive object (NDJSON)
//!     dropped as slow  → what waits, an error event, then the body ends
//!     client hung up   → end
//!     server stopping  → what waits, the last chunk, end
//! }
//! ```

use std::io::{self, Write};
use std::sync::Arc;

use crossbeam_channel::{select, tick};
use log::info;

use super::outbox::{Drained, Outbox};
use super::wire::Framing;
use crate::endpoints::params::cursor;
use crate::error::Result;
use crate::http::exchange::{Exchange, Outcome, require_get};
use crate::http::stream::{self, End, Opened};
use crate::hub::{Hub, Since, Sink, Subscription};

/// The gap, the replay, then live messages until the stream ends. Live
/// messages reach the socket through an [`Outbox`]: sent by a fan-out
/// thread while nothing waits, written by this thread when something does.
pub fn subscribe(x: &mut Exchange, hub: &Hub, topic: &str, framing: Framing) -> Result<Outcome> {
    require_get(x.req)?;
    let chunked = x.req.is_http11();
    // Subscribing before the head goes out lets a 400 or 503 still be sent.
    let (mut sub, outbox) = subscribe_outbox(x, hub, topic, framing)?;
    let keepalive = tick(x.shared.config.http.stream_keepalive);
    let peer = x.peer;
    let mut live = match stream::open(x, framing.content_type())? {
        Opened::Live(live) => live,
        Opened::HeadOnly(outcome) => return Ok(outcome),
    };
    let (closed, shutdown) = (live.closed().clone(), live.shutdown().clone());
    let body = &mut live.body;
    let ended = (|| -> io::Result<End> {
        if let Some(gap) = sub.gap {
            body.chunk(&framing.gap(sub.topic(), gap))?;
        }
        // Each replayed message is let go once sent: one that has left the
        // history meanwhile is not held for the life of the stream.
        for m in std::mem::take(&mut sub.replay) {
            body.raw().write_all(&framing.message(&m, chunked))?;
            outbox.sent_by_thread(m.id);
        }
        loop {
            if let Drained::Dropped(last_id) = outbox.drain(body.raw(), false)? {
                info!("{peer} topic {}: dropped, too slow", sub.topic());
                body.chunk(&framing.dropped(sub.topic(), last_id))?;
                return Ok(End::Done);
            }
            select! {
                recv(outbox.wake()) -> _ => {}
                recv(keepalive) -> _ => {
                    // Own the socket (after what waits), then write ours.
                    if outbox.drain(body.raw(), true)? == Drained::Empty {
                        body.chunk(&framing.keepalive())?;
                    }
                }
                recv(closed) -> _ => return Ok(End::Gone),
                recv(shutdown) -> _ => return Ok(End::Done),
            }
        }
    })();
    // A pass already under way may still offer; once the drain below owns
    // the socket, its messages only queue. What a direct send left
    // half-done is finished before the last chunk.
    drop(sub);
    let ended = ended.and_then(|end| match end {
        End::Done => outbox.drain(body.raw(), true).map(|_| End::Done),
        End::Gone => Ok(End::Gone),
    });
    body.raw().bytes += outbox.sent_directly();
    Ok(live.finish(ended))
}

/// An outbox for this subscriber, subscribed at the request's cursor.
fn subscribe_outbox(
    x: &Exchange,
    hub: &Hub,
    topic: &str,
    framing: Framing,
) -> Result<(Subscription, Arc<Outbox>)> {
    let since = cursor(x.req, framing == Framing::Sse)?;
    let format = (framing, x.req.is_http11());
    let cap = x.shared.config.topics.subscriber_queue;
    let metrics = Arc::clone(&x.shared.metrics);
    let outbox = Outbox::new(Arc::clone(x.stream), format, cap, since, metrics);
    let sub = hub.subscribe(
        topic,
        since.map(Since::After),
        Arc::clone(&outbox) as Arc<dyn Sink>,
    )?;
    Ok((sub, outbox))
}
