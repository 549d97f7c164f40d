//! Access control on every topic endpoint: tokens from an auth file, sent
//! as `Authorization: Bearer` or `?token=`, each with its topic patterns;
//! `--anonymous` for requests without one.
//!
//! ```text
//! POST /topics/news                         (no token)   → 401, WWW-Authenticate: Bearer
//! POST /topics/news   Bearer w-wrong                     → 401, Bearer error="invalid_token"
//! POST /topics/news   Bearer r-s3cret-2     (no scope)   → 403 this token may not publish to news
//! GET /topics/news,sports/sse?token=r-s3cret-2           → 403 this token may not subscribe to sports
//! WS text to a topic the token may not publish to        → close 1008 with the reason
//! ```
//!
//! The tokens (`support/access.rs`): WRITER publishes to `alerts-*` and
//! subscribes to everything; READER subscribes to `news` and `alerts-*`.

mod support;

use std::net::SocketAddr;

use support::{
    AUTH_FILE, Head, READER, TestServer, WRITER, auth_file, connect, get, metric, metrics,
    ndjson_message, open_stream, sse_message, start_server_with, ws_connect,
    ws_expect_close_and_end, ws_frame, ws_handshake, ws_text,
};
use tinypush::config::Anonymous;

/// The header lines that carry each token.
const AS_WRITER: &str = "Authorization: Bearer w-s3cret-1\r\n";
const AS_READER: &str = "Authorization: Bearer r-s3cret-2\r\n";

const TEXT: u8 = 0x1;

/// A server with the two-token auth file and `anonymous` (`None`: the
/// default, which is read once a file is given).
fn server(anonymous: Option<Anonymous>) -> TestServer {
    let file = auth_file(AUTH_FILE);
    start_server_with(move |c| {
        c.access.auth_file = Some(file);
        c.access.anonymous = anonymous;
    })
}

/// Publishes `hello` to `target` with the extra header lines `headers`
/// (each ending in CRLF); returns the response.
fn post(addr: SocketAddr, target: &str, headers: &str) -> (Head, String) {
    let raw =
        format!("POST {target} HTTP/1.1\r\nHost: t\r\n{headers}Content-Length: 5\r\n\r\nhello");
    get(addr, raw.as_bytes())
}

// ---- publishing ----

#[test]
fn publish_without_a_token_gets_401_with_a_bearer_challenge() {
    let server = server(None);
    let (head, body) = post(server.addr, "/topics/alerts-disk", "");
    assert_eq!(
        head.raw,
        "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain; charset=utf-8\r\n\
         WWW-Authenticate: Bearer\r\nContent-Length: 47\r\n\r\n"
    );
    assert_eq!(body, "publishing needs Authorization: Bearer <token>\n");
}

