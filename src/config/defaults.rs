//! The default of every setting, as a named constant with its unit. The
//! README's limits table and `tinypush serve --help` both come from these.

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
/// Linux lowers it to `net.core.somaxconn` (4096 since 5.4). A reconnect
/// storm of thousands outruns the accept thread, which shares a small host's
/// cores with the threads it starts; past the queue, a SYN is dropped and that client
/// waits a whole second to retry.
pub const LISTEN_BACKLOG: i32 = 4096;
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
/// How long a message is kept for resuming subscribers.
pub const TOPIC_HISTORY_TTL: Duration = Duration::from_secs(24 * 3600);
/// Most topics at once.
pub const MAX_TOPICS: usize = 10_000;
/// Most subscribers at once, over all topics.
pub const MAX_SUBSCRIBERS: usize = 10_000;
/// Messages queued per subscriber before it counts as too slow and is dropped.
pub const SUBSCRIBER_QUEUE: usize = 256;
/// Kernel send buffer asked for each subscriber's socket (the kernel
/// doubles it): what a client that stops reading can hold in kernel memory.
pub const SUBSCRIBER_SEND_BUFFER: usize = 256 * 1024;
/// A topic with no subscribers and no publish for this long is forgotten.
pub const TOPIC_IDLE: Duration = Duration::from_secs(600);
/// Most connections open at once from one client address.
pub const MAX_CONNECTIONS_PER_IP: usize = 256;
/// Descriptors kept free for the listener, the watcher, logs and static files.
pub const RESERVED_FDS: u64 = 32;
