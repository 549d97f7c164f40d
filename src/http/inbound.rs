//! Reading request heads off the socket, under a size cap and a deadline.
//!
//! [`Inbound`] owns the connection's read buffer. A head may arrive in any
//! number of pieces; each read appends, and the buffer is parsed again until
//! the blank line has come:
//!
//! ```text
//! read 1: GET /stream HTTP/1.1\r\nHo             → partial, read again
//! read 2: st: t\r\n\r\nPOST /topics/a HTTP/1.1…   → a head; the rest stays buffered
//! ```
//!
//! Bytes past the head (a body, or the next pipelined request) stay in the
//! buffer for the next read, so nothing the client sent is lost. The buffer
//! starts small and grows only as a head needs: thousands of idle streams
//! each keep one.
//!
//! The bytes come from a [`Source`]: the connection's socket, or, in unit
//! tests and the fuzz targets (`fuzz/`), bytes in memory handed out in
//! pieces as a network would.

use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::request::{Request, parse_head};
use crate::config::HttpConfig;
use crate::error::{Error, Result, is_timeout};

/// How long to wait for the start of the next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// A new connection: the head must arrive within the head timeout, or 408.
    First,
    /// Between keep-alive requests: silence until the keep-alive timeout just
    /// closes the connection; once a byte arrives the head timeout applies.
    Idle,
}

/// Where an [`Inbound`] reads from.
pub trait Source {
    /// Reads into `buf`, waiting at most `timeout` (never zero) for the
    /// first byte. Returns how many arrived; 0 means end of stream.
    ///
    /// # Errors
    /// `TimedOut` or `WouldBlock` when nothing came in time, or the
    /// source's own error.
    fn read_within(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize>;
}

impl Source for Arc<TcpStream> {
    fn read_within(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        self.set_read_timeout(Some(timeout))?;
        (&**self).read(buf)
    }
}

/// Bytes in memory, all there at once; for tests.
impl Source for &[u8] {
    fn read_within(&mut self, buf: &mut [u8], _timeout: Duration) -> io::Result<usize> {
        self.read(buf)
    }
}

/// The read side of one connection: the socket and the bytes read from it
/// but not yet used.
pub struct Inbound<S: Source = Arc<TcpStream>> {
    stream: S,
    buf: Vec<u8>,
}

/// Bytes read per `read` call; the buffer grows by at most this much.
const READ_STEP: usize = 2048;

impl<S: Source> Inbound<S> {
    /// Reads from `stream`, starting with an empty buffer.
    pub fn new(stream: S) -> Self {
        Inbound {
            stream,
            buf: Vec::new(),
        }
    }

