//! The server as a process: hang-ups, threads, descriptors, the connection
//! cap and graceful shutdown. Most tests run the binary as a child so its
//! threads and limits are its own.

mod support;

use std::time::Duration;

use support::{ChildServer, connect, start_server_with, wait_until, ws_frame, ws_handshake};

const LONG_STREAM: &[u8] =
    b"GET /stream?count=1&interval_ms=60000&timeout_ms=60000 HTTP/1.1\r\nHost: t\r\n\r\n";

#[test]
fn hung_up_client_is_noticed_and_its_thread_ends() {
    let mut server = ChildServer::start(&[]);
    let baseline = server.threads();
    let mut c = connect(server.addr);
    c.send(LONG_STREAM);
    c.head();
    assert_eq!(c.chunk(), "start\n");
    assert_eq!(server.threads(), baseline + 1, "one thread per connection");
    drop(c);
    // Nothing is written for a minute, so only the watcher can notice.
    server.wait_log("session closed");
    assert!(
        wait_until(Duration::from_secs(2), || server.threads() == baseline),
        "threads: {} (baseline {baseline})",
        server.threads()
    );
}

#[test]
fn many_streams_opened_and_dropped_leave_no_threads() {
    let server = ChildServer::start(&[]);
    let baseline = server.threads();
    let mut clients: Vec<_> = (0..50).map(|_| connect(server.addr)).collect();
    for c in &mut clients {
        c.send(b"GET /event?interval_ms=60000 HTTP/1.1\r\nHost: t\r\n\r\n");
        c.head();
        assert_eq!(c.chunk(), "id: 1\ndata: 1\n\n");
    }
    assert_eq!(server.threads(), baseline + 50);
    drop(clients);
    assert!(
        wait_until(Duration::from_secs(2), || server.threads() == baseline),
        "threads: {} (baseline {baseline})",
        server.threads()
    );
}

#[test]
fn startup_logs_the_url_and_a_curl_line() {
    let mut server = ChildServer::start(&[]);
    let line = server.wait_log("try: curl -N");
    assert!(
        line.ends_with(&format!("try: curl -N http://{}/stream", server.addr)),
        "{line}"
    );
}

#[test]
fn access_log_has_peer_method_path_status_bytes_duration() {
    let mut server = ChildServer::start(&[]);
    let mut c = connect(server.addr);
    c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    c.response();
    let peer = c.stream.local_addr().unwrap();
    let line = server.wait_log(&format!("{peer} \"GET /healthz\" 200 82 "));
    assert!(line.ends_with("ms"), "{line}");
}

#[test]
fn a_websocket_access_line_counts_its_frames_after_the_101() {
    let mut server = ChildServer::start(&[]);
    let mut c = connect(server.addr);
    c.send(&ws_handshake("/echo", &[]));
    let head = c.head();
    assert_eq!(head.status, 101);
    c.send(&ws_frame(0x1, b"hi", true, true));
    assert_eq!(c.read_frame(), (true, 0x1, b"hi".to_vec())); // 81 02 68 69
    c.send(&ws_frame(0x8, &1000u16.to_be_bytes(), true, true));
    assert_eq!(c.read_frame(), (true, 0x8, vec![0x03, 0xe8])); // 88 02 03 e8
    let peer = c.stream.local_addr().unwrap();
    let bytes = head.raw.len() + 4 + 4;
    server.wait_log(&format!("{peer} \"GET /echo\" 101 {bytes} "));
}

#[test]
fn sigterm_ends_open_streams_cleanly_and_exits_zero() {
    let mut server = ChildServer::start(&[]);
    let mut stream = connect(server.addr);
    stream.send(LONG_STREAM);
    stream.head();
    assert_eq!(stream.chunk(), "start\n");
    let mut events = connect(server.addr);
    events.send(b"GET /event?interval_ms=60000 HTTP/1.1\r\nHost: t\r\n\r\n");
    events.head();
    assert_eq!(events.chunk(), "id: 1\ndata: 1\n\n");
    let mut idle = connect(server.addr);
    idle.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    idle.response();

    server.signal("TERM");
    // The chunked stream says bye and gets its last chunk; then the close.
    assert_eq!(stream.raw_chunk(), b"4\r\nbye\n\r\n");
    assert_eq!(stream.raw_chunk(), b"0\r\n\r\n");
    stream.expect_closed();
    assert_eq!(events.raw_chunk(), b"0\r\n\r\n");
    events.expect_closed();
    idle.expect_closed();
    assert_eq!(server.wait_exit(Duration::from_secs(5)), Some(0));
}

