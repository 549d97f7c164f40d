//! WebSocket over real sockets: the handshake and its refusals, echo,
//! fragments, ping and close, close codes for bad frames, heartbeats, dead
//! peers, thread clean-up, and the `tinypush client` subcommand.
//!
//! Client frames are written as raw bytes (`ws_frame`) and server frames
//! read as raw bytes (`read_frame`), so the wire is visible:
//!
//! ```text
//! client → server   81 85 37 fa 21 3d 5f 9f 4d 51 58    text "hello", masked
//! server → client   81 05 68 65 6c 6c 6f                text "hello"
//! ```

mod support;

use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use socket2::{Domain, Socket, Type};
use tungstenite::Message;

use support::{
    ChildServer, Client, Head, connect, metric, publish, read_lines, run_client, start_server,
    start_server_with, until_eof, wait_until, ws_close_code, ws_close_payload, ws_connect,
    ws_frame, ws_handshake,
};

const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CONTINUATION: u8 = 0x0;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xa;

/// A handler refusal: the status line, a one-line `text/plain` reason.
fn expect_refused(c: &mut Client, status_line: &str, reason: &str) -> Head {
    let (head, body) = c.response();
    assert_eq!(head.raw.lines().next(), Some(status_line), "{:?}", head.raw);
    assert_eq!(
        head.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(head.header("Sec-WebSocket-Accept"), None);
    assert_eq!(body, format!("{reason}\n"));
    head
}

/// Sends `raw` to a fresh default server and expects a refusal.
fn refused(raw: &[u8], status_line: &str, reason: &str) -> Head {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(raw);
    expect_refused(&mut c, status_line, reason)
}

/// Reads the server's close frame and returns its code, then expects the
/// server to end the TCP connection with nothing more.
fn expect_close_then_eof(c: &mut Client) -> u16 {
    let (fin, opcode, payload) = c.read_frame();
    assert!(fin);
    assert_eq!(opcode, CLOSE, "payload {payload:02x?}");
    let code = ws_close_code(&payload);
    c.expect_closed();
    code
}

// ---- the handshake ----

#[test]
fn rfc_6455_sample_key_gets_exactly_the_sample_101() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(
        b"GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    assert_eq!(
        c.head().raw,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    );
}

#[test]
fn get_echo_without_upgrade_gets_400() {
    refused(
        b"GET /echo HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "HTTP/1.1 400 Bad Request",
        "expected Upgrade: websocket",
    );
}

#[test]
fn upgrade_without_connection_upgrade_gets_400() {
    refused(
        b"GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "HTTP/1.1 400 Bad Request",
        "expected Connection: Upgrade",
    );
}

#[test]
fn upgrade_with_a_body_gets_400_and_its_bytes_are_never_frames() {
    // A ping frame as the "body": it must not be answered with a pong.
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(
        b"GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
          Content-Length: 6\r\nExpect: 100-continue\r\n\r\n\x89\x80abcd",
    );
    let head = expect_refused(
        &mut c,
        "HTTP/1.1 400 Bad Request",
        "a WebSocket handshake has no body",
    );
    assert_eq!(head.header("Connection"), Some("close"));
    // Nothing after the 400: no pong.
    c.expect_closed();
}

#[test]
fn key_not_base64_of_16_bytes_gets_400() {
    // "c2hvcnQ=" is base64 of "short": 5 bytes, not 16.
    refused(
        b"GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "HTTP/1.1 400 Bad Request",
        "Sec-WebSocket-Key must be base64 of 16 bytes",
    );
}

#[test]
fn version_8_gets_426_naming_version_13() {
    let head = refused(
        b"GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
        "HTTP/1.1 426 Upgrade Required",
        "only WebSocket version 13 is supported",
    );
    assert_eq!(head.header("Sec-WebSocket-Version"), Some("13"));
    assert_eq!(head.header("Upgrade"), Some("websocket"));
}

#[test]
fn foreign_origin_gets_403() {
    refused(
        &ws_handshake("/echo", &["Origin: http://evil.example"]),
        "HTTP/1.1 403 Forbidden",
        "origin not allowed",
    );
}

