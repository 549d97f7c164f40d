//! Who may publish: text a WebSocket subscriber sends is published to its
//! topic (binary frames close with 1003), and with a publish token
//! (`--publish-token` or `TINYPUSH_PUBLISH_TOKEN`) only requests carrying
//! `Authorization: Bearer <token>` may publish, over HTTP or WebSocket.
//! Subscribing never needs it.
//!
//! ```text
//! POST /topics/news  (no token)               → 401, WWW-Authenticate: Bearer
//! POST /topics/news  Authorization: Bearer t  → 200
//! WS text frame, upgrade without the token    → close 1008
//! ```

mod support;

use std::net::SocketAddr;

use support::{
    ChildServer, TestServer, connect, ndjson_message, open_stream, publish, sse_message,
    start_server, start_server_with, ws_connect, ws_expect_close_and_end, ws_frame, ws_handshake,
    ws_text,
};

const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;

// ---- publishing over WebSocket ----

#[test]
fn ws_text_is_published_to_other_subscribers_and_back_to_the_sender() {
    let server = start_server();
    let mut sse = open_stream(
        server.addr,
        b"GET /topics/chat/sse HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let mut ws = ws_connect(server.addr, "/topics/chat/ws");
    ws.send(&ws_frame(TEXT, b"hi there", true, true));
    assert_eq!(sse_message(&mut sse), (1, "hi there".into()));
    assert_eq!(ws_text(&mut ws), "hi there");
}

#[test]
fn ws_binary_frame_gets_close_1003() {
    let server = start_server();
    let mut ws = ws_connect(server.addr, "/topics/chat/ws");
    ws.send(&ws_frame(BINARY, b"\x00\x01\x02", true, true));
    assert_eq!(
        ws_expect_close_and_end(&mut ws),
        (1003, "binary frames are not accepted".into())
    );
    // Nothing was published.
    let (status, receipt) = publish(server.addr, "chat", "after");
    assert_eq!(status, 200);
    assert!(receipt.starts_with("{\"id\":1,"), "{receipt}");
}

#[test]
fn text_after_a_rejected_binary_frame_is_not_published() {
    let server = start_server();
    let mut ws = ws_connect(server.addr, "/topics/chat/ws");
    // Both frames in one write: the server has decided to close before it
    // reads the text, and must not act on it.
    let mut frames = ws_frame(BINARY, b"\x01", true, true);
    frames.extend(ws_frame(TEXT, b"after-binary", true, true));
    ws.send(&frames);
    assert_eq!(
        ws_expect_close_and_end(&mut ws),
        (1003, "binary frames are not accepted".into())
    );
    let (status, receipt) = publish(server.addr, "chat", "next");
    assert_eq!(status, 200);
    assert!(receipt.starts_with("{\"id\":1,"), "{receipt}");
}

// ---- the publish token ----

fn token_server() -> TestServer {
    start_server_with(|c| c.access.publish_token = Some("s3cret".into()))
}

#[test]
fn with_token_publish_without_authorization_gets_401_bearer() {
    let server = token_server();
    let mut c = connect(server.addr);
    c.send(b"POST /topics/news HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
    let (head, body) = c.response();
    assert_eq!(
        head.raw,
        "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain; charset=utf-8\r\n\
         WWW-Authenticate: Bearer\r\nContent-Length: 47\r\n\r\n"
    );
    assert_eq!(body, "publishing needs Authorization: Bearer <token>\n");
}

#[test]
fn with_token_wrong_token_gets_401() {
    let server = token_server();
    // A Bearer token that is not the one: RFC 6750's invalid_token. Another
    // scheme, or none, is no token at all: a plain Bearer challenge.
    for (auth, challenge) in [
        ("Bearer s3cre", "Bearer error=\"invalid_token\""),
        ("Bearer s3cret2", "Bearer error=\"invalid_token\""),
        ("Basic s3cret", "Bearer"),
        ("s3cret", "Bearer"),
    ] {
        let mut c = connect(server.addr);
        c.send(
            format!(
                "POST /topics/news HTTP/1.1\r\nHost: t\r\nAuthorization: {auth}\r\n\
                 Content-Length: 5\r\n\r\nhello"
            )
            .as_bytes(),
        );
        let (head, _) = c.response();
        assert_eq!(head.status, 401, "{auth:?}");
        assert_eq!(head.header("WWW-Authenticate"), Some(challenge), "{auth:?}");
    }
}

#[test]
fn with_token_bearer_token_publishes_and_subscribing_needs_none() {
    let server = token_server();
    let mut sse = open_stream(
        server.addr,
        b"GET /topics/news/sse HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let mut nd = open_stream(
        server.addr,
        b"GET /topics/news/stream HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let mut ws = ws_connect(server.addr, "/topics/news/ws");
    let mut c = connect(server.addr);
    c.send(
        b"POST /topics/news HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cret\r\n\
          Content-Length: 5\r\n\r\nhello",
    );
    let (head, body) = c.response();
    assert_eq!(head.status, 200, "{}", head.raw);
    assert_eq!(body, "{\"id\":1,\"topic\":\"news\",\"receivers\":3}\n");
    assert_eq!(sse_message(&mut sse), (1, "hello".into()));
    assert_eq!(ndjson_message(&mut nd), (1, "hello".into()));
    assert_eq!(ws_text(&mut ws), "hello");
}

#[test]
fn with_token_ws_without_it_that_sends_text_gets_close_1008() {
    let server = token_server();
    let mut ws = ws_connect(server.addr, "/topics/news/ws");
    ws.send(&ws_frame(TEXT, b"sneaky", true, true));
    assert_eq!(
        ws_expect_close_and_end(&mut ws),
        (1008, "publishing needs the token".into())
    );
    let mut r = open_stream(
        server.addr,
        b"GET /topics/news/sse?since=0 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    // Nothing was published: the first id is the one published now.
    let mut c = connect(server.addr);
    c.send(
        b"POST /topics/news HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cret\r\n\
          Content-Length: 2\r\n\r\nok",
    );
    assert_eq!(c.response().0.status, 200);
    assert_eq!(sse_message(&mut r), (1, "ok".into()));
}

#[test]
fn with_token_ws_upgraded_with_it_can_publish() {
    let server = token_server();
    let mut sse = open_stream(
        server.addr,
        b"GET /topics/news/sse HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let mut ws = connect(server.addr);
    ws.send(&ws_handshake(
        "/topics/news/ws",
        &["Authorization: Bearer s3cret"],
    ));
    assert_eq!(ws.head().status, 101);
    ws.send(&ws_frame(TEXT, b"signed", true, true));
    assert_eq!(sse_message(&mut sse), (1, "signed".into()));
    assert_eq!(ws_text(&mut ws), "signed");
}

/// Publishes `hello` to `news` on a fresh connection with `auth` headers;
/// returns the status.
fn publish_status(addr: SocketAddr, auth: &str) -> u16 {
    let mut c = connect(addr);
    c.send(
        format!("POST /topics/news HTTP/1.1\r\nHost: t\r\n{auth}Content-Length: 5\r\n\r\nhello")
            .as_bytes(),
    );
    c.response().0.status
}

#[test]
fn binary_with_publish_token_flag_requires_the_token() {
    let server = ChildServer::start(&["--publish-token", "s3cret"]);
    assert_eq!(publish_status(server.addr, ""), 401);
    assert_eq!(
        publish_status(server.addr, "Authorization: Bearer wrong\r\n"),
        401
    );
    assert_eq!(
        publish_status(server.addr, "Authorization: Bearer s3cret\r\n"),
        200
    );
}

#[test]
fn binary_takes_the_token_from_tinypush_publish_token() {
    let server = ChildServer::builder()
        .env("TINYPUSH_PUBLISH_TOKEN", "from-env")
        .start(&[]);
    assert_eq!(publish_status(server.addr, ""), 401);
    assert_eq!(
        publish_status(server.addr, "Authorization: Bearer from-env\r\n"),
        200
    );
}

#[test]
fn binary_on_all_interfaces_without_token_warns() {
    let mut server = ChildServer::builder().addr("0.0.0.0:0").start(&[]);
    let line = server.wait_log("anonymous clients may publish");
    assert!(line.contains("[WARN]"), "{line}");
}

#[test]
fn binary_on_all_interfaces_with_token_does_not_warn() {
    let mut server = ChildServer::builder()
        .addr("0.0.0.0:0")
        .start(&["--publish-token", "s3cret"]);
    // The warning would come before the accept loop starts, so before the
    // access log line of any request.
    let mut c = connect(server.addr);
    c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(c.response().0.status, 200);
    server.wait_log("\"GET /healthz\" 200");
    assert!(
        !server.seen().iter().any(|l| l.contains("may publish")),
        "{:#?}",
        server.seen()
    );
}
