//! Shared helpers: a real server on 127.0.0.1 port 0 (in this process, or
//! the binary as a child), and a raw-socket client whose every byte is
//! visible in the test.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, unbounded};
use tinypush::{Config, Server, ShutdownHandle};

/// How long any single read in a test may block before the test fails.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The head of every Server-Sent Events stream, `/event` and topics alike.
pub const SSE_HEAD: &str = "HTTP/1.1 200 OK\r\n\
    Content-Type: text/event-stream\r\n\
    Cache-Control: no-cache\r\n\
    X-Accel-Buffering: no\r\n\
    X-Content-Type-Options: nosniff\r\n\
    Transfer-Encoding: chunked\r\n\r\n";

/// The contents of the static folder every test server gets.
pub const INDEX_HTML: &str = "<!doctype html><title>t</title>\n";

/// A server running on a named thread of this test process.
pub struct TestServer {
    pub addr: SocketAddr,
    pub handle: ShutdownHandle,
    pub static_dir: PathBuf,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

/// Starts a server with the default config, changed by `tweak`.
pub fn start_server_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
    let static_dir = static_dir();
    let mut config = Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        static_dir: static_dir.clone(),
        ..Config::default()
    };
    config.http.drain_timeout = Duration::from_secs(2);
    tweak(&mut config);
    let server = Server::bind(config).expect("bind 127.0.0.1:0");
    let addr = server.local_addr();
    let handle = server.shutdown_handle();
    thread::Builder::new()
        .name(format!("server-{}", addr.port()))
        .spawn(move || server.run())
        .expect("spawn server thread");
    TestServer {
        addr,
        handle,
        static_dir,
    }
}

/// Starts a server with the default config.
pub fn start_server() -> TestServer {
    start_server_with(|_| {})
}

/// A fresh static folder with index.html, app.js, style.css, data.json,
/// logo.svg, a.png, favicon.ico, notes.txt, blob.bin and sub/index.html.
pub fn static_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("static-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let files: &[(&str, &[u8])] = &[
        ("index.html", INDEX_HTML.as_bytes()),
        ("app.js", b"console.log(1);\n"),
        ("style.css", b"body{}\n"),
        ("data.json", b"{\"a\":1}\n"),
        ("logo.svg", b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n"),
        ("a.png", b"\x89PNG\r\n\x1a\n"),
        ("favicon.ico", b"\x00\x00\x01\x00"),
        ("notes.txt", b"hello\n"),
        ("blob.bin", b"\x00\x01\x02"),
        ("sub/index.html", b"<p>sub</p>\n"),
    ];
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    dir
}

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
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    Client {
        stream,
        buf: Vec::new(),
    }
}

impl Client {
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
        while self.buf.len() < n {
            assert!(self.fill() > 0, "connection closed inside a body");
        }
        self.buf.drain(..n).collect()
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
                let total = end + 2 + size + 2;
                while self.buf.len() < total {
                    assert!(self.fill() > 0, "connection closed inside a chunk");
                }
                return self.buf.drain(..total).collect();
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
}

/// Sends one request on a new connection and reads the head and body.
pub fn get(addr: SocketAddr, raw: &[u8]) -> (Head, String) {
    let mut c = connect(addr);
    c.send(raw);
    c.response()
}

