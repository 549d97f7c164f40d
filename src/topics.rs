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

use std::io;
use std::sync::Arc;

use crossbeam_channel::{select, tick};
use log::info;
use serde::Serialize;
use subtle::ConstantTimeEq;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, Utf8Bytes};

use crate::chunked::ChunkedWriter;
use crate::connection::{Exchange, Outcome, reply, require_get};
use crate::error::{Error, Result};
use crate::hub::{Gap, MAX_ID, Published, Subscription};
use crate::metrics::Kind;
use crate::request::Request;
use crate::sse::Event;
use crate::streaming::{self, End, Opened};
use crate::upgrade;
use crate::ws::{self, Options, Push};

/// Routes `/topics/` + `rest`.
pub fn route(x: &mut Exchange, rest: &str) -> Result<Outcome> {
    match rest.split_once('/') {
        None => publish(x, rest),
        Some((topic, "sse")) => subscribe_stream(x, topic, Framing::Sse),
        Some((topic, "stream")) => subscribe_stream(x, topic, Framing::Ndjson),
        Some((topic, "ws")) => subscribe_ws(x, topic),
        Some(_) => Err(Error::NotFound),
    }
}

/// `POST` or `PUT /topics/{topic}` with the message as the body.
fn publish(x: &mut Exchange, topic: &str) -> Result<Outcome> {
    if !matches!(x.req.method.as_str(), "POST" | "PUT") {
        return Err(Error::MethodNotAllowed("POST, PUT"));
    }
    if !may_publish(x.req, x.shared.config.publish_token.as_deref()) {
        return Err(Error::Unauthorized);
    }
    let text = String::from_utf8(std::mem::take(&mut x.body)).map_err(|_| Error::NotText)?;
    let receipt = x.shared.hub.publish(topic, text)?;
    let body = line(json(&Receipt {
        id: receipt.id,
        topic,
        receivers: receipt.receivers,
    }));
    reply(x, "application/json", &body)
}

/// Whether the request may publish: no token is configured, or it carries
/// `Authorization: Bearer <token>`, compared in constant time so the time
/// taken does not tell how much of a guess was right.
fn may_publish(req: &Request, token: Option<&str>) -> bool {
    let Some(token) = token else {
        return true;
    };
    let given = req.header("Authorization").and_then(|value| {
        let (scheme, credentials) = value.trim().split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("Bearer")
            .then(|| credentials.trim())
    });
    given.is_some_and(|given| bool::from(given.as_bytes().ct_eq(token.as_bytes())))
}

/// The subscriber's cursor: `Last-Event-ID` (SSE only), else `?since=N`.
fn cursor(req: &Request, sse: bool) -> Result<Option<u64>> {
    const WHY: &str = "since and Last-Event-ID must be whole numbers from 0 to 9007199254740991";
    let header = if sse {
        req.header("Last-Event-ID")
            .map(str::trim)
            .filter(|v| !v.is_empty())
    } else {
        None
    };
    match header.or_else(|| req.query("since")) {
        None => Ok(None),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if n <= MAX_ID => Ok(Some(n)),
            _ => Err(Error::BadRequest(WHY)),
        },
    }
}

/// How a streamed subscription frames what it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// Server-Sent Events.
    Sse,
    /// One JSON object per line.
    Ndjson,
}

impl Framing {
    fn content_type(self) -> &'static str {
        match self {
            Framing::Sse => "text/event-stream",
            Framing::Ndjson => "application/x-ndjson",
        }
    }

    /// Writes one message as one chunk, from its shared encoding.
    fn write<W: io::Write>(self, body: &mut ChunkedWriter<W>, m: &Published) -> io::Result<()> {
        match self {
            Framing::Sse => body.chunk(sse_event(m)),
            Framing::Ndjson => body.chunk_parts(&[json_object(m).as_bytes(), b"\n"]),
        }
    }

    fn gap(self, topic: &str, gap: Gap) -> Vec<u8> {
        match self {
            Framing::Sse => Event::data(gap_json(topic, gap)).event("gap").encode(),
            Framing::Ndjson => line(gap_json(topic, gap)),
        }
    }

    fn keepalive(self) -> Vec<u8> {
        match self {
            Framing::Sse => crate::sse::encode_comment("keepalive"),
            Framing::Ndjson => line(json(&Keepalive {
                event: "keepalive",
                time: now_ms(),
            })),
        }
    }

    fn dropped(self, topic: &str, last_id: Option<u64>) -> Vec<u8> {
        let json = json(&Dropped {
            event: "error",
            topic,
            error: "subscriber too slow; resume with since=last_id",
            last_id,
        });
        match self {
            Framing::Sse => Event::data(json).event("error").encode(),
            Framing::Ndjson => line(json),
        }
    }
}