#[test]
fn same_host_origin_gets_101() {
    let server = start_server();
    let mut c = connect(server.addr);
    // ws_handshake sends `Host: t`.
    c.send(&ws_handshake("/echo", &["Origin: http://t"]));
    assert_eq!(c.head().status, 101);
}

#[test]
fn listed_origin_gets_101() {
    let server = start_server_with(|c| c.access.cors_origins = vec!["https://app.example".into()]);
    let mut c = connect(server.addr);
    c.send(&ws_handshake("/echo", &["Origin: https://app.example"]));
    assert_eq!(c.head().status, 101);
    let mut c = connect(server.addr);
    c.send(&ws_handshake("/echo", &["Origin: http://evil.example"]));
    expect_refused(&mut c, "HTTP/1.1 403 Forbidden", "origin not allowed");
}

#[test]
fn star_allows_any_origin() {
    let server = start_server_with(|c| c.access.cors_origins = vec!["*".into()]);
    let mut c = connect(server.addr);
    c.send(&ws_handshake("/echo", &["Origin: http://evil.example"]));
    assert_eq!(c.head().status, 101);
}

#[test]
fn post_upgrade_gets_405_allow_get() {
    let head = refused(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
          Content-Length: 0\r\n\r\n",
        "HTTP/1.1 405 Method Not Allowed",
        "method not allowed; use GET",
    );
    assert_eq!(head.header("Allow"), Some("GET"));
}

#[test]
fn http_1_0_upgrade_gets_400() {
    let head = refused(
        b"GET /echo HTTP/1.0\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "HTTP/1.1 400 Bad Request",
        "WebSocket needs HTTP/1.1",
    );
    assert_eq!(head.header("Connection"), Some("close"));
}

#[test]
fn first_offered_subprotocol_we_speak_is_chosen() {
    let server = start_server_with(|c| c.ws.protocols = vec!["chat".into(), "superchat".into()]);
    let mut c = connect(server.addr);
    c.send(&ws_handshake(
        "/echo",
        &["Sec-WebSocket-Protocol: v2, superchat"],
    ));
    let head = c.head();
    assert_eq!(head.status, 101);
    assert_eq!(head.header("Sec-WebSocket-Protocol"), Some("superchat"));

    let mut c = connect(server.addr);
    c.send(&ws_handshake(
        "/echo",
        &["Sec-WebSocket-Protocol: v2, mqtt"],
    ));
    let head = c.head();
    assert_eq!(head.status, 101);
    assert_eq!(
        head.header("Sec-WebSocket-Protocol"),
        None,
        "{:?}",
        head.raw
    );
}

#[test]
fn frame_sent_with_the_handshake_is_not_lost() {
    let server = start_server();
    let mut c = connect(server.addr);
    let mut bytes = ws_handshake("/echo", &[]);
    bytes.extend(ws_frame(TEXT, b"hello", true, true));
    c.send(&bytes);
    assert_eq!(c.head().status, 101);
    assert_eq!(c.body(7), b"\x81\x05hello");
}

// ---- echo, fragments, ping ----

fn echoes_text_and_binary(path: &str) {
    let server = start_server();
    let mut c = ws_connect(server.addr, path);
    c.send(&ws_frame(TEXT, b"hello", true, true));
    assert_eq!(c.body(7), b"\x81\x05hello");
    c.send(&ws_frame(BINARY, &[0x00, 0x01, 0xfe, 0xff], true, true));
    assert_eq!(c.body(6), [0x82, 0x04, 0x00, 0x01, 0xfe, 0xff]);
    // A 200-byte message: the 16-bit length form.
    let big = vec![b'x'; 200];
    c.send(&ws_frame(TEXT, &big, true, true));
    assert_eq!(c.body(4), [0x81, 126, 0x00, 200]);
    assert_eq!(c.body(200), big);
}

#[test]
fn echo_sends_text_and_binary_back() {
    echoes_text_and_binary("/echo");
}

#[test]
fn socket_sends_text_and_binary_back() {
    echoes_text_and_binary("/socket");
}

