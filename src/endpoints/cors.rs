//! Browsers on other origins (CORS, the Fetch standard): with
//! `--cors-origin https://app.example` (repeatable, or `*`), a page from
//! that origin may publish and subscribe with `fetch` and `EventSource`.
//!
//! Before a `POST` with `Authorization` or a JSON body, the browser asks
//! first, with a preflight:
//!
//! ```text
//! OPTIONS /topics/news HTTP/1.1\r\n
//! Host: push.example\r\n
//! Origin: https://app.example\r\n
//! Access-Control-Request-Method: POST\r\n
//! Access-Control-Request-Headers: authorization, content-type\r\n
//! \r\n
//!
//! HTTP/1.1 204 No Content\r\n
//! Vary: Origin\r\n
//! Access-Control-Allow-Origin: https://app.example\r\n
//! Access-Control-Allow-Methods: POST, PUT, OPTIONS\r\n
//! Access-Control-Allow-Headers: Authorization, Content-Type, Last-Event-ID\r\n
//! Access-Control-Max-Age: 600\r\n
//! \r\n
//! ```
//!
//! and then every answer to that page's requests, the errors too (a 401, a
//! 429: the page can read why), carries
//!
//! ```text
//! Vary: Origin\r\n
//! Access-Control-Allow-Origin: https://app.example\r\n
//! Access-Control-Expose-Headers: Retry-After, WWW-Authenticate\r\n
//! ```
//!
//! The headers ride on the exchange (`Exchange::extra_headers`), which
//! `reply`, the stream heads and `write_error` add: set once here
//! ([`add_headers`], from `connection::respond` before the per-request
//! limit), on every answer, whichever handler writes it. The allowed
//! origin is echoed (`*` when `*` is configured). `Vary: Origin` goes on
//! every topics answer when a list without `*` is configured, since the answer depends
//! on the `Origin`: a cache must not hand one origin's answer to another.
//!
//! An origin not listed gets no CORS headers, and its preflight a 403 with
//! the reason: the browser refuses either way, and a 403 says so in the
//! access log and the developer tools, where a 204 without allow headers
//! would look like success. Without `--cors-origin`, nothing here applies:
//! no CORS headers, and `OPTIONS` gets the 405 it always got. A WebSocket
//! is not CORS: its handshake checks `Origin` against the same list
//! (`ws/handshake.rs`).
//!
//! Answers without them: an error found while the request is still being
//! read (400, 408, 411, 413, 431: the connection closes, and nothing past
//! the framing is trusted), and the 429 or 503 at accept, before any byte
//! of a request is read. A browser shows these as network errors.
//!
//! A listed origin may publish with a plain `POST`; an origin neither
//! listed nor the server's own gets 403 (`http/origin.rs`), since a form
//! or a `text/plain` fetch needs no preflight.
//!
//! Left out: `Access-Control-Allow-Credentials` (tokens travel in a
//! header or the query, never in cookies), and CORS on paths other than
//! `/topics/`.

use crate::error::{Error, Result};
use crate::http::exchange::{Exchange, Outcome};
use crate::http::origin;
use crate::http::request::Request;
use crate::http::response::{Head, Header};

/// The methods a preflight for a publish path allows.
pub const PUBLISH_METHODS: &str = "POST, PUT, OPTIONS";
/// The methods a preflight for a subscription path allows.
pub const SUBSCRIBE_METHODS: &str = "GET, HEAD, OPTIONS";
/// The request headers a page may send.
const ALLOW_HEADERS: &str = "Authorization, Content-Type, Last-Event-ID";
/// The response headers past the safe few that a page may read.
const EXPOSE_HEADERS: &str = "Retry-After, WWW-Authenticate";
/// How long a browser may keep a preflight's answer: a change of the list
/// reaches every browser within ten minutes.
const MAX_AGE_SECS: &str = "600";

