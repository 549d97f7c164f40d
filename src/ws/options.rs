//! How a WebSocket connection behaves: liveness, queue and size limits.

use std::sync::Arc;
use std::time::Duration;

use tungstenite::protocol::WebSocketConfig;

use super::inner::READ_CHUNK;
use super::timer::Timer;
use crate::config::{Config, WsConfig};
use crate::metrics::Metrics;
use crate::threads::{Permit, ThreadBudget};

/// How a connection behaves; see [`WsConfig`].
pub struct Options {
    /// How often to ping the client.
    pub ping_interval: Duration,
    /// A client silent this long is closed with 1001.
    pub timeout: Duration,
    /// Send a `heartbeat` text message this often (the `/ws` demo).
    pub heartbeat: Option<Duration>,
    /// Outgoing messages queued (by `send`, and by `offer`) before the
    /// client counts as too slow.
    pub queue: usize,
    /// How long [`Connection::send`](super::Connection::send) waits for room in the queue.
    pub send_wait: Duration,
    /// Largest message accepted (1009 past it).
    pub max_message: usize,
    /// Largest frame accepted (1009 past it).
    pub max_frame: usize,
    /// Where written bytes are counted.
    pub metrics: Arc<Metrics>,
    /// The writer thread's place in the thread budget, held while it runs
    /// (a writer for the connection's life).
    pub permit: Option<Permit>,
    /// The server's shared timer: pings and silence for every connection,
    /// and writers started only when needed (unless `heartbeat` is set).
    pub timer: Option<Arc<Timer>>,
    /// Where on-demand writers get their places.
    pub threads: Option<Arc<ThreadBudget>>,
}

impl Options {
    /// The options the server's config asks for.
    pub fn from_config(config: &Config, metrics: &Arc<Metrics>) -> Options {
        let ws: &WsConfig = &config.ws;
        Options {
            metrics: Arc::clone(metrics),
            ping_interval: ws.ping_interval,
            timeout: ws.timeout,
            heartbeat: None,
            queue: ws.queue,
            send_wait: config.http.write_timeout,
            max_message: ws.max_message_bytes,
            max_frame: ws.max_frame_bytes,
            permit: None,
            timer: None,
            threads: None,
        }
    }

    /// Small buffers: tungstenite's 128 KiB default read buffer, allocated
    /// up front, would be most of an idle connection's memory.
    pub(super) fn protocol(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .read_buffer_size(READ_CHUNK)
            .write_buffer_size(0)
            .max_message_size(Some(self.max_message))
            .max_frame_size(Some(self.max_frame))
    }
}