#[test]
fn sigint_with_nothing_open_exits_zero() {
    let mut server = ChildServer::start(&[]);
    server.signal("INT");
    assert_eq!(server.wait_exit(Duration::from_secs(5)), Some(0));
}

#[test]
fn drain_time_bounds_a_shutdown_that_cannot_finish() {
    // A client that never finishes its body: its request cannot end cleanly,
    // so only the drain time ends the process.
    let mut server = ChildServer::start(&["--drain-timeout", "300ms"]);
    let mut c = connect(server.addr);
    c.send(b"POST /topics/drain HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\nabc");
    // The go-ahead proves the head was read: the connection is busy with
    // the body, not idle (an idle one would be woken and closed at once).
    assert_eq!(c.head().raw, "HTTP/1.1 100 Continue\r\n\r\n");
    server.signal("TERM");
    assert_eq!(server.wait_exit(Duration::from_secs(5)), Some(0));
    server.wait_log("drain time over; 1 connections cut");
}

#[test]
fn past_the_connection_cap_clients_get_503_with_retry_after() {
    let server = start_server_with(|c| c.http.max_connections = 2);
    let mut held: Vec<_> = (0..2).map(|_| connect(server.addr)).collect();
    for c in &mut held {
        // A full response proves the connection was admitted.
        c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(c.response().1, "ok\n");
    }
    let mut refused = connect(server.addr);
    let (head, body) = refused.response();
    assert_eq!(
        head.raw,
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Retry-After: 1\r\nConnection: close\r\nContent-Length: 31\r\n\r\n"
    );
    assert_eq!(body, "server at its connection limit\n");
    refused.expect_closed();

    // Once a place is free the server answers again. The server closes its
    // end of a connection only after giving up its place, so once that
    // close is read, the place is free.
    held.pop().expect("two held").hang_up();
    let mut c = connect(server.addr);
    c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.head().status, 200);
}

/// A burst of connections far past a low open-files limit: the cap (kept
/// below the limit) refuses the excess with 503, and afterwards the server
/// answers again.
#[test]
fn burst_past_a_low_open_files_limit_then_answers_again() {
    let mut server = ChildServer::builder().open_files_limit(64).start(&[]);
    server.wait_log("open-files limit 64 caps connections at 32");
    let baseline = server.threads();
    let mut clients: Vec<_> = (0..200).map(|_| connect(server.addr)).collect();
    let mut refused = 0;
    for c in &mut clients {
        c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
        let head = c.head();
        if head.status == 503 {
            refused += 1;
        } else {
            assert_eq!(head.status, 200);
        }
    }
    assert!(refused >= 200 - 32, "refused {refused}");
    drop(clients);
    assert!(wait_until(Duration::from_secs(2), || server.threads() == baseline));
    let mut c = connect(server.addr);
    c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().1, "ok\n");
}

/// The limit lowered under a running server, so `accept` itself fails with
/// "too many open files": the accept loop backs off and lives on.
#[test]
fn accept_survives_running_out_of_descriptors() {
    let mut server = ChildServer::start(&[]);
    let pid = server.pid() as i32;
    rlimit::prlimit(pid, rlimit::Resource::NOFILE, Some((48, 48)), None).expect("prlimit");
    let baseline = server.threads();
    let clients: Vec<_> = (0..100).map(|_| connect(server.addr)).collect();
    server.wait_log("accept failed");
    drop(clients);
    assert!(wait_until(Duration::from_secs(3), || server.threads() == baseline));
    let mut c = connect(server.addr);
    c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().1, "ok\n");
    assert!(server.is_running(), "server still running");
}

#[test]
fn client_that_never_reads_is_dropped_after_the_write_timeout() {
    let mut server = ChildServer::start(&["--write-timeout", "200ms"]);
    // Far more than the socket buffers on both sides can hold.
    std::fs::write(server.static_dir.join("big.bin"), vec![7u8; 64 << 20]).unwrap();
    let baseline = server.threads();
    let mut c = connect(server.addr);
    c.send(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    server.wait_log("connected");
    // The client holds the connection and reads nothing: the server's write
    // stalls, times out, and the thread ends.
    assert!(
        wait_until(Duration::from_secs(3), || server.threads() == baseline),
        "threads: {} (baseline {baseline})",
        server.threads()
    );
    drop(c);
}
