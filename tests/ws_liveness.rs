//! A WebSocket is closed for silence when, and only when, its client is
//! silent: a client that answers every ping is never closed, however close
//! the ping interval is to the silence deadline. Both ways the server keeps
//! the clock: the shared timer (`/echo`), and a writer for the connection's
//! life (`/ws`).
//!
//! ```text
//! server → client   89 00            ping (every 400 ms here)
//! client → server   8a 80 <mask>     pong
//! ...               (the deadline, 600 ms after the last thing heard, moves on)
//! client → server   81 85 <mask> "still"   → echoed: 81 05 "still"
//! ```

mod support;

use std::time::Duration;

use support::{Client, start_server_with, ws_connect, ws_frame};

const PING: u8 = 0x9;
const PONG: u8 = 0xa;
const TEXT: u8 = 0x1;

/// A WebSocket on `path` of a server that pings every 400 ms and closes a
/// client silent for 600 ms (and sends `/ws` heartbeats only hourly).
fn quick_pings(path: &str) -> (support::TestServer, Client) {
    let server = start_server_with(|c| {
        c.ws.ping_interval = Duration::from_millis(400);
        c.ws.timeout = Duration::from_millis(600);
        c.ws.heartbeat = Duration::from_secs(3600);
    });
    let c = ws_connect(server.addr, path);
    (server, c)
}

#[test]
fn a_client_that_answers_every_ping_is_never_closed_for_silence() {
    answers_pings_and_stays(&mut quick_pings("/echo").1);
}

#[test]
fn a_lasting_writer_keeps_a_client_that_answers_pings_too() {
    answers_pings_and_stays(&mut quick_pings("/ws").1);
}

/// Five pings answered: two seconds of the deadline being moved on, each
/// time from a pong that came after the deadline was last set.
fn answers_pings_and_stays(c: &mut Client) {
    for n in 1..=5 {
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
    let (_server, mut c) = quick_pings("/echo");
    loop {
        let (_, opcode, payload) = c.read_frame();
        if opcode == PING {
            continue; // heard, not answered
        }
        assert_eq!(opcode, 0x8, "expected the close, got {payload:?}");
        assert_eq!(payload, b"\x03\xe9client silent");
        break;
    }
}
