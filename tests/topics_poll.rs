//! `poll=1` on `/sse` and `/stream`: the history, framed as the live
//! stream frames it, then the last chunk; the connection then carries the
//! next request.
//!
//! ```text
//! GET /topics/news/sse?since=1&poll=1 HTTP/1.1
//!   → 200, chunked:  10\r\nid: 2\ndata: m2\n\n\r\n  10\r\nid: 3\ndata: m3\n\n\r\n  0\r\n\r\n
//! GET /topics/a,b/sse?poll=1
//!   → id: a:1,b:0\ndata: {"event":"message","id":1,"topic":"a",…}\n\n …  0\r\n\r\n
//! ```

mod support;

use std::net::SocketAddr;

use support::{
    Client, NDJSON_HEAD, SSE_HEAD, connect, get, publish_ok, start_server, start_server_with,
    ws_handshake,
};

/// Publishes `m1`..=`m{n}` to `topic`.
fn publish_numbered(addr: SocketAddr, topic: &str, n: u64) {
    let mut c = connect(addr);
    for i in 1..=n {
        assert_eq!(publish_ok(&mut c, topic, &format!("m{i}")).0, i);
    }
}

/// Sends a GET for `target` on `c` and reads the head, which must be
/// `head`; then every chunk's data up to the last chunk.
fn poll(c: &mut Client, target: &str, head: &str) -> Vec<String> {
    c.send(format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    assert_eq!(c.head().raw, head, "{target}");
    let mut chunks = Vec::new();
    loop {
        let raw = c.raw_chunk();
        if raw == b"0\r\n\r\n" {
            return chunks;
        }
        let data = raw.splitn(2, |&b| b == b'\n').nth(1).expect("chunk data");
        chunks.push(String::from_utf8(data[..data.len() - 2].to_vec()).unwrap());
    }
}

/// The connection still serves requests.
fn still_open(c: &mut Client) {
    c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    let (head, body) = c.response();
    assert_eq!((head.status, body.as_str()), (200, "ok\n"));
}

#[test]
fn poll_on_stream_answers_the_whole_history_and_ends() {
    let server = start_server();
    publish_numbered(server.addr, "news", 3);
    let mut c = connect(server.addr);
    let lines = poll(&mut c, "/topics/news/stream?poll=1", NDJSON_HEAD);
    let ids: Vec<_> = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_u64())
        .collect();
    assert_eq!(ids, [Some(1), Some(2), Some(3)]);
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("{\"event\":\"message\"") && l.ends_with("}\n"))
    );
    still_open(&mut c);
    // Polled again on the same connection: the same history.
    assert_eq!(
        poll(&mut c, "/topics/news/stream?poll=1", NDJSON_HEAD),
        lines
    );
}

#[test]
fn poll_on_sse_frames_events_as_the_live_stream_does() {
    let server = start_server();
    publish_numbered(server.addr, "news", 3);
    let mut c = connect(server.addr);
    assert_eq!(
        poll(&mut c, "/topics/news/sse?since=1&poll=1", SSE_HEAD),
        ["id: 2\ndata: m2\n\n", "id: 3\ndata: m3\n\n"]
    );
    // Last-Event-ID wins over since, here too.
    c.send(b"GET /topics/news/sse?poll=1&since=0 HTTP/1.1\r\nHost: t\r\nLast-Event-ID: 2\r\n\r\n");
    assert_eq!(c.head().raw, SSE_HEAD);
    assert_eq!(c.raw_chunk(), b"10\r\nid: 3\ndata: m3\n\n\r\n");
    assert_eq!(c.raw_chunk(), b"0\r\n\r\n");
    still_open(&mut c);
}

