//! `ws::Connection` on its own, in this process: no HTTP, just a socket
//! pair with `ws::start` on the server end and a tungstenite client on the
//! other.
//!
//! ```text
//! test threads ── conn.send / try_send / close ──► writer (ws-write-N) ──┐
//!                                                                        ▼
//! tungstenite client ◄──────────────────── TCP (127.0.0.1) ──────────── socket
//!                    ──────────────────────────────────────► Incoming on "ws-read-test"
//! ```

mod support;

use std::collections::HashMap;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};
use tinypush::metrics::Metrics;
use tinypush::ws::{self, Connection, Offered, Options, SendError};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role};
use tungstenite::{Error as WsError, Message, WebSocket};

use support::READ_TIMEOUT;

const HOUR: Duration = Duration::from_secs(3600);
/// How long the connection's threads get to end once it is closed.
const END_WAIT: Duration = Duration::from_secs(2);

/// Both ends of one WebSocket.
struct Pair {
    conn: Connection,
    client: WebSocket<TcpStream>,
    /// Dropping it is the server's shutdown signal.
    shutdown: Option<Sender<()>>,
    /// What the server read, sent once its `Incoming` has ended.
    server_read: Receiver<Vec<Message>>,
}

/// A connected socket pair, `ws::start` on the accepted end with an
/// outgoing queue of `queue`, and its `Incoming` collected on a thread.
fn open(queue: usize) -> Pair {
    open_with(queue, Duration::from_secs(5))
}

/// [`open`], with `send` waiting at most `send_wait` for room in the queue.
fn open_with(queue: usize, send_wait: Duration) -> Pair {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let client_stream = TcpStream::connect(listener.local_addr().unwrap()).expect("connect");
    let (server_stream, peer) = listener.accept().expect("accept");
    client_stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    let options = Options {
        ping_interval: HOUR,
        timeout: HOUR,
        heartbeat: None,
        queue,
        send_wait,
        max_message: 1 << 20,
        max_frame: 1 << 20,
        permit: None,
        metrics: Arc::new(Metrics::default()),
        timer: None,
        threads: None,
    };
    let (shutdown, shutdown_rx) = bounded(0);
    let stream = Arc::new(server_stream);
    let (conn, incoming) =
        ws::start(stream, Vec::new(), peer, options, shutdown_rx).expect("ws::start");
    assert_eq!(conn.peer(), peer);
    let (tx, server_read) = bounded(1);
    thread::Builder::new()
        .name("ws-read-test".into())
        .spawn(move || {
            let _ = tx.send(incoming.collect());
        })
        .expect("spawn reader");
    Pair {
        conn,
        client: WebSocket::from_raw_socket(client_stream, Role::Client, None),
        shutdown: Some(shutdown),
        server_read,
    }
}

/// Reads the next message, which must be a close frame; returns it.
fn read_close(client: &mut WebSocket<TcpStream>) -> CloseFrame {
    match client.read() {
        Ok(Message::Close(Some(frame))) => frame,
        other => panic!("expected a close frame, got {other:?}"),
    }
}

/// After the server's close frame: the next read sends tungstenite's reply,
/// then must see the server end the TCP connection, with no frame between.
fn expect_end_after_reply(client: &mut WebSocket<TcpStream>) {
    match client.read() {
        Err(WsError::ConnectionClosed) => {}
        other => panic!("expected the connection to end, got {other:?}"),
    }
}

/// The connection's writer has ended.
fn expect_closed(conn: &Connection) {
    assert_eq!(
        conn.closed().recv_timeout(END_WAIT),
        Err(RecvTimeoutError::Disconnected),
        "connection still open {END_WAIT:?} after the close"
    );
}

