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

use std::io::{self, IoSlice, Write};

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
        self.chunk_parts(&[data])
    }

    /// Sends `parts` together as one chunk, without copying them into one
    /// buffer: the size line, the parts and the CRLF go to one `writev`, so
    /// they leave together instead of as tiny segments, and a large message
    /// shared by many subscribers is never copied per subscriber.
    pub fn chunk_parts(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len == 0 {
            return Ok(());
        }
        let size_line = format!("{len:x}\r\n");
        let mut slices = Vec::with_capacity(parts.len() + 2);
        if self.chunked {
            slices.push(IoSlice::new(size_line.as_bytes()));
        }
        slices.extend(parts.iter().map(|p| IoSlice::new(p)));
        if self.chunked {
            slices.push(IoSlice::new(b"\r\n"));
        }
        write_all_vectored(&mut self.inner, &mut slices)?;
        self.inner.flush()
    }

    /// The writer under the framing, for bytes already framed (see [`frame`]).
    pub fn raw(&mut self) -> &mut W {
        &mut self.inner
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

/// The bytes of one whole chunk carrying `data`, for a message framed once
/// and written, as is, to many bodies.
pub fn frame(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.reserve(data.len() + 2);
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// `write_all` for several buffers (std's is not stable yet): one `writev`
/// when the writer has one and takes them all.
///
/// # Errors
/// When `w` fails, or takes nothing.
pub fn write_all_vectored(w: &mut impl Write, mut slices: &mut [IoSlice<'_>]) -> io::Result<()> {
    while !slices.is_empty() {
        match w.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
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
    fn parts_make_one_chunk() {
        let mut w = ChunkedWriter::new(Vec::new(), true);
        w.chunk_parts(&[b"{\"a\":1}", b"\n"]).unwrap();
        assert_eq!(w.finish().unwrap(), b"8\r\n{\"a\":1}\n\r\n0\r\n\r\n");
    }

    #[test]
    fn a_framed_chunk_is_what_chunk_writes() {
        let mut w = ChunkedWriter::new(Vec::new(), true);
        w.chunk(b"id: 7\ndata: x\n\n").unwrap();
        assert_eq!(
            frame(b"id: 7\ndata: x\n\n"),
            w.finish().unwrap()[..20].to_vec()
        );
        assert_eq!(frame(b"hello"), b"5\r\nhello\r\n");
    }

    #[test]
    fn http10_passes_bytes_through() {
        let mut w = ChunkedWriter::new(Vec::new(), false);
        w.chunk(b"start\n").unwrap();
        assert_eq!(w.finish().unwrap(), b"start\n");
    }
}
