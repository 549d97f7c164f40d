//! The hub under load: concurrent publishers fanned out to sixty
//! subscribers over three transports, slow subscribers dropped with a clear
//! signal while everyone else gets everything, the `/metrics` counters, and
//! threads going back to their baseline when subscribers leave.
//!
//! ```text
//! publisher p0 ─┐                      ┌─► 20 × SSE       id: N / data: …
//! publisher p1 ─┼─► POST /topics/fan ──┼─► 20 × NDJSON    {"event":"message","id":N,…}
//! publisher p2 ─┘   (ids 1..=300)      └─► 20 × WebSocket text frames
//! ```

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{Receiver, unbounded};

use support::{
    ChildServer, Client, READ_TIMEOUT, StreamReader, connect, connect_with_recv_buffer, get,
    metric, metric_in, metrics, ndjson_message, open_stream, parse_sse, publish_ok, sse_message,
    start_server, start_server_with, wait_until, ws_close_code, ws_close_payload, ws_connect,
    ws_frame, ws_handshake, ws_json_message, ws_text,
};

const CLOSE: u8 = 0x8;

// ---- fan-out ----

const PUBLISHERS: usize = 3;
const PER_PUBLISHER: usize = 100;
const TOTAL: usize = PUBLISHERS * PER_PUBLISHER;

/// What one subscriber received: `(id, data)`, the id `None` on bare
/// WebSocket frames.
type Received = Vec<(Option<u64>, String)>;

/// Reads `TOTAL` messages on another thread; the subscription is already
/// registered (its head was read).
fn read_all(
    mut next: impl FnMut() -> (Option<u64>, String) + Send + 'static,
) -> JoinHandle<Received> {
    thread::spawn(move || (0..TOTAL).map(|_| next()).collect())
}

