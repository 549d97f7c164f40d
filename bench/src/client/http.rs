//! An HTTP/1.1 client connection: send a request, read a response head and
//! its body, keep the connection for the next request.
//!
//! ```text
//! → GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:40123\r\nConnection: close\r\n\r\n
//! ← HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok
//! ```
//!
//! Bodies come framed by `Content-Length`, by chunks (`Transfer-Encoding:
//! chunked`) or by the close of the connection. Every read of a head or a
//! whole body is bounded by [`IO_TIMEOUT`]; streams read on without one
//! (their caller waits on a stop signal beside the read).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncRead;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::timeout;

use super::chunked::Dechunker;
use super::socket;

/// Longest we wait for a response head, a whole body, or a write.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest response head we accept.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length: N`.
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Neither: the body runs until the server closes.
    UntilClose,
}

/// A response head.
#[derive(Debug, Clone, Copy)]
pub struct Head {
    /// The status code.
    pub status: u16,
    /// How the body is delimited.
    pub framing: Framing,
    /// The server will close after this response.
    pub close: bool,
}

/// One connection (or its read half) and the bytes read from it but not yet used.
pub struct Conn<S = TcpStream> {
    stream: S,
    /// Read, not yet consumed.
    pub buf: Vec<u8>,
}

impl Conn {
    /// Connects to `addr` (from the next source address, see `socket`).
    ///
    /// # Errors
    /// The connect fails or times out.
    pub async fn open(addr: SocketAddr) -> io::Result<Conn> {
        Ok(Conn {
            stream: socket::connect(addr).await?,
            buf: Vec::with_capacity(4096),
        })
    }

    /// Splits into a reading connection (keeping the bytes already read)
    /// and the write half, for requests sent without waiting for replies.
    pub fn split(self) -> (Conn<OwnedReadHalf>, OwnedWriteHalf) {
        let (read, write) = self.stream.into_split();
        (
            Conn {
                stream: read,
                buf: self.buf,
            },
            write,
        )
    }

    /// Writes `bytes` whole.
    ///
    /// # Errors
    /// The write fails or stalls for [`IO_TIMEOUT`].
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        bounded(self.stream.write_all(bytes)).await?
    }
}

impl<S: AsyncRead + Unpin> Conn<S> {
    /// Reads once, appending to `buf`; `Ok(0)` when the server has closed.
    ///
    /// # Errors
    /// The read fails.
    pub async fn fill(&mut self) -> io::Result<usize> {
        self.buf.reserve(16 * 1024);
        self.stream.read_buf(&mut self.buf).await
    }

    /// Reads a response head, leaving any body bytes in `buf`.
    ///
    /// # Errors
    /// The head is malformed, too large, cut short, or slower than [`IO_TIMEOUT`].
    pub async fn read_head(&mut self) -> io::Result<Head> {
        bounded(async {
            loop {
                if let Some((len, head)) = parse_head(&self.buf)? {
                    self.buf.drain(..len);
                    return Ok(head);
                }
                if self.buf.len() > MAX_HEAD_BYTES {
                    return Err(invalid("response head over 16 KiB"));
                }
                if self.fill().await? == 0 {
                    return Err(closed());
                }
            }
        })
        .await?
    }

    /// Reads a whole body framed as `framing`.
    ///
    /// # Errors
    /// The body is cut short, badly chunked, or slower than [`IO_TIMEOUT`].
    pub async fn read_body(&mut self, framing: Framing) -> io::Result<Vec<u8>> {
        bounded(async {
            let mut body = Vec::new();
            let mut chunks = Dechunker::default();
            loop {
                match framing {
                    Framing::Length(n) if self.buf.len() >= n => {
                        return Ok(self.buf.drain(..n).collect());
                    }
                    Framing::Chunked => {
                        let used = chunks.feed(&self.buf, &mut body)?;
                        self.buf.drain(..used);
                        if chunks.done() {
                            return Ok(body);
                        }
                    }
                    _ => {}
                }
                if self.fill().await? == 0 {
                    return match framing {
                        Framing::UntilClose => Ok(std::mem::take(&mut self.buf)),
                        _ => Err(closed()),
                    };
                }
            }
        })
        .await?
    }
}

/// `GET path` on a connection of its own; the status code.
///
/// # Errors
/// No complete response head within [`IO_TIMEOUT`].
pub async fn get_status(addr: SocketAddr, path: &str) -> io::Result<u16> {
    let mut conn = Conn::open(addr).await?;
    conn.send(&get_request(addr, path)).await?;
    Ok(conn.read_head().await?.status)
}

/// `GET path` on a connection of its own; the body of its 200.
///
/// # Errors
/// Another status, or no complete head or body within [`IO_TIMEOUT`] each.
pub async fn get_body(addr: SocketAddr, path: &str) -> io::Result<Vec<u8>> {
    let mut conn = Conn::open(addr).await?;
    conn.send(&get_request(addr, path)).await?;
    let head = conn.read_head().await?;
    if head.status != 200 {
        return Err(io::Error::other(format!("HTTP {}", head.status)));
    }
    conn.read_body(head.framing).await
}

fn get_request(addr: SocketAddr, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").into_bytes()
}

/// Parses a response head at the start of `buf`: its length and what it
/// says, or `None` while it is incomplete.
fn parse_head(buf: &[u8]) -> io::Result<Option<(usize, Head)>> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(invalid_owned(format!("bad response head: {e}"))),
    };
    let status = response.code.unwrap_or(0);
    let (mut framing, mut close) = (Framing::UntilClose, false);
    for h in response.headers.iter() {
        let value = String::from_utf8_lossy(h.value).to_ascii_lowercase();
        if h.name.eq_ignore_ascii_case("transfer-encoding") && value.contains("chunked") {
            framing = Framing::Chunked;
        } else if h.name.eq_ignore_ascii_case("content-length") && framing != Framing::Chunked {
            let n = value
                .trim()
                .parse()
                .map_err(|_| invalid("bad Content-Length"))?;
            framing = Framing::Length(n);
        } else if h.name.eq_ignore_ascii_case("connection") && value.contains("close") {
            close = true;
        }
    }
    // 1xx, 204 and 304 have no body; a 101 hands the connection over.
    if status < 200 || status == 204 || status == 304 {
        framing = Framing::Length(0);
    }
    Ok(Some((
        len,
        Head {
            status,
            framing,
            close,
        },
    )))
}

/// Runs `f` for at most [`IO_TIMEOUT`].
async fn bounded<T>(f: impl Future<Output = T>) -> io::Result<T> {
    timeout(IO_TIMEOUT, f)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer within 10 s"))
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "server closed the connection")
}

fn invalid(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

fn invalid_owned(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        let (len, head) = parse_head(raw).unwrap().unwrap();
        assert_eq!(
            (len, head.status, head.framing),
            (raw.len() - 2, 200, Framing::Length(2))
        );
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
        let (_, head) = parse_head(raw).unwrap().unwrap();
        assert_eq!((head.framing, head.close), (Framing::Chunked, true));
        assert!(
            parse_head(b"HTTP/1.1 503 Service Unavailable\r\n")
                .unwrap()
                .is_none()
        );
        assert!(parse_head(b"garbage\r\n\r\n").is_err());
    }
}