    /// Reads and parses the next request head.
    ///
    /// Returns `Ok(None)` when the client closed the connection, or stayed
    /// silent through an idle keep-alive wait, before sending a byte.
    ///
    /// # Errors
    /// 431 past the size or header-count cap, 408 when the head is not
    /// complete in time, 400 or 505 when it does not parse, `Io` when the
    /// client hangs up halfway.
    pub fn read_head(&mut self, config: &HttpConfig, wait: Wait) -> Result<Option<Request>> {
        let first_wait = match (wait, self.buf.is_empty()) {
            (Wait::Idle, true) => config.keepalive_timeout,
            _ => config.head_timeout,
        };
        let mut deadline = Instant::now() + first_wait;
        let mut started = !self.buf.is_empty();
        loop {
            if started {
                if let Some((request, len)) = parse_head(&self.buf, config)? {
                    self.buf.drain(..len);
                    return Ok(Some(request));
                }
                if self.buf.len() >= config.max_head_bytes {
                    return Err(Error::HeadTooLarge(config.max_head_bytes));
                }
            }
            // Never read past the cap: a client may not make us buffer more.
            let room = config.max_head_bytes - self.buf.len();
            match self.fill(deadline, room.min(READ_STEP)) {
                Ok(0) if !started => return Ok(None),
                Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
                Ok(_) if !started => {
                    started = true;
                    deadline = Instant::now() + config.head_timeout;
                }
                Ok(_) => {}
                Err(e) if is_timeout(&e) && !started && wait == Wait::Idle => return Ok(None),
                Err(e) if is_timeout(&e) => return Err(Error::Timeout),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Appends up to `max` bytes from the socket to the buffer, waiting no
    /// later than `deadline`. Returns how many arrived; 0 means end of stream.
    ///
    /// # Errors
    /// `TimedOut` when the deadline passes, or the socket's own error.
    pub fn fill(&mut self, deadline: Instant, max: usize) -> io::Result<usize> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        // A zero timeout means "block forever" to the OS, hence the check above.
        let left = left.max(Duration::from_millis(1));
        let start = self.buf.len();
        self.buf.resize(start + max, 0);
        let result = loop {
            match self.stream.read_within(&mut self.buf[start..], left) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        self.buf.truncate(start + *result.as_ref().unwrap_or(&0));
        result
    }

    /// The bytes read but not yet used.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Removes the first `n` buffered bytes and returns them.
    pub fn take(&mut self, n: usize) -> Vec<u8> {
        self.buf.drain(..n).collect()
    }

    /// Removes and returns every buffered byte (for a protocol switch), in
    /// a buffer of their size: the read buffer's spare room is freed, not
    /// handed on to live as long as the connection.
    pub fn take_all(&mut self) -> Vec<u8> {
        let all = self.buf.clone();
        self.buf = Vec::new();
        all
    }

    /// Frees the buffer's memory when it holds nothing; called before a long
    /// stream so an idle subscriber keeps no spare capacity.
    pub fn shrink(&mut self) {
        if self.buf.is_empty() {
            self.buf = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};

    use super::*;

    /// A connected pair: the client end to write, the server end read by an `Inbound`.
    fn pair() -> (TcpStream, Inbound) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        client.set_nodelay(true).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, Inbound::new(Arc::new(server)))
    }

    fn config() -> HttpConfig {
        crate::Config::default().http
    }

    #[test]
    fn a_head_sent_a_byte_at_a_time_is_one_request() {
        let (mut client, mut inbound) = pair();
        let raw = b"GET /stream?count=3 HTTP/1.1\r\nHost: t\r\n\r\nGET /next";
        let writer = std::thread::spawn(move || {
            for byte in raw {
                client.write_all(&[*byte]).unwrap();
            }
            client
        });
        let req = inbound.read_head(&config(), Wait::First).unwrap().unwrap();
        assert_eq!(
            (req.method.as_str(), req.target.as_str()),
            ("GET", "/stream?count=3")
        );
        let _client = writer.join().unwrap();
        // Whatever arrived past the blank line stays, byte for byte.
        assert!(b"GET /next".starts_with(inbound.buffered()));
    }

    #[test]
    fn bytes_past_the_head_stay_buffered() {
        let (mut client, mut inbound) = pair();
        client
            .write_all(b"POST /topics/a HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n")
            .unwrap();
        let req = inbound.read_head(&config(), Wait::First).unwrap().unwrap();
        assert_eq!(req.target, "/topics/a");
        let deadline = Instant::now() + Duration::from_secs(5);
        while inbound.buffered().len() < 21 {
            inbound.fill(deadline, 64).unwrap();
        }
        assert_eq!(inbound.buffered(), b"helloGET / HTTP/1.1\r\n");
        assert_eq!(inbound.take(5), b"hello");
        assert_eq!(inbound.buffered(), b"GET / HTTP/1.1\r\n");
    }

    #[test]
    fn never_reads_past_the_head_cap() {
        let (mut client, mut inbound) = pair();
        let mut config = config();
        config.max_head_bytes = 16;
        client
            .write_all(b"GET /aaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n")
            .unwrap();
        let err = inbound.read_head(&config, Wait::First).unwrap_err();
        assert!(matches!(err, Error::HeadTooLarge(16)), "{err}");
        assert_eq!(inbound.buffered(), b"GET /aaaaaaaaaaa");
    }

    #[test]
    fn a_close_before_any_byte_is_no_request_and_after_one_is_an_error() {
        let (client, mut inbound) = pair();
        drop(client);
        assert!(inbound.read_head(&config(), Wait::First).unwrap().is_none());
        let (mut client, mut inbound) = pair();
        client.write_all(b"GET / HT").unwrap();
        drop(client);
        assert!(matches!(
            inbound.read_head(&config(), Wait::First),
            Err(Error::Io(_))
        ));
    }

    #[test]
    fn silence_is_408_on_a_new_connection_and_a_quiet_close_when_idle() {
        let (_client, mut inbound) = pair();
        let mut config = config();
        config.head_timeout = Duration::from_millis(20);
        config.keepalive_timeout = Duration::from_millis(20);
        assert!(matches!(
            inbound.read_head(&config, Wait::First),
            Err(Error::Timeout)
        ));
        assert!(inbound.read_head(&config, Wait::Idle).unwrap().is_none());
    }
}