fn reassembles_fragments_answering_a_ping_between_them(path: &str) {
    let server = start_server();
    let mut c = ws_connect(server.addr, path);
    c.send(&ws_frame(TEXT, b"hel", true, false));
    c.send(&ws_frame(PING, b"mid", true, true));
    // The pong comes while the message is still incomplete.
    assert_eq!(c.read_frame(), (true, PONG, b"mid".to_vec()));
    c.send(&ws_frame(CONTINUATION, b"lo ", true, false));
    c.send(&ws_frame(CONTINUATION, b"world", true, true));
    assert_eq!(c.body(13), b"\x81\x0bhello world");
}

#[test]
fn echo_reassembles_a_fragmented_text_and_pongs_between_fragments() {
    reassembles_fragments_answering_a_ping_between_them("/echo");
}

#[test]
fn socket_reassembles_a_fragmented_text_and_pongs_between_fragments() {
    reassembles_fragments_answering_a_ping_between_them("/socket");
}

#[test]
fn ping_gets_pong_with_the_same_payload() {
    let server = start_server();
    let mut c = ws_connect(server.addr, "/echo");
    c.send(&ws_frame(PING, b"are you there?", true, true));
    assert_eq!(c.body(16), b"\x8a\x0eare you there?");
}

// ---- closing ----

#[test]
fn client_close_1000_is_echoed_then_tcp_ends() {
    let server = start_server();
    let mut c = ws_connect(server.addr, "/echo");
    c.send(&ws_frame(CLOSE, &[0x03, 0xe8], true, true));
    assert_eq!(c.body(4), [0x88, 0x02, 0x03, 0xe8]);
    c.expect_closed();
}

#[test]
fn server_shutdown_sends_close_1001_and_exits_zero_after_the_reply() {
    let mut server = ChildServer::start(&[]);
    let mut c = ws_connect(server.addr, "/echo");
    // The connection works before the signal.
    c.send(&ws_frame(TEXT, b"hi", true, true));
    assert_eq!(c.body(4), b"\x81\x02hi");
    server.signal("TERM");
    let (fin, opcode, payload) = c.read_frame();
    assert_eq!((fin, opcode), (true, CLOSE), "payload {payload:02x?}");
    assert_eq!(ws_close_code(&payload), 1001, "{payload:02x?}");
    c.send(&ws_frame(CLOSE, &ws_close_payload(1001, ""), true, true));
    c.expect_closed();
    assert_eq!(server.wait_exit(Duration::from_secs(5)), Some(0));
}

#[test]
fn unmasked_client_frame_gets_close_1002() {
    let server = start_server();
    let mut c = ws_connect(server.addr, "/echo");
    c.send(&ws_frame(TEXT, b"hi", false, true));
    assert_eq!(expect_close_then_eof(&mut c), 1002);
}

#[test]
fn reserved_opcode_3_gets_close_1002() {
    let server = start_server();
    let mut c = ws_connect(server.addr, "/echo");
    c.send(&ws_frame(0x3, b"hi", true, true));
    assert_eq!(expect_close_then_eof(&mut c), 1002);
}

#[test]
fn text_with_invalid_utf8_gets_close_1007() {
    let server = start_server();
    let mut c = ws_connect(server.addr, "/echo");
    c.send(&ws_frame(TEXT, &[0xff, 0xfe], true, true));
    assert_eq!(expect_close_then_eof(&mut c), 1007);
}

#[test]
fn frame_over_max_frame_bytes_gets_close_1009() {
    let server = start_server_with(|c| c.ws.max_frame_bytes = 1024);
    let mut c = ws_connect(server.addr, "/echo");
    // Just under the limit still echoes.
    c.send(&ws_frame(BINARY, &[7; 1000], true, true));
    assert_eq!(c.read_frame(), (true, BINARY, vec![7; 1000]));
    c.send(&ws_frame(BINARY, &[7; 1025], true, true));
    assert_eq!(expect_close_then_eof(&mut c), 1009);
}