/// Polls `cond` every 10 ms until it holds or `limit` passes; for states
/// no event announces (a thread exiting). Returns whether it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// The `tinypush` binary running as a child process, its stderr collected.
pub struct ChildServer {
    pub child: Child,
    pub addr: SocketAddr,
    pub static_dir: PathBuf,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl ChildServer {
    /// Starts `tinypush serve --addr 127.0.0.1:0 ARGS`, through `sh -c` with
    /// `prefix` before it (e.g. `ulimit -n 64;`), and waits for its port.
    pub fn start_with_prefix(prefix: &str, args: &[&str]) -> ChildServer {
        let bin = env!("CARGO_BIN_EXE_tinypush");
        let dir = static_dir();
        let mut line = format!(
            "{prefix} exec '{bin}' serve --addr 127.0.0.1:0 --static-dir '{}' --log-level debug",
            dir.display()
        );
        for a in args {
            line.push_str(&format!(" '{a}'"));
        }
        let mut command = Command::new("sh");
        command.arg("-c").arg(&line);
        Self::run(command, dir)
    }

    /// Runs `command` (the server, maybe through a shell) with its stderr
    /// collected line by line, and waits for the port it listens on.
    fn run(mut command: Command, static_dir: PathBuf) -> ChildServer {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tinypush");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = unbounded();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = ChildServer {
            child,
            addr: "127.0.0.1:0".parse().unwrap(),
            static_dir,
            lines: rx,
            seen: Vec::new(),
        };
        let line = server.wait_log("listening on http://");
        let addr = line.rsplit("http://").next().unwrap().trim();
        server.addr = addr.parse().expect("address in the listening line");
        server
    }

    /// Starts `tinypush serve --addr 127.0.0.1:0 ARGS`.
    pub fn start(args: &[&str]) -> ChildServer {
        Self::start_with_prefix("", args)
    }