/// Puts the CORS headers on the exchange of a `/topics/` request, before
/// anything may answer it (the per-request 429 of a proxied client too).
pub fn add_headers(x: &mut Exchange) {
    let listed = &x.shared.config.access.cors_origins;
    if listed.is_empty() || !x.req.path().starts_with("/topics/") {
        return;
    }
    let allowed = allowed_origin(x.req, listed);
    x.extra_headers.extend(headers(listed, allowed.as_deref()));
}

/// Answers a preflight: `Some` when the request was one (204), `None` when
/// the handler goes on. `methods` is what the path allows.
///
/// # Errors
/// 403 for the preflight of an origin not listed.
pub fn preflight(x: &mut Exchange, methods: &'static str) -> Result<Option<Outcome>> {
    let listed = &x.shared.config.access.cors_origins;
    if listed.is_empty() || !is_preflight(x.req) {
        return Ok(None);
    }
    if allowed_origin(x.req, listed).is_none() {
        return Err(Error::Forbidden("origin not allowed by --cors-origin"));
    }
    // The answer to a preflight is for the browser, not for the page: the
    // expose list means nothing there.
    x.extra_headers
        .retain(|(name, _)| *name != "Access-Control-Expose-Headers");
    let head = Head::new(204)
        .headers(&x.extra_headers)
        .header("Access-Control-Allow-Methods", methods)
        .header("Access-Control-Allow-Headers", ALLOW_HEADERS)
        .header("Access-Control-Max-Age", MAX_AGE_SECS);
    head.connection(x.keep_alive, x.req.is_http11())
        .write_to(x.out)?;
    Ok(Some(Outcome {
        status: 204,
        keep_alive: x.keep_alive,
    }))
}

/// The `Access-Control-Allow-Origin` value for this request: its own
/// `Origin` when listed, `*` when `*` is, else none.
fn allowed_origin(req: &Request, listed: &[String]) -> Option<String> {
    if listed.iter().any(|o| o == "*") {
        return Some("*".to_string());
    }
    let page = req.header("Origin")?.trim();
    origin::is_listed(page, listed).then(|| page.to_string())
}

/// The headers every answer carries, given what was allowed.
fn headers(listed: &[String], allowed: Option<&str>) -> Vec<Header> {
    let mut out = Vec::with_capacity(3);
    if !listed.iter().any(|o| o == "*") {
        out.push(("Vary", "Origin".to_string()));
    }
    if let Some(origin) = allowed {
        out.push(("Access-Control-Allow-Origin", origin.to_string()));
        out.push(("Access-Control-Expose-Headers", EXPOSE_HEADERS.to_string()));
    }
    out
}

/// An `OPTIONS` from a browser asking before a request: it names the
/// origin and the method it means to use.
fn is_preflight(req: &Request) -> bool {
    req.method == "OPTIONS"
        && req.header("Origin").is_some()
        && req.header("Access-Control-Request-Method").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(origin: Option<&str>) -> Request {
        Request {
            method: "GET".into(),
            target: "/topics/t/sse".into(),
            minor_version: 1,
            headers: origin
                .map(|o| vec![("Origin".to_string(), o.to_string())])
                .unwrap_or_default(),
        }
    }

    #[test]
    fn echoes_a_listed_origin_only() {
        let listed = vec!["https://app.example/".to_string()];
        let req = request(Some("https://APP.example"));
        assert_eq!(
            allowed_origin(&req, &listed).as_deref(),
            Some("https://APP.example")
        );
        assert_eq!(
            allowed_origin(&request(Some("https://evil.example")), &listed),
            None
        );
        assert_eq!(allowed_origin(&request(None), &listed), None);
        let any = vec!["*".to_string()];
        assert_eq!(allowed_origin(&request(None), &any).as_deref(), Some("*"));
    }

    #[test]
    fn vary_unless_any_origin() {
        let listed = vec!["https://app.example".to_string()];
        assert_eq!(headers(&listed, None), vec![("Vary", "Origin".to_string())]);
        let any = headers(&["*".to_string()], Some("*"));
        assert_eq!(any[0], ("Access-Control-Allow-Origin", "*".to_string()));
        assert_eq!(any.len(), 2);
    }
}
