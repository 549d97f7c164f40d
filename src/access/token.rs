//! Where a request's token comes from, and how it is kept out of the log.
//!
//! Two places, because EventSource and a browser's WebSocket cannot set
//! headers:
//!
//! ```text
//! POST /topics/news HTTP/1.1\r\n
//! Authorization: Bearer s3cret\r\n             the header (RFC 6750, section 2.1)
//!
//! GET /topics/news/sse?token=s3cret HTTP/1.1   the query (section 2.3), percent-decoded
//! ```
//!
//! A `Bearer` header wins: with one, `?token=` is not read. Another scheme
//! (`Basic …`) is not a token here, so the query is read then. An empty
//! token is no token.
//!
//! The query form puts the secret in the request target, which the access
//! log writes; [`redacted`] is the target as logged:
//!
//! ```text
//! /topics/news/sse?since=4&token=s3cret   →   /topics/news/sse?since=4&token=REDACTED
//! ```

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

use crate::http::request::Request;

/// What the log writes in place of a token's value.
pub const REDACTED: &str = "REDACTED";

/// The token the request carries, if any.
pub fn presented(req: &Request) -> Option<Cow<'_, str>> {
    if let Some(token) = req.headers_named("Authorization").find_map(bearer) {
        return Some(Cow::Borrowed(token));
    }
    let raw = req.query("token")?;
    let token = percent_decode_str(raw).decode_utf8().ok()?;
    (!token.is_empty()).then_some(token)
}

/// The credentials of `Bearer <token>` (the scheme in any case).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, credentials) = value.trim().split_once(' ')?;
    let token = credentials.trim();
    (scheme.eq_ignore_ascii_case("Bearer") && !token.is_empty()).then_some(token)
}

/// `target` with the value of every `token` query parameter replaced by
/// [`REDACTED`]. The name is compared after percent-decoding and without
/// regard to case, so `%74oken=` and `TOKEN=` are hidden too, though only
/// `token=` is read as one.
pub fn redacted(target: &str) -> Cow<'_, str> {
    let Some((path, query)) = target.split_once('?') else {
        return Cow::Borrowed(target);
    };
    let secret = |pair: &&str| pair.split_once('=').is_some_and(|(name, _)| is_token(name));
    if !query.split('&').any(|pair| secret(&pair)) {
        return Cow::Borrowed(target);
    }
    let pairs: Vec<Cow<str>> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_token(name) => Cow::Owned(format!("{name}={REDACTED}")),
            _ => Cow::Borrowed(pair),
        })
        .collect();
    Cow::Owned(format!("{path}?{}", pairs.join("&")))
}

/// Whether a query parameter's name, as sent, is `token`.
fn is_token(name: &str) -> bool {
    let decoded = percent_decode_str(name).decode_utf8_lossy();
    decoded.eq_ignore_ascii_case("token")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(target: &str, auth: Option<&str>) -> Request {
        crate::http::request::test_get(target, auth.map(|a| ("Authorization", a)))
    }

    fn token(target: &str, auth: Option<&str>) -> Option<String> {
        presented(&req(target, auth)).map(Cow::into_owned)
    }

    #[test]
    fn from_the_bearer_header() {
        assert_eq!(token("/t", Some("Bearer s3cret")), Some("s3cret".into()));
        assert_eq!(token("/t", Some("bearer  s3cret ")), Some("s3cret".into()));
        assert_eq!(token("/t", Some("Basic s3cret")), None);
        assert_eq!(token("/t", Some("s3cret")), None);
        assert_eq!(token("/t", Some("Bearer ")), None);
        assert_eq!(token("/t", None), None);
    }

    #[test]
    fn from_the_query_percent_decoded() {
        assert_eq!(token("/t?token=s3cret", None), Some("s3cret".into()));
        assert_eq!(token("/t?since=1&token=a%2Bb", None), Some("a+b".into()));
        assert_eq!(token("/t?token=", None), None);
        assert_eq!(token("/t?token=%FF", None), None);
        assert_eq!(token("/t?tokens=x", None), None);
    }

    #[test]
    fn the_header_wins_over_the_query() {
        let t = token("/t?token=query", Some("Bearer header"));
        assert_eq!(t, Some("header".into()));
        let t = token("/t?token=query", Some("Basic xyz"));
        assert_eq!(t, Some("query".into()));
    }

    #[test]
    fn every_token_parameter_is_redacted() {
        assert_eq!(redacted("/topics/a/sse"), "/topics/a/sse");
        assert_eq!(redacted("/topics/a/sse?since=4"), "/topics/a/sse?since=4");
        assert_eq!(
            redacted("/topics/a/sse?since=4&token=s3cret"),
            "/topics/a/sse?since=4&token=REDACTED"
        );
        assert_eq!(
            redacted("/t?token=a&x=1&token=b&%74oken=c&TOKEN=d&token"),
            "/t?token=REDACTED&x=1&token=REDACTED&%74oken=REDACTED&TOKEN=REDACTED&token"
        );
        assert!(matches!(redacted("/t?tokens=x"), Cow::Borrowed(_)));
    }
}
