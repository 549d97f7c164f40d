//! Bad requests: each gets its status and a one-line `text/plain` reason.
//!
//! An error found while reading the request (head, framing, body) also gets
//! `Connection: close` and a hang-up, since the bytes after it cannot be
//! trusted. An error from a handler comes after a complete request, so the
//! connection carries on.

mod support;

use std::time::{Duration, Instant};

use support::{Client, connect, start_server, start_server_with};

/// Reads a response to a request the server could not read, and checks it
/// word for word: `status_line`, a `text/plain` `reason`, `Connection:
/// close`, then the server hanging up with nothing more.
fn expect_rejected(c: &mut Client, status_line: &str, reason: &str) {
    let head = c.head();
    assert_eq!(head.raw.lines().next(), Some(status_line), "{:?}", head.raw);
    assert_eq!(
        head.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(head.header("Connection"), Some("close"));
    let len: usize = head.header("Content-Length").unwrap().parse().unwrap();
    let body = String::from_utf8(c.body(len)).unwrap();
    assert_eq!(body, reason);
    c.expect_closed();
}

/// Reads a handler's error response and checks it word for word; the
/// connection stays open (no `Connection` header on HTTP/1.1).
fn expect_refused(c: &mut Client, status_line: &str, reason: &str) {
    let (head, body) = c.response();
    assert_eq!(head.raw.lines().next(), Some(status_line), "{:?}", head.raw);
    assert_eq!(
        head.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(head.header("Connection"), None);
    assert_eq!(body, reason);
}

/// Reads `GET /healthz`'s answer: the connection still works.
fn expect_healthz_ok(c: &mut Client) {
    let (head, body) = c.response();
    assert_eq!(head.raw.lines().next(), Some("HTTP/1.1 200 OK"));
    assert_eq!(body, "ok\n");
}

/// Sends `raw` on a new connection to a default server and expects the
/// request to be rejected.
fn rejects(raw: &[u8], status_line: &str, reason: &str) {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(raw);
    expect_rejected(&mut c, status_line, reason);
}

#[test]
fn garbage_request_line_gets_400_and_close() {
    rejects(
        b"HELLO?\r\n\r\n",
        "HTTP/1.1 400 Bad Request",
        "malformed request head\n",
    );
}

#[test]
fn http11_without_host_gets_400_and_close() {
    rejects(
        b"GET /healthz HTTP/1.1\r\n\r\n",
        "HTTP/1.1 400 Bad Request",
        "HTTP/1.1 request without Host\n",
    );
}

#[test]
fn http2_request_line_gets_505_and_close() {
    rejects(
        b"GET /healthz HTTP/2.0\r\nHost: t\r\n\r\n",
        "HTTP/1.1 505 HTTP Version Not Supported",
        "only HTTP/1.0 and HTTP/1.1 are served\n",
    );
}

#[test]
fn oversized_head_gets_431_and_close() {
    let server = start_server_with(|c| c.http.max_head_bytes = 1024);
    let mut c = connect(server.addr);
    // Twice the cap: the server stops reading at 1024 bytes, so it hangs up
    // with bytes unread. It must still close cleanly (RFC 9112, section 9.6:
    // half-close, then drain), or a reset can wipe out the 431 on its way.
    let filler = "a".repeat(2000);
    c.send(format!("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Filler: {filler}\r\n\r\n").as_bytes());
    expect_rejected(
        &mut c,
        "HTTP/1.1 431 Request Header Fields Too Large",
        "request head over 1024 bytes\n",
    );
}

#[test]
fn too_many_headers_get_431_and_close() {
    let server = start_server_with(|c| c.http.max_headers = 10);
    let mut c = connect(server.addr);
    c.send(
        b"GET /healthz HTTP/1.1\r\nHost: t\r\n\
          X-1: 1\r\nX-2: 2\r\nX-3: 3\r\nX-4: 4\r\nX-5: 5\r\n\
          X-6: 6\r\nX-7: 7\r\nX-8: 8\r\nX-9: 9\r\nX-10: 10\r\n\r\n",
    );
    expect_rejected(
        &mut c,
        "HTTP/1.1 431 Request Header Fields Too Large",
        "more than 10 header lines\n",
    );
}

#[test]
fn partial_head_then_silence_gets_408_and_close() {
    let server = start_server_with(|c| c.http.head_timeout = Duration::from_millis(300));
    let mut c = connect(server.addr);
    let sent = Instant::now();
    c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n");
    // This read waits on the socket until the server gives up on the head.
    expect_rejected(
        &mut c,
        "HTTP/1.1 408 Request Timeout",
        "request not received in time\n",
    );
    assert!(
        sent.elapsed() >= Duration::from_millis(250),
        "{:?}",
        sent.elapsed()
    );
}

#[test]
fn silent_client_gets_408_after_head_timeout() {
    let server = start_server_with(|c| c.http.head_timeout = Duration::from_millis(300));
    let connected = Instant::now();
    let mut c = connect(server.addr);
    expect_rejected(
        &mut c,
        "HTTP/1.1 408 Request Timeout",
        "request not received in time\n",
    );
    assert!(
        connected.elapsed() >= Duration::from_millis(250),
        "{:?}",
        connected.elapsed()
    );
}

#[test]
fn post_without_length_gets_411_and_close() {
    rejects(
        b"POST /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
        "HTTP/1.1 411 Length Required",
        "a body needs Content-Length or chunked coding\n",
    );
}

#[test]
fn declared_body_over_limit_gets_413_before_it_is_sent() {
    let server = start_server_with(|c| c.http.max_body_bytes = 100);
    let mut c = connect(server.addr);
    // Only the head: the answer must come without waiting for the body.
    c.send(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n");
    expect_rejected(
        &mut c,
        "HTTP/1.1 413 Content Too Large",
        "request body over 100 bytes\n",
    );
}

#[test]
fn chunked_body_over_limit_gets_413_and_close() {
    let server = start_server_with(|c| c.http.max_body_bytes = 100);
    let mut c = connect(server.addr);
    // Two chunks of 0x40 = 64 bytes: 128 in all.
    let data = "x".repeat(64);
    c.send(
        format!(
            "POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
             40\r\n{data}\r\n40\r\n{data}\r\n0\r\n\r\n"
        )
        .as_bytes(),
    );
    expect_rejected(
        &mut c,
        "HTTP/1.1 413 Content Too Large",
        "request body over 100 bytes\n",
    );
}

#[test]
fn a_body_refused_after_the_go_ahead_is_answered_then_closed_without_a_reset() {
    let server = start_server_with(|c| c.http.max_body_bytes = 100);
    let mut c = connect(server.addr);
    c.send(
        b"POST /topics/news HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\
          Expect: 100-continue\r\n\r\n",
    );
    assert_eq!(c.head().raw, "HTTP/1.1 100 Continue\r\n\r\n");
    // 128 bytes, past the cap, then 192 KiB more still on their way: a
    // close with them unread would be a reset, which can take the 413
    // with it and fails `expect_closed`'s read.
    let data = "x".repeat(64);
    let more = format!("8000\r\n{}\r\n", "y".repeat(0x8000)).repeat(6);
    c.send(format!("40\r\n{data}\r\n40\r\n{data}\r\n{more}").as_bytes());
    expect_rejected(
        &mut c,
        "HTTP/1.1 413 Content Too Large",
        "request body over 100 bytes\n",
    );
}

#[test]
fn malformed_chunk_size_gets_400_and_close() {
    rejects(
        b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
          zz\r\nhello\r\n0\r\n\r\n",
        "HTTP/1.1 400 Bad Request",
        "malformed chunk size\n",
    );
}

#[test]
fn content_length_with_transfer_encoding_gets_400_and_close() {
    rejects(
        b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n0\r\n\r\n",
        "HTTP/1.1 400 Bad Request",
        "both Transfer-Encoding and Content-Length\n",
    );
}

#[test]
fn two_different_content_lengths_get_400_and_close() {
    rejects(
        b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        "HTTP/1.1 400 Bad Request",
        "conflicting Content-Length values\n",
    );
}

#[test]
fn non_numeric_content_length_gets_400_and_close() {
    rejects(
        b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n",
        "HTTP/1.1 400 Bad Request",
        "Content-Length is not a number\n",
    );
}

#[test]
fn unsupported_transfer_coding_gets_400_and_close() {
    rejects(
        b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
        "HTTP/1.1 400 Bad Request",
        "only chunked transfer coding is supported\n",
    );
}

#[test]
fn unknown_path_gets_404_and_keeps_the_connection() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(b"GET /no/such/thing HTTP/1.1\r\nHost: t\r\n\r\n");
    expect_refused(&mut c, "HTTP/1.1 404 Not Found", "not found\n");
    c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    expect_healthz_ok(&mut c);
}

#[test]
fn post_to_healthz_gets_405_and_its_body_is_skipped() {
    let server = start_server();
    let mut c = connect(server.addr);
    // One write: the body's 5 bytes must be consumed for the GET to be seen.
    c.send(
        b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello\
          GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let (head, body) = c.response();
    assert_eq!(
        head.raw.lines().next(),
        Some("HTTP/1.1 405 Method Not Allowed")
    );
    assert_eq!(head.header("Allow"), Some("GET, HEAD"));
    assert_eq!(head.header("Connection"), None);
    assert_eq!(body, "method not allowed; use GET, HEAD\n");
    expect_healthz_ok(&mut c);
}

#[test]
fn chunked_post_to_healthz_gets_405_and_its_body_is_skipped() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(
        b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n0\r\n\r\n\
          GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let (head, body) = c.response();
    assert_eq!(
        head.raw.lines().next(),
        Some("HTTP/1.1 405 Method Not Allowed")
    );
    assert_eq!(head.header("Allow"), Some("GET, HEAD"));
    assert_eq!(head.header("Connection"), None);
    assert_eq!(body, "method not allowed; use GET, HEAD\n");
    expect_healthz_ok(&mut c);
}

/// Sends `raw` on a new connection and expects a handler's 400 with `reason`.
fn refused_400(raw: &[u8], reason: &str) {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(raw);
    expect_refused(&mut c, "HTTP/1.1 400 Bad Request", reason);
}

#[test]
fn stream_count_not_a_number_gets_400_with_reason() {
    refused_400(
        b"GET /stream?count=abc HTTP/1.1\r\nHost: t\r\n\r\n",
        "count must be a whole number from 0 to 100000\n",
    );
}

#[test]
fn stream_interval_zero_gets_400_with_reason() {
    refused_400(
        b"GET /stream?interval_ms=0 HTTP/1.1\r\nHost: t\r\n\r\n",
        "interval_ms must be a whole number from 1 to 3600000\n",
    );
}

#[test]
fn stream_timeout_out_of_range_gets_400_with_reason() {
    refused_400(
        b"GET /stream?timeout_ms=99999999999 HTTP/1.1\r\nHost: t\r\n\r\n",
        "timeout_ms must be a whole number from 1 to 3600000\n",
    );
}

#[test]
fn event_with_bad_last_event_id_gets_400_with_reason() {
    refused_400(
        b"GET /event HTTP/1.1\r\nHost: t\r\nLast-Event-ID: x\r\n\r\n",
        "since and Last-Event-ID must be whole numbers from 0 to 9007199254740991\n",
    );
}

#[test]
fn event_with_last_event_id_at_the_top_of_the_range_gets_400() {
    refused_400(
        b"GET /event HTTP/1.1\r\nHost: t\r\nLast-Event-ID: 18446744073709551614\r\n\r\n",
        "since and Last-Event-ID must be whole numbers from 0 to 9007199254740991\n",
    );
}
