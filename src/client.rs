//! `tinypush client`: a small WebSocket client for trying the server.
//!
//! ```text
//! $ tinypush client ws://127.0.0.1:8080/echo --message hi --count 2
//! 2026-11-21T20:11:15.123Z hi
//! 2026-11-21T20:11:16.124Z hi
//! ```
//!
//! It sends `--message` every `--interval`, `--count` times or until Ctrl-C,
//! and prints each message it receives with a timestamp; with `--listen` it
//! sends nothing and only prints (a topic subscriber that does not publish); `--token T` (or
//! `TINYPUSH_TOKEN`) goes in the handshake's `Authorization: Bearer T`. Then it closes
//! properly: a close frame with 1000, and at most a second's wait for the
//! server's close reply. One thread: the socket has a short read timeout,
//! so the loop wakes to send on time and to notice Ctrl-C.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::HandshakeError;
use tungstenite::handshake::client::Request;
use tungstenite::http::Uri;
use tungstenite::http::header::{AUTHORIZATION, HeaderValue};
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Error as WsError, Message, WebSocket};

use crate::access;

/// What `tinypush client` was asked to do.
#[derive(Clone, PartialEq, Eq)]
pub struct Options {
    /// `ws://host:port/path`.
    pub url: String,
    /// Text sent each interval.
    pub message: String,
    /// Time between sends.
    pub interval: Duration,
    /// Sends before closing; `None` sends until Ctrl-C.
    pub count: Option<u64>,
    /// Send nothing; print what arrives until Ctrl-C or the server closes.
    pub listen: bool,
    /// Sent as `Authorization: Bearer` with the handshake.
    pub token: Option<String>,
}

/// Shows the token as `REDACTED`: a debug print must not carry it.
impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("url", &access::redacted(&self.url))
            .field("message", &self.message)
            .field("interval", &self.interval)
            .field("count", &self.count)
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| access::REDACTED))
            .finish()
    }
}

/// How long the client waits for replies after its last send.
const REPLY_WAIT: Duration = Duration::from_secs(5);
/// How long it waits for the server's close reply.
const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// How often the loop wakes to check the clock and Ctrl-C.
const POLL: Duration = Duration::from_millis(50);
/// Longest wait for the TCP connection and for the handshake reply.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// Runs the client until `count` sends and their replies, or `stop`.
///
/// # Errors
/// One line saying why: a bad URL, a refused connection, a rejected
/// handshake (with its status), or a broken connection.
pub fn run(options: &Options, stop: &Arc<AtomicBool>) -> Result<(), String> {
    if !options.url.starts_with("ws://") {
        let shown = access::redacted(&options.url);
        return Err(format!("{shown}: only ws:// URLs are supported"));
    }
    let mut socket = connect(&options.url, options.token.as_deref())?;
    let mut sent = 0u64;
    let mut replies = 0u64;
    let mut next_send = Instant::now();
    let mut last_send = Instant::now();
    loop {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let sending_done = options.listen || options.count.is_some_and(|n| sent >= n);
        let replied = replies >= sent || last_send.elapsed() >= REPLY_WAIT;
        if !options.listen && sending_done && replied {
            break;
        }
        if !sending_done && Instant::now() >= next_send {
            socket
                .send(Message::text(options.message.clone()))
                .map_err(|e| format!("send failed: {e}"))?;
            sent += 1;
            last_send = Instant::now();
            next_send += options.interval;
        }
        match socket.read() {
            Ok(Message::Text(text)) => {
                print_line(&text);
                if text.as_str() == options.message {
                    replies += 1;
                }
            }
            Ok(Message::Binary(bytes)) => print_line(&format!("({} bytes of binary)", bytes.len())),
            Ok(Message::Close(frame)) => {
                let (code, reason) = frame.map_or((1005, String::new()), |f| {
                    (u16::from(f.code), f.reason.to_string())
                });
                let closed = format!("server closed the connection: {code} {reason}");
                drain_close(&mut socket)?;
                // 1000 normal, 1001 going away (shutdown): the end, not an error.
                if matches!(code, 1000 | 1001) {
                    eprintln!("{closed}");
                    return Ok(());
                }
                return Err(closed);
            }
            Ok(_) => {}
            Err(WsError::Io(e)) if is_idle(&e) => {}
            Err(e) => return Err(format!("connection lost: {e}")),
        }
    }
    let _ = socket.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    }));
    drain_close(&mut socket)
}

