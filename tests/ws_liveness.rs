//! A WebSocket ends when it should and only then: a client that answers
//! every ping is never closed for silence, however close the ping interval
//! is to the silence deadline; a writer thread that dies still ends the
//! connection, so its reader never waits forever.
//!
//! ```text
//! server → client   89 00            ping (every 100 ms here)
//! client → server   8a 80 <mask>     pong
//! ...               (the deadline, 150 ms after the last thing heard, moves on)
//! client → server   81 85 <mask> "still"   → echoed: 81 05 "still"
//! ```

mod support;

use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crossbeam_channel::{RecvTimeoutError, bounded};
use tinypush::metrics::Metrics;
use tinypush::ws::{self, Options, Push};
use tungstenite::Message;

use support::{READ_TIMEOUT, start_server_with, ws_connect, ws_frame, ws_text};

const PING: u8 = 0x9;
const PONG: u8 = 0xa;
const TEXT: u8 = 0x1;

#[test]
fn a_client_that_answers_every_ping_is_never_closed_for_silence() {
    let server = start_server_with(|c| {
        c.ws.ping_interval = Duration::from_millis(100);
        c.ws.timeout = Duration::from_millis(150);
    });
    let mut c = ws_connect(server.addr, "/echo");
    // Ten pings answered: a second of the deadline being moved on, each
    // time from a pong that came after the writer set it.
    for n in 1..=10 {
        let (fin, opcode, payload) = c.read_frame();
        assert!(fin);
        assert_eq!(
            opcode,
            PING,
            "frame {n}: expected a ping, got {opcode:#x} {:?}",
            String::from_utf8_lossy(&payload)
        );
        c.send(&ws_frame(PONG, &payload, true, true));
    }
    c.send(&ws_frame(TEXT, b"still", true, true));
    loop {
        let (_, opcode, payload) = c.read_frame();
        match opcode {
            PING => c.send(&ws_frame(PONG, &payload, true, true)),
            TEXT => break assert_eq!(payload, b"still"),
            other => panic!("expected the echo, got {other:#x} {payload:?}"),
        }
    }
}

#[test]
fn a_silent_client_is_still_closed_with_1001() {
    let server = start_server_with(|c| {
        c.ws.ping_interval = Duration::from_millis(100);
        c.ws.timeout = Duration::from_millis(150);
    });
    let mut c = ws_connect(server.addr, "/echo");
    loop {
        let (_, opcode, payload) = c.read_frame();
        if opcode == PING {
            continue; // heard, not answered
        }
        assert_eq!(opcode, 0x8, "expected the close, got {payload:?}");
        assert_eq!(payload, b"\x03\xe9client silent");
        break;
    }
    let _ = ws_text; // the helper set is shared with other files
}

#[test]
fn a_writer_that_panics_still_ends_the_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).expect("connect");
    client.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    let (server_stream, peer) = listener.accept().expect("accept");
    let options = Options {
        ping_interval: Duration::from_secs(3600),
        timeout: Duration::from_secs(3600),
        heartbeat: None,
        queue: 4,
        send_wait: Duration::from_secs(1),
        max_message: 1 << 20,
        max_frame: 1 << 20,
        metrics: Arc::new(Metrics::default()),
    };
    let (items, live) = bounded::<u32>(1);
    let push = Push {
        first: Vec::new(),
        replay: Vec::new(),
        live,
        render: |_| panic!("rendering failed"),
    };
    let (_shutdown, shutdown_rx) = bounded::<()>(0);
    let (_conn, incoming) = ws::start_push(
        Arc::new(server_stream),
        Vec::new(),
        peer,
        options,
        push,
        shutdown_rx,
    )
    .expect("start");
    let (ended_tx, ended) = bounded(1);
    thread::Builder::new()
        .name("ws-read-test".into())
        .spawn(move || {
            let read: Vec<Message> = incoming.collect();
            let _ = ended_tx.send(read.len());
        })
        .expect("spawn reader");
    items.send(1).expect("the writer takes it");
    // The reader was blocked in `read`; only the socket's shutdown wakes it.
    assert_eq!(ended.recv_timeout(READ_TIMEOUT), Ok(0));
    assert_eq!(
        ended.recv_timeout(READ_TIMEOUT),
        Err(RecvTimeoutError::Disconnected)
    );
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut client, &mut rest).expect("the server ends the connection");
    assert!(rest.is_empty(), "nothing was sent: {rest:?}");
}