#[test]
fn fragmented_message_over_max_message_bytes_gets_close_1009() {
    let server = start_server_with(|c| c.ws.max_message_bytes = 1024);
    let mut c = ws_connect(server.addr, "/echo");
    let mut bytes = ws_frame(TEXT, &[b'a'; 600], true, false);
    bytes.extend(ws_frame(CONTINUATION, &[b'a'; 600], true, false));
    bytes.extend(ws_frame(CONTINUATION, &[b'a'; 600], true, true));
    c.send(&bytes);
    assert_eq!(expect_close_then_eof(&mut c), 1009);
}

// ---- heartbeats, pushes and dead peers ----

#[test]
fn ws_pushes_heartbeats_to_an_idle_client_and_still_echoes() {
    let server = start_server_with(|c| c.ws.heartbeat = Duration::from_millis(50));
    let mut c = ws_connect(server.addr, "/ws");
    // Nothing sent: these arrive on the server's own initiative.
    assert_eq!(c.body(11), b"\x81\x09heartbeat");
    assert_eq!(c.body(11), b"\x81\x09heartbeat");
    expect_echo_among_heartbeats(&mut c, b"hello");
}

#[test]
fn client_silent_longer_than_the_head_timeout_is_not_dropped() {
    // The head timeout bounds reading an HTTP request; a WebSocket client
    // that only listens may stay quiet far longer (pings, the silent-peer
    // deadline, and the write timeout guard that).
    let server = start_server_with(|c| {
        c.http.head_timeout = Duration::from_millis(300);
        c.ws.heartbeat = Duration::from_millis(50);
    });
    let mut c = ws_connect(server.addr, "/ws");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(1) {
        match c.read_frame_or_eof() {
            Some(frame) => assert_eq!(frame, (true, TEXT, b"heartbeat".to_vec())),
            None => panic!(
                "server hung up, without a close frame, after {:?} of client silence \
                 (head_timeout 300 ms, ws_timeout 60 s)",
                started.elapsed()
            ),
        }
    }
    expect_echo_among_heartbeats(&mut c, b"still here");
}

#[test]
fn silent_client_is_pinged_then_closed_with_1001() {
    let server = start_server_with(|c| {
        c.ws.ping_interval = Duration::from_millis(50);
        c.ws.timeout = Duration::from_millis(300);
    });
    let mut c = ws_connect(server.addr, "/echo");
    let started = Instant::now();
    let mut pings = 0;
    let close = loop {
        match c.read_frame() {
            (true, PING, payload) => {
                assert_eq!(payload, b"");
                pings += 1;
            }
            (true, CLOSE, payload) => break payload,
            other => panic!("unexpected frame {other:02x?}"),
        }
    };
    assert_eq!(ws_close_code(&close), 1001, "{close:02x?}");
    assert!(pings >= 2, "only {pings} pings before the close");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "closed after {:?}, before the 300 ms timeout",
        started.elapsed()
    );
    c.expect_closed();
}

#[test]
fn client_that_answers_pings_stays_open() {
    let server = start_server_with(|c| {
        c.ws.ping_interval = Duration::from_millis(50);
        c.ws.timeout = Duration::from_millis(300);
    });
    let stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(support::READ_TIMEOUT))
        .unwrap();
    let url = format!("ws://{}/echo", server.addr);
    let (mut ws, _) = tungstenite::client(url.as_str(), stream).expect("handshake");
    // tungstenite answers each ping with a pong on its next read.
    let started = Instant::now();
    let mut pings = 0;
    while started.elapsed() < Duration::from_secs(1) {
        match ws.read() {
            Ok(Message::Ping(_)) => pings += 1,
            other => panic!("after {:?}: {other:?}", started.elapsed()),
        }
    }
    assert!(pings >= 5, "only {pings} pings in a second");
    ws.send(Message::text("still open")).expect("send");
    loop {
        match ws.read() {
            Ok(Message::Ping(_)) => {}
            Ok(Message::Text(text)) => {
                assert_eq!(text.as_str(), "still open");
                break;
            }
            other => panic!("{other:?}"),
        }
    }
}

// ---- threads ----

