//! `GET /topics/{topics}/sse` and `/stream`: a subscription as an open
//! response, Server-Sent Events or NDJSON, in one `select!` loop:
//!
//! ```text
//! gaps, then replays (replay.rs: every message after the cursor still held)
//! loop select! {                  (live messages: sent by a fan-out thread, see outbox/)
//!     woken            → write what waits (a half-sent chunk, a backlog)
//!     keepalive tick   → `: keepalive` (SSE) or a keepalive object (NDJSON)
//!     dropped as slow  → what waits, an error event, then the body ends
//!     auth file reread → decided again; token revoked: what waits, an error event, the end
//!     client hung up   → end
//!     server stopping  → what waits, the last chunk, end
//! }
//! ```
//!
//! With several topics (`/topics/a,b,c/sse`) every topic is its own hub
//! subscription, all offering to one outbox. An SSE event's `data:` is
//! then the message's JSON object (it names its topic) and its `id:` the
//! composite cursor (`framer.rs`); a drop notice carries that cursor as
//! `since`. With `poll=1` the history is the whole answer (`poll.rs`).
//!
//! After a SIGHUP the subscription is decided again at once, with the
//! policy then in force (the reload disconnects the stream's `reloaded`
//! receiver); refused (its token removed from the file: `token revoked`),
//! it ends with
//! `{"event":"error","topic":"news","error":"token revoked"}` (`event:
//! error` on SSE). Live messages the fan-out sends straight to the socket
//! meanwhile still go out: the hub does not know about tokens.

use std::io;
use std::sync::Arc;

use crossbeam_channel::{Receiver, select, tick};
use log::info;
use serde::Serialize;

use super::framer::Framer;
use super::outbox::{Drained, Outbox};
use super::poll;
use super::replay::{self, First};
use super::select::Selection;
use super::wire::{Framing, json, line};
use crate::access::{Action, Standing, withdrawn};
use crate::endpoints::App;
use crate::error::Result;
use crate::http::chunked::ChunkedWriter;
use crate::http::exchange::{Counted, Exchange, Outcome, require_get};
use crate::http::request::Request;
use crate::http::stream::{self, End, Opened};
use crate::hub::{Hub, Since, Sink, Subscription};
use crate::sse::Event;

/// The gaps, the replay, then live messages until the stream ends. Live
/// messages reach the socket through an [`Outbox`]: sent by a fan-out
/// thread while nothing waits, written by this thread when something does.
pub fn subscribe(x: &mut Exchange, app: &App, list: &str, framing: Framing) -> Result<Outcome> {
    require_get(x.req)?;
    let selection = Selection::read(x.req, list, framing == Framing::Sse)?;
    let (mut standing, mut reloaded) = admitted(app, x.req, &selection.topics)?;
    if selection.poll {
        return poll::answer(x, &app.hub, &selection, framing);
    }
    let framer = Framer {
        framing,
        chunked: x.req.is_http11(),
        multi: selection.is_multi(),
    };
    // Subscribing before the head goes out lets a 400 or 503 still be sent.
    let (mut subs, outbox) = subscribe_outbox(x, &app.hub, &selection, framer)?;
    let keepalive = tick(x.shared.config.http.stream_keepalive);
    let peer = x.peer;
    let mut live = match stream::open(x, framing.content_type())? {
        Opened::Live(live) => live,
        Opened::HeadOnly(outcome) => return Ok(outcome),
    };
    let (closed, shutdown) = (live.closed().clone(), live.shutdown().clone());
    let body = &mut live.body;
    let ended = (|| -> io::Result<End> {
        let first = subs.iter_mut().map(First::taken).collect();
        let written = replay::write(body, framer, first)?;
        outbox.replayed(written.last_id, written.positions);
        loop {
            if let Drained::Dropped(last_id) = outbox.drain(body.raw(), false)? {
                info!("{peer} topic {list}: dropped, too slow");
                body.chunk(&dropped(&outbox, framing, list, last_id))?;
                return Ok(End::Done);
            }
            if let Err(e) = app.access.recheck(&mut standing) {
                info!("{peer} topic {list}: {}", withdrawn(e));
                return end_withdrawn(&outbox, body, framing, list, &withdrawn(e));
            }
            select! {
                recv(outbox.wake()) -> _ => {}
                recv(keepalive) -> _ => keep_alive(&outbox, body, framing)?,
                recv(reloaded) -> _ => reloaded = app.access.reloads(),
                recv(closed) -> _ => return Ok(End::Gone),
                recv(shutdown) -> _ => return Ok(End::Done),
            }
        }
    })();
    // A pass already under way may still offer; once the drain below owns
    // the socket, its messages only queue. What a direct send left
    // half-done is finished before the last chunk.
    drop(subs);
    let ended = ended.and_then(|end| match end {
        End::Done => outbox.drain(body.raw(), true).map(|_| End::Done),
        End::Gone => Ok(End::Gone),
    });
    body.raw().bytes += outbox.sent_directly();
    Ok(live.finish(ended))
}