#[test]
fn fifty_threads_sending_at_once_deliver_every_message_whole_and_in_order() {
    const THREADS: usize = 50;
    const EACH: usize = 100;
    const FROM_CLIENT: usize = 10;
    let mut pair = open(16);
    let start = Arc::new(Barrier::new(THREADS));
    let (done_tx, done) = bounded(THREADS);
    for t in 0..THREADS {
        let conn = pair.conn.clone();
        let start = Arc::clone(&start);
        let done_tx = done_tx.clone();
        thread::Builder::new()
            .name(format!("sender-{t}"))
            .spawn(move || {
                start.wait();
                let failed = (0..EACH)
                    .filter(|seq| conn.send(Message::text(format!("{t}:{seq}"))).is_err())
                    .count();
                let _ = done_tx.send(failed);
            })
            .expect("spawn sender");
    }
    // Read everything, and talk back while the senders are busy.
    let mut next_seq = HashMap::new();
    let mut sent_back = 0;
    for n in 1..=THREADS * EACH {
        let text = match pair.client.read() {
            Ok(Message::Text(text)) => text,
            other => panic!("message {n}: {other:?}"),
        };
        let (t, seq) = text
            .split_once(':')
            .and_then(|(t, s)| Some((t.parse::<usize>().ok()?, s.parse::<usize>().ok()?)))
            .unwrap_or_else(|| panic!("message {n} not whole: {text:?}"));
        assert!(t < THREADS, "{text:?}");
        let expected = next_seq.entry(t).or_insert(0);
        assert_eq!(seq, *expected, "thread {t} out of order");
        *expected += 1;
        if n % (THREADS * EACH / FROM_CLIENT) == 0 {
            pair.client
                .send(Message::text(format!("client-{sent_back}")))
                .expect("client send");
            sent_back += 1;
        }
    }
    assert!(next_seq.values().all(|&n| n == EACH), "{next_seq:?}");
    for _ in 0..THREADS {
        let failed = done.recv_timeout(READ_TIMEOUT).expect("sender finished");
        assert_eq!(failed, 0, "sends failed");
    }
    pair.conn.close(CloseCode::Normal, "done");
    assert_eq!(read_close(&mut pair.client).code, CloseCode::Normal);
    expect_end_after_reply(&mut pair.client);
    let server_read = pair
        .server_read
        .recv_timeout(END_WAIT)
        .expect("reader ended");
    let expected: Vec<Message> = (0..FROM_CLIENT)
        .map(|k| Message::text(format!("client-{k}")))
        .collect();
    assert_eq!(server_read, expected);
}

