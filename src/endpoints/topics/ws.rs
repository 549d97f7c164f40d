//! `GET /topics/{topic}/ws[?format=json][&since=N]`: a subscription over
//! WebSocket. The writer thread drains it; the connection's own thread
//! reads, and text the client sends is published to the topic.
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

use std::sync::Arc;

use bytes::Bytes;
use crossbeam_channel::{Receiver, bounded};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, Utf8Bytes};

use super::publish::may_publish;
use super::wire::{gap_json, json_object};
use crate::endpoints::params::cursor;
use crate::error::{Error, Result};
use crate::http::exchange::{Exchange, Outcome};
use crate::hub::{Hub, Published, Subscription};
use crate::metrics::Kind;
use crate::ws::{self, Incoming, Options, Push, handshake};

/// Upgrades, subscribes, and publishes what the client sends until it ends.
pub fn subscribe(x: &mut Exchange, hub: &Hub, topic: &str) -> Result<Outcome> {
    let accepted = handshake::check(x.req, &x.shared.config.ws)?;
    let json = match x.req.query("format") {
        None | Some("text") => false,
        Some("json") => true,
        Some(_) => return Err(Error::BadRequest("format must be text or json")),
    };
    let since = cursor(x.req, false)?;
    let publisher = may_publish(x.req, x.shared.config.topics.publish_token.as_deref());
    // The writer thread drains a bounded queue the hub offers to.
    let (queue, live) = bounded(x.shared.config.topics.subscriber_queue);
    let mut sub = hub.subscribe(topic, since, Arc::new(queue))?;
    // The writer's thread is had before the 101: past it, a 503 can still be sent.
    let permit = x.shared.threads.acquire()?;
    handshake::switching_head(&accepted).write_to(x.out)?;
    x.gauge.set(Kind::Ws);
    let mut options = Options::from_config(&x.shared.config, &x.shared.metrics);
    options.permit = Some(permit);
    let push = push_for(&mut sub, live, json);
    let leftover = x.inbound.take_all();
    let shutdown = x.shared.shutdown.clone();
    let stream = Arc::clone(x.stream);
    let (conn, incoming) = ws::start_push(stream, leftover, x.peer, options, push, shutdown)?;
    publish_incoming(incoming, &conn, hub, topic, publisher);
    drop(sub);
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

/// What the writer sends: the gap notice (JSON only), the replay, then the
/// live queue, each message as bare text or as its JSON object.
fn push_for(
    sub: &mut Subscription,
    live: Receiver<Arc<Published>>,
    json: bool,
) -> Push<Arc<Published>> {
    let render: fn(&Arc<Published>) -> Message = if json {
        |m| text_frame(json_object(m))
    } else {
        |m| text_frame(&m.data)
    };
    let gap = sub.gap.filter(|_| json);
    Push {
        first: gap
            .map(|gap| Message::text(gap_json(sub.topic(), gap)))
            .into_iter()
            .collect(),
        replay: std::mem::take(&mut sub.replay),
        live,
        render,
    }
}

/// A text frame over shared bytes, without copying them.
fn text_frame(bytes: &Bytes) -> Message {
    match Utf8Bytes::try_from(bytes.clone()) {
        Ok(text) => Message::Text(text),
        // Cannot happen: messages and their encodings are made from Strings.
        Err(_) => Message::Binary(bytes.clone()),
    }
}