/// Connects the TCP socket ourselves (so a refusal says why), then does
/// the handshake over it, with the token in its `Authorization` header.
fn connect(url: &str, token: Option<&str>) -> Result<Socket, String> {
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("{}: bad URL: {e}", access::redacted(url)))?;
    // What error messages show: the URL with any ?token= value hidden.
    let url = &access::redacted(url);
    let host = uri
        .host()
        .ok_or_else(|| format!("{url}: bad URL: no host"))?;
    let port = uri.port_u16().unwrap_or(80);
    let addrs: Vec<SocketAddr> = (host.trim_matches(['[', ']']), port)
        .to_socket_addrs()
        .map_err(|e| format!("{url}: cannot resolve {host}: {e}"))?
        .collect();
    let stream = addrs
        .iter()
        .map(|addr| TcpStream::connect_timeout(addr, CONNECT_TIMEOUT))
        .find_map(Result::ok)
        .ok_or_else(|| {
            match addrs
                .first()
                .map(|a| TcpStream::connect_timeout(a, CONNECT_TIMEOUT))
            {
                Some(Err(e)) => format!("{url}: cannot connect: {e}"),
                _ => format!("{url}: cannot connect"),
            }
        })?;
    // The handshake must not hang on a server that never answers.
    stream
        .set_read_timeout(Some(CONNECT_TIMEOUT))
        .map_err(|e| format!("cannot set a read timeout: {e}"))?;
    let request = handshake_request(uri, token).map_err(|e| format!("{url}: {e}"))?;
    let (socket, _) =
        tungstenite::client(request, MaybeTlsStream::Plain(stream)).map_err(|e| match e {
            HandshakeError::Failure(WsError::Http(response)) => {
                let status = response.status();
                let reason = status.canonical_reason().unwrap_or("");
                format!("{url}: handshake rejected: {} {reason}", status.as_u16())
            }
            HandshakeError::Failure(e) => format!("{url}: handshake failed: {e}"),
            HandshakeError::Interrupted(_) => format!("{url}: handshake timed out"),
        })?;
    if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
        stream
            .set_read_timeout(Some(POLL))
            .map_err(|e| format!("cannot set a read timeout: {e}"))?;
    }
    Ok(socket)
}

/// The handshake's request: tungstenite's headers, and the token's.
fn handshake_request(uri: Uri, token: Option<&str>) -> Result<Request, String> {
    let mut request = uri
        .into_client_request()
        .map_err(|e| format!("bad URL: {e}"))?;
    if let Some(token) = token {
        let value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| "--token: a header cannot carry it (control characters?)".to_string())?;
        request.headers_mut().insert(AUTHORIZATION, value);
    }
    Ok(request)
}

/// After our close frame (or the server's): read until the server's close
/// reply ends the connection, at most [`CLOSE_WAIT`].
fn drain_close(socket: &mut Socket) -> Result<(), String> {
    let deadline = Instant::now() + CLOSE_WAIT;
    while Instant::now() < deadline {
        match socket.read() {
            Ok(Message::Text(text)) => print_line(&text),
            Ok(_) => {}
            Err(WsError::Io(e)) if is_idle(&e) => {}
            Err(_) => return Ok(()),
        }
    }
    eprintln!("no close reply from the server within {CLOSE_WAIT:?}");
    Ok(())
}

fn print_line(text: &str) {
    println!(
        "{} {text}",
        humantime::format_rfc3339_millis(SystemTime::now())
    );
}

/// A read that ended without data: the poll timeout, or a signal (Ctrl-C
/// interrupts a read that has a timeout; the loop then sees the flag).
fn is_idle(e: &std::io::Error) -> bool {
    crate::error::is_timeout(e) || e.kind() == std::io::ErrorKind::Interrupted
}