#[test]
fn five_hundred_connections_opened_and_closed_leave_no_threads() {
    const BATCH: usize = 50;
    let server = ChildServer::start(&[]);
    let baseline = server.threads();
    for _ in 0..500 / BATCH {
        let mut clients: Vec<Client> = (0..BATCH).map(|_| connect(server.addr)).collect();
        for c in &mut clients {
            c.send(&ws_handshake("/echo", &[]));
        }
        for c in &mut clients {
            assert_eq!(c.head().status, 101);
        }
        // A connection thread each (the reader); no writer while nothing waits.
        assert!(
            wait_until(Duration::from_secs(3), || server.threads()
                == baseline + BATCH),
            "threads: {} (baseline {baseline})",
            server.threads()
        );
        for (i, mut c) in clients.into_iter().enumerate() {
            if i % 2 == 0 {
                c.send(&ws_frame(CLOSE, &[0x03, 0xe8], true, true));
                assert_eq!(c.body(4), [0x88, 0x02, 0x03, 0xe8]);
                c.expect_closed();
            } else {
                drop(c);
            }
        }
    }
    assert!(
        wait_until(Duration::from_secs(3), || server.threads() == baseline),
        "threads: {} (baseline {baseline})",
        server.threads()
    );
}

// ---- tinypush client ----

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Checks `line` is `<RFC 3339 timestamp> <message>` and returns the message.
fn timestamped(line: &str) -> &str {
    let (time, message) = line.split_once(' ').expect("timestamp, space, message");
    assert!(
        humantime::parse_rfc3339(time).is_ok(),
        "not an RFC 3339 timestamp: {line:?}"
    );
    message
}

