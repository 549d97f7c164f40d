//! The topic hub over the wire: publishing with POST and PUT and its
//! refusals (caps included), the exact framing of one message on each
//! transport, and keepalives. Elsewhere: cursors and gaps in
//! `topics_resume.rs`, WebSocket publishing and the token in
//! `topics_token.rs`, fan-out, slow consumers, `/metrics` and threads in
//! `topics_fanout.rs`.
//!
//! One message, three framings:
//!
//! ```text
//! POST /topics/news  hello     → {"id":1,"topic":"news","receivers":0}\n
//! GET /topics/news/sse         → 13\r\nid: 1\ndata: hello\n\n\r\n
//! GET /topics/news/stream      → {"event":"message","id":1,"topic":"news","time":T,"data":"hello"}\n
//! GET /topics/news/ws          → 81 05 68 65 6c 6c 6f   (text frame "hello")
//! ```

mod support;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::{
    NDJSON_HEAD, SSE_HEAD, connect, metric, open_stream, publish, sse_message, start_server,
    start_server_with, ws_connect, ws_handshake, ws_text,
};

/// The server's clock and ours agree within a minute.
fn assert_recent(time_ms: u64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(now.abs_diff(time_ms) < 60_000, "time {time_ms}, now {now}");
}

// ---- publishing ----

#[test]
fn post_gets_exactly_a_json_receipt_with_id_1() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(b"POST /topics/news HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
    let (head, body) = c.response();
    assert_eq!(
        head.raw,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 38\r\n\r\n"
    );
    assert_eq!(body, "{\"id\":1,\"topic\":\"news\",\"receivers\":0}\n");
}

#[test]
fn ids_count_from_1_per_topic_and_put_publishes_too() {
    let server = start_server();
    let mut c = connect(server.addr);
    let exchanges: [(&[u8], &str); 4] = [
        (
            b"POST /topics/news HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\na",
            "{\"id\":1,\"topic\":\"news\",\"receivers\":0}\n",
        ),
        (
            b"PUT /topics/news HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nb",
            "{\"id\":2,\"topic\":\"news\",\"receivers\":0}\n",
        ),
        (
            b"POST /topics/news HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nc",
            "{\"id\":3,\"topic\":\"news\",\"receivers\":0}\n",
        ),
        (
            b"PUT /topics/sports HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nd",
            "{\"id\":1,\"topic\":\"sports\",\"receivers\":0}\n",
        ),
    ];
    // All on one keep-alive connection.
    for (request, receipt) in exchanges {
        c.send(request);
        let (head, body) = c.response();
        assert_eq!(head.status, 200, "{}", head.raw);
        assert_eq!(body, receipt);
    }
    let mut r = open_stream(
        server.addr,
        b"GET /topics/news/sse?since=0 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    for (id, data) in [(1, "a"), (2, "b"), (3, "c")] {
        assert_eq!(sse_message(&mut r), (id, data.to_string()));
    }
}