/// `GET /topics/{topic}/sse` and `/stream`: the gap, the replay, then live
/// messages, in one `select!` loop.
fn subscribe_stream(x: &mut Exchange, topic: &str, framing: Framing) -> Result<Outcome> {
    require_get(x.req)?;
    let since = cursor(x.req, framing == Framing::Sse)?;
    // Subscribing before the head goes out lets a 400 or 503 still be sent.
    let mut sub = x.shared.hub.subscribe(topic, since)?;
    let keepalive = tick(x.shared.config.stream_keepalive);
    let peer = x.peer;
    let mut live = match streaming::open(x, framing.content_type())? {
        Opened::Live(live) => live,
        Opened::HeadOnly(outcome) => return Ok(outcome),
    };
    let (closed, shutdown) = (live.closed().clone(), live.shutdown().clone());
    let body = &mut live.body;
    let mut last_id = since;
    let ended = (|| -> io::Result<End> {
        if let Some(gap) = sub.gap {
            body.chunk(&framing.gap(sub.topic(), gap))?;
        }
        // Each replayed message is let go once sent: one that has left the
        // history meanwhile is not held for the life of the stream.
        for m in std::mem::take(&mut sub.replay) {
            framing.write(body, &m)?;
            last_id = Some(m.id);
        }
        loop {
            select! {
                recv(sub.live) -> m => match m {
                    Ok(m) => {
                        framing.write(body, &m)?;
                        last_id = Some(m.id);
                    }
                    Err(_) => {
                        info!("{peer} topic {}: dropped, too slow", sub.topic());
                        body.chunk(&framing.dropped(sub.topic(), last_id))?;
                        return Ok(End::Done);
                    }
                },
                recv(keepalive) -> _ => body.chunk(&framing.keepalive())?,
                recv(closed) -> _ => return Ok(End::Gone),
                recv(shutdown) -> _ => return Ok(End::Done),
            }
        }
    })();
    drop(sub);
    Ok(live.finish(ended))
}

/// `GET /topics/{topic}/ws[?format=json][&since=N]`: the writer thread
/// drains the subscription; text from the client is published.
fn subscribe_ws(x: &mut Exchange, topic: &str) -> Result<Outcome> {
    let accepted = upgrade::check(x.req, &x.shared.config)?;
    let json = match x.req.query("format") {
        None | Some("text") => false,
        Some("json") => true,
        Some(_) => return Err(Error::BadRequest("format must be text or json")),
    };
    let since = cursor(x.req, false)?;
    let publisher = may_publish(x.req, x.shared.config.publish_token.as_deref());
    let mut sub = x.shared.hub.subscribe(topic, since)?;
    upgrade::switching_head(&accepted).write_to(x.out)?;
    x.gauge.set(Kind::Ws);
    let mut options = Options::from_config(&x.shared.config, &x.shared.metrics);
    options.push = Some(push_for(&mut sub, json));
    let leftover = x.inbound.take_all();
    let shutdown = x.shared.conns.shutdown_signal().clone();
    let (conn, incoming) = ws::start(Arc::clone(x.stream), leftover, x.peer, options, shutdown)?;
    // Once we refuse something, the close is on its way: later frames are
    // read (the close handshake needs it) but not acted on.
    let mut refused = false;
    for message in incoming {
        let refusal = match message {
            _ if refused => continue,
            Message::Text(text) if publisher => match x.shared.hub.publish(topic, text.to_string())
            {
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
    drop(sub);
    Ok(Outcome {
        status: 101,
        keep_alive: false,
    })
}

/// What a WebSocket subscriber's writer sends: bare text frames carry the
/// message alone (no room for a gap notice; use `format=json` to see ids
/// and gaps), JSON frames carry the NDJSON objects.
fn push_for(sub: &mut Subscription, json: bool) -> Push {
    let render: fn(&Published) -> Message = if json {
        |m| Message::Text(json_object(m).clone())
    } else {
        |m| Message::Text(m.data.clone())
    };
    Push {
        gap: sub
            .gap
            .filter(|_| json)
            .map(|gap| Message::text(gap_json(sub.topic(), gap))),
        replay: std::mem::take(&mut sub.replay),
        live: sub.live.clone(),
        render,
    }
}

/// The message's SSE event, encoded once for all subscribers.
fn sse_event(m: &Published) -> &[u8] {
    m.encoded
        .sse
        .get_or_init(|| Event::data(m.data.as_str()).id(m.id).encode().into())
}

/// The message's JSON object, encoded once for all subscribers.
fn json_object(m: &Published) -> &Utf8Bytes {
    m.encoded.json.get_or_init(|| message_json(m).into())
}

/// `{"id":7,"topic":"news","receivers":3}`: the answer to a publish.
#[derive(Serialize)]
struct Receipt<'a> {
    id: u64,
    topic: &'a str,
    receivers: usize,
}

/// `{"event":"message","id":7,"topic":"news","time":1763755200000,"data":"hello"}`
#[derive(Serialize)]
struct MessageEvent<'a> {
    event: &'static str,
    id: u64,
    topic: &'a str,
    time: u64,
    data: &'a str,
}

/// `{"event":"gap","topic":"news","from":3,"to":7}`; `to` is null when the
/// cursor was beyond the last id.
#[derive(Serialize)]
struct GapEvent<'a> {
    event: &'static str,
    topic: &'a str,
    from: u64,
    to: Option<u64>,
}

