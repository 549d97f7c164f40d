//! `POST` or `PUT /topics/{topic}`: the body is the message.
//!
//! ```text
//! POST /topics/news HTTP/1.1\r\n          HTTP/1.1 200 OK\r\n
//! Host: t\r\n                             Content-Type: application/json\r\n
//! Content-Length: 5\r\n                   Content-Length: 38\r\n
//! \r\n                                    \r\n
//! hello                                   {"id":7,"topic":"news","receivers":3}\n
//! ```
//!
//! A browser page of another origin that `--cors-origin` does not list
//! gets 403 "origin not allowed" (`http/origin.rs`); a request without
//! `Origin` (curl, a server) is not checked. Who may publish is
//! `crate::access`'s to say (401 without a needed token, 403 for a token
//! without the topic). The body must be UTF-8 text (415). One topic at a
//! time: `POST /topics/a,b` is a 400. Past `--publish-rate`: 429 with
//! Retry-After.

use super::wire::{Receipt, json, line};
use crate::access::Action;
use crate::endpoints::App;
use crate::error::{Error, Result};
use crate::http::exchange::{Exchange, Outcome, reply};
use crate::http::origin;
use crate::hub::{BAD_TOPIC, valid_topic};

/// Publishes the request body to `topic`.
pub fn publish(x: &mut Exchange, app: &App, topic: &str) -> Result<Outcome> {
    if !matches!(x.req.method.as_str(), "POST" | "PUT") {
        return Err(Error::MethodNotAllowed("POST, PUT"));
    }
    // A form or a `text/plain` fetch from any page reaches here without
    // a preflight: only this server's pages and listed origins may publish.
    origin::check(x.req, &x.shared.config.access.cors_origins)?;
    if topic.contains(',') {
        return Err(Error::BadRequest("publish to one topic at a time"));
    }
    if !valid_topic(topic) {
        return Err(BAD_TOPIC);
    }
    app.access.check(x.req, Action::Publish, &[topic])?;
    // Past --publish-rate: 429 with Retry-After (`limits/`).
    x.shared.limits.publish(x.client)?;
    // Only now, everything else decided, may a client that asked first
    // send its body (`http/expect.rs`).
    let text = String::from_utf8(x.body()?).map_err(|_| Error::NotText)?;
    let receipt = app.hub.publish(topic, text)?;
    let body = line(json(&Receipt {
        id: receipt.id,
        topic,
        receivers: receipt.receivers,
    }));
    reply(x, "application/json", &body)
}
