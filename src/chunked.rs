//! Chunked transfer coding (RFC 9112, section 7.1), the body framing of
//! every stream this server sends.
//!
//! Each chunk is its length in hex, CRLF, the bytes, CRLF. A zero-length
//! chunk ends the body, so the connection can carry another request after it:
//!
//! ```text
//! 6\r\nstart\n\r\n
//! 7\r\nhoge:0\n\r\n
//! 0\r\n\r\n
//! ```
//!
//! HTTP/1.0 has no chunked coding: there the same bytes go out unframed and
//! the end of the body is the end of the connection.
//!
//! Not supported: trailers and chunk extensions.

use std::io::{self, Write};

/// Writes a response body as chunks, one per [`ChunkedWriter::chunk`] call,
/// each flushed at once.
pub struct ChunkedWriter<W: Write> {
    inner: W,
    chunked: bool,
}

impl<W: Write> ChunkedWriter<W> {
    /// Frames writes as chunks when `chunked` (HTTP/1.1), or passes them
    /// through unframed (HTTP/1.0, where the body ends with the connection).
    pub fn new(inner: W, chunked: bool) -> Self {
        ChunkedWriter { inner, chunked }
    }

    /// Sends `data` as one chunk and flushes it. Empty data sends nothing:
    /// an empty chunk would end the body.
    pub fn chunk(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        if self.chunked {
            // One buffer, one write: the size line, the bytes and the CRLF
            // leave together instead of as three tiny segments.
            let mut frame = Vec::with_capacity(data.len() + 12);
            write!(frame, "{:x}\r\n", data.len())?;
            frame.extend_from_slice(data);
            frame.extend_from_slice(b"\r\n");
            self.inner.write_all(&frame)?;
        } else {
            self.inner.write_all(data)?;
        }
        self.inner.flush()
    }

    /// Ends the body with the zero-length chunk (nothing for HTTP/1.0) and
    /// gives the writer back.
    pub fn finish(mut self) -> io::Result<W> {
        if self.chunked {
            self.inner.write_all(b"0\r\n\r\n")?;
            self.inner.flush()?;
        }
        Ok(self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_hex_length_crlf_bytes_crlf() {
        let mut w = ChunkedWriter::new(Vec::new(), true);
        w.chunk(b"hello").unwrap();
        w.chunk(&[b'x'; 26]).unwrap();
        w.chunk(b"").unwrap();
        let out = w.finish().unwrap();
        let mut want = b"5\r\nhello\r\n1a\r\n".to_vec();
        want.extend_from_slice(&[b'x'; 26]);
        want.extend_from_slice(b"\r\n0\r\n\r\n");
        assert_eq!(out, want);
    }

    #[test]
    fn http10_passes_bytes_through() {
        let mut w = ChunkedWriter::new(Vec::new(), false);
        w.chunk(b"start\n").unwrap();
        assert_eq!(w.finish().unwrap(), b"start\n");
    }
}