    /// Waits (at most 5 s) for a log line containing `needle`; returns it.
    pub fn wait_log(&mut self, needle: &str) -> String {
        if let Some(line) = self.seen.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        let end = Instant::now() + READ_TIMEOUT;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no log line with {needle:?} in 5 s; seen:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// The number of threads the server process has now.
    pub fn threads(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/task", self.child.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Sends a signal by name (`TERM`, `INT`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits at most `limit` for the process to exit; returns its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let end = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            if Instant::now() >= end {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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

/// Connects, sends [`ws_handshake`] for `path` and checks the `101`.
pub fn ws_connect(addr: SocketAddr, path: &str) -> Client {
    let mut c = connect(addr);
    c.send(&ws_handshake(path, &[]));
    let head = c.head();
    assert_eq!(head.status, 101, "{:?}", head.raw);
    c
}

impl Client {
    /// Buffers at least `n` bytes, failing if the connection ends first.
    fn need(&mut self, n: usize) {
        while self.buf.len() < n {
            assert!(
                self.fill() > 0,
                "connection closed inside a WebSocket frame; have {:02x?}",
                self.buf
            );
        }
    }

    /// Reads one WebSocket frame and returns `(fin, opcode, payload)`,
    /// unmasked. Server frames carry no mask and no reserved bits.
    pub fn read_frame(&mut self) -> (bool, u8, Vec<u8>) {
        self.read_frame_or_eof()
            .expect("connection closed before a WebSocket frame")
    }

    /// Like [`Client::read_frame`], but `None` when the server ends the
    /// connection cleanly between frames.
    pub fn read_frame_or_eof(&mut self) -> Option<(bool, u8, Vec<u8>)> {
        if self.buf.is_empty() && self.fill() == 0 {
            return None;
        }
        self.need(2);
        let (b0, b1) = (self.buf[0], self.buf[1]);
        assert_eq!(b0 & 0x70, 0, "reserved bits set: {b0:#04x}");
        let (len, mut at) = match b1 & 0x7f {
            126 => {
                self.need(4);
                (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
            }
            127 => {
                self.need(10);
                let bytes: [u8; 8] = self.buf[2..10].try_into().unwrap();
                (u64::from_be_bytes(bytes) as usize, 10)
            }
            n => (n as usize, 2),
        };
        let mask = if b1 & 0x80 != 0 {
            self.need(at + 4);
            let key = [
                self.buf[at],
                self.buf[at + 1],
                self.buf[at + 2],
                self.buf[at + 3],
            ];
            at += 4;
            Some(key)
        } else {
            None
        };
        self.need(at + len);
        let frame: Vec<u8> = self.buf.drain(..at + len).collect();
        let mut payload = frame[at..].to_vec();
        if let Some(key) = mask {
            for (b, m) in payload.iter_mut().zip(key.iter().cycle()) {
                *b ^= m;
            }
        }
        Some((b0 & 0x80 != 0, b0 & 0x0f, payload))
    }
}

// ---- topics: publishing, metrics, and reading streams as text ----

/// Publishes `body` to `topic` with `POST` on the keep-alive connection `c`;
/// returns the status and the response body.
pub fn publish_on(c: &mut Client, topic: &str, body: &str) -> (u16, String) {
    let head = format!(
        "POST /topics/{topic} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body.as_bytes());
    c.send(&raw);
    let (head, body) = c.response();
    (head.status, body)
}

/// Publishes `body` to `topic` on a new connection; returns the status and
/// the response body.
pub fn publish(addr: SocketAddr, topic: &str, body: &str) -> (u16, String) {
    publish_on(&mut connect(addr), topic, body)
}

/// Publishes and expects 200; returns the receipt's `id` and `receivers`.
pub fn publish_ok(c: &mut Client, topic: &str, body: &str) -> (u64, u64) {
    let (status, reply) = publish_on(c, topic, body);
    assert_eq!(status, 200, "publish to {topic}: {reply:?}");
    let receipt: serde_json::Value = serde_json::from_str(&reply).expect("receipt is JSON");
    let field = |name: &str| receipt[name].as_u64().expect("receipt field");
    (field("id"), field("receivers"))
}

/// Like [`connect`], with the socket's receive buffer set to `bytes` before
/// connecting (so the window the server sees is small from the start): a
/// client that does not read then blocks the server's writes quickly.
pub fn connect_with_recv_buffer(addr: SocketAddr, bytes: usize) -> Client {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(bytes).expect("SO_RCVBUF");
    socket.connect(&addr.into()).expect("connect");
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    Client {
        stream,
        buf: Vec::new(),
    }
}

/// The `/metrics` text, fetched on a new connection.
pub fn metrics(addr: SocketAddr) -> String {
    let (head, body) = get(
        addr,
        b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(head.status, 200, "{}", head.raw);
    body
}

/// The value of one sample in `/metrics`, named exactly as rendered, labels
/// included: `tinypush_subscribers`, `tinypush_connections{kind="sse"}`.
pub fn metric(addr: SocketAddr, name: &str) -> i64 {
    metric_in(&metrics(addr), name)
}

/// The value of the sample `name` in a `/metrics` text.
pub fn metric_in(text: &str, name: &str) -> i64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no sample {name} in:\n{text}"))
        .parse()
        .expect("a whole number")
}

/// A chunked body read as text, whatever the chunk boundaries: NDJSON
/// lines, or SSE events ended by a blank line.
pub struct StreamReader {
    pub client: Client,
    text: String,
    ended: bool,
}

/// One Server-Sent Event, its fields taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub id: Option<u64>,
    /// The `event:` field; `None` for the default type `message`.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

impl StreamReader {
    /// Reads the body of `client`, whose response head was already read.
    pub fn new(client: Client) -> StreamReader {
        StreamReader {
            client,
            text: String::new(),
            ended: false,
        }
    }

    /// The text up to `delim` (not included), or `None` once the body has
    /// ended (the last chunk came) with nothing pending.
    fn until(&mut self, delim: &str) -> Option<String> {
        loop {
            if let Some(at) = self.text.find(delim) {
                let piece = self.text[..at].to_string();
                self.text.drain(..at + delim.len());
                return Some(piece);
            }
            if self.ended {
                assert!(
                    self.text.is_empty(),
                    "body ended inside a piece: {:?}",
                    self.text
                );
                return None;
            }
            let chunk = self.client.chunk();
            self.ended = chunk.is_empty();
            self.text.push_str(&chunk);
        }
    }

    /// The next line without its `\n`; `None` at the end of the body.
    pub fn line(&mut self) -> Option<String> {
        self.until("\n")
    }

    /// The next line, parsed as JSON; `None` at the end of the body.
    pub fn json(&mut self) -> Option<serde_json::Value> {
        self.line()
            .map(|line| serde_json::from_str(&line).expect("an NDJSON line is JSON"))
    }

    /// The next SSE block (an event or a comment) without its blank line;
    /// `None` at the end of the body.
    pub fn raw_event(&mut self) -> Option<String> {
        self.until("\n\n")
    }

    /// The next SSE event, skipping comment blocks (`: keepalive`).
    pub fn event(&mut self) -> Option<SseEvent> {
        loop {
            let block = self.raw_event()?;
            if block.lines().all(|line| line.starts_with(':')) {
                continue;
            }
            return Some(parse_sse(&block));
        }
    }
}

/// Takes one SSE block (without its blank line) apart into its fields.
pub fn parse_sse(block: &str) -> SseEvent {
    let mut event = SseEvent {
        id: None,
        event: None,
        data: String::new(),
    };
    let mut data = Vec::new();
    for line in block.lines() {
        let (field, value) = line.split_once(": ").unwrap_or((line, ""));
        match field {
            "id" => event.id = Some(value.parse().expect("numeric id")),
            "event" => event.event = Some(value.to_string()),
            "data" => data.push(value),
            _ if field.starts_with(':') => {}
            _ => panic!("unexpected SSE line {line:?} in {block:?}"),
        }
    }
    event.data = data.join("\n");
    event
}

impl ChildServer {
    /// Starts `tinypush serve --static-dir DIR --log-level debug ARGS`
    /// directly (no shell, no `--addr` of its own: `args` must give one),
    /// with `TINYPUSH_PUBLISH_TOKEN` removed from its environment and then
    /// `envs` set; waits for its port.
    pub fn spawn(args: &[&str], envs: &[(&str, &str)]) -> ChildServer {
        let dir = static_dir();
        let mut command = Command::new(env!("CARGO_BIN_EXE_tinypush"));
        command
            .arg("serve")
            .arg("--static-dir")
            .arg(&dir)
            .args(["--log-level", "debug"])
            .args(args)
            .env_remove("TINYPUSH_PUBLISH_TOKEN");
        for (name, value) in envs {
            command.env(name, value);
        }
        Self::run(command, dir)
    }

    /// Every log line read so far (by [`ChildServer::wait_log`]).
    pub fn seen(&self) -> &[String] {
        &self.seen
    }
}

/// Sends a raw subscribe request (SSE or NDJSON) and expects a 200 stream
/// head. The hub registers the subscription before the head goes out, so
/// once the head is read, every later publish reaches this subscriber.
pub fn open_stream(addr: SocketAddr, raw: &[u8]) -> StreamReader {
    let mut c = connect(addr);
    c.send(raw);
    let head = c.head();
    assert_eq!(head.status, 200, "{}", head.raw);
    StreamReader::new(c)
}

/// The next SSE event as `(id, data)`; it must be a plain message.
pub fn sse_message(r: &mut StreamReader) -> (u64, String) {
    let e = r.event().expect("an event, not the end of the body");
    assert_eq!(e.event, None, "{e:?}");
    (e.id.expect("message events carry an id"), e.data)
}

/// The next NDJSON line as `(id, data)`; it must be a message object.
pub fn ndjson_message(r: &mut StreamReader) -> (u64, String) {
    let v = r.json().expect("a line, not the end of the body");
    json_message(&v)
}

/// `(id, data)` of a `{"event":"message",...}` object.
pub fn json_message(v: &serde_json::Value) -> (u64, String) {
    assert_eq!(v["event"], "message", "{v}");
    let id = v["id"].as_u64().expect("numeric id");
    let data = v["data"].as_str().expect("string data");
    (id, data.to_string())
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
