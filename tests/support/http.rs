//! A raw HTTP/1.1 client over one TCP connection: the test writes the
//! request bytes itself, and reads back exactly what the server sent.
//!
//! ```text
//! c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
//! c.head()      HTTP/1.1 200 OK\r\n ... \r\n\r\n   (a Head: raw text, status)
//! c.body(3)     ok\n                              (Content-Length bytes)
//! c.raw_chunk() 3\r\nok\n\r\n                      (one chunk, as sent)
//! ```
//!
//! Every socket has a read timeout ([`READ_TIMEOUT`]), so a server that
//! never answers fails the test instead of hanging it.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};

use super::READ_TIMEOUT;

/// A raw HTTP client over one TCP connection.
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

/// A response head as received.
#[derive(Debug)]
pub struct Head {
    /// The head's exact text, blank line included.
    pub raw: String,
    pub status: u16,
}

impl Head {
    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.raw.lines().skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Connects with a read timeout, so a hang is a failure, not a stuck test.
pub fn connect(addr: SocketAddr) -> Client {
    Client::new(TcpStream::connect(addr).expect("connect"))
}

/// Like [`connect`], with the socket's receive buffer set to `bytes` before
/// connecting (so the window the server sees is small from the start): a
/// client that does not read then blocks the server's writes quickly.
pub fn connect_with_recv_buffer(addr: SocketAddr, bytes: usize) -> Client {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(bytes).expect("SO_RCVBUF");
    socket.connect(&addr.into()).expect("connect");
    Client::new(socket.into())
}

/// Like [`connect`], from the loopback address `local` (any of 127/8 on
/// Linux): to the server, another client.
pub fn connect_from(addr: SocketAddr, local: &str) -> Client {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).expect("socket");
    let local: SocketAddr = format!("{local}:0").parse().expect("a local address");
    socket.bind(&local.into()).expect("bind the client socket");
    socket.connect(&addr.into()).expect("connect");
    Client::new(socket.into())
}

/// Sends one request on a new connection and reads the head and body.
pub fn get(addr: SocketAddr, raw: &[u8]) -> (Head, String) {
    let mut c = connect(addr);
    c.send(raw);
    c.response()
}

impl Client {
    fn new(stream: TcpStream) -> Client {
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    /// Writes raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).expect("read (timed out?)");
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    /// Reads exactly `n` bytes; `what` names them if the connection ends
    /// first.
    pub fn take(&mut self, n: usize, what: &str) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(
                self.fill() > 0,
                "connection closed inside {what}: {} of {n} bytes came, starting {:02x?}",
                self.buf.len(),
                &self.buf[..self.buf.len().min(32)]
            );
        }
        self.buf.drain(..n).collect()
    }

    /// Whether the server has closed the connection with nothing left
    /// unread. Reads (at most [`READ_TIMEOUT`]) when nothing is buffered.
    pub fn at_eof(&mut self) -> bool {
        self.buf.is_empty() && self.fill() == 0
    }

    /// Reads up to and including the blank line after the head.
    pub fn head(&mut self) -> Head {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let raw: Vec<u8> = self.buf.drain(..end + 4).collect();
                let raw = String::from_utf8(raw).expect("head is UTF-8");
                let status = raw[9..12].parse().expect("status code");
                return Head { raw, status };
            }
            assert!(
                self.fill() > 0,
                "connection closed before a full head; got {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        }
    }

    /// Reads exactly `n` body bytes.
    pub fn body(&mut self, n: usize) -> Vec<u8> {
        self.take(n, "a body")
    }

    /// Reads a head and its Content-Length body.
    pub fn response(&mut self) -> (Head, String) {
        let head = self.head();
        let len = head
            .header("Content-Length")
            .expect("Content-Length")
            .parse()
            .unwrap();
        let body = self.body(len);
        (head, String::from_utf8(body).expect("UTF-8 body"))
    }

    /// Reads one whole chunk frame, exactly as sent: `size\r\ndata\r\n`.
    pub fn raw_chunk(&mut self) -> Vec<u8> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let size_text = std::str::from_utf8(&self.buf[..end]).expect("chunk size is ASCII");
                let size = usize::from_str_radix(size_text, 16).expect("hex chunk size");
                return self.take(end + 2 + size + 2, "a chunk");
            }
            assert!(self.fill() > 0, "connection closed before a chunk");
        }
    }

    /// Reads one chunk and returns its data (empty for the last chunk).
    pub fn chunk(&mut self) -> String {
        let raw = self.raw_chunk();
        let start = raw.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
        String::from_utf8(raw[start..raw.len() - 2].to_vec()).expect("UTF-8 chunk")
    }

    /// Reads until the server closes; returns everything not yet read.
    pub fn read_to_end(&mut self) -> Vec<u8> {
        while self.fill() > 0 {}
        std::mem::take(&mut self.buf)
    }

    /// Asserts the server closes the connection with nothing more to say.
    pub fn expect_closed(&mut self) {
        let rest = self.read_to_end();
        assert!(
            rest.is_empty(),
            "expected close, got {:?}",
            String::from_utf8_lossy(&rest)
        );
    }

    /// Ends our side (a FIN after the last request) and waits for the
    /// server to close its side with nothing more to say: when this
    /// returns, the server has finished with the connection.
    pub fn hang_up(mut self) {
        self.stream
            .shutdown(Shutdown::Write)
            .expect("shutdown(Write)");
        self.expect_closed();
    }
}
