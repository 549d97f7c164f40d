//! `GET /topics/{topics}/ws[?format=json][&since=…]`: a subscription over
//! WebSocket. Live messages are offered straight to the socket, each
//! message's frame made once for every subscriber (`ws_sink.rs`); the
//! connection's own thread reads, and text the client sends is published.
//!
//! ```text
//! server → client   81 05 "hello"                      bare text (default)
//! server → client   81 4b {"event":"message","id":7,…}  with ?format=json
//! client → server   81 85 <mask> "hi"                  published as a message
//! client → server   82 …   (binary)                    close 1003
//! ```
//!
//! Bare text frames carry the message alone (there is no room for a gap
//! notice; `format=json` shows ids and gaps). Subscribing needs what
//! `/sse` needs (`?token=` for a browser, which cannot set headers); a
//! publish the server refuses closes with 1008 and its reason: no token,
//! a token without the topic (`this token may not publish to news`), a
//! full topic cap. Whether the socket may publish is decided at the
//! upgrade and kept; after a SIGHUP it is decided again at the next
//! message, with the policy then in force (`access/standing.rs`): a token
//! removed from the file closes with 1008 `token revoked`. The
//! subscription too is decided again, at the next message offered to it
//! (refused, it closes with 1008 and the reason before that message goes
//! out) and at the WebSocket timer's next scan, at most a second later,
//! so a quiet topic's subscribers go too.
//! Past `--publish-rate`, the reader waits for the next token before it
//! reads on (`limits/`): the client is slowed through TCP, not closed.
//!
//! Several topics (`/topics/a,b,c/ws`): always the JSON objects, which
//! name their topic, so a client keeps each topic's last id and resumes
//! with `since=a:41,b:7,c:0`. Such a connection cannot publish (which
//! topic?): text from the client closes it with 1008. `poll=1` is for the
//! streams; here it is a 400 (a WebSocket has no end of a body to poll to).

use std::sync::Arc;

use tungstenite::Message;
use tungstenite::protocol::frame::coding::CloseCode;

use super::select::Selection;
use super::wire::gap_json;
use super::ws_sink::{WsSink, message};
use crate::access::{Action, Standing, withdrawn};
use crate::endpoints::App;
use crate::error::{Error, Result};
use crate::http::exchange::{Exchange, Outcome};
use crate::http::request::Request;
use crate::hub::{Sink, Subscription};
use crate::metrics::Kind;
use crate::ws::{self, Incoming, handshake};

/// Why a multi-topic WebSocket is closed when the client sends text.
const NO_MULTI_PUBLISH: &str = "publish to one topic: /topics/{topic}/ws or POST";
/// Why a WebSocket opened without a token is closed when the client sends
/// text, where anonymous clients may not publish.
const NO_TOKEN: &str = "publishing needs the token";

/// Upgrades, subscribes, and publishes what the client sends until it ends.
pub fn subscribe(x: &mut Exchange, app: &App, list: &str) -> Result<Outcome> {
    let hub = &app.hub;
    let accepted = handshake::check(x.req, &x.shared.config)?;
    let selection = Selection::read(x.req, list, false)?;
    app.access
        .check(x.req, Action::Subscribe, &selection.topics)?;
    if selection.poll {
        return Err(Error::BadRequest("poll=1 is for /sse and /stream"));
    }
    let json = match x.req.query("format") {
        None | Some("text") => selection.is_multi(),
        Some("json") => true,
        Some(_) => return Err(Error::BadRequest("format must be text or json")),
    };
    // Where text from the client goes, while the token may publish there
    // (decided now, and again after each reload), or why it closes the
    // connection.
    let mut publish_to = if selection.is_multi() {
        Err(NO_MULTI_PUBLISH)
    } else {
        Ok((list, app.access.standing(x.req, Action::Publish, &[list])))
    };
    let sink = Arc::new(WsSink::new(json, x.shared.config.topics.subscriber_queue));
    let mut subs = selection.subscribe(hub, &(Arc::clone(&sink) as Arc<dyn Sink>))?;
    let mut options = app.ws_options(x.shared, false)?;
    handshake::switching_head(&accepted).write_to(x.out)?;
    x.gauge.set(Kind::Ws);
    // A subscriber falls behind by the same measure on every transport (the
    // replay it starts with does not count).
    options.queue = x.shared.config.topics.subscriber_queue;
    let leftover = x.inbound.take_all();
    let shutdown = x.shared.shutdown.clone();
    let stream = Arc::clone(x.stream);
    let (conn, incoming) = ws::start(stream, leftover, x.peer, options, shutdown)?;
    // Asked at each offer and each scan of the WebSocket timer.
    conn.watch(revoked(app, x.req, &selection.topics));
    sink.bind(&conn, first_messages(&mut subs, json));
    let (limits, client, shutdown) = (&x.shared.limits, x.client, &x.shared.shutdown);
    // Held for the publish rate no longer than the connection lives.
    let turn = || limits.wait_to_publish(client, shutdown, || conn.closing());
    publish_incoming(incoming, &conn, app, &mut publish_to, turn);
    drop(subs);
    x.out.bytes += conn.bytes_written();
    Ok(Outcome {
        status: 101,
        keep_alive: false,
    })
}

