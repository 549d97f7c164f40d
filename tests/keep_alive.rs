//! Keep-alive and pipelining: several requests on one connection, and who
//! closes it when.

mod support;

use std::time::{Duration, Instant};

use support::{Client, connect, start_server, start_server_with};

/// The whole answer to `GET /healthz` on a keep-alive HTTP/1.1 connection.
const HEALTHZ_OK: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n\r\nok\n";

/// Reads one response and checks its status line and body.
fn expect_response(c: &mut Client, status_line: &str, body: &str) -> support::Head {
    let (head, got) = c.response();
    assert_eq!(head.raw.lines().next(), Some(status_line), "{:?}", head.raw);
    assert_eq!(got, body);
    head
}

#[test]
fn expect_100_continue_gets_the_go_ahead_before_the_body() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(b"POST /topics/news HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    // The client holds its body back until it reads this.
    assert_eq!(c.head().raw, "HTTP/1.1 100 Continue\r\n\r\n");
    c.send(b"hello");
    let (head, body) = c.response();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("Connection"), None);
    assert_eq!(body, "{\"id\":1,\"topic\":\"news\",\"receivers\":0}\n");
    // The body was read: the connection carries the next request.
    c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    expect_response(&mut c, "HTTP/1.1 200 OK", "ok\n");
}

#[test]
fn expect_100_continue_to_a_handler_that_takes_no_body_gets_no_go_ahead_and_a_close() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(
        b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    // The answer comes without the go-ahead; the body was never sent, so
    // the connection cannot go on to a next request.
    let head = expect_response(
        &mut c,
        "HTTP/1.1 405 Method Not Allowed",
        "method not allowed; use GET, HEAD\n",
    );
    assert_eq!(head.header("Connection"), Some("close"));
    c.expect_closed();
}

#[test]
fn expect_100_continue_to_a_bad_topic_gets_400_before_any_go_ahead() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(
        b"POST /topics/no%20spaces HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\
          Expect: 100-continue\r\n\r\n",
    );
    let head = expect_response(
        &mut c,
        "HTTP/1.1 400 Bad Request",
        "topic name must be 1 to 64 of A-Z a-z 0-9 _ -\n",
    );
    assert_eq!(head.header("Connection"), Some("close"));
    c.expect_closed();
}

#[test]
fn head_of_a_stream_over_http10_keep_alive_says_close_and_closes() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(b"HEAD /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let head = c.head();
    assert_eq!(head.header("Connection"), Some("close"));
    c.expect_closed();
}

#[test]
fn healthz_response_is_exact() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        String::from_utf8_lossy(&c.body(HEALTHZ_OK.len())),
        String::from_utf8_lossy(HEALTHZ_OK)
    );
}

#[test]
fn two_pipelined_requests_are_answered_in_order() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(
        b"GET /notes.txt HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    expect_response(&mut c, "HTTP/1.1 200 OK", "hello\n");
    expect_response(&mut c, "HTTP/1.1 200 OK", "ok\n");
}

#[test]
fn three_pipelined_requests_are_answered_in_order() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(
        b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /missing HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /app.js HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    expect_response(&mut c, "HTTP/1.1 200 OK", "ok\n");
    expect_response(&mut c, "HTTP/1.1 404 Not Found", "not found\n");
    expect_response(&mut c, "HTTP/1.1 200 OK", "console.log(1);\n");
}

#[test]
fn http10_request_is_answered_then_closed() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(b"GET /healthz HTTP/1.0\r\n\r\n");
    let head = expect_response(&mut c, "HTTP/1.1 200 OK", "ok\n");
    assert_eq!(head.header("Connection"), Some("close"));
    c.expect_closed();
}

#[test]
fn http10_keep_alive_request_keeps_the_connection() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let head = expect_response(&mut c, "HTTP/1.1 200 OK", "ok\n");
    assert_eq!(head.header("Connection"), Some("keep-alive"));
    c.send(b"GET /notes.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let head = expect_response(&mut c, "HTTP/1.1 200 OK", "hello\n");
    assert_eq!(head.header("Connection"), Some("keep-alive"));
}

#[test]
fn connection_close_is_answered_then_closed() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let head = expect_response(&mut c, "HTTP/1.1 200 OK", "ok\n");
    assert_eq!(head.header("Connection"), Some("close"));
    c.expect_closed();
}

#[test]
fn head_healthz_has_length_3_and_no_body() {
    let server = start_server();
    let mut c = connect(server.addr);
    // Connection: close, so everything up to the hang-up is the whole answer.
    c.send(b"HEAD /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(
        String::from_utf8_lossy(&c.read_to_end()),
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: 3\r\n\r\n"
    );
}

#[test]
fn idle_keep_alive_connection_is_closed_after_keepalive_timeout() {
    let server = start_server_with(|c| c.http.keepalive_timeout = Duration::from_millis(300));
    let mut c = connect(server.addr);
    c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    expect_response(&mut c, "HTTP/1.1 200 OK", "ok\n");
    let idle = Instant::now();
    // Blocks until the server hangs up (or the 5 s read timeout fails the
    // test); an idle close says nothing, not even a 408.
    c.expect_closed();
    assert!(
        idle.elapsed() >= Duration::from_millis(200),
        "{:?}",
        idle.elapsed()
    );
}

#[test]
fn request_written_byte_by_byte_is_answered() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.stream.set_nodelay(true).unwrap();
    for byte in b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n" {
        c.send(&[*byte]);
    }
    assert_eq!(
        String::from_utf8_lossy(&c.body(HEALTHZ_OK.len())),
        String::from_utf8_lossy(HEALTHZ_OK)
    );
}

#[test]
fn body_split_across_writes_is_read_in_full() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.stream.set_nodelay(true).unwrap();
    for piece in [
        &b"POST /healthz HTTP/1.1\r\nHo"[..],
        b"st: t\r\nContent-Length: 5\r\n\r\nhe",
        b"llo",
        b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
    ] {
        c.send(piece);
    }
    let head = expect_response(
        &mut c,
        "HTTP/1.1 405 Method Not Allowed",
        "method not allowed; use GET, HEAD\n",
    );
    assert_eq!(head.header("Allow"), Some("GET, HEAD"));
    expect_response(&mut c, "HTTP/1.1 200 OK", "ok\n");
}