/// Whether `req` may subscribe to `topics`; if so the decision, kept to be
/// made again after a reload, and a receiver the reload disconnects.
///
/// # Errors
/// 401 or 403 (`access/`).
fn admitted(app: &App, req: &Request, topics: &[Arc<str>]) -> Result<(Standing, Receiver<()>)> {
    app.access.check(req, Action::Subscribe, topics)?;
    let standing = app.access.standing(req, Action::Subscribe, topics);
    Ok((standing, app.access.reloads()))
}

/// The notice that the subscriber was dropped for falling behind, with
/// the cursor to resume from.
fn dropped(outbox: &Outbox, framing: Framing, list: &str, last_id: Option<u64>) -> Vec<u8> {
    match outbox.cursor() {
        Some(since) => framing.dropped_multi(list, &since),
        None => framing.dropped(list, last_id),
    }
}

/// `{"event":"error","topic":"news","error":"token revoked"}`
#[derive(Serialize)]
struct Withdrawn<'a> {
    event: &'static str,
    topic: &'a str,
    error: &'a str,
}

/// Writes what waits, then `{"event":"error","topic":"news","error":"token
/// revoked"}` (an SSE `event: error`, or an NDJSON line): the stream ends.
fn end_withdrawn(
    outbox: &Outbox,
    body: &mut ChunkedWriter<&mut Counted>,
    framing: Framing,
    topics: &str,
    why: &str,
) -> io::Result<End> {
    outbox.drain(body.raw(), true)?;
    let object = json(&Withdrawn {
        event: "error",
        topic: topics,
        error: why,
    });
    let notice = match framing {
        Framing::Sse => Event::data(object).event("error").encode(),
        Framing::Ndjson => line(object),
    };
    body.chunk(&notice)?;
    Ok(End::Done)
}

/// Owns the socket (after what waits), then writes a keepalive.
fn keep_alive(
    outbox: &Outbox,
    body: &mut ChunkedWriter<&mut Counted>,
    framing: Framing,
) -> io::Result<()> {
    if outbox.drain(body.raw(), true)? == Drained::Empty {
        body.chunk(&framing.keepalive())?;
    }
    Ok(())
}

/// An outbox for this subscriber, subscribed to every topic at its start.
fn subscribe_outbox(
    x: &Exchange,
    hub: &Hub,
    selection: &Selection,
    framer: Framer,
) -> Result<(Vec<Subscription>, Arc<Outbox>)> {
    // The drop notice of one topic names the cursor it was given.
    let since = match selection.starts[..] {
        [Some(Since::After(n))] => Some(n),
        _ => None,
    };
    let cap = x.shared.config.topics.subscriber_queue;
    let metrics = Arc::clone(&x.shared.metrics);
    let outbox = Outbox::new(Arc::clone(x.stream), framer, cap, since, metrics);
    let sink = Arc::clone(&outbox) as Arc<dyn Sink>;
    let subs = selection.subscribe(hub, &sink)?;
    Ok((subs, outbox))
}