/// `{"event":"keepalive","time":1763755200000}`
#[derive(Serialize)]
struct Keepalive {
    event: &'static str,
    time: u64,
}

/// `{"event":"error","topic":"news","error":"…","last_id":7}`
#[derive(Serialize)]
struct Dropped<'a> {
    event: &'static str,
    topic: &'a str,
    error: &'static str,
    last_id: Option<u64>,
}

fn message_json(m: &Published) -> String {
    json(&MessageEvent {
        event: "message",
        id: m.id,
        topic: &m.topic,
        time: m.time_ms,
        data: m.data.as_str(),
    })
}

fn gap_json(topic: &str, gap: Gap) -> String {
    json(&GapEvent {
        event: "gap",
        topic,
        from: gap.from,
        to: gap.to,
    })
}

/// One JSON object on one line (serde_json escapes every newline in strings).
fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("these structs always serialize")
}

fn line(mut json: String) -> Vec<u8> {
    json.push('\n');
    json.into_bytes()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published(data: &str) -> Published {
        Published {
            id: 7,
            topic: "news".into(),
            time_ms: 1_763_755_200_000,
            data: Utf8Bytes::from(data.to_string()),
            encoded: Default::default(),
        }
    }

    #[test]
    fn message_framings() {
        let m = published("a \"quote\"\nline two");
        let sent = |framing: Framing| {
            let mut out = Vec::new();
            let mut body = ChunkedWriter::new(&mut out, false);
            framing.write(&mut body, &m).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            sent(Framing::Sse),
            "id: 7\ndata: a \"quote\"\ndata: line two\n\n"
        );
        assert_eq!(
            sent(Framing::Ndjson),
            "{\"event\":\"message\",\"id\":7,\"topic\":\"news\",\"time\":1763755200000,\"data\":\"a \\\"quote\\\"\\nline two\"}\n"
        );
        // Encoded once, then shared.
        assert!(m.encoded.sse.get().is_some() && m.encoded.json.get().is_some());
    }

    #[test]
    fn gap_framings() {
        let gap = Gap {
            from: 3,
            to: Some(7),
        };
        assert_eq!(
            Framing::Sse.gap("news", gap),
            b"event: gap\ndata: {\"event\":\"gap\",\"topic\":\"news\",\"from\":3,\"to\":7}\n\n"
        );
        let open = Gap {
            from: 501,
            to: None,
        };
        assert_eq!(
            Framing::Ndjson.gap("t", open),
            b"{\"event\":\"gap\",\"topic\":\"t\",\"from\":501,\"to\":null}\n"
        );
    }

    #[test]
    fn token_check() {
        let req = |auth: Option<&str>| Request {
            method: "POST".into(),
            target: "/topics/t".into(),
            minor_version: 1,
            headers: auth
                .map(|a| vec![("Authorization".to_string(), a.to_string())])
                .unwrap_or_default(),
        };
        assert!(may_publish(&req(None), None));
        assert!(!may_publish(&req(None), Some("s3cret")));
        assert!(may_publish(&req(Some("Bearer s3cret")), Some("s3cret")));
        assert!(may_publish(&req(Some("bearer  s3cret ")), Some("s3cret")));
        assert!(!may_publish(&req(Some("Bearer s3cre")), Some("s3cret")));
        assert!(!may_publish(&req(Some("Basic s3cret")), Some("s3cret")));
    }
}