#[test]
fn publish_without_a_token_gets_401_before_the_go_ahead_and_its_body_is_never_read() {
    let server = server(None);
    let mut c = connect(server.addr);
    c.send(b"POST /topics/alerts-disk HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    // No `100 Continue`: the refusal comes first, and says the connection ends.
    let (head, body) = c.response();
    assert_eq!(
        head.raw,
        "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain; charset=utf-8\r\n\
         WWW-Authenticate: Bearer\r\nConnection: close\r\nContent-Length: 47\r\n\r\n"
    );
    assert_eq!(body, "publishing needs Authorization: Bearer <token>\n");
    c.expect_closed();
}

#[test]
fn publish_with_an_unknown_token_gets_401_invalid_token() {
    let server = server(None);
    for auth in [
        "Authorization: Bearer w-s3cret\r\n",
        "Authorization: Bearer w-s3cret-10\r\n",
    ] {
        let (head, body) = post(server.addr, "/topics/alerts-disk", auth);
        assert_eq!(head.status, 401, "{auth}");
        assert_eq!(
            head.header("WWW-Authenticate"),
            Some("Bearer error=\"invalid_token\"")
        );
        assert_eq!(body, "unknown token\n");
    }
    let (head, _) = post(server.addr, "/topics/alerts-disk?token=nope", "");
    assert_eq!(head.status, 401);
}

#[test]
fn publish_outside_the_scope_gets_403_naming_the_topic_and_action() {
    let server = server(None);
    let (head, body) = post(server.addr, "/topics/news", AS_READER);
    assert_eq!(head.raw.lines().next(), Some("HTTP/1.1 403 Forbidden"));
    assert_eq!(body, "this token may not publish to news\n");
    let (head, body) = post(server.addr, "/topics/news", AS_WRITER);
    assert_eq!(head.status, 403);
    assert_eq!(body, "this token may not publish to news\n");
}

#[test]
fn publish_inside_the_scope_gets_200_with_the_header_or_the_query() {
    let server = server(None);
    let (head, body) = post(server.addr, "/topics/alerts-disk", AS_WRITER);
    assert_eq!(head.status, 200, "{body}");
    assert_eq!(
        body,
        "{\"id\":1,\"topic\":\"alerts-disk\",\"receivers\":0}\n"
    );
    let (head, body) = post(server.addr, "/topics/alerts-disk?token=w-s3cret-1", "");
    assert_eq!(head.status, 200, "{body}");
    assert!(body.starts_with("{\"id\":2,"), "{body}");
}

#[test]
fn a_bearer_header_wins_over_the_query() {
    let server = server(None);
    let (head, body) = post(
        server.addr,
        "/topics/alerts-disk?token=w-s3cret-1",
        AS_READER,
    );
    assert_eq!(head.status, 403, "{body}");
}

// ---- anonymous ----

#[test]
fn anonymous_read_subscribes_but_does_not_publish() {
    let server = server(None);
    let mut sse = open_stream(
        server.addr,
        b"GET /topics/alerts-a/sse HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(post(server.addr, "/topics/alerts-a", "").0.status, 401);
    assert_eq!(
        post(server.addr, "/topics/alerts-a", AS_WRITER).0.status,
        200
    );
    assert_eq!(sse_message(&mut sse), (1, "hello".into()));
}

#[test]
fn anonymous_none_needs_a_token_for_every_way_to_subscribe() {
    let server = server(Some(Anonymous::None));
    for target in [
        "/topics/news/sse",
        "/topics/news/stream",
        "/topics/news/stream?poll=1",
        "/topics/news/sse?poll=1&token=",
    ] {
        let raw = format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n");
        let (head, body) = get(server.addr, raw.as_bytes());
        assert_eq!(head.status, 401, "{target}");
        assert_eq!(head.header("WWW-Authenticate"), Some("Bearer"));
        assert_eq!(
            body,
            "subscribing needs Authorization: Bearer <token> or ?token=\n"
        );
    }
    let (head, _) = get(server.addr, &ws_handshake("/topics/news/ws", &[]));
    assert_eq!(head.status, 401);
    assert_eq!(head.header("Sec-WebSocket-Accept"), None);
}

#[test]
fn anonymous_read_write_publishes_but_an_unknown_token_is_still_refused() {
    let server = server(Some(Anonymous::ReadWrite));
    assert_eq!(post(server.addr, "/topics/news", "").0.status, 200);
    let auth = "Authorization: Bearer guess\r\n";
    assert_eq!(post(server.addr, "/topics/news", auth).0.status, 401);
    // A token adds to what anonymous may do; it never takes away.
    assert_eq!(post(server.addr, "/topics/news", AS_READER).0.status, 200);
}

// ---- subscribing with a token ----

#[test]
fn the_query_token_subscribes_over_sse_ndjson_poll_and_websocket() {
    let server = server(Some(Anonymous::None));
    let mut sse = open_stream(
        server.addr,
        b"GET /topics/alerts-a/sse?token=r-s3cret-2 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let mut nd = open_stream(
        server.addr,
        b"GET /topics/alerts-a/stream?token=r-s3cret-2 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let mut ws = ws_connect(server.addr, "/topics/alerts-a/ws?token=r-s3cret-2");
    assert_eq!(
        post(server.addr, "/topics/alerts-a", AS_WRITER).0.status,
        200
    );
    assert_eq!(sse_message(&mut sse), (1, "hello".into()));
    assert_eq!(ndjson_message(&mut nd), (1, "hello".into()));
    assert_eq!(ws_text(&mut ws), "hello");
    let mut poll = open_stream(
        server.addr,
        b"GET /topics/alerts-a/stream?poll=1&token=r-s3cret-2 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(ndjson_message(&mut poll), (1, "hello".into()));
    assert_eq!(poll.line(), None);
}

#[test]
fn subscribing_outside_the_scope_gets_403_where_anonymous_may_not() {
    // With anonymous read, the token would not be needed at all.
    let server = server(Some(Anonymous::None));
    for target in [
        "/topics/sports/sse?token=r-s3cret-2",
        "/topics/sports/stream?poll=1&token=r-s3cret-2",
    ] {
        let raw = format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n");
        let (head, body) = get(server.addr, raw.as_bytes());
        assert_eq!(head.status, 403, "{target}");
        assert_eq!(body, "this token may not subscribe to sports\n");
    }
    let ws = ws_handshake("/topics/sports/ws", &["Authorization: Bearer r-s3cret-2"]);
    assert_eq!(get(server.addr, &ws).0.status, 403);
}

#[test]
fn every_topic_of_a_multi_topic_subscription_needs_the_scope() {
    let server = server(Some(Anonymous::None));
    let (head, body) = get(
        server.addr,
        b"GET /topics/news,sports,alerts-a/sse?token=r-s3cret-2 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(head.status, 403);
    assert_eq!(body, "this token may not subscribe to sports\n");
    open_stream(
        server.addr,
        b"GET /topics/news,alerts-a/sse?token=r-s3cret-2 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
}

// ---- publishing through a WebSocket ----

#[test]
fn ws_text_to_a_topic_outside_the_publish_scope_closes_1008() {
    let server = server(None);
    let mut ws = ws_connect(server.addr, "/topics/alerts-a/ws?token=r-s3cret-2");
    ws.send(&ws_frame(TEXT, b"sneaky", true, true));
    assert_eq!(
        ws_expect_close_and_end(&mut ws),
        (1008, "this token may not publish to alerts-a".into())
    );
    // Nothing was published: the writer's message is the first.
    let (_, body) = post(server.addr, "/topics/alerts-a", AS_WRITER);
    assert!(body.starts_with("{\"id\":1,"), "{body}");
}

#[test]
fn ws_text_inside_the_publish_scope_is_published() {
    let server = server(None);
    let mut ws = connect(server.addr);
    ws.send(&ws_handshake(
        "/topics/alerts-a/ws",
        &["Authorization: Bearer w-s3cret-1"],
    ));
    assert_eq!(ws.head().status, 101);
    ws.send(&ws_frame(TEXT, b"signed", true, true));
    assert_eq!(ws_text(&mut ws), "signed");
}

// ---- metrics ----

#[test]
fn refusals_are_counted_by_status_and_metrics_hold_no_secret() {
    let server = server(None);
    post(server.addr, "/topics/news", "");
    post(
        server.addr,
        "/topics/news",
        "Authorization: Bearer nope\r\n",
    );
    post(server.addr, "/topics/news", AS_READER);
    let denied = |status: &str| {
        let name = format!("tinypush_access_denied_total{{status=\"{status}\"}}");
        metric(server.addr, &name)
    };
    assert_eq!(denied("401"), 2);
    assert_eq!(denied("403"), 1);
    let text = metrics(server.addr);
    assert!(!text.contains(READER) && !text.contains(WRITER), "{text}");
}
