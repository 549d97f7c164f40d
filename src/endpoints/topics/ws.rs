//! `GET /topics/{topic}/ws[?format=json][&since=N]`: a subscription over
//! WebSocket. Live messages are offered straight to the socket, each
//! message's frame made once for every subscriber (`ws/deliver.rs`); the
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
//! notice; `format=json` shows ids and gaps). A publish the server refuses
//! (no token, a full topic cap) closes with 1008 and its reason.

use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, Utf8Bytes};

use super::publish::may_publish;
use super::wire::{gap_json, json_object};
use crate::endpoints::App;
use crate::endpoints::params::cursor;
use crate::error::{Error, Result};
use crate::http::exchange::{Exchange, Outcome};
use crate::hub::{Hub, Offer, Published, Since, Sink, Subscription};
use crate::metrics::Kind;
use crate::ws::{self, Incoming, Offered, handshake};

/// Upgrades, subscribes, and publishes what the client sends until it ends.
pub fn subscribe(x: &mut Exchange, app: &App, topic: &str) -> Result<Outcome> {
    let hub = &app.hub;
    let accepted = handshake::check(x.req, &x.shared.config.ws)?;
    let json = match x.req.query("format") {
        None | Some("text") => false,
        Some("json") => true,
        Some(_) => return Err(Error::BadRequest("format must be text or json")),
    };
    let since = cursor(x.req, false)?;
    let publisher = may_publish(x.req, x.shared.config.topics.publish_token.as_deref());
    let sink = Arc::new(WsSink::new(json, x.shared.config.topics.subscriber_queue));
    let mut sub = hub.subscribe(
        topic,
        since.map(Since::After),
        Arc::clone(&sink) as Arc<dyn Sink>,
    )?;
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
    sink.bind(&conn, first_messages(&mut sub, json));
    publish_incoming(incoming, &conn, hub, topic, publisher);
    drop(sub);
    x.out.bytes += conn.bytes_written();
    Ok(Outcome {
        status: 101,
        keep_alive: false,
    })
}

/// Publishes each text message; the first one refused closes the
/// connection. Once refused, the close is on its way: later frames are read
/// (the close handshake needs it) but not acted on.
fn publish_incoming(
    incoming: Incoming,
    conn: &ws::Connection,
    hub: &Hub,
    topic: &str,
    publisher: bool,
) {
    let mut refused = false;
    for message in incoming {
        let refusal = match message {
            _ if refused => continue,
            Message::Text(text) if publisher => match hub.publish(topic, text.to_string()) {
                Ok(_) => continue,
                Err(e) => (CloseCode::Policy, e.to_string()),
            },
            Message::Text(_) => (CloseCode::Policy, "publishing needs the token".to_string()),
            _ => (
                CloseCode::Unsupported,
                "binary frames are not accepted".to_string(),
            ),
        };
        conn.close(refusal.0, &refusal.1);
        refused = true;
    }
}

/// What goes out before any live message: the gap notice (JSON only; bare
/// text frames have no room for one, `format=json` shows ids and gaps),
/// then the replay.
fn first_messages(sub: &mut Subscription, json: bool) -> Vec<Message> {
    let gap = sub.gap.filter(|_| json);
    let gap = gap.map(|gap| Message::text(gap_json(sub.topic(), gap)));
    let replay = std::mem::take(&mut sub.replay);
    gap.into_iter()
        .chain(replay.iter().map(|m| message(m, json)))
        .collect()
}

/// The message as its frame's payload: bare text, or the JSON object.
fn payload(m: &Published, json: bool) -> &Bytes {
    if json { json_object(m) } else { &m.data }
}

/// The message for a WebSocket's queue.
fn message(m: &Published, json: bool) -> Message {
    match Utf8Bytes::try_from(payload(m, json).clone()) {
        Ok(text) => Message::Text(text),
        // Cannot happen: messages and their encodings are made from Strings.
        Err(_) => Message::Binary(payload(m, json).clone()),
    }
}

/// The message's whole frame, made once and shared by every subscriber.
fn frame(m: &Published, json: bool) -> &Bytes {
    let slot = if json {
        &m.encoded.ws_json
    } else {
        &m.encoded.ws_text
    };
    slot.get_or_init(|| ws::text_frame(payload(m, json).clone()))
}

/// The hub's end of a WebSocket subscriber. It exists before the connection
/// does (subscribing comes before the 101, so a refusal can still be a 503);
/// until then it keeps what it is offered, and [`WsSink::bind`] hands that
/// over in order.
struct WsSink {
    json: bool,
    cap: usize,
    state: Mutex<Binding>,
}

enum Binding {
    /// No connection yet: what was offered meanwhile; `true` once too slow.
    Waiting(Vec<Arc<Published>>, bool),
    Bound(ws::Connection),
}

impl WsSink {
    fn new(json: bool, cap: usize) -> WsSink {
        WsSink {
            json,
            cap,
            state: Mutex::new(Binding::Waiting(Vec::new(), false)),
        }
    }

    fn state(&self) -> MutexGuard<'_, Binding> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `first`, then what was offered so far, and sends everything
    /// after through `conn`.
    fn bind(&self, conn: &ws::Connection, first: Vec<Message>) {
        let mut state = self.state();
        let Binding::Waiting(offered, too_slow) = &mut *state else {
            return;
        };
        let offered = offered.iter().map(|m| message(m, self.json));
        conn.enqueue(first.into_iter().chain(offered));
        if *too_slow {
            conn.close(CloseCode::Policy, "client too slow");
        }
        *state = Binding::Bound(conn.clone());
    }
}

impl Sink for WsSink {
    fn offer(&self, messages: &[Arc<Published>]) -> Offer {
        match &mut *self.state() {
            Binding::Waiting(offered, too_slow) if offered.len() + messages.len() > self.cap => {
                *too_slow = true;
                Offer::TooSlow
            }
            Binding::Waiting(offered, _) => {
                offered.extend(messages.iter().cloned());
                Offer::Taken
            }
            Binding::Bound(conn) => {
                let frame = |i: usize| frame(&messages[i], self.json).clone();
                let message = |i: usize| message(&messages[i], self.json);
                match conn.offer(messages.len(), frame, message) {
                    Offered::Sent | Offered::Queued => Offer::Taken,
                    Offered::TooSlow => Offer::TooSlow,
                    Offered::Closed => Offer::Gone,
                }
            }
        }
    }
}
