//! Several topics on one connection: `/topics/a,b,c/sse`, `/stream` and
//! `/ws`. Every message names its topic; a multi-topic SSE event's `data:`
//! is the JSON object and its `id:` the composite cursor, each topic's
//! position after the event, in the order of the URL:
//!
//! ```text
//! GET /topics/a,b,c/sse      62\r\nid: a:1,b:1,c:0\ndata: {"event":"message","id":1,"topic":"b",…}\n\n\r\n
//! GET /topics/a,b,c/stream   {"event":"message","id":1,"topic":"b",…}\n
//! GET /topics/a,b,c/ws       81 4b {"event":"message","id":1,"topic":"b",…}
//! ```
//!
//! Resuming while all three topics are published to lives in
//! `topics_multi_resume.rs`.

mod support;

use std::time::Duration;

use support::{
    Positions, StreamReader, connect, connect_with_recv_buffer, get, metric, open_stream,
    publish_ok, start_server, start_server_with, topic_event, topic_message, ws_close_code,
    ws_connect, ws_frame, ws_text,
};

const CLOSE: u8 = 0x8;

fn refused(raw: &[u8], reason: &str) {
    let server = start_server();
    let (head, body) = get(server.addr, raw);
    assert_eq!(
        (head.status, body.as_str()),
        (400, format!("{reason}\n").as_str())
    );
}

