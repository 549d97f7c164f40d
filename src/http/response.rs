//! Response heads and fixed-length bodies.
//!
//! A response head is a status line, header lines and a blank line:
//!
//! ```text
//! HTTP/1.1 200 OK\r\n
//! Content-Type: text/plain; charset=utf-8\r\n
//! Content-Length: 3\r\n
//! \r\n
//! ok\n
//! ```
//!
//! A body has either a `Content-Length` or, for streams, `Transfer-Encoding:
//! chunked` (see `chunked.rs`); over HTTP/1.0 a stream has neither and ends
//! when the connection closes. The status line always says HTTP/1.1, the
//! highest version we speak, as RFC 9110 asks.

use std::io::{self, Write};

/// The reason phrase for the status codes this server sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// One header line: its name and value.
pub type Header = (&'static str, String);

/// A status line and headers, built up and then written in one go.
#[derive(Debug, Clone)]
pub struct Head {
    status: u16,
    headers: Vec<Header>,
}

impl Head {
    /// A head with this status and no headers yet.
    pub fn new(status: u16) -> Self {
        Head {
            status,
            headers: Vec::with_capacity(6),
        }
    }

    /// Adds a header line.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Adds header lines carried from elsewhere (an exchange's CORS headers).
    pub fn headers(mut self, extra: &[Header]) -> Self {
        self.headers.extend_from_slice(extra);
        self
    }

    /// Adds the `Connection` header that tells the client whether this
    /// connection carries another request: HTTP/1.1 keeps it open unless told
    /// `close`; HTTP/1.0 closes it unless told `keep-alive`.
    pub fn connection(self, keep_alive: bool, http11: bool) -> Self {
        match (keep_alive, http11) {
            (true, true) => self,
            (true, false) => self.header("Connection", "keep-alive"),
            (false, _) => self.header("Connection", "close"),
        }
    }

    /// The exact bytes of the head, blank line included.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(
            format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status)).as_bytes(),
        );
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    /// Writes the head and flushes it.
    pub fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        w.write_all(&self.encode())?;
        w.flush()
    }

    /// Writes the head with `Content-Length` and the body in one write (the
    /// body left out for HEAD requests, the length kept).
    pub fn write_with_body(
        self,
        w: &mut impl Write,
        body: &[u8],
        head_only: bool,
    ) -> io::Result<()> {
        let mut out = self
            .header("Content-Length", body.len().to_string())
            .encode();
        if !head_only {
            out.extend_from_slice(body);
        }
        w.write_all(&out)?;
        w.flush()
    }
}

/// A `text/plain` head, the type of every short reply and error body.
pub fn text_head(status: u16) -> Head {
    Head::new(status).header("Content-Type", "text/plain; charset=utf-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_response_bytes() {
        let mut out = Vec::new();
        text_head(200)
            .connection(true, true)
            .write_with_body(&mut out, b"ok\n", false)
            .unwrap();
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n\r\nok\n"
        );
    }

    #[test]
    fn head_request_keeps_length_drops_body() {
        let mut out = Vec::new();
        Head::new(200)
            .write_with_body(&mut out, b"hello", true)
            .unwrap();
        assert_eq!(out, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
    }

    #[test]
    fn connection_header_by_version() {
        let h = |ka, v11| String::from_utf8(Head::new(200).connection(ka, v11).encode()).unwrap();
        assert!(!h(true, true).contains("Connection"));
        assert!(h(true, false).contains("Connection: keep-alive\r\n"));
        assert!(h(false, true).contains("Connection: close\r\n"));
    }
}