/// Publishes each text message to the topic in `to` while its standing
/// allows, or closes with the reason instead; the first one refused closes
/// the connection. Once refused, the close is on its way: later frames are
/// read (the close handshake needs it) but not acted on. Each publish
/// waits for `turn` (the publish rate); `false` means the connection is
/// closing or the server stopping, and nothing more is published.
fn publish_incoming(
    incoming: Incoming,
    conn: &ws::Connection,
    app: &App,
    to: &mut std::result::Result<(&str, Standing), &str>,
    turn: impl Fn() -> bool,
) {
    let mut refused = false;
    for message in incoming {
        let refusal = match (message, &mut *to) {
            _ if refused => continue,
            // The rate's wait first: a reload during it is decided after.
            (Message::Text(_), Ok(_)) if !turn() => {
                refused = true;
                continue;
            }
            (Message::Text(text), Ok((topic, standing))) => match app.access.recheck(standing) {
                Err(e) => (CloseCode::Policy, refusal(e)),
                Ok(()) => match app.hub.publish(topic, text.to_string()) {
                    Ok(_) => continue,
                    Err(e) => (CloseCode::Policy, e.to_string()),
                },
            },
            (Message::Text(_), Err(why)) => (CloseCode::Policy, why.to_string()),
            _ => (
                CloseCode::Unsupported,
                "binary frames are not accepted".to_string(),
            ),
        };
        conn.close(refusal.0, &refusal.1);
        refused = true;
    }
}

/// A watch closing the subscription once a reload withdraws it (its token
/// revoked): asked at each message offered, so nothing goes out after, and
/// by the WebSocket timer, so a quiet one closes within a second.
fn revoked(app: &App, req: &Request, topics: &[Arc<str>]) -> ws::Watch {
    let access = Arc::clone(&app.access);
    let mut standing = access.standing(req, Action::Subscribe, topics);
    Box::new(move || access.recheck(&mut standing).as_ref().err().map(withdrawn))
}

/// Why a publish through the socket is refused: no token, a token
/// without the topic, a token revoked since.
fn refusal(e: &Error) -> String {
    match e {
        Error::Unauthorized(_) => NO_TOKEN.to_string(),
        other => withdrawn(other),
    }
}

/// What goes out before any live message: every topic's gap notice (JSON
/// only; bare text frames have no room for one, `format=json` shows ids
/// and gaps), then every topic's replay, in the order of the URL.
fn first_messages(subs: &mut [Subscription], json: bool) -> Vec<Message> {
    let gaps = subs.iter().filter(|_| json).filter_map(|sub| {
        let gap = sub.gap?;
        Some(Message::text(gap_json(sub.topic(), gap)))
    });
    let mut first: Vec<Message> = gaps.collect();
    for sub in subs {
        let replay = std::mem::take(&mut sub.replay);
        first.extend(replay.iter().map(|m| message(m, json)));
    }
    first
}
