//! A request head, parsed by `httparse`, and what handlers ask of it.
//!
//! A request head is a request line, header lines and a blank line:
//!
//! ```text
//! GET /stream?count=3 HTTP/1.1\r\n
//! Host: 127.0.0.1:8080\r\n
//! \r\n
//! ```
//!
//! Refused here: a target that is not a path (`GET http://host/`, `*`), an
//! HTTP/1.1 request without `Host`, a version other than 1.0 or 1.1. Not
//! supported: absolute-form targets (this is not a proxy), `OPTIONS *`.

use crate::config::HttpConfig;
use crate::error::{Error, Result};

/// A parsed request head.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target as sent: path and optional `?query`.
    pub target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// Header names and values in order; values that are not UTF-8 are
    /// replaced lossily (no header we read may contain such bytes).
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The path part of the target, before any `?`.
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    /// The value of query parameter `name`, taken as is: the caller decodes
    /// percent escapes where a value may carry them (`since`, in
    /// `endpoints/topics/since.rs`); the others are numbers or plain words.
    pub fn query(&self, name: &str) -> Option<&str> {
        let (_, query) = self.target.split_once('?')?;
        query
            .split('&')
            .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header called `name` (case-insensitive), in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether a comma-separated header such as `Connection` lists `token`.
    pub fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.headers_named(name)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// True for HTTP/1.1, which has chunked coding and keep-alive by default.
    pub fn is_http11(&self) -> bool {
        self.minor_version == 1
    }

    /// Whether the client wants the connection kept open after the response.
    pub fn wants_keep_alive(&self) -> bool {
        if self.is_http11() {
            !self.header_has_token("Connection", "close")
        } else {
            self.header_has_token("Connection", "keep-alive")
        }
    }

    /// True for HEAD, whose response has a head and no body.
    pub fn is_head(&self) -> bool {
        self.method == "HEAD"
    }
}

/// Parses a complete head at the start of `buf`, or `None` if more bytes are
/// needed. Returns the request and the head's length in bytes.
pub fn parse_head(buf: &[u8], config: &HttpConfig) -> Result<Option<(Request, usize)>> {
    let mut headers = vec![httparse::EMPTY_HEADER; config.max_headers];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Error::TooManyHeaders(config.max_headers));
        }
        Err(httparse::Error::Version) => return Err(Error::VersionNotSupported),
        Err(_) => return Err(Error::BadRequest("malformed request head")),
    };
    let request = Request {
        method: req.method.unwrap_or_default().to_string(),
        target: req.path.unwrap_or_default().to_string(),
        minor_version: req.version.unwrap_or(1),
        headers: req
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_string(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect(),
    };
    if !request.target.starts_with('/') {
        // Absolute-form (`GET http://host/`) is for proxies, `*` for OPTIONS.
        return Err(Error::BadRequest("request target must start with /"));
    }
    if request.is_http11() && request.header("Host").is_none() {
        return Err(Error::BadRequest("HTTP/1.1 request without Host"));
    }
    Ok(Some((request, len)))
}

/// A GET of `target` with one header line when given: for unit tests.
#[cfg(test)]
pub fn test_get(target: &str, header: Option<(&str, &str)>) -> Request {
    Request {
        method: "GET".into(),
        target: target.into(),
        minor_version: 1,
        headers: header
            .map(|(name, value)| vec![(name.to_string(), value.to_string())])
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> Result<Option<(Request, usize)>> {
        parse_head(raw, &crate::Config::default().http)
    }

    #[test]
    fn parses_target_and_headers() {
        let raw = b"GET /stream?count=3&x HTTP/1.1\r\nHost: t\r\nConnection: Keep-Alive, Upgrade\r\n\r\nrest";
        let (req, len) = parse(raw).unwrap().unwrap();
        assert_eq!(len, raw.len() - 4);
        assert_eq!(req.path(), "/stream");
        assert_eq!(req.query("count"), Some("3"));
        assert_eq!(req.query("x"), Some(""));
        assert_eq!(req.query("y"), None);
        assert!(req.header_has_token("connection", "upgrade"));
        assert!(req.wants_keep_alive());
    }

    #[test]
    fn partial_head_needs_more() {
        assert!(parse(b"GET / HTTP/1.1\r\nHost: t\r\n").unwrap().is_none());
    }

    #[test]
    fn http10_closes_unless_asked() {
        let (req, _) = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(!req.wants_keep_alive());
        let (req, _) = parse(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(req.wants_keep_alive());
    }

    #[test]
    fn rejects_bad_heads() {
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\n\r\n"),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            parse(b"G@T / HTTP/1.1\r\n\r\n"),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            parse(b"GET / HTTP/2.0\r\n\r\n"),
            Err(Error::VersionNotSupported)
        ));
        assert!(matches!(
            parse(b"GET http://x/ HTTP/1.0\r\n\r\n"),
            Err(Error::BadRequest(_))
        ));
    }
}
