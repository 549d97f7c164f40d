//! The chunked demo, `GET /stream`: exact chunk framing, timing, endings.

mod support;

use std::time::{Duration, Instant};

use support::{connect, start_server};

const STREAM_HEAD: &str = "HTTP/1.1 200 OK\r\n\
    Content-Type: text/plain; charset=utf-8\r\n\
    Cache-Control: no-cache\r\n\
    X-Accel-Buffering: no\r\n\
    X-Content-Type-Options: nosniff\r\n\
    Transfer-Encoding: chunked\r\n\r\n";

#[test]
fn count_lines_then_message_is_over_then_bye_byte_for_byte() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(b"GET /stream?count=2&interval_ms=20 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.head().raw, STREAM_HEAD);
    assert_eq!(c.raw_chunk(), b"6\r\nstart\n\r\n");
    assert_eq!(c.raw_chunk(), b"7\r\nhoge:0\n\r\n");
    assert_eq!(c.raw_chunk(), b"7\r\nhoge:1\n\r\n");
    assert_eq!(c.raw_chunk(), b"10\r\nmessage is over\n\r\n");
    assert_eq!(c.raw_chunk(), b"4\r\nbye\n\r\n");
    assert_eq!(c.raw_chunk(), b"0\r\n\r\n");
    // Keep-alive: the same connection serves the next request.
    c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().1, "ok\n");
}

#[test]
fn deadline_first_says_process_timeout() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(b"GET /stream?count=5&interval_ms=60000&timeout_ms=50 HTTP/1.1\r\nHost: t\r\n\r\n");
    c.head();
    assert_eq!(c.chunk(), "start\n");
    assert_eq!(c.chunk(), "process timeout\n");
    assert_eq!(c.chunk(), "bye\n");
    assert_eq!(c.chunk(), "");
}

#[test]
fn zero_count_ends_at_once() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(b"GET /stream?count=0 HTTP/1.1\r\nHost: t\r\n\r\n");
    c.head();
    let lines: Vec<String> = (0..4).map(|_| c.chunk()).collect();
    assert_eq!(lines, ["start\n", "message is over\n", "bye\n", ""]);
}

#[test]
fn first_line_arrives_while_the_stream_is_still_open() {
    // The next line is a minute away: `start` can only arrive now if each
    // chunk is flushed when written, not when the body ends.
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(b"GET /stream?count=1&interval_ms=60000&timeout_ms=60000 HTTP/1.1\r\nHost: t\r\n\r\n");
    c.head();
    assert_eq!(c.raw_chunk(), b"6\r\nstart\n\r\n");
}

#[test]
fn lines_arrive_spread_in_time() {
    let server = start_server();
    let mut c = connect(server.addr);
    let interval = Duration::from_millis(100);
    let sent = Instant::now();
    c.send(b"GET /stream?count=3&interval_ms=100 HTTP/1.1\r\nHost: t\r\n\r\n");
    c.head();
    assert_eq!(c.chunk(), "start\n");
    for i in 0..3u32 {
        assert_eq!(c.chunk(), format!("hoge:{i}\n"));
        // Line i cannot exist before (i + 1) intervals after the request.
        let earliest = interval * (i + 1);
        assert!(
            sent.elapsed() >= earliest,
            "hoge:{i} after {:?}",
            sent.elapsed()
        );
    }
    assert_eq!(c.chunk(), "message is over\n");
}

#[test]
fn http10_gets_the_same_lines_unchunked_then_close() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(b"GET /stream?count=1&interval_ms=10 HTTP/1.0\r\n\r\n");
    let head = c.head();
    assert_eq!(head.header("Transfer-Encoding"), None);
    assert_eq!(head.header("Connection"), Some("close"));
    assert_eq!(c.read_to_end(), b"start\nhoge:0\nmessage is over\nbye\n");
}

#[test]
fn head_request_gets_the_stream_head_only() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(b"HEAD /stream HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.head().raw, STREAM_HEAD);
    assert_eq!(c.response().1, "ok\n");
}

#[test]
fn connection_close_stream_ends_with_last_chunk_and_close() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(b"GET /stream?count=0 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let head = c.head();
    assert_eq!(head.header("Connection"), Some("close"));
    assert_eq!(
        c.read_to_end(),
        b"6\r\nstart\n\r\n10\r\nmessage is over\n\r\n4\r\nbye\n\r\n0\r\n\r\n"
    );
}
