//! The stream tungstenite sees. The reader takes bytes off the socket
//! without the lock; then, under the lock, it hands them to the protocol
//! state through a [`Feed`], whose `read` returns those bytes and then
//! `WouldBlock` (or end of stream, if the socket ended):
//!
//! ```text
//! socket bytes:  81 85 37 fa 21 3d 7f 9f 4d 51 58     (masked text "Hello")
//! feed.read() →  81 85 37 fa 21 3d 7f 9f 4d 51 58
//! feed.read() →  Err(WouldBlock)                     tungstenite keeps any
//!                                                    partial frame and asks later
//! ```
//!
//! Writes (pong and close replies from inside `read`, and every frame the
//! writer sends) go straight to the socket and are counted in `/metrics`.

use std::io::{self, Read, Write};
use std::net::TcpStream;

use crate::metrics::Written;

/// Reads come from bytes already taken off the socket; writes go to it
/// (or, for the fuzz target, to any `Write`).
pub(super) struct Feed<'a, S: Write = &'a TcpStream> {
    input: &'a [u8],
    eof: bool,
    stream: S,
    written: &'a Written,
}

impl<'a> Feed<'a> {
    /// A feed that hands out `input` (and then end of stream if `eof`).
    pub fn new(input: &'a [u8], eof: bool, stream: &'a TcpStream, written: &'a Written) -> Self {
        Feed::to(input, eof, stream, written)
    }

    /// A feed with nothing to read, for writing.
    pub fn writer(stream: &'a TcpStream, written: &'a Written) -> Self {
        Feed::new(&[], false, stream, written)
    }
}

impl<'a, S: Write> Feed<'a, S> {
    /// A feed that hands out `input` and writes to `stream`.
    pub fn to(input: &'a [u8], eof: bool, stream: S, written: &'a Written) -> Self {
        Feed {
            input,
            eof,
            stream,
            written,
        }
    }
}

impl<S: Write> Read for Feed<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.input.is_empty() {
            return if self.eof {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        self.input.read(buf)
    }
}

impl<S: Write> Write for Feed<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.stream.write(buf)?;
        self.written.add(n);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tungstenite::Message;
    use tungstenite::protocol::{Role, WebSocketContext};

    use super::*;
    // The server end for the feed, the client end to read what it writes.
    use crate::http::socket_pair as pair;
    use crate::metrics::Metrics;

    /// RFC 6455, section 5.7: a masked text frame "Hello".
    const MASKED_HELLO: [u8; 11] = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];

    #[test]
    fn hands_out_its_bytes_then_would_block_or_eof() {
        let (server, _client) = pair();
        let metrics = Arc::new(Metrics::default()).written_by_one();
        let mut buf = [0u8; 8];
        let mut feed = Feed::new(b"abcdefghij", false, &server, &metrics);
        assert_eq!(feed.read(&mut buf).unwrap(), 8);
        assert_eq!(&buf, b"abcdefgh");
        assert_eq!(feed.read(&mut buf).unwrap(), 2);
        assert_eq!(&buf[..2], b"ij");
        let e = feed.read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        let mut ended = Feed::new(b"", true, &server, &metrics);
        assert_eq!(ended.read(&mut buf).unwrap(), 0);
    }

    #[test]
    fn a_frame_split_across_feeds_is_one_message() {
        let (server, _client) = pair();
        let metrics = Arc::new(Metrics::default()).written_by_one();
        let mut context = WebSocketContext::new(Role::Server, None);
        for split in 1..MASKED_HELLO.len() {
            let (first, rest) = MASKED_HELLO.split_at(split);
            let mut feed = Feed::new(first, false, &server, &metrics);
            match context.read(&mut feed) {
                Err(tungstenite::Error::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::WouldBlock),
                other => panic!("split at {split}: {other:?}"),
            }
            let mut feed = Feed::new(rest, false, &server, &metrics);
            assert_eq!(context.read(&mut feed).unwrap(), Message::text("Hello"));
        }
    }

    #[test]
    fn a_ping_is_answered_through_the_feed_with_the_exact_pong() {
        let (server, mut client) = pair();
        let metrics = Arc::new(Metrics::default()).written_by_one();
        let mut context = WebSocketContext::new(Role::Server, None);
        // Masked ping "Hello" (RFC 6455, 5.7), then nothing more to read.
        let ping = [
            0x89, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let mut feed = Feed::new(&ping, false, &server, &metrics);
        assert!(matches!(context.read(&mut feed), Ok(Message::Ping(_))));
        // tungstenite writes the queued pong on the next read or flush.
        context.flush(&mut feed).unwrap();
        let mut pong = [0u8; 7];
        client.read_exact(&mut pong).unwrap();
        assert_eq!(pong, [0x8a, 0x05, b'H', b'e', b'l', b'l', b'o']);
        assert_eq!(metrics.get(), 7);
    }
}
