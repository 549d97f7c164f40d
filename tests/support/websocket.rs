//! WebSocket by hand (RFC 6455): the upgrade request as bytes, client
//! frames built byte by byte, server frames taken apart byte by byte, so a
//! test shows the wire and can send what no library would.
//!
//! ```text
//! client → server   81 85 37 fa 21 3d 5f 9f 4d 51 58    text "hello", masked
//! server → client   81 05 68 65 6c 6c 6f                text "hello"
//! server → client   88 02 03 e8                         close 1000
//! ```
//!
//! Not here: extensions (the server supports none, permessage-deflate
//! included), so no frame sets a reserved bit.

use std::net::SocketAddr;

use super::http::{Client, connect};
use super::streams::json_message;

/// The key from RFC 6455's handshake example (section 1.3); its accept
/// value is `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`.
pub const WS_SAMPLE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// The masking key of every client frame the tests write (the one in RFC
/// 6455's examples, section 5.7).
pub const WS_MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A WebSocket upgrade request for `path`, as raw bytes: `Host: t`, the
/// sample key, version 13, then each of `extra_headers` (`"Name: value"`).
pub fn ws_handshake(path: &str, extra_headers: &[&str]) -> Vec<u8> {
    let mut req = format!(
        "GET {path} HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {WS_SAMPLE_KEY}\r\nSec-WebSocket-Version: 13\r\n"
    );
    for header in extra_headers {
        req.push_str(header);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    req.into_bytes()
}

/// Connects, sends [`ws_handshake`] for `path` and checks the `101`.
pub fn ws_connect(addr: SocketAddr, path: &str) -> Client {
    let mut c = connect(addr);
    c.send(&ws_handshake(path, &[]));
    let head = c.head();
    assert_eq!(head.status, 101, "{:?}", head.raw);
    c
}

/// One WebSocket frame (RFC 6455, section 5.2) as raw bytes: FIN and the
/// opcode, the mask bit and the length (7, 7+16 or 7+64 bits), the masking
/// key when `masked`, then the payload (XORed with [`WS_MASK`] when masked).
///
/// ```text
/// ws_frame(0x1, b"hi", true, true)  = 81 82 37 fa 21 3d 5f 93
/// ws_frame(0x1, b"hi", false, true) = 81 02 68 69
/// ```
pub fn ws_frame(opcode: u8, payload: &[u8], masked: bool, fin: bool) -> Vec<u8> {
    let mut out = vec![(if fin { 0x80 } else { 0 }) | (opcode & 0x0f)];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(mask_bit | n as u8),
        n @ 126..=0xffff => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if masked {
        out.extend_from_slice(&WS_MASK);
        out.extend(
            payload
                .iter()
                .zip(WS_MASK.iter().cycle())
                .map(|(b, m)| b ^ m),
        );
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// The payload of a close frame: the code, big-endian, then the reason.
pub fn ws_close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    payload
}

/// The status code in a close frame's payload (its first two bytes).
pub fn ws_close_code(payload: &[u8]) -> u16 {
    assert!(
        payload.len() >= 2,
        "close frame without a code: {payload:?}"
    );
    u16::from_be_bytes([payload[0], payload[1]])
}

impl Client {
    /// Reads one WebSocket frame and returns `(fin, opcode, payload)`,
    /// unmasked. Server frames carry no mask and no reserved bits.
    pub fn read_frame(&mut self) -> (bool, u8, Vec<u8>) {
        self.read_frame_or_eof()
            .expect("connection closed before a WebSocket frame")
    }

    /// Like [`Client::read_frame`], but `None` when the server ends the
    /// connection cleanly between frames.
    pub fn read_frame_or_eof(&mut self) -> Option<(bool, u8, Vec<u8>)> {
        if self.at_eof() {
            return None;
        }
        const FRAME: &str = "a WebSocket frame";
        let first = self.take(2, FRAME);
        let (b0, b1) = (first[0], first[1]);
        assert_eq!(b0 & 0x70, 0, "reserved bits set: {b0:#04x}");
        let len = match b1 & 0x7f {
            126 => u16::from_be_bytes(self.take(2, FRAME).try_into().unwrap()) as usize,
            127 => u64::from_be_bytes(self.take(8, FRAME).try_into().unwrap()) as usize,
            n => n as usize,
        };
        let mask = (b1 & 0x80 != 0).then(|| self.take(4, FRAME));
        let mut payload = self.take(len, FRAME);
        if let Some(key) = mask {
            for (b, m) in payload.iter_mut().zip(key.iter().cycle()) {
                *b ^= m;
            }
        }
        Some((b0 & 0x80 != 0, b0 & 0x0f, payload))
    }
}

/// The next WebSocket frame, which must be a whole text frame.
pub fn ws_text(c: &mut Client) -> String {
    let (fin, opcode, payload) = c.read_frame();
    assert!(fin, "a whole message in one frame");
    assert_eq!(
        opcode,
        0x1,
        "expected text, got {:?}",
        String::from_utf8_lossy(&payload)
    );
    String::from_utf8(payload).expect("UTF-8 text frame")
}

/// The next `?format=json` frame as `(id, data)`; it must be a message.
pub fn ws_json_message(c: &mut Client) -> (u64, String) {
    let v: serde_json::Value = serde_json::from_str(&ws_text(c)).expect("a JSON frame");
    json_message(&v)
}

/// Reads the server's close frame and answers it, as a client must;
/// returns its code and reason.
pub fn ws_expect_close(c: &mut Client) -> (u16, String) {
    let (fin, opcode, payload) = c.read_frame();
    assert!(fin);
    assert_eq!(opcode, 0x8, "{:?}", String::from_utf8_lossy(&payload));
    let code = ws_close_code(&payload);
    c.send(&ws_frame(0x8, &ws_close_payload(code, ""), true, true));
    (code, String::from_utf8_lossy(&payload[2..]).into_owned())
}

/// [`ws_expect_close`], then sees the connection end.
pub fn ws_expect_close_and_end(c: &mut Client) -> (u16, String) {
    let closed = ws_expect_close(c);
    c.expect_closed();
    closed
}
