//! Server configuration: every limit is a named constant here, and a field of
//! [`Config`] that a command-line flag can change.
//!
//! The defaults are the ones in the README's limits table; `cli.rs` has a test
//! that parsing `tinypush serve` with no flags gives exactly [`Config::default`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Where `tinypush serve` listens when no `--addr` is given.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
/// Largest request head (request line and headers) we buffer.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most header lines a request may carry.
pub const MAX_HEADERS: usize = 100;
/// Time a client has to send a whole request head, and again its body.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Time an idle keep-alive connection may wait for its next request.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest request body we accept.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Longest a single socket write may stall (SO_SNDTIMEO) before we drop the peer.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most connections open at once; also kept below the open-files limit.
pub const MAX_CONNECTIONS: usize = 10_000;
/// Stack reserved for each connection thread. Only touched pages cost memory.
pub const THREAD_STACK_BYTES: usize = 128 * 1024;
/// Comment sent on an otherwise quiet SSE stream, under common 60 s proxy cut-offs.
pub const STREAM_KEEPALIVE: Duration = Duration::from_secs(25);
/// How long shutdown waits for open streams to end before the process exits.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Pending connections the kernel may queue for us (std's `bind` uses 128).
pub const LISTEN_BACKLOG: i32 = 1024;
/// Largest WebSocket message, and largest single frame, we accept.
pub const WS_MAX_MESSAGE_BYTES: usize = 1024 * 1024;
/// How often the server pings a WebSocket client.
pub const WS_PING_INTERVAL: Duration = Duration::from_secs(25);
/// A WebSocket client silent this long (no frame, no pong) is closed.
pub const WS_TIMEOUT: Duration = Duration::from_secs(60);
/// How often `/ws` sends its `heartbeat` text message.
pub const WS_HEARTBEAT: Duration = Duration::from_secs(1);
/// Outgoing messages queued per WebSocket before its client counts as too slow.
pub const WS_QUEUE: usize = 256;
/// Messages each topic keeps for resuming subscribers.
pub const TOPIC_HISTORY: usize = 1000;
/// Bytes of message bodies each topic's history may hold; the newest
/// message is kept even when it alone is larger.
pub const TOPIC_HISTORY_BYTES: usize = 1024 * 1024;
/// Most topics at once.
pub const MAX_TOPICS: usize = 10_000;
/// Most subscribers at once, over all topics.
pub const MAX_SUBSCRIBERS: usize = 10_000;
/// Messages queued per subscriber before it counts as too slow and is dropped.
pub const SUBSCRIBER_QUEUE: usize = 256;
/// A topic with no subscribers and no publish for this long is forgotten.
pub const TOPIC_IDLE: Duration = Duration::from_secs(600);
/// Descriptors kept free for the listener, the watcher, logs and static files.
pub const RESERVED_FDS: u64 = 32;

/// Everything a running server needs to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Folder served at `/`.
    pub static_dir: PathBuf,
    /// See [`MAX_HEAD_BYTES`].
    pub max_head_bytes: usize,
    /// See [`MAX_HEADERS`].
    pub max_headers: usize,
    /// See [`HEAD_TIMEOUT`].
    pub head_timeout: Duration,
    /// See [`KEEPALIVE_TIMEOUT`].
    pub keepalive_timeout: Duration,
    /// See [`MAX_BODY_BYTES`].
    pub max_body_bytes: usize,
    /// See [`WRITE_TIMEOUT`].
    pub write_timeout: Duration,
    /// See [`MAX_CONNECTIONS`].
    pub max_connections: usize,
    /// See [`THREAD_STACK_BYTES`].
    pub thread_stack_bytes: usize,
    /// See [`STREAM_KEEPALIVE`].
    pub stream_keepalive: Duration,
    /// See [`DRAIN_TIMEOUT`].
    pub drain_timeout: Duration,
    /// Origins allowed to open a WebSocket besides the server's own; `*` allows all.
    pub allow_origins: Vec<String>,
    /// WebSocket subprotocols we speak, in order of preference.
    pub ws_protocols: Vec<String>,
    /// See [`WS_MAX_MESSAGE_BYTES`].
    pub ws_max_message_bytes: usize,
    /// See [`WS_MAX_MESSAGE_BYTES`].
    pub ws_max_frame_bytes: usize,
    /// See [`WS_PING_INTERVAL`].
    pub ws_ping_interval: Duration,
    /// See [`WS_TIMEOUT`].
    pub ws_timeout: Duration,
    /// See [`WS_HEARTBEAT`].
    pub ws_heartbeat: Duration,
    /// See [`WS_QUEUE`].
    pub ws_queue: usize,
    /// See [`TOPIC_HISTORY`].
    pub topic_history: usize,
    /// See [`TOPIC_HISTORY_BYTES`].
    pub topic_history_bytes: usize,
    /// See [`MAX_TOPICS`].
    pub max_topics: usize,
    /// See [`MAX_SUBSCRIBERS`].
    pub max_subscribers: usize,
    /// See [`SUBSCRIBER_QUEUE`].
    pub subscriber_queue: usize,
    /// See [`TOPIC_IDLE`].
    pub topic_idle: Duration,
    /// When set, publishing needs `Authorization: Bearer <token>`.
    pub publish_token: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: DEFAULT_ADDR
                .parse()
                .expect("DEFAULT_ADDR is a valid address"),
            static_dir: PathBuf::from("static"),
            max_head_bytes: MAX_HEAD_BYTES,
            max_headers: MAX_HEADERS,
            head_timeout: HEAD_TIMEOUT,
            keepalive_timeout: KEEPALIVE_TIMEOUT,
            max_body_bytes: MAX_BODY_BYTES,
            write_timeout: WRITE_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            thread_stack_bytes: THREAD_STACK_BYTES,
            stream_keepalive: STREAM_KEEPALIVE,
            drain_timeout: DRAIN_TIMEOUT,
            allow_origins: Vec::new(),
            ws_protocols: Vec::new(),
            ws_max_message_bytes: WS_MAX_MESSAGE_BYTES,
            ws_max_frame_bytes: WS_MAX_MESSAGE_BYTES,
            ws_ping_interval: WS_PING_INTERVAL,
            ws_timeout: WS_TIMEOUT,
            ws_heartbeat: WS_HEARTBEAT,
            ws_queue: WS_QUEUE,
            topic_history: TOPIC_HISTORY,
            topic_history_bytes: TOPIC_HISTORY_BYTES,
            max_topics: MAX_TOPICS,
            max_subscribers: MAX_SUBSCRIBERS,
            subscriber_queue: SUBSCRIBER_QUEUE,
            topic_idle: TOPIC_IDLE,
            publish_token: None,
        }
    }
}
