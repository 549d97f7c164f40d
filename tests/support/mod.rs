//! Shared helpers: a real server on 127.0.0.1 port 0 (in this process, or
//! the binary as a child), and a raw-socket client whose every byte is
//! visible in the test.
//!
//! ```text
//! server     TestServer: the library's server on a thread of this process
//! child      ChildServer: the `tinypush` binary as a process, its log read
//! http       Client: raw requests, response heads, bodies and chunks
//! streams    StreamReader: chunked bodies as NDJSON lines or SSE events
//! websocket  handshake bytes, frames written and read by hand
//! topics     publishing, and the `/metrics` text
//! access     an auth file and its two tokens
//! multi      several topics on one connection: composite cursors, SSE events
//! client     `tinypush client` run to its end, bounded
//! redis      a real `redis-server`, and a link to it that can be cut
//! durable    a fresh --data-dir, the binary serving it, its replay as NDJSON
//! ```
//!
//! Two timing rules hold everywhere: a read blocks at most [`READ_TIMEOUT`],
//! and a test waits on an event (a read, a log line, a channel). Only states
//! that nothing announces are polled, with [`wait_until`].
// Each test binary uses some of the helpers: the others are dead code there,
// and their re-exports below unused imports.
#![allow(dead_code)]

use std::thread;
use std::time::{Duration, Instant};

mod access;
mod child;
mod client;
mod durable;
mod http;
mod multi;
mod redis;
mod server;
mod streams;
mod topics;
mod websocket;

#[allow(unused_imports)]
pub use access::{AUTH_FILE, READER, WRITER, auth_file};
#[allow(unused_imports)]
pub use child::{ChildServer, read_lines, refused, until_eof};
#[allow(unused_imports)]
pub use client::run_client;
#[allow(unused_imports)]
pub use durable::{DataDir, ndjson_since, serve, stop};
#[allow(unused_imports)]
pub use http::{Client, Head, connect, connect_from, connect_with_recv_buffer, get};
#[allow(unused_imports)]
pub use multi::{Positions, TopicEvent, topic_event, topic_message};
#[allow(unused_imports)]
pub use redis::{Link, RedisServer, Reply, free_port, node, resp_command};
#[allow(unused_imports)]
pub use server::{INDEX_HTML, TestServer, start_server, start_server_with, static_dir};
#[allow(unused_imports)]
pub use streams::{
    NDJSON_HEAD, SSE_HEAD, SseEvent, StreamReader, json_message, ndjson_message, open_stream,
    parse_sse, sse_message,
};
#[allow(unused_imports)]
pub use topics::{metric, metric_in, metrics, publish, publish_ok, publish_on};
#[allow(unused_imports)]
pub use websocket::{
    WS_MASK, WS_SAMPLE_KEY, ws_close_code, ws_close_payload, ws_connect, ws_expect_close,
    ws_expect_close_and_end, ws_frame, ws_handshake, ws_json_message, ws_text,
};

/// How long any single read in a test may block before the test fails.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Polls `cond` every 10 ms until it holds or `limit` passes; returns
/// whether it held.
///
/// Only for states that no event announces: the number of threads in
/// `/proc/PID/task` going down after a connection ends, or a `/metrics`
/// gauge catching up with a connection that just opened or closed. Wherever
/// a read, a log line or a channel says the thing happened, wait on that.
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