#[test]
fn push_reaches_a_client_that_has_sent_nothing() {
    let mut pair = open(16);
    pair.conn.send(Message::text("push")).expect("send");
    match pair.client.read() {
        Ok(Message::Text(text)) => assert_eq!(text.as_str(), "push"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn close_from_ten_threads_sends_one_close_frame_and_ends_both_threads() {
    let mut pair = open(16);
    let start = Arc::new(Barrier::new(10));
    let closers: Vec<_> = (0..10)
        .map(|i| {
            let conn = pair.conn.clone();
            let start = Arc::clone(&start);
            thread::Builder::new()
                .name(format!("closer-{i}"))
                .spawn(move || {
                    start.wait();
                    conn.close(CloseCode::Normal, "bye");
                })
                .expect("spawn closer")
        })
        .collect();
    let frame = read_close(&mut pair.client);
    assert_eq!(frame.code, CloseCode::Normal);
    assert_eq!(frame.reason.as_str(), "bye");
    // A second close frame would make this read fail with a protocol error.
    expect_end_after_reply(&mut pair.client);
    expect_closed(&pair.conn);
    assert_eq!(
        pair.server_read.recv_timeout(END_WAIT).map(|m| m.len()),
        Ok(0),
        "the Incoming thread did not return"
    );
    for closer in closers {
        closer.join().expect("closer thread");
    }
    assert_eq!(
        pair.conn.send(Message::text("late")),
        Err(SendError::Closed)
    );
}

/// Reads what a slow client finally gets: whole `size`-byte binary
/// messages, then a close frame, which must say 1008. Returns the count.
fn read_backlog_then_1008(client: &mut WebSocket<TcpStream>, size: usize) -> usize {
    let mut received = 0;
    let frame = loop {
        match client.read() {
            Ok(Message::Binary(bytes)) => {
                assert_eq!(bytes.len(), size);
                assert!(bytes.iter().all(|&b| b == 0xab));
                received += 1;
            }
            Ok(Message::Close(Some(frame))) => break frame,
            other => panic!("after {received} messages: {other:?}"),
        }
    };
    assert_eq!(frame.code, CloseCode::Policy, "{frame:?}");
    received
}

#[test]
fn slow_consumer_try_send_gets_too_slow_then_close_1008() {
    const SIZE: usize = 64 * 1024;
    const QUEUE: usize = 4;
    const MAX_SENDS: usize = 2000;
    let mut pair = open(QUEUE);
    // The client reads nothing yet: the queue fills as soon as the writer
    // falls behind (at the latest when the socket buffers are full).
    let mut accepted = 0;
    loop {
        match pair.conn.try_send(Message::binary(vec![0xab; SIZE])) {
            Ok(()) => accepted += 1,
            Err(e) => {
                assert_eq!(e, SendError::TooSlow);
                break;
            }
        }
        assert!(
            accepted < MAX_SENDS,
            "{MAX_SENDS} messages of 64 KiB queued without TooSlow"
        );
    }
    // Now the client catches up. Whatever the writer took off the queue
    // before the close request is on the wire; of the last QUEUE, some
    // may be dropped for the close.
    let received = read_backlog_then_1008(&mut pair.client, SIZE);
    assert!(
        (accepted.saturating_sub(QUEUE)..=accepted).contains(&received),
        "received {received} of {accepted} accepted"
    );
    expect_end_after_reply(&mut pair.client);
    expect_closed(&pair.conn);
    assert_eq!(
        pair.conn.try_send(Message::text("late")),
        Err(SendError::Closed)
    );
}

#[test]
fn send_to_a_stalled_client_waits_send_wait_then_too_slow_and_1008() {
    const SIZE: usize = 64 * 1024;
    const QUEUE: usize = 4;
    const MAX_SENDS: usize = 2000;
    let send_wait = Duration::from_millis(200);
    let mut pair = open_with(QUEUE, send_wait);
    // `send` waits for room, so it only fails once the socket buffers are
    // full, the writer is stuck in `write`, and the queue stays full.
    let mut accepted = 0;
    let failed_after = loop {
        let started = Instant::now();
        match pair.conn.send(Message::binary(vec![0xab; SIZE])) {
            Ok(()) => accepted += 1,
            Err(e) => {
                assert_eq!(e, SendError::TooSlow);
                break started.elapsed();
            }
        }
        assert!(
            accepted < MAX_SENDS,
            "{MAX_SENDS} messages of 64 KiB sent to a client that reads nothing"
        );
    };
    assert!(
        failed_after >= send_wait,
        "TooSlow after {failed_after:?}, before send_wait"
    );
    let received = read_backlog_then_1008(&mut pair.client, SIZE);
    assert!(
        received > QUEUE && (accepted - QUEUE..=accepted).contains(&received),
        "received {received} of {accepted} accepted"
    );
    expect_end_after_reply(&mut pair.client);
    expect_closed(&pair.conn);
}

#[test]
fn shutdown_signal_sends_close_1001() {
    let mut pair = open(16);
    drop(pair.shutdown.take());
    assert_eq!(read_close(&mut pair.client).code, CloseCode::Away);
    expect_end_after_reply(&mut pair.client);
    expect_closed(&pair.conn);
}

#[test]
fn offers_reach_the_client_whole_and_in_order_whether_sent_or_queued() {
    const COUNT: usize = 200;
    let mut pair = open(COUNT);
    let body = "x".repeat(20_000);
    let mut outcomes = HashMap::new();
    // The client reads nothing yet: the first frames go straight out (up
    // to 16 in one sendmsg), one goes half-way, the rest wait in the queue.
    for batch in 0..COUNT / 5 {
        let texts: Vec<String> = (batch * 5..batch * 5 + 5)
            .map(|i| format!("{i}:{body}"))
            .collect();
        let frames: Vec<Bytes> = texts
            .iter()
            .map(|text| ws::text_frame(Bytes::from(text.clone())))
            .collect();
        let offered = pair.conn.offer(
            5,
            |i| frames[i].clone(),
            |i| Message::text(texts[i].clone()),
        );
        assert!(
            matches!(offered, Offered::Sent | Offered::Queued),
            "batch {batch}: {offered:?}"
        );
        *outcomes.entry(format!("{offered:?}")).or_insert(0) += 1;
    }
    assert!(outcomes.contains_key("Queued"), "{outcomes:?}");
    for i in 0..COUNT {
        match pair.client.read() {
            Ok(Message::Text(text)) => {
                assert_eq!(text.len(), body.len() + format!("{i}:").len());
                assert!(text.starts_with(&format!("{i}:")), "frame {i} out of order");
            }
            other => panic!("frame {i}: {other:?}"),
        }
    }
}
