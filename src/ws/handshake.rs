//! The WebSocket handshake (RFC 6455, section 4): checking an upgrade
//! request we already parsed, and the `101 Switching Protocols` reply.
//!
//! The client asks, on an ordinary HTTP/1.1 GET:
//!
//! ```text
//! GET /echo HTTP/1.1\r\n
//! Host: 127.0.0.1:8080\r\n
//! Upgrade: websocket\r\n
//! Connection: Upgrade\r\n
//! Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n
//! Sec-WebSocket-Version: 13\r\n
//! \r\n
//! ```
//!
//! and the server agrees:
//!
//! ```text
//! HTTP/1.1 101 Switching Protocols\r\n
//! Upgrade: websocket\r\n
//! Connection: Upgrade\r\n
//! Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n
//! \r\n
//! ```
//!
//! The accept key is base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")):
//! proof that this server read this request, so a cached or forged reply
//! cannot pass for one. After the blank line both sides speak frames.
//!
//! Refusals: a malformed upgrade gets 400; a version other than 13 gets 426
//! with `Sec-WebSocket-Version: 13`; a browser page from another origin gets
//! 403 (`http/origin.rs`), because a browser lets any page open a WebSocket
//! to any host, with the user's cookies. Not supported: extensions (permessage-deflate).

use tungstenite::handshake::derive_accept_key;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::http::body::{self, Framing};
use crate::http::origin;
use crate::http::request::Request;
use crate::http::response::Head;

/// What the handshake agreed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The `Sec-WebSocket-Accept` value.
    pub accept_key: String,
    /// The subprotocol chosen, if the client offered one we speak.
    pub protocol: Option<String>,
}

/// Checks an upgrade request.
///
/// # Errors
/// 405 for a method other than GET, 400 for a malformed upgrade (one
/// with a body included), 426 for a
/// version other than 13, 403 for an origin not allowed.
pub fn check(req: &Request, config: &Config) -> Result<Accepted> {
    if req.method != "GET" {
        return Err(Error::MethodNotAllowed("GET"));
    }
    if !req.is_http11() {
        return Err(Error::BadRequest("WebSocket needs HTTP/1.1"));
    }
    if !req.header_has_token("Upgrade", "websocket") {
        return Err(Error::BadRequest("expected Upgrade: websocket"));
    }
    if !req.header_has_token("Connection", "upgrade") {
        return Err(Error::BadRequest("expected Connection: Upgrade"));
    }
    // What follows the head is frames: a body there could never be read as
    // one. The framing as `connection.rs` decided it.
    if body::framing(req, &config.http)? != Framing::Empty {
        return Err(Error::BadRequest("a WebSocket handshake has no body"));
    }
    if req.header("Sec-WebSocket-Version").map(str::trim) != Some("13") {
        return Err(Error::UpgradeRequired);
    }
    let key = req.header("Sec-WebSocket-Key").map(str::trim).unwrap_or("");
    if !is_valid_key(key) {
        return Err(Error::BadRequest(
            "Sec-WebSocket-Key must be base64 of 16 bytes",
        ));
    }
    origin::check(req, &config.access.cors_origins)?;
    Ok(Accepted {
        accept_key: derive_accept_key(key.as_bytes()),
        protocol: choose_protocol(req, &config.ws.protocols),
    })
}

/// The `101 Switching Protocols` head.
pub fn switching_head(accepted: &Accepted) -> Head {
    let mut head = Head::new(101)
        .header("Upgrade", "websocket")
        .header("Connection", "Upgrade")
        .header("Sec-WebSocket-Accept", accepted.accept_key.clone());
    if let Some(protocol) = &accepted.protocol {
        head = head.header("Sec-WebSocket-Protocol", protocol.clone());
    }
    head
}

fn is_valid_key(key: &str) -> bool {
    matches!(data_encoding::BASE64.decode(key.as_bytes()), Ok(bytes) if bytes.len() == 16)
}

/// The first protocol the client offers that we speak.
fn choose_protocol(req: &Request, ours: &[String]) -> Option<String> {
    req.headers_named("Sec-WebSocket-Protocol")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find(|offered| ours.iter().any(|p| p == offered))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upgrade(extra: &[(&str, &str)]) -> Request {
        let mut headers = vec![
            ("Host".to_string(), "127.0.0.1:8080".to_string()),
            ("Upgrade".into(), "websocket".into()),
            ("Connection".into(), "keep-alive, Upgrade".into()),
            (
                "Sec-WebSocket-Key".into(),
                "dGhlIHNhbXBsZSBub25jZQ==".into(),
            ),
            ("Sec-WebSocket-Version".into(), "13".into()),
        ];
        for (k, v) in extra {
            headers.retain(|(name, _)| !name.eq_ignore_ascii_case(k));
            headers.push((k.to_string(), v.to_string()));
        }
        Request {
            method: "GET".into(),
            target: "/echo".into(),
            minor_version: 1,
            headers,
        }
    }

    #[test]
    fn rfc_6455_sample_key() {
        let accepted = check(&upgrade(&[]), &crate::Config::default()).unwrap();
        assert_eq!(accepted.accept_key, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(
            switching_head(&accepted).encode(),
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        );
    }

    #[test]
    fn refusals() {
        let c = crate::Config::default();
        assert!(matches!(
            check(&upgrade(&[("Sec-WebSocket-Version", "8")]), &c),
            Err(Error::UpgradeRequired)
        ));
        assert!(matches!(
            check(&upgrade(&[("Sec-WebSocket-Key", "short")]), &c),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            check(&upgrade(&[("Connection", "keep-alive")]), &c),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            check(&upgrade(&[("Origin", "http://evil.example")]), &c),
            Err(Error::Forbidden(_))
        ));
    }

    #[test]
    fn first_offered_protocol_we_speak() {
        let mut c = crate::Config::default();
        c.ws.protocols = vec!["chat".into(), "superchat".into()];
        let req = upgrade(&[("Sec-WebSocket-Protocol", "v2, superchat, chat")]);
        assert_eq!(
            check(&req, &c).unwrap().protocol.as_deref(),
            Some("superchat")
        );
        let req = upgrade(&[("Sec-WebSocket-Protocol", "v2")]);
        assert_eq!(check(&req, &c).unwrap().protocol, None);
    }
}
