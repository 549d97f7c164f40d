//! The topic hub from outside: publishing with `POST /topics/NAME` (the
//! reply is a JSON receipt), and reading the `/metrics` text.
//!
//! ```text
//! POST /topics/news HTTP/1.1\r\n...Content-Length: 5\r\n\r\nhello
//!   → 200, {"id":7,"topic":"news","receivers":3}
//! GET /metrics
//!   → tinypush_subscribers 3\ntinypush_connections{kind="sse"} 1\n...
//! ```

use std::net::SocketAddr;

use super::http::{Client, connect, get};

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
