//! Per-client limits: connections open at once from one address, and
//! publishes per second, each past its limit a 429 with `Retry-After`,
//! while other addresses go on. Clients at other addresses are sockets
//! bound to 127.0.0.2 before they connect.
//!
//! ```text
//! 127.0.0.1 × N open, one more      → 429 Retry-After: 1 (from the accept thread), close
//! 127.0.0.2                         → 200
//! one of the N closes               → 127.0.0.1 gets 200 again
//! POST × burst, one more            → 429 Retry-After: 1; 127.0.0.2 → 200
//! WebSocket text past the rate      → held until a token is due, then published
//! ```

mod support;

use std::time::{Duration, Instant};

use support::{
    Client, connect, connect_from, json_message, metric, metric_in, open_stream, publish_on,
    sse_message, start_server_with, wait_until, ws_connect, ws_frame,
};

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
const TOO_MANY_CONNECTIONS: &str = "HTTP/1.1 429 Too Many Requests\r\n\
    Content-Type: text/plain; charset=utf-8\r\n\
    Retry-After: 1\r\n\
    Connection: close\r\n\
    Content-Length: 39\r\n\r\n\
    too many connections from your address\n";

/// A request answered on `c`: the server counted the connection.
fn healthy(c: &mut Client) {
    c.send(HEALTHZ);
    assert_eq!(c.response().1, "ok\n");
}

#[test]
fn past_the_cap_per_address_429_while_another_address_gets_200() {
    let server = start_server_with(|c| c.access.max_connections_per_ip = 2);
    let mut open: Vec<Client> = (0..2).map(|_| connect(server.addr)).collect();
    open.iter_mut().for_each(healthy);

    // Refused at accept, before any request is read.
    let mut third = connect(server.addr);
    assert_eq!(
        String::from_utf8(third.read_to_end()).unwrap(),
        TOO_MANY_CONNECTIONS
    );

    let mut other = connect_from(server.addr, "127.0.0.2");
    healthy(&mut other);
    other.send(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    let limited = "tinypush_limited_total{limit=\"connections_per_ip\"}";
    assert_eq!(metric_in(&other.response().1, limited), 1);

    // One ends (the server's close is the sign it let go): a place is free.
    let mut leaving = open.pop().unwrap();
    leaving.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(leaving.response().1, "ok\n");
    leaving.expect_closed();
    healthy(&mut connect(server.addr));
}

fn publish_rate_3_then_1_a_second(c: &mut tinypush::Config) {
    c.access.publish_rate = Some(1);
    c.access.publish_burst = Some(3);
}

#[test]
fn past_the_publish_burst_429_with_retry_after_and_another_address_unaffected() {
    let server = start_server_with(publish_rate_3_then_1_a_second);
    let mut c = connect(server.addr);
    for n in 1..=3 {
        assert_eq!(publish_on(&mut c, "t", &format!("m{n}")).0, 200);
    }
    c.send(b"POST /topics/t HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nm4");
    let (head, body) = c.response();
    assert_eq!(head.status, 429, "{}", head.raw);
    assert_eq!(head.header("Retry-After"), Some("1"));
    assert_eq!(body, "publishing too fast for --publish-rate\n");
    // A refused publish is a complete request: the connection goes on.
    healthy(&mut c);

    let mut other = connect_from(server.addr, "127.0.0.2");
    assert_eq!(publish_on(&mut other, "t", "elsewhere").0, 200);
    let limited = "tinypush_limited_total{limit=\"publish_rate\"}";
    assert_eq!(metric(server.addr, limited), 1);
}

#[test]
fn a_websocket_past_the_rate_is_held_not_closed() {
    let server = start_server_with(|c| {
        c.access.publish_rate = Some(1);
        c.access.publish_burst = Some(1);
    });
    let mut sse = open_stream(
        server.addr,
        b"GET /topics/chat/sse HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let mut ws = ws_connect(server.addr, "/topics/chat/ws");
    ws.send(&ws_frame(0x1, b"one", true, true));
    ws.send(&ws_frame(0x1, b"two", true, true));
    assert_eq!(sse_message(&mut sse), (1, "one".into()));
    let first = Instant::now();
    assert_eq!(sse_message(&mut sse), (2, "two".into()));
    // The second waited for its token (1 s after the first's).
    assert!(first.elapsed().as_millis() >= 500, "{:?}", first.elapsed());
    let limited = "tinypush_limited_total{limit=\"publish_rate\"}";
    assert_eq!(metric(server.addr, limited), 1);
}

#[test]
fn a_websocket_held_for_the_rate_publishes_nothing_once_the_server_closes_it() {
    let server = start_server_with(|c| {
        c.access.publish_rate = Some(1);
        c.access.publish_burst = Some(1);
        c.ws.ping_interval = Duration::from_millis(200);
        c.ws.timeout = Duration::from_millis(500);
    });
    let mut ws = ws_connect(server.addr, "/topics/gone/ws");
    for n in 1..=6 {
        ws.send(&ws_frame(0x1, format!("m{n}").as_bytes(), true, true));
    }
    // m1 goes out on the burst, m2 waits for its token (1 s); the client
    // never answers a ping, so the server closes it at about 0.5 s.
    let (_, opcode, payload) = loop {
        match ws.read_frame() {
            (_, 0x9, _) => continue,
            frame => break frame,
        }
    };
    assert_eq!(
        (opcode, payload),
        (0x1, b"m1".to_vec()),
        "its own first message"
    );
    // The handler has returned once the gauge is back at 0.
    let open = "tinypush_connections{kind=\"ws\"}";
    assert!(
        wait_until(Duration::from_secs(10), || metric(server.addr, open) == 0),
        "the WebSocket's thread is still held"
    );
    // Nothing after the close: m1, and m2 only if its token came first.
    let mut history = open_stream(
        server.addr,
        b"GET /topics/gone/stream?poll=1&since=0 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let published: Vec<String> = std::iter::from_fn(|| history.json())
        .map(|v| json_message(&v).1)
        .collect();
    assert!(
        ["m1"] == published[..] || ["m1", "m2"] == published[..],
        "{published:?}"
    );
}
