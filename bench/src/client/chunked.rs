//! Reading a chunked body (RFC 9112, section 7.1), fed as bytes arrive.
//!
//! ```text
//! 5\r\nhello\r\n      a chunk: its length in hex, CRLF, the bytes, CRLF
//! 0\r\n\r\n           the last chunk ends the body
//! ```
//!
//! A chunk may arrive split anywhere, even inside its size line: what cannot
//! be decoded yet stays in the caller's buffer for the next read. Not
//! supported: trailers (none of the servers send them).

use std::io;

/// Where in the chunked framing the next byte falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A chunk-size line.
    Size,
    /// This many data bytes of the current chunk are still to come.
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// The CRLF after the last (zero-size) chunk.
    LastEnd,
    /// The body has ended.
    Done,
}

/// Decodes a chunked body incrementally.
#[derive(Debug)]
pub struct Dechunker {
    state: State,
}

impl Default for Dechunker {
    fn default() -> Self {
        Dechunker { state: State::Size }
    }
}

impl Dechunker {
    /// Moves the body bytes found in `input` to `out` and returns how many
    /// bytes of `input` it used; the rest is an incomplete piece of framing.
    ///
    /// # Errors
    /// The framing is broken (a bad size line, no CRLF after the data).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> io::Result<usize> {
        let mut used = 0;
        loop {
            let rest = &input[used..];
            match self.state {
                State::Size => match httparse::parse_chunk_size(rest) {
                    Ok(httparse::Status::Complete((n, size))) => {
                        used += n;
                        self.state = if size == 0 {
                            State::LastEnd
                        } else {
                            State::Data(size)
                        };
                    }
                    Ok(httparse::Status::Partial) => return Ok(used),
                    Err(_) => return Err(broken("bad chunk size line")),
                },
                State::Data(left) => {
                    if rest.is_empty() {
                        return Ok(used);
                    }
                    let take = rest.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    out.extend_from_slice(&rest[..take]);
                    used += take;
                    let left = left - take as u64;
                    self.state = if left == 0 {
                        State::DataEnd
                    } else {
                        State::Data(left)
                    };
                }
                State::DataEnd | State::LastEnd => {
                    if rest.len() < 2 {
                        return Ok(used);
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err(broken("no CRLF after chunk data"));
                    }
                    used += 2;
                    self.state = match self.state {
                        State::DataEnd => State::Size,
                        _ => State::Done,
                    };
                }
                State::Done => return Ok(used),
            }
        }
    }

    /// Whether the last chunk has been read.
    pub fn done(&self) -> bool {
        self.state == State::Done
    }
}

fn broken(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_body() {
        let mut d = Dechunker::default();
        let mut out = Vec::new();
        let input = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        assert_eq!(d.feed(input, &mut out).unwrap(), input.len());
        assert_eq!(out, b"hello world");
        assert!(d.done());
    }

    #[test]
    fn split_anywhere() {
        let input = b"f\r\nid: 1\ndata: x\n\n\r\n0\r\n\r\n";
        for cut in 0..input.len() {
            let mut d = Dechunker::default();
            let mut out = Vec::new();
            let mut pending = input[..cut].to_vec();
            let used = d.feed(&pending, &mut out).unwrap();
            pending.drain(..used);
            pending.extend_from_slice(&input[cut..]);
            let used = d.feed(&pending, &mut out).unwrap();
            assert_eq!(used, pending.len(), "cut at {cut}");
            assert_eq!(out, b"id: 1\ndata: x\n\n", "cut at {cut}");
            assert!(d.done());
        }
    }

    #[test]
    fn partial_size_line_waits() {
        let mut d = Dechunker::default();
        let mut out = Vec::new();
        assert_eq!(d.feed(b"1", &mut out).unwrap(), 0);
        assert_eq!(d.feed(b"1\r", &mut out).unwrap(), 0);
        assert_eq!(d.feed(b"1\r\n", &mut out).unwrap(), 3);
        assert!(out.is_empty());
    }

    #[test]
    fn broken_framing() {
        let mut out = Vec::new();
        assert!(Dechunker::default().feed(b"zz\r\n", &mut out).is_err());
        assert!(Dechunker::default().feed(b"1\r\naXY", &mut out).is_err());
    }
}