#[test]
fn three_publishers_reach_sixty_subscribers_exactly_once_in_order() {
    // Room for every message: this test is about fan-out, not slow readers.
    let server = start_server_with(|c| c.topics.subscriber_queue = 2 * TOTAL);
    let addr = server.addr;
    let mut readers = Vec::new();
    for _ in 0..20 {
        let mut r = open_stream(addr, b"GET /topics/fan/sse HTTP/1.1\r\nHost: t\r\n\r\n");
        readers.push((
            "sse",
            read_all(move || {
                let (id, data) = sse_message(&mut r);
                (Some(id), data)
            }),
        ));
        let mut r = open_stream(addr, b"GET /topics/fan/stream HTTP/1.1\r\nHost: t\r\n\r\n");
        readers.push((
            "ndjson",
            read_all(move || {
                let (id, data) = ndjson_message(&mut r);
                (Some(id), data)
            }),
        ));
    }
    for _ in 0..10 {
        let mut c = ws_connect(addr, "/topics/fan/ws?format=json");
        readers.push((
            "ws json",
            read_all(move || {
                let (id, data) = ws_json_message(&mut c);
                (Some(id), data)
            }),
        ));
        let mut c = ws_connect(addr, "/topics/fan/ws");
        readers.push(("ws text", read_all(move || (None, ws_text(&mut c)))));
    }
    assert!(
        wait_until(Duration::from_secs(3), || metric(
            addr,
            "tinypush_subscribers"
        ) == 60),
        "{}",
        metrics(addr)
    );

    let start = Arc::new(Barrier::new(PUBLISHERS));
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let start = Arc::clone(&start);
            thread::spawn(move || {
                let mut c = connect(addr);
                start.wait();
                (0..PER_PUBLISHER)
                    .map(|i| {
                        let body = format!("p{p} {i}");
                        let (id, receivers) = publish_ok(&mut c, "fan", &body);
                        assert_eq!(receivers, 60, "receivers of {body}");
                        (id, body)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();

    // The receipts say which id each body got.
    let mut by_id = BTreeMap::new();
    for (p, publisher) in publishers.into_iter().enumerate() {
        let receipts = publisher.join().expect("publisher");
        let ids: Vec<u64> = receipts.iter().map(|(id, _)| *id).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "p{p} ids {ids:?}");
        for (id, body) in receipts {
            assert_eq!(by_id.insert(id, body), None, "id {id} given twice");
        }
    }
    assert_eq!(
        by_id.keys().copied().collect::<Vec<_>>(),
        (1..=TOTAL as u64).collect::<Vec<_>>()
    );
    let want: Vec<(u64, String)> = by_id.into_iter().collect();
    // Each publisher's messages, in the hub's order, are in its own order.
    for p in 0..PUBLISHERS {
        let own: Vec<String> = want
            .iter()
            .filter_map(|(_, body)| body.strip_prefix(&format!("p{p} ")).map(String::from))
            .collect();
        let sent: Vec<String> = (0..PER_PUBLISHER).map(|i| i.to_string()).collect();
        assert_eq!(own, sent, "publisher p{p}");
    }

    for (n, (kind, reader)) in readers.into_iter().enumerate() {
        let got = reader.join().expect("reader");
        let got_bodies: Vec<&str> = got.iter().map(|(_, d)| d.as_str()).collect();
        let want_bodies: Vec<&str> = want.iter().map(|(_, d)| d.as_str()).collect();
        assert_eq!(got_bodies, want_bodies, "{kind} subscriber {n}");
        if kind != "ws text" {
            let ids: Vec<u64> = got.iter().map(|(id, _)| id.unwrap()).collect();
            assert_eq!(ids, (1..=TOTAL as u64).collect::<Vec<_>>(), "{kind} {n}");
        }
    }
}

// ---- slow consumers ----

/// Each message is large, so a client that does not read fills the socket
/// buffers within a few dozen messages and the server's writes block.
const BIG: usize = 64 * 1024;

/// A `BIG` body that starts with its number: `000042:xxxx…`.
fn big_body(n: u64) -> String {
    let mut body = format!("{n:06}:");
    body.push_str(&"x".repeat(BIG - body.len()));
    body
}

/// The number a [`big_body`] starts with.
fn number_of(body: &str) -> u64 {
    assert_eq!(body.len(), BIG, "a big body, whole");
    body[..6].parse().expect("numbered body")
}

/// Reads numbered bodies on another thread, reporting each number as it
/// arrives, until the body `end`; returns every number in order.
fn fast_reader(
    mut next: impl FnMut() -> String + Send + 'static,
) -> (Receiver<u64>, JoinHandle<Vec<u64>>) {
    let (tx, rx) = unbounded();
    let reader = thread::spawn(move || {
        let mut seen = Vec::new();
        loop {
            let body = next();
            if body == "end" {
                return seen;
            }
            let n = number_of(&body);
            seen.push(n);
            let _ = tx.send(n);
        }
    });
    (rx, reader)
}

/// The `error` object a dropped stream subscriber gets last.
fn dropped_json(last_id: u64) -> String {
    format!(
        "{{\"event\":\"error\",\"topic\":\"big\",\"error\":\"subscriber too slow; \
         resume with since=last_id\",\"last_id\":{last_id}}}"
    )
}

#[test]
fn slow_subscribers_are_dropped_with_a_signal_while_others_get_everything() {
    let server = start_server_with(|c| {
        c.topics.subscriber_queue = 4;
        c.topics.history = 8;
        // The slow clients read late; their blocked writes must not time out first.
        c.http.write_timeout = Duration::from_secs(30);
    });
    let addr = server.addr;

    // Slow: a small receive window, and nothing read past the head.
    let mut slow_sse = connect_with_recv_buffer(addr, 4096);
    slow_sse.send(b"GET /topics/big/sse HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(slow_sse.head().status, 200);
    let mut slow_nd = connect_with_recv_buffer(addr, 4096);
    slow_nd.send(b"GET /topics/big/stream HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(slow_nd.head().status, 200);
    let mut slow_ws = connect_with_recv_buffer(addr, 4096);
    slow_ws.send(&ws_handshake("/topics/big/ws", &[]));
    assert_eq!(slow_ws.head().status, 101);

    // Normal: read everything as it comes.
    let mut sse = open_stream(addr, b"GET /topics/big/sse HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut nd = open_stream(addr, b"GET /topics/big/stream HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut ws = ws_connect(addr, "/topics/big/ws");
    let fast = [
        fast_reader(move || sse_message(&mut sse).1),
        fast_reader(move || ndjson_message(&mut nd).1),
        fast_reader(move || ws_text(&mut ws)),
    ];

    // Publish in step with the normal readers, until only they are left.
    let mut publisher = connect(addr);
    let mut n = 0;
    let mut all_dropped_at = None;
    while all_dropped_at.is_none_or(|at| n < at + 3) {
        n += 1;
        assert!(
            n <= 1000,
            "slow subscribers still subscribed after 1000 × 64 KiB"
        );
        let (id, receivers) = publish_ok(&mut publisher, "big", &big_body(n));
        assert_eq!(id, n);
        for (rx, _) in &fast {
            assert_eq!(rx.recv_timeout(READ_TIMEOUT), Ok(n), "normal reader");
        }
        if receivers == 3 && all_dropped_at.is_none() {
            all_dropped_at = Some(n);
        }
    }
    // Exactly the three slow ones were dropped.
    let text = metrics(addr);
    assert_eq!(metric_in(&text, "tinypush_slow_consumers_dropped_total"), 3);
    assert_eq!(metric_in(&text, "tinypush_subscribers"), 3);
    publish_ok(&mut publisher, "big", "end");
    for (_, reader) in fast {
        assert_eq!(reader.join().expect("reader"), (1..=n).collect::<Vec<_>>());
    }

    // Now the slow ones read: what was queued in order, then the signal.
    let mut r = StreamReader::new(slow_sse);
    let mut last = 0;
    loop {
        let e = parse_sse(&r.raw_event().expect("an event"));
        if e.event.as_deref() == Some("error") {
            assert_eq!(e.data, dropped_json(last));
            break;
        }
        last += 1;
        assert_eq!((e.id, number_of(&e.data)), (Some(last), last));
    }
    assert!((4..n).contains(&last), "SSE got 1..={last} of {n}");
    assert_eq!(r.client.raw_chunk(), b"0\r\n\r\n");

    let mut r = StreamReader::new(slow_nd);
    let mut last = 0;
    loop {
        let line = r.line().expect("a line");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["event"] == "error" {
            assert_eq!(line, dropped_json(last));
            break;
        }
        last += 1;
        assert_eq!(v["id"], last);
        assert_eq!(number_of(v["data"].as_str().unwrap()), last);
    }
    assert!((4..n).contains(&last), "NDJSON got 1..={last} of {n}");
    assert_eq!(r.client.raw_chunk(), b"0\r\n\r\n");

    let mut last = 0;
    let close = loop {
        let (fin, opcode, payload) = slow_ws.read_frame();
        assert!(fin);
        if opcode == CLOSE {
            break payload;
        }
        last += 1;
        assert_eq!(number_of(std::str::from_utf8(&payload).unwrap()), last);
    };
    assert!((4..n).contains(&last), "WebSocket got 1..={last} of {n}");
    assert_eq!(ws_close_code(&close), 1008);
    assert_eq!(&close[2..], b"client too slow");
    slow_ws.send(&ws_frame(CLOSE, &ws_close_payload(1008, ""), true, true));
    slow_ws.expect_closed();
}

// ---- /metrics ----

#[test]
fn metrics_is_prometheus_text() {
    let server = start_server();
    let (head, body) = get(
        server.addr,
        b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    for line in [
        "# TYPE tinypush_connections gauge\n",
        "# TYPE tinypush_topics gauge\ntinypush_topics 0\n",
        "# TYPE tinypush_subscribers gauge\ntinypush_subscribers 0\n",
        "# TYPE tinypush_messages_published_total counter\ntinypush_messages_published_total 0\n",
        "# TYPE tinypush_slow_consumers_dropped_total counter\n",
    ] {
        assert!(body.contains(line), "{line:?} missing from:\n{body}");
    }
}

/// Waits for the `kind` connection gauges: a stream's connection is moved
/// to its kind just after its head is written.
fn wait_connections(addr: SocketAddr, sse: i64, chunked: i64, ws: i64) {
    let kind =
        |text: &str, k: &str| metric_in(text, &format!("tinypush_connections{{kind=\"{k}\"}}"));
    assert!(
        wait_until(Duration::from_secs(3), || {
            let text = metrics(addr);
            (
                kind(&text, "sse"),
                kind(&text, "chunked"),
                kind(&text, "ws"),
            ) == (sse, chunked, ws)
        }),
        "want sse {sse}, chunked {chunked}, ws {ws}:\n{}",
        metrics(addr)
    );
}

#[test]
fn metrics_count_publishes_deliveries_subscribers_and_connections() {
    let server = start_server();
    let addr = server.addr;
    let bytes_before = metric(addr, "tinypush_bytes_written_total");
    let mut sse = open_stream(addr, b"GET /topics/m/sse HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut nd = open_stream(addr, b"GET /topics/m/stream HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut c = connect(addr);
    for i in 1..=3 {
        assert_eq!(publish_ok(&mut c, "m", &format!("m{i}")), (i, 2));
    }
    for i in 1..=3 {
        assert_eq!(sse_message(&mut sse), (i, format!("m{i}")));
        assert_eq!(ndjson_message(&mut nd), (i, format!("m{i}")));
    }
    wait_connections(addr, 1, 1, 0);
    // A fan-out pass counts its deliveries once it has offered to everyone:
    // just after the last subscriber's read.
    let delivered = |n| {
        wait_until(Duration::from_secs(3), || {
            metric(addr, "tinypush_messages_delivered_total") == n
        })
    };
    assert!(delivered(6));
    let text = metrics(addr);
    for (name, value) in [
        ("tinypush_messages_published_total", 3),
        ("tinypush_messages_delivered_total", 6),
        ("tinypush_slow_consumers_dropped_total", 0),
        ("tinypush_topics", 1),
        ("tinypush_subscribers", 2),
    ] {
        assert_eq!(metric_in(&text, name), value, "{name} in:\n{text}");
    }
    // One counter per meaning: dropped subscribers are counted once, above.
    assert!(!text.contains("tinypush_messages_dropped_total"), "{text}");
    let bytes_after = metric_in(&text, "tinypush_bytes_written_total");
    assert!(bytes_after > bytes_before, "{bytes_before} → {bytes_after}");

    let mut ws = ws_connect(addr, "/topics/m/ws");
    wait_connections(addr, 1, 1, 1);
    assert_eq!(metric(addr, "tinypush_subscribers"), 3);
    assert_eq!(publish_ok(&mut c, "m", "m4"), (4, 3));
    assert_eq!(ws_text(&mut ws), "m4");
    assert!(delivered(9));
    let text = metrics(addr);
    assert_eq!(metric_in(&text, "tinypush_messages_published_total"), 4);
    assert!(metric_in(&text, "tinypush_bytes_written_total") > bytes_after);

    drop((sse, nd, ws));
    wait_connections(addr, 0, 0, 0);
    assert!(wait_until(Duration::from_secs(3), || metric(
        addr,
        "tinypush_subscribers"
    ) == 0));
}

// ---- threads ----

#[test]
fn threads_return_to_baseline_after_thirty_subscribers_leave() {
    let server = ChildServer::start(&[]);
    let addr = server.addr;
    let baseline = server.threads();
    let mut clients: Vec<Client> = Vec::new();
    for _ in 0..10 {
        let r = open_stream(addr, b"GET /topics/t/sse HTTP/1.1\r\nHost: t\r\n\r\n");
        clients.push(r.client);
        let r = open_stream(addr, b"GET /topics/t/stream HTTP/1.1\r\nHost: t\r\n\r\n");
        clients.push(r.client);
        clients.push(ws_connect(addr, "/topics/t/ws?format=json"));
    }
    // One thread each, its connection's: SSE and NDJSON wait in `select!`,
    // a WebSocket's reader in `read`; with nothing waiting to be written
    // (no replay, no backlog) a WebSocket has no writer thread.
    let want = baseline + 30;
    assert!(
        wait_until(Duration::from_secs(3), || server.threads() == want),
        "threads {} (baseline {baseline}, want {want})",
        server.threads()
    );
    assert_eq!(metric(addr, "tinypush_subscribers"), 30);
    drop(clients);
    assert!(
        wait_until(Duration::from_secs(3), || server.threads() == baseline),
        "threads {} (baseline {baseline})",
        server.threads()
    );
    assert_eq!(metric(addr, "tinypush_subscribers"), 0);
}
