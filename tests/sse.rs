//! The SSE demo, `GET /event`: framing, resume after Last-Event-ID, keepalive.

mod support;

use std::time::Duration;

use support::{SSE_HEAD, connect, start_server, start_server_with};

#[test]
fn counts_from_one_one_event_per_chunk() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(b"GET /event?interval_ms=20 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.head().raw, SSE_HEAD);
    assert_eq!(c.raw_chunk(), b"f\r\nid: 1\ndata: 1\n\n\r\n");
    assert_eq!(c.raw_chunk(), b"f\r\nid: 2\ndata: 2\n\n\r\n");
    assert_eq!(c.raw_chunk(), b"f\r\nid: 3\ndata: 3\n\n\r\n");
}

#[test]
fn first_event_arrives_at_once() {
    // With a one-minute interval, only the immediate first event can arrive.
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(b"GET /event?interval_ms=60000 HTTP/1.1\r\nHost: t\r\n\r\n");
    c.head();
    assert_eq!(c.chunk(), "id: 1\ndata: 1\n\n");
}

#[test]
fn resumes_after_last_event_id() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(b"GET /event?interval_ms=20 HTTP/1.1\r\nHost: t\r\nLast-Event-ID: 41\r\n\r\n");
    c.head();
    assert_eq!(c.chunk(), "id: 42\ndata: 42\n\n");
    assert_eq!(c.chunk(), "id: 43\ndata: 43\n\n");
}

#[test]
fn empty_last_event_id_starts_at_one() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(b"GET /event?interval_ms=20 HTTP/1.1\r\nHost: t\r\nLast-Event-ID: \r\n\r\n");
    c.head();
    assert_eq!(c.chunk(), "id: 1\ndata: 1\n\n");
}

#[test]
fn quiet_stream_sends_keepalive_comments() {
    let server = start_server_with(|c| c.http.stream_keepalive = Duration::from_millis(30));
    let mut c = connect(server.addr);
    c.send(b"GET /event?interval_ms=60000 HTTP/1.1\r\nHost: t\r\n\r\n");
    c.head();
    assert_eq!(c.chunk(), "id: 1\ndata: 1\n\n");
    assert_eq!(c.raw_chunk(), b"d\r\n: keepalive\n\n\r\n");
    assert_eq!(c.raw_chunk(), b"d\r\n: keepalive\n\n\r\n");
}

#[test]
fn http10_gets_raw_events_until_close() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(b"GET /event?interval_ms=20 HTTP/1.0\r\n\r\n");
    let head = c.head();
    assert_eq!(head.header("Transfer-Encoding"), None);
    assert_eq!(head.header("Connection"), Some("close"));
    let mut seen = Vec::new();
    while seen.len() < 30 {
        seen.extend(c.body(1));
    }
    assert!(
        seen.starts_with(b"id: 1\ndata: 1\n\nid: 2\ndata: 2\n\n"),
        "{:?}",
        String::from_utf8_lossy(&seen)
    );
}
