//! A token removed from the auth file by SIGHUP loses what it was granted
//! on connections already open, not only on new requests.
//!
//! ```text
//! WS /topics/alerts-a/ws?token=w-s3cret-1   text "one" → published
//! (file rewritten without w-s3cret-1; kill -HUP)
//!                                           text "two" → close 1008 "token revoked"
//! WS /topics/alerts-c/ws?token=r-s3cret-2  (r-s3cret-2 removed; kill -HUP; nothing published)
//!                                           → close 1008 "token revoked" within a second
//! GET /topics/news/sse?token=r-s3cret-2     (r-s3cret-2 removed; kill -HUP)
//!   → event: error
//!     data: {"event":"error","topic":"news","error":"token revoked"}
//! ```

mod support;

use std::net::SocketAddr;

use support::{
    AUTH_FILE, ChildServer, auth_file, connect, get, open_stream, ws_connect, ws_expect_close,
    ws_frame, ws_text,
};

const TEXT: u8 = 0x1;

/// The auth file with the writer alone (the reader removed).
const WRITER_ONLY: &str = "[[token]]\nsecret = \"w-s3cret-1\"\npublish = [\"alerts-*\"]\n";
/// The auth file with the reader alone (the writer removed).
const READER_ONLY: &str =
    "[[token]]\nsecret = \"r-s3cret-2\"\nsubscribe = [\"news\", \"alerts-*\"]\n";

/// A server on the two-token file; returns it and the file.
fn server(args: &[&str]) -> (ChildServer, std::path::PathBuf) {
    let file = auth_file(AUTH_FILE);
    let mut all = vec!["--auth-file", file.to_str().unwrap()];
    all.extend_from_slice(args);
    let mut server = ChildServer::start(&all);
    server.wait_log("2 tokens");
    (server, file)
}

/// Rewrites the auth file as `text`, sends SIGHUP and waits for the reload.
fn reload(server: &mut ChildServer, file: &std::path::Path, text: &str) {
    std::fs::write(file, text).unwrap();
    server.signal("HUP");
    server.wait_log("SIGHUP: auth file re-read: 1 tokens");
}

/// The history of `topic`: the whole answer of an HTTP/1.0 poll.
fn history(addr: SocketAddr, topic: &str) -> String {
    let mut c = connect(addr);
    c.send(format!("GET /topics/{topic}/stream?poll=1 HTTP/1.0\r\n\r\n").as_bytes());
    String::from_utf8(c.read_to_end()).unwrap()
}

#[test]
fn a_websocket_whose_token_was_revoked_stops_publishing_with_1008() {
    let (mut server, file) = server(&[]);
    let mut ws = ws_connect(server.addr, "/topics/alerts-a/ws?token=w-s3cret-1");
    ws.send(&ws_frame(TEXT, b"one", true, true));
    assert_eq!(ws_text(&mut ws), "one");
    reload(&mut server, &file, READER_ONLY);
    ws.send(&ws_frame(TEXT, b"two", true, true));
    assert_eq!(ws_expect_close(&mut ws), (1008, "token revoked".into()));
    let published = history(server.addr, "alerts-a");
    assert!(published.contains("\"one\""), "{published}");
    assert!(!published.contains("\"two\""), "{published}");
}

#[test]
fn a_websocket_subscription_whose_token_was_revoked_closes_before_the_next_message() {
    let (mut server, file) = server(&[]);
    let mut ws = ws_connect(server.addr, "/topics/alerts-b/ws?token=r-s3cret-2");
    reload(&mut server, &file, WRITER_ONLY);
    let raw = "POST /topics/alerts-b HTTP/1.1\r\nHost: t\r\n\
               Authorization: Bearer w-s3cret-1\r\nContent-Length: 6\r\n\r\nsecret";
    assert_eq!(get(server.addr, raw.as_bytes()).0.status, 200);
    assert_eq!(ws_expect_close(&mut ws), (1008, "token revoked".into()));
}

#[test]
fn a_quiet_websocket_subscription_whose_token_was_revoked_closes_without_a_message() {
    let (mut server, file) = server(&[]);
    let mut ws = ws_connect(server.addr, "/topics/alerts-c/ws?token=r-s3cret-2");
    reload(&mut server, &file, WRITER_ONLY);
    // Nothing is published: the WebSocket timer's scan (at most a second
    // later) closes it, well within the read's 5 s.
    assert_eq!(ws_expect_close(&mut ws), (1008, "token revoked".into()));
}

#[test]
fn an_sse_and_an_ndjson_stream_whose_token_was_revoked_end_with_an_error_at_once() {
    // Keepalives every 25 s (the default): the streams are quiet, and only
    // the reload itself can wake them within the reads' 5 s.
    let (mut server, file) = server(&[]);
    let mut sse = open_stream(
        server.addr,
        b"GET /topics/news/sse?token=r-s3cret-2 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let mut ndjson = open_stream(
        server.addr,
        b"GET /topics/news/stream?token=r-s3cret-2 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    reload(&mut server, &file, WRITER_ONLY);
    let expected = "{\"event\":\"error\",\"topic\":\"news\",\"error\":\"token revoked\"}";
    let block = sse.raw_event();
    assert_eq!(block, Some(format!("event: error\ndata: {expected}")));
    assert_eq!(sse.raw_event(), None, "the body ends");
    assert_eq!(ndjson.line().as_deref(), Some(expected));
    assert_eq!(ndjson.line(), None, "the body ends");
}