#[test]
fn chunked_body_is_published_whole() {
    // What `curl -T - http://host/topics/news` sends.
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(
        b"PUT /topics/news HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
          3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n",
    );
    let (head, body) = c.response();
    assert_eq!(head.status, 200, "{}", head.raw);
    assert_eq!(body, "{\"id\":1,\"topic\":\"news\",\"receivers\":0}\n");
    let mut r = open_stream(
        server.addr,
        b"GET /topics/news/sse?since=0 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(r.raw_event().unwrap(), "id: 1\ndata: hello");
}

/// Sends `raw` on a new connection and expects a one-line `text/plain`
/// reply; returns its status line, head and body.
fn refusal(addr: SocketAddr, raw: &[u8]) -> (String, support::Head, String) {
    let mut c = connect(addr);
    c.send(raw);
    let (head, body) = c.response();
    let line = head.raw.lines().next().unwrap().to_string();
    assert_eq!(
        head.header("Content-Type"),
        Some("text/plain; charset=utf-8"),
        "{}",
        head.raw
    );
    (line, head, body)
}

#[test]
fn get_on_a_topic_gets_405_allowing_post_and_put() {
    let server = start_server();
    let (line, head, body) = refusal(server.addr, b"GET /topics/news HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(line, "HTTP/1.1 405 Method Not Allowed");
    assert_eq!(head.header("Allow"), Some("POST, PUT"));
    assert_eq!(body, "method not allowed; use POST, PUT\n");
}

#[test]
fn non_utf8_body_gets_415() {
    let server = start_server();
    let (line, _, body) = refusal(
        server.addr,
        b"POST /topics/news HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nh\xffi",
    );
    assert_eq!(line, "HTTP/1.1 415 Unsupported Media Type");
    assert_eq!(body, "message body must be UTF-8 text\n");
}

#[test]
fn body_over_max_body_bytes_gets_413_by_length_or_chunks() {
    let server = start_server_with(|c| c.http.max_body_bytes = 8);
    let (line, _, body) = refusal(
        server.addr,
        b"POST /topics/news HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\n\r\n123456789",
    );
    assert_eq!(line, "HTTP/1.1 413 Content Too Large");
    assert_eq!(body, "request body over 8 bytes\n");
    let (line, _, _) = refusal(
        server.addr,
        b"POST /topics/news HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\n12345\r\n4\r\n6789\r\n0\r\n\r\n",
    );
    assert_eq!(line, "HTTP/1.1 413 Content Too Large");
    // Exactly at the cap is fine.
    let (status, _) = publish(server.addr, "news", "12345678");
    assert_eq!(status, 200);
}

#[test]
fn bad_topic_names_get_400() {
    let server = start_server();
    let long = "x".repeat(65);
    let requests = [
        "POST /topics/bad%20name HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx".to_string(),
        format!("POST /topics/{long} HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx"),
        "POST /topics/a.b HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx".to_string(),
        "GET /topics/a.b/sse HTTP/1.1\r\nHost: t\r\n\r\n".to_string(),
        "GET /topics/bad%20name/stream HTTP/1.1\r\nHost: t\r\n\r\n".to_string(),
    ];
    for raw in requests {
        let (line, _, body) = refusal(server.addr, raw.as_bytes());
        assert_eq!(line, "HTTP/1.1 400 Bad Request", "{raw:?}");
        assert_eq!(body, "topic name must be 1 to 64 of A-Z a-z 0-9 _ -\n");
    }
    let longest = format!("{}_-90", "Az".repeat(30));
    assert_eq!(longest.len(), 64);
    assert_eq!(publish(server.addr, &longest, "x").0, 200);
}

#[test]
fn unknown_topic_suffix_gets_404() {
    let server = start_server();
    let (line, _, body) = refusal(
        server.addr,
        b"GET /topics/news/nope HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(line, "HTTP/1.1 404 Not Found");
    assert_eq!(body, "not found\n");
}

#[test]
fn cursor_that_is_not_one_of_the_forms_gets_400() {
    let server = start_server();
    let not_a_cursor = "since and Last-Event-ID take N, all, latest, a duration like 10m, \
                        or topic:id pairs like a:41,b:7\n";
    let too_big = "ids in since and Last-Event-ID must be from 0 to 9007199254740991\n";
    for (raw, reason) in [
        (
            &b"GET /topics/news/sse?since=abc HTTP/1.1\r\nHost: t\r\n\r\n"[..],
            not_a_cursor,
        ),
        (
            b"GET /topics/news/stream?since=-1 HTTP/1.1\r\nHost: t\r\n\r\n",
            not_a_cursor,
        ),
        (
            b"GET /topics/news/sse HTTP/1.1\r\nHost: t\r\nLast-Event-ID: x\r\n\r\n",
            not_a_cursor,
        ),
        // Past 2^53 - 1, where JavaScript stops counting exactly.
        (
            b"GET /topics/news/stream?since=9007199254740992 HTTP/1.1\r\nHost: t\r\n\r\n",
            too_big,
        ),
        (
            b"GET /topics/news/stream?since=18446744073709551615 HTTP/1.1\r\nHost: t\r\n\r\n",
            too_big,
        ),
    ] {
        let (line, _, body) = refusal(server.addr, raw);
        assert_eq!(line, "HTTP/1.1 400 Bad Request");
        assert_eq!(body, reason);
    }
    // Nothing was left subscribed by the refusals.
    assert_eq!(metric(server.addr, "tinypush_subscribers"), 0);
}

// ---- one message, exactly, on each transport ----

#[test]
fn sse_message_is_id_and_data_in_one_chunk() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(b"GET /topics/news/sse HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.head().raw, SSE_HEAD);
    publish(server.addr, "news", "hello");
    assert_eq!(c.raw_chunk(), b"13\r\nid: 1\ndata: hello\n\n\r\n");
}

#[test]
fn sse_two_line_body_is_two_data_lines() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(b"GET /topics/news/sse HTTP/1.1\r\nHost: t\r\n\r\n");
    c.head();
    publish(server.addr, "news", "line one\nline two");
    assert_eq!(
        c.raw_chunk(),
        b"25\r\nid: 1\ndata: line one\ndata: line two\n\n\r\n"
    );
}

#[test]
fn ndjson_message_is_one_object_with_keys_in_order() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(b"GET /topics/news/stream HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.head().raw, NDJSON_HEAD);
    publish(server.addr, "news", "hello");
    let line = c.chunk();
    let v: serde_json::Value = serde_json::from_str(&line).expect("JSON line");
    let time = v["time"].as_u64().expect("time in milliseconds");
    assert_recent(time);
    assert_eq!(
        line,
        format!(
            "{{\"event\":\"message\",\"id\":1,\"topic\":\"news\",\"time\":{time},\"data\":\"hello\"}}\n"
        )
    );
}

#[test]
fn ndjson_escapes_quotes_newlines_and_backslashes() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(b"GET /topics/news/stream HTTP/1.1\r\nHost: t\r\n\r\n");
    c.head();
    let body = "say \"hi\"\n\tbye \\o/";
    publish(server.addr, "news", body);
    let line = c.chunk();
    assert_eq!(line.matches('\n').count(), 1, "one line: {line:?}");
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let time = v["time"].as_u64().unwrap();
    assert_eq!(
        line,
        format!(
            "{{\"event\":\"message\",\"id\":1,\"topic\":\"news\",\"time\":{time},\
             \"data\":\"say \\\"hi\\\"\\n\\tbye \\\\o/\"}}\n"
        )
    );
    assert_eq!(v["data"], body);
}

#[test]
fn ws_text_frame_is_exactly_the_body() {
    let server = start_server();
    let mut c = ws_connect(server.addr, "/topics/news/ws");
    publish(server.addr, "news", "hello");
    // FIN + text, unmasked, length 5, then the body and nothing else.
    assert_eq!(c.body(7), b"\x81\x05hello");
}

#[test]
fn ws_format_json_frame_is_the_ndjson_object() {
    let server = start_server();
    let mut c = ws_connect(server.addr, "/topics/news/ws?format=json");
    publish(server.addr, "news", "hello");
    let text = ws_text(&mut c);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let time = v["time"].as_u64().unwrap();
    assert_recent(time);
    assert_eq!(
        text,
        format!(
            "{{\"event\":\"message\",\"id\":1,\"topic\":\"news\",\"time\":{time},\"data\":\"hello\"}}"
        )
    );
}

#[test]
fn ws_format_other_than_text_or_json_gets_400() {
    let server = start_server();
    let mut c = connect(server.addr);
    c.send(&ws_handshake("/topics/news/ws?format=xml", &[]));
    let (head, body) = c.response();
    assert_eq!(head.status, 400);
    assert_eq!(body, "format must be text or json\n");
}

// ---- keepalives ----

#[test]
fn quiet_sse_subscriber_gets_keepalive_comments() {
    let server = start_server_with(|c| c.http.stream_keepalive = Duration::from_millis(50));
    let mut c = connect(server.addr);
    c.send(b"GET /topics/news/sse HTTP/1.1\r\nHost: t\r\n\r\n");
    c.head();
    assert_eq!(c.raw_chunk(), b"d\r\n: keepalive\n\n\r\n");
    assert_eq!(c.raw_chunk(), b"d\r\n: keepalive\n\n\r\n");
}

#[test]
fn quiet_ndjson_subscriber_gets_keepalive_objects() {
    let server = start_server_with(|c| c.http.stream_keepalive = Duration::from_millis(50));
    let mut c = connect(server.addr);
    c.send(b"GET /topics/news/stream HTTP/1.1\r\nHost: t\r\n\r\n");
    c.head();
    let mut last = 0;
    for _ in 0..2 {
        let line = c.chunk();
        let v: serde_json::Value = serde_json::from_str(&line).expect("JSON line");
        let time = v["time"].as_u64().expect("time");
        assert_recent(time);
        assert!(time >= last);
        last = time;
        assert_eq!(
            line,
            format!("{{\"event\":\"keepalive\",\"time\":{time}}}\n")
        );
    }
}

// ---- caps ----

#[test]
fn third_topic_past_max_topics_gets_503() {
    let server = start_server_with(|c| c.topics.max_topics = 2);
    assert_eq!(publish(server.addr, "a", "x").0, 200);
    assert_eq!(publish(server.addr, "b", "x").0, 200);
    let (line, head, body) = refusal(
        server.addr,
        b"POST /topics/c HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx",
    );
    assert_eq!(line, "HTTP/1.1 503 Service Unavailable");
    assert_eq!(head.header("Retry-After"), Some("1"));
    assert_eq!(body, "too many topics\n");
    // Known topics still take messages.
    assert_eq!(publish(server.addr, "a", "y").0, 200);
}

#[test]
fn second_subscriber_past_max_subscribers_gets_503() {
    let server = start_server_with(|c| c.topics.max_subscribers = 1);
    let _first = open_stream(
        server.addr,
        b"GET /topics/news/sse HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    for raw in [
        b"GET /topics/news/stream HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
        b"GET /topics/other/sse HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
        ws_handshake("/topics/news/ws", &[]),
    ] {
        let (line, head, body) = refusal(server.addr, &raw);
        assert_eq!(line, "HTTP/1.1 503 Service Unavailable");
        assert_eq!(head.header("Retry-After"), Some("1"));
        assert_eq!(body, "too many subscribers\n");
    }
}
