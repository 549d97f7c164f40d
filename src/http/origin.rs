//! Whether a browser page may act on this server: its `Origin` is this
//! server's own, or one `--cors-origin` lists.
//!
//! A browser names the page behind every cross-site request, every
//! `POST`, and every WebSocket handshake:
//!
//! ```text
//! POST /topics/news HTTP/1.1\r\n
//! Host: push.example:8080\r\n
//! Origin: http://push.example:8080\r\n      same origin: allowed
//! Origin: https://app.example\r\n           allowed if listed (or '*' is)
//! Origin: https://evil.example\r\n          403
//! ```
//!
//! Same origin means the origin's host and port equal `Host`, the default
//! port (80, 443) written or not. The scheme is not compared: behind a TLS
//! proxy the server never sees it, and a proxy that keeps `Host` (nginx's
//! `proxy_set_header Host $http_host`, Caddy by default) keeps the page
//! same-origin. No `Origin` at all (curl, another server) is not a browser
//! page acting for someone else, and passes.
//!
//! The WebSocket handshake (`ws/handshake.rs`) and publishing
//! (`endpoints/topics/publish.rs`) ask here: a browser lets any page open a
//! WebSocket, or send a form or a `text/plain` `fetch` without a
//! preflight, to any host.

use super::request::Request;
use crate::error::{Error, Result};

/// Refuses a request from a page of another origin that `listed` does not
/// hold; a request without `Origin` passes.
///
/// # Errors
/// 403 "origin not allowed".
pub fn check(req: &Request, listed: &[String]) -> Result<()> {
    let host = req.header("Host").unwrap_or("");
    match req.header("Origin") {
        Some(page) if !allowed(page, host, listed) => Err(Error::Forbidden("origin not allowed")),
        _ => Ok(()),
    }
}

/// Whether a request from the page `origin` may be answered, given its
/// `Host` and the `--cors-origin` list.
pub fn allowed(origin: &str, host: &str, listed: &[String]) -> bool {
    is_listed(origin, listed) || is_same(origin, host)
}

/// Whether `listed` holds `origin` (case aside, a trailing `/` aside), or `*`.
pub fn is_listed(origin: &str, listed: &[String]) -> bool {
    let origin = origin.trim().trim_end_matches('/');
    listed
        .iter()
        .any(|o| o == "*" || o.trim_end_matches('/').eq_ignore_ascii_case(origin))
}

/// Whether `origin`'s host and port are `host`'s.
fn is_same(origin: &str, host: &str) -> bool {
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    let (authority, default_port) = if let Some(rest) = origin.strip_prefix("http://") {
        (rest, ":80")
    } else if let Some(rest) = origin.strip_prefix("https://") {
        (rest, ":443")
    } else {
        // `null` (a sandboxed frame, a `data:` page) is nobody's origin.
        return false;
    };
    let host = host.trim().to_ascii_lowercase();
    let bare = |a: &str| a.strip_suffix(default_port).unwrap_or(a).to_string();
    !authority.is_empty() && bare(authority) == bare(&host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_host_and_port_with_or_without_the_default_port() {
        assert!(allowed("http://127.0.0.1:8080", "127.0.0.1:8080", &[]));
        assert!(allowed("http://Example.com", "example.com:80", &[]));
        assert!(allowed("https://example.com", "example.com", &[]));
        assert!(allowed("https://example.com:443", "example.com", &[]));
        assert!(!allowed("http://evil.example", "127.0.0.1:8080", &[]));
        assert!(!allowed("http://127.0.0.1:9999", "127.0.0.1:8080", &[]));
        assert!(!allowed("http://example.com:8080", "example.com:80", &[]));
        assert!(!allowed("null", "127.0.0.1:8080", &[]));
        assert!(!allowed("http://", "", &[]));
    }

    #[test]
    fn listed_origins_and_star() {
        let listed = vec!["https://app.example".to_string()];
        assert!(allowed("https://app.example/", "127.0.0.1:8080", &listed));
        assert!(allowed("https://APP.example", "t", &listed));
        assert!(!allowed("https://evil.example", "t", &listed));
        assert!(allowed("null", "x", &["*".to_string()]));
    }
}