#[test]
fn poll_takes_every_since_form() {
    let server = start_server();
    publish_numbered(server.addr, "news", 3);
    let mut c = connect(server.addr);
    let cases: [(&str, &[u64]); 6] = [
        ("latest", &[3]),
        ("1h", &[1, 2, 3]),
        ("all", &[1, 2, 3]),
        ("news:1", &[2, 3]),
        ("2", &[3]),
        ("3", &[]),
    ];
    for (since, want) in cases {
        let target = format!("/topics/news/sse?since={since}&poll=1");
        let events = poll(&mut c, &target, SSE_HEAD);
        let ids: Vec<u64> = events
            .iter()
            .map(|e| {
                e.strip_prefix("id: ")
                    .unwrap()
                    .split('\n')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect();
        assert_eq!(ids, want, "since={since}");
    }
}

#[test]
fn poll_on_several_topics_carries_composite_ids() {
    let server = start_server();
    publish_numbered(server.addr, "a", 2);
    publish_numbered(server.addr, "b", 1);
    let mut c = connect(server.addr);
    // NDJSON first: its lines are the JSON objects SSE events carry.
    let lines = poll(&mut c, "/topics/a,b,c/stream?poll=1", NDJSON_HEAD);
    assert_eq!(lines.len(), 3);
    let ids = ["a:1,b:0,c:0", "a:2,b:0,c:0", "a:2,b:1,c:0"];
    let want: Vec<String> = (ids.iter().zip(&lines))
        .map(|(id, line)| format!("id: {id}\ndata: {line}\n"))
        .collect();
    assert_eq!(poll(&mut c, "/topics/a,b,c/sse?poll=1", SSE_HEAD), want);
    // A topic the composite leaves out sends nothing, and stands at its newest id.
    let events = poll(&mut c, "/topics/a,b/sse?poll=1&since=a:1", SSE_HEAD);
    assert_eq!(events, [format!("id: a:2,b:1\ndata: {}\n", lines[1])]);
    still_open(&mut c);
}

#[test]
fn poll_sends_gaps_first_then_messages() {
    let server = start_server_with(|c| c.topics.history = 3);
    publish_numbered(server.addr, "a", 5);
    publish_numbered(server.addr, "b", 5);
    let mut c = connect(server.addr);
    let lines = poll(
        &mut c,
        "/topics/a,b/stream?poll=1&since=a:0,b:3",
        NDJSON_HEAD,
    );
    assert_eq!(
        lines[0],
        "{\"event\":\"gap\",\"topic\":\"a\",\"from\":1,\"to\":2}\n"
    );
    let messages: Vec<(String, u64)> = lines[1..]
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["topic"].as_str().unwrap().to_string(),
                v["id"].as_u64().unwrap(),
            )
        })
        .collect();
    let want = [("a", 3), ("a", 4), ("a", 5), ("b", 4), ("b", 5)].map(|(t, i)| (t.to_string(), i));
    assert_eq!(messages, want);
}

#[test]
fn a_poll_is_not_a_subscriber() {
    // No subscriber may be added at all, and polling still answers.
    let server = start_server_with(|c| c.topics.max_subscribers = 0);
    publish_numbered(server.addr, "news", 1);
    let mut c = connect(server.addr);
    assert_eq!(
        poll(&mut c, "/topics/news/sse?poll=1", SSE_HEAD),
        ["id: 1\ndata: m1\n\n"]
    );
    let (head, _) = get(
        server.addr,
        b"GET /topics/news/sse HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(head.status, 503);
}

#[test]
fn poll_over_http_10_ends_with_the_connection() {
    let server = start_server();
    publish_numbered(server.addr, "news", 2);
    let mut c = connect(server.addr);
    c.send(b"GET /topics/news/sse?poll=1 HTTP/1.0\r\n\r\n");
    let head = c.head();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("Transfer-Encoding"), None);
    assert_eq!(c.read_to_end(), b"id: 1\ndata: m1\n\nid: 2\ndata: m2\n\n");
}

#[test]
fn poll_on_a_websocket_is_400() {
    let server = start_server();
    let (head, body) = get(server.addr, &ws_handshake("/topics/news/ws?poll=1", &[]));
    assert_eq!(
        (head.status, body.as_str()),
        (400, "poll=1 is for /sse and /stream\n")
    );
}
