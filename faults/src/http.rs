//! The client side, on plain blocking sockets: connect from a chosen
//! 127.0.0.x source, read a response head, publish over keep-alive, read
//! `/metrics`.
//!
//! ```text
//! POST /topics/t HTTP/1.1\r\nHost: faults\r\nContent-Length: 5\r\n\r\nhello
//! HTTP/1.1 200 OK\r\n…Content-Length: 35\r\n\r\n{"id":7,"topic":"t","receivers":3}\n
//! ```
//!
//! Each socket may take a small receive buffer (set before connect, so the
//! window offered in the handshake is small too) and closes with a zero
//! linger when asked: an RST, no TIME_WAIT left behind.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

/// Longest a connect may take: a full accept queue makes the kernel retry
/// the SYN after 1 s and 3 s.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a request waits for its answer in the helpers here.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to `server` from `source` (port picked by the kernel), with
/// `SO_RCVBUF` set to `rcvbuf` bytes first when given.
///
/// # Errors
/// The socket cannot be made or bound, or the connect fails.
pub fn connect_from(
    source: [u8; 4],
    server: SocketAddr,
    rcvbuf: Option<usize>,
) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    if let Some(bytes) = rcvbuf {
        socket.set_recv_buffer_size(bytes)?;
    }
    socket.set_tcp_nodelay(true)?;
    socket.bind(&SocketAddr::from((source, 0)).into())?;
    socket.connect_timeout(&server.into(), CONNECT_TIMEOUT)?;
    Ok(socket.into())
}

/// Closes with an RST (zero linger) instead of a FIN.
pub fn reset(stream: TcpStream) {
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}

/// The `127.0.0.N` address of source number `i` when `per_source` sockets
/// share each address, starting at `127.0.0.FIRST`.
pub fn source(first: u8, i: usize, per_source: usize) -> [u8; 4] {
    let step = u8::try_from(i / per_source).expect("fewer than 256 source addresses");
    [127, 0, 0, first + step]
}

/// The status code of a response that starts in `bytes`.
///
/// # Errors
/// `bytes` do not start with `HTTP/1.1 NNN`.
pub fn status_of(bytes: &[u8]) -> io::Result<u16> {
    let head = bytes.get(..12).ok_or_else(|| bad("short or no response"))?;
    let text = std::str::from_utf8(head).map_err(|_| bad("response is not text"))?;
    text.strip_prefix("HTTP/1.1 ")
        .and_then(|code| code[..3].parse().ok())
        .ok_or_else(|| bad("not an HTTP/1.1 status line"))
}

/// Reads a response head (through the blank line): its status and its
/// `Content-Length`, if any.
///
/// # Errors
/// The connection ends first, or the head is not HTTP/1.1.
pub fn read_head(reader: &mut impl BufRead) -> io::Result<(u16, Option<usize>)> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = status_of(line.as_bytes())?;
    let mut length = None;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(bad("connection ended inside a response head"));
        }
        if line == "\r\n" {
            return Ok((status, length));
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok();
        }
    }
}

/// A keep-alive connection for requests with small answers.
pub struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    /// Connects from `source`.
    ///
    /// # Errors
    /// The connect fails.
    pub fn connect(source: [u8; 4], server: SocketAddr) -> io::Result<Client> {
        let stream = connect_from(source, server, None)?;
        stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
        Ok(Client {
            reader: BufReader::new(stream),
        })
    }

    /// Sends `method target` with `body`; returns the status and body.
    ///
    /// # Errors
    /// The connection fails or the answer is malformed.
    pub fn request(&mut self, method: &str, target: &str, body: &str) -> io::Result<(u16, String)> {
        let request = format!(
            "{method} {target} HTTP/1.1\r\nHost: faults\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.reader.get_mut().write_all(request.as_bytes())?;
        let (status, length) = read_head(&mut self.reader)?;
        let mut answer = vec![0; length.ok_or_else(|| bad("no Content-Length"))?];
        self.reader.read_exact(&mut answer)?;
        Ok((status, String::from_utf8_lossy(&answer).into_owned()))
    }

    /// Publishes `body` to `topic`: the id from a 200 answer.
    ///
    /// # Errors
    /// The connection fails, or the answer is not 200 with an id.
    pub fn publish(&mut self, topic: &str, body: &str) -> io::Result<u64> {
        let (status, answer) = self.request("POST", &format!("/topics/{topic}"), body)?;
        if status != 200 {
            return Err(bad_owned(format!("publish answered {status}: {answer}")));
        }
        let ack: serde_json::Value =
            serde_json::from_str(&answer).map_err(|_| bad("publish answer is not JSON"))?;
        ack["id"].as_u64().ok_or_else(|| bad("no id in the answer"))
    }
}

/// One gauge or counter from `/metrics`, e.g. `connections{kind="sse"}`
/// (the name after `tinypush_`).
///
/// # Errors
/// The request fails or the line is missing.
pub fn metric(server: SocketAddr, name: &str) -> io::Result<u64> {
    let mut client = Client::connect([127, 0, 0, 1], server)?;
    let (_, text) = client.request("GET", "/metrics", "")?;
    let prefix = format!("tinypush_{name} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| bad_owned(format!("no {name} in /metrics")))
}

/// An `InvalidData` error.
pub fn bad(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// An `InvalidData` error with a made message.
pub fn bad_owned(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}