#[test]
fn up_to_32_topics_each_named_once() {
    let server = start_server();
    let names = |n: usize| {
        (0..n)
            .map(|i| format!("t{i}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    for kind in ["sse", "stream"] {
        let raw = format!(
            "GET /topics/{}/{kind} HTTP/1.1\r\nHost: t\r\n\r\n",
            names(33)
        );
        refused(raw.as_bytes(), "at most 32 topics on one connection");
        let raw = format!("GET /topics/a,b,a/{kind} HTTP/1.1\r\nHost: t\r\n\r\n");
        refused(raw.as_bytes(), "a topic is named twice");
    }
    let ws = support::ws_handshake(&format!("/topics/{}/ws", names(33)), &[]);
    refused(&ws, "at most 32 topics on one connection");
    // 32 is fine, and each topic is one subscription.
    let path = format!(
        "GET /topics/{}/stream HTTP/1.1\r\nHost: t\r\n\r\n",
        names(32)
    );
    let _r = open_stream(server.addr, path.as_bytes());
    assert_eq!(metric(server.addr, "tinypush_subscribers"), 32);
}

#[test]
fn publishing_goes_to_one_topic_at_a_time() {
    refused(
        b"POST /topics/a,b HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi",
        "publish to one topic at a time",
    );
}

#[test]
fn a_multi_topic_sse_event_is_the_json_object_under_a_composite_id() {
    let server = start_server();
    let mut c = connect(server.addr);
    publish_ok(&mut c, "a", "before");
    let mut sse = open_stream(
        server.addr,
        b"GET /topics/a,b,c/sse HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let mut nd = open_stream(
        server.addr,
        b"GET /topics/a,b,c/stream HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    // Order holds within a topic, not across topics (each has its own
    // fan-out pass), so each publish is read before the next one.
    for (topic, body, id) in [("b", "hi", "a:1,b:1,c:0"), ("a", "yo", "a:2,b:1,c:0")] {
        publish_ok(&mut c, topic, body);
        // The NDJSON lines are the very objects the SSE events carry.
        let line = nd.line().expect("a line");
        let event = format!("id: {id}\ndata: {line}\n\n");
        let chunk = format!("{:x}\r\n{event}\r\n", event.len());
        assert_eq!(String::from_utf8(sse.client.raw_chunk()).unwrap(), chunk);
    }
}

#[test]
fn every_transport_names_the_topic_and_a_plain_websocket_gets_objects() {
    let server = start_server();
    let mut nd = open_stream(
        server.addr,
        b"GET /topics/a,b/stream HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let mut ws = ws_connect(server.addr, "/topics/a,b/ws");
    let mut c = connect(server.addr);
    // One topic at a time: order across topics is not promised.
    for want in [("b", 1, "hi"), ("a", 1, "yo")] {
        publish_ok(&mut c, want.0, want.2);
        let want = (want.0.to_string(), want.1, want.2.to_string());
        assert_eq!(topic_message(&nd.json().unwrap()), want);
        let frame = serde_json::from_str(&ws_text(&mut ws)).expect("a JSON object");
        assert_eq!(topic_message(&frame), want);
    }
}

#[test]
fn a_multi_topic_websocket_that_sends_text_is_closed_1008() {
    let server = start_server();
    let mut ws = ws_connect(server.addr, "/topics/a,b/ws");
    ws.send(&ws_frame(0x1, b"hello", true, true));
    let (_, opcode, payload) = ws.read_frame();
    assert_eq!((opcode, ws_close_code(&payload)), (CLOSE, 1008));
    assert_eq!(
        &payload[2..],
        b"publish to one topic: /topics/{topic}/ws or POST"
    );
    // Nothing was published: the next id is 1.
    assert_eq!(publish_ok(&mut connect(server.addr), "a", "x").0, 1);
}

/// Publishes `m1`..=`m3` to a, b and c.
fn three_each(c: &mut support::Client) {
    for topic in ["a", "b", "c"] {
        for i in 1..=3 {
            publish_ok(c, topic, &format!("m{i}"));
        }
    }
}

#[test]
fn a_form_that_is_not_a_composite_applies_to_every_topic() {
    let server = start_server();
    let mut c = connect(server.addr);
    three_each(&mut c);
    let mut sse = open_stream(
        server.addr,
        b"GET /topics/a,b,c/sse?since=latest HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    // Each topic stands at 2 before its replay of 3.
    for (id, topic) in [
        ("a:3,b:2,c:2", "a"),
        ("a:3,b:3,c:2", "b"),
        ("a:3,b:3,c:3", "c"),
    ] {
        let e = topic_event(&mut sse).unwrap();
        assert_eq!(e.id.as_deref(), Some(id));
        assert_eq!(topic_message(&e.json), (topic.into(), 3, "m3".into()));
    }
    let mut nd = open_stream(
        server.addr,
        b"GET /topics/a,b,c/stream?since=2 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    for topic in ["a", "b", "c"] {
        assert_eq!(
            topic_message(&nd.json().unwrap()),
            (topic.into(), 3, "m3".into())
        );
    }
    let mut ws = ws_connect(server.addr, "/topics/a,b,c/ws?since=all");
    for topic in ["a", "b", "c"] {
        for id in 1..=3 {
            let frame = serde_json::from_str(&ws_text(&mut ws)).unwrap();
            assert_eq!(topic_message(&frame), (topic.into(), id, format!("m{id}")));
        }
    }
}

#[test]
fn a_composite_that_leaves_a_topic_out_starts_it_live() {
    let server = start_server();
    let mut c = connect(server.addr);
    three_each(&mut c);
    let mut sse = open_stream(
        server.addr,
        b"GET /topics/a,b,c/sse?since=c:1,a:2 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    publish_ok(&mut c, "b", "live");
    let mut got = Vec::new();
    for _ in 0..4 {
        let e = topic_event(&mut sse).unwrap();
        let (topic, id, _) = topic_message(&e.json);
        got.push((e.id.unwrap(), topic, id));
    }
    let want = [
        ("a:3,b:3,c:1", "a", 3),
        ("a:3,b:3,c:2", "c", 2),
        ("a:3,b:3,c:3", "c", 3),
        ("a:3,b:4,c:3", "b", 4),
    ];
    assert_eq!(
        got,
        want.map(|(id, t, n)| (id.to_string(), t.to_string(), n))
    );
}

#[test]
fn gaps_come_first_and_name_their_topic() {
    let server = start_server_with(|c| c.topics.history = 2);
    let mut c = connect(server.addr);
    three_each(&mut c);
    let mut sse = open_stream(
        server.addr,
        b"GET /topics/a,b/sse?since=a:0,b:2 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let gap = topic_event(&mut sse).unwrap();
    assert_eq!((gap.id, gap.event.as_deref()), (None, Some("gap")));
    assert_eq!(
        gap.json,
        serde_json::json!({"event":"gap","topic":"a","from":1,"to":1})
    );
    let ids: Vec<_> = (0..3)
        .map(|_| topic_event(&mut sse).unwrap().id.unwrap())
        .collect();
    assert_eq!(ids, ["a:2,b:2", "a:3,b:2", "a:3,b:3"]);
}

/// Each message is large, so a client that does not read fills the
/// socket buffers within a few dozen messages.
const BIG: usize = 64 * 1024;

#[test]
fn a_slow_multi_topic_subscriber_is_told_the_composite_cursor_to_resume_from() {
    let server = start_server_with(|c| {
        c.topics.subscriber_queue = 4;
        c.topics.history = 8;
        // The slow clients read late; their blocked writes must not time out first.
        c.http.write_timeout = Duration::from_secs(30);
    });
    let addr = server.addr;
    let mut slow = Vec::new();
    for kind in ["sse", "stream"] {
        let mut c = connect_with_recv_buffer(addr, 4096);
        c.send(format!("GET /topics/a,b/{kind} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        assert_eq!(c.head().status, 200);
        slow.push((kind, StreamReader::new(c)));
    }
    // Publish to a and b in turn until neither has a subscriber left.
    let mut publisher = connect(addr);
    let mut receivers = [2, 2];
    let mut n = 0;
    while receivers != [0, 0] {
        n += 1;
        assert!(n <= 1000, "still subscribed after 1000 × 64 KiB");
        let topic = n % 2;
        let body = "x".repeat(BIG);
        receivers[topic] = publish_ok(&mut publisher, ["a", "b"][topic], &body).1;
    }
    for (kind, mut r) in slow {
        let mut seen = Positions::new(&["a", "b"], 0);
        let notice = loop {
            let json = if kind == "sse" {
                let e = topic_event(&mut r).expect("an event");
                if e.event.as_deref() == Some("error") {
                    break e.json;
                }
                let (topic, id, _) = topic_message(&e.json);
                assert_eq!(e.id.unwrap(), seen.seen(&topic, id).cursor());
                continue;
            } else {
                r.json().expect("a line")
            };
            if json["event"] == "error" {
                break json;
            }
            let (topic, id, _) = topic_message(&json);
            seen.seen(&topic, id);
        };
        let since = seen.cursor();
        assert!(seen.of("a") + seen.of("b") >= 4, "{kind} got {since}");
        let want = serde_json::json!({"event":"error","topic":"a,b",
            "error":"subscriber too slow; resume with since","since":since});
        assert_eq!(notice, want, "{kind}");
        assert_eq!(r.client.raw_chunk(), b"0\r\n\r\n");
    }
}