/// Runs `tinypush client URL` sending three `hi`s, 20 ms apart; its
/// output, once it has exited 0.
fn send_three_his(url: &str) -> String {
    let out = run_client(
        &[url, "--message", "hi", "--count", "3", "--interval", "20ms"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn client_sends_count_messages_and_prints_each_echo() {
    let server = ChildServer::start(&[]);
    let url = format!("ws://{}/echo", server.addr);
    let stdout = send_three_his(&url);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    for line in lines {
        assert!(line.ends_with(" hi"), "{line:?}");
        assert_eq!(timestamped(line), "hi");
    }
}

#[test]
fn client_on_ws_prints_echoes_and_heartbeats_and_exits_zero() {
    let server = ChildServer::start(&["--ws-heartbeat", "10ms"]);
    let url = format!("ws://{}/ws", server.addr);
    let stdout = send_three_his(&url);
    let mut echoes = 0;
    for line in stdout.lines() {
        match timestamped(line) {
            "hi" => echoes += 1,
            "heartbeat" => {}
            other => panic!("unexpected line {other:?}"),
        }
    }
    assert_eq!(echoes, 3, "{stdout}");
}

#[test]
fn client_closed_by_the_server_with_1009_exits_1_naming_the_code() {
    // 32 bytes to a server that takes at most 16: close 1009, message too big.
    let server = ChildServer::start(&["--ws-max-message", "16"]);
    let url = format!("ws://{}/echo", server.addr);
    let out = run_client(&[&url, "--message", &"x".repeat(32), "--count", "1"], &[]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("server closed the connection: 1009"), "{err}");
}

#[test]
fn client_refused_connection_is_exit_1_and_one_line() {
    // A socket bound to a port but not listening: a connection to the port
    // is refused, and while the test holds the socket nothing else can
    // take the port.
    let unheard = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    unheard
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .expect("bind 127.0.0.1:0");
    let addr = unheard.local_addr().unwrap().as_socket().unwrap();
    let url = format!("ws://{addr}/echo");
    let out = run_client(&[&url, "--count", "1"], &[]);
    drop(unheard);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot connect"), "{err}");
}

#[test]
fn client_http_url_is_refused_in_one_line() {
    let out = run_client(&["http://x/", "--count", "1"], &[]);
    assert_ne!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn client_rejected_handshake_names_the_status() {
    let server = ChildServer::start(&[]);
    let url = format!("ws://{}/nope", server.addr);
    let out = run_client(&[&url, "--count", "1"], &[]);
    assert_ne!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("404"), "{err}");
}

#[test]
fn client_ctrl_c_closes_properly_and_exits_zero() {
    let mut server = ChildServer::start(&[]);
    let url = format!("ws://{}/ws", server.addr);
    let (mut client, lines) = spawn_client(&[&url, "--interval", "50ms"]);
    for _ in 0..2 {
        let line = lines
            .recv_timeout(support::READ_TIMEOUT)
            .expect("a line from the running client");
        let message = timestamped(&line);
        assert!(message == "hello" || message == "heartbeat", "{line:?}");
    }
    assert_eq!(interrupt(&mut client), Some(0));
    server.wait_log("websocket close from client");
}

#[test]
fn client_listen_prints_a_topic_and_publishes_nothing() {
    let server = start_server();
    let url = format!("ws://{}/topics/news/ws", server.addr);
    let (mut client, lines) = spawn_client(&[&url, "--listen"]);
    assert!(wait_until(Duration::from_secs(3), || metric(
        server.addr,
        "tinypush_subscribers"
    ) == 1));
    assert_eq!(
        publish(server.addr, "news", "one").1,
        "{\"id\":1,\"topic\":\"news\",\"receivers\":1}\n"
    );
    assert_eq!(
        publish(server.addr, "news", "two").1,
        "{\"id\":2,\"topic\":\"news\",\"receivers\":1}\n"
    );
    for want in ["one", "two"] {
        let line = lines.recv_timeout(support::READ_TIMEOUT).expect("a line");
        assert_eq!(timestamped(&line), want, "{line:?}");
    }
    assert_eq!(interrupt(&mut client), Some(0));
    // Ids 1 and 2 were ours: the client published nothing in between.
    assert_eq!(
        publish(server.addr, "news", "three").1,
        "{\"id\":3,\"topic\":\"news\",\"receivers\":0}\n"
    );
}

/// A running `tinypush client`, killed whatever happens in the test.
struct Reap {
    child: Child,
    /// Its stdout lines, a second receiver: the channel ends when it exits.
    stdout: Receiver<String>,
}

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `tinypush client ARGS` with its stdout read line by line.
fn spawn_client(args: &[&str]) -> (Reap, Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tinypush"))
        .arg("client")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tinypush client");
    let stdout = child.stdout.take().unwrap();
    let lines = read_lines(stdout, format!("client-out-{}", child.id()));
    let stdout = lines.clone();
    (Reap { child, stdout }, lines)
}

/// Sends SIGINT (Ctrl-C) and returns the exit code, waiting at most 3 s
/// for the client's stdout to end, as it does when the client exits. The
/// lines it prints on the way out are dropped.
fn interrupt(client: &mut Reap) -> Option<i32> {
    let status = Command::new("kill")
        .args(["-INT", &client.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let exited = until_eof(&client.stdout, Duration::from_secs(3), drop);
    assert!(exited, "client still running 3 s after SIGINT");
    let status = client.child.wait().expect("wait for tinypush client");
    status.code()
}

/// Sends `text` and reads past heartbeats until its echo arrives.
fn expect_echo_among_heartbeats(c: &mut Client, text: &[u8]) {
    c.send(&ws_frame(TEXT, text, true, true));
    for _ in 0..100 {
        match c.read_frame() {
            (true, TEXT, p) if p == b"heartbeat" => continue,
            frame => {
                assert_eq!(frame, (true, TEXT, text.to_vec()));
                return;
            }
        }
    }
    panic!("no echo among 100 heartbeats");
}

#[test]
fn a_client_that_breaks_the_protocol_and_stays_open_is_ended() {
    let server = start_server();
    let mut c = ws_connect(server.addr, "/echo");
    // An unmasked client frame: a protocol error, answered with 1002 and FIN.
    c.send(&[0x81, 0x02, b'h', b'i']);
    let (_, opcode, payload) = c.read_frame();
    assert_eq!((opcode, ws_close_code(&payload)), (0x8, 1002));
    // The FIN came with the close; the client never answers the close and
    // never hangs up, yet the server ends the connection itself, thread and
    // all, within its close wait (no event announces that: the gauge is polled).
    c.expect_closed();
    let ws = "tinypush_connections{kind=\"ws\"}";
    assert!(
        wait_until(Duration::from_secs(3), || metric(server.addr, ws) == 0),
        "the connection is still open"
    );
    drop(c);
}
