//! The thread budget: past it, clients get 503 and the process goes on.
//! A thread started past the memory-mapping limit would abort the whole
//! process, so the server counts its threads and refuses before that.
//!
//! ```text
//! --max-threads 1
//! conn 1: GET /echo (upgrade)   → 101: its own thread (a writer only while
//!                                 frames wait)
//! conn 2: GET /healthz          → 503 server at its thread limit (at accept)
//! conn 1: GET /ws (upgrade)     → 503: /ws keeps a writer for its heartbeat,
//!                                 and there is no thread for it
//! ```

mod support;

use support::{connect, start_server_with, ws_connect, ws_frame, ws_handshake, ws_text};

const REFUSED: &str = "HTTP/1.1 503 Service Unavailable\r\n\
    Content-Type: text/plain; charset=utf-8\r\n\
    Retry-After: 1\r\n\
    Connection: close\r\n\
    Content-Length: 27\r\n\r\n";

#[test]
fn past_the_budget_a_new_connection_gets_503_and_the_open_ones_go_on() {
    let server = start_server_with(|c| c.http.max_threads = Some(1));
    let mut ws = ws_connect(server.addr, "/echo");
    let mut refused = connect(server.addr);
    let (head, body) = refused.response();
    assert_eq!(head.raw, REFUSED);
    assert_eq!(body, "server at its thread limit\n");
    refused.expect_closed();
    ws.send(&ws_frame(0x1, b"still here", true, true));
    assert_eq!(ws_text(&mut ws), "still here");
}

#[test]
fn an_upgrade_with_no_thread_for_its_writer_gets_503_not_101() {
    let server = start_server_with(|c| c.http.max_threads = Some(1));
    let mut c = connect(server.addr);
    c.send(&ws_handshake("/ws", &[]));
    let (head, body) = c.response();
    assert_eq!(head.raw, REFUSED.replace("Connection: close\r\n", ""));
    assert_eq!(body, "server at its thread limit\n");
    // A plain request on the same connection still works: keep-alive goes on.
    c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().1, "ok\n");
}
