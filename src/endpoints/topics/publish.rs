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
//! With `--publish-token`, publishing needs `Authorization: Bearer TOKEN`
//! (401 without it). The body must be UTF-8 text (415). One topic at a
//! time: `POST /topics/a,b` is a 400. Past `--publish-rate`: 429.

use subtle::ConstantTimeEq;

use super::wire::{Receipt, json, line};
use crate::error::{Error, Result};
use crate::http::exchange::{Exchange, Outcome, reply};
use crate::http::request::Request;
use crate::hub::Hub;

/// Publishes the request body to `topic`.
pub fn publish(x: &mut Exchange, hub: &Hub, topic: &str) -> Result<Outcome> {
    if !matches!(x.req.method.as_str(), "POST" | "PUT") {
        return Err(Error::MethodNotAllowed("POST, PUT"));
    }
    if topic.contains(',') {
        return Err(Error::BadRequest("publish to one topic at a time"));
    }
    if !may_publish(x.req, x.shared.config.access.publish_token.as_deref()) {
        return Err(Error::Unauthorized);
    }
    let text = String::from_utf8(std::mem::take(&mut x.body)).map_err(|_| Error::NotText)?;
    // Past --publish-rate: 429 with Retry-After (`limits/`).
    x.shared.limits.publish(x.client)?;
    let receipt = hub.publish(topic, text)?;
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
pub fn may_publish(req: &Request, token: Option<&str>) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

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
