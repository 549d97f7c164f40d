//! Browsers on other origins: with `--cors-origin`, preflights on
//! `/topics/` get a 204 with the allow headers, and every answer to a
//! listed origin, errors included, carries `Access-Control-Allow-Origin`.
//!
//! ```text
//! OPTIONS /topics/news  Origin: https://app.example     → 204, Allow-Origin, -Methods, -Headers, -Max-Age
//! OPTIONS /topics/news  Origin: https://evil.example    → 403, no Allow-Origin
//! POST /topics/news     Origin: https://app.example     → 200 (401 without the token), Allow-Origin
//! POST /topics/news     Origin: https://evil.example    → 403 "origin not allowed", nothing published
//! POST /topics/news     Origin: http://t, Host: t       → 200 (the server's own page; none: curl)
//! 429 of a proxied client (per-request limit)           → Allow-Origin too
//! GET  /topics/news/sse Origin: https://app.example     → stream head with Allow-Origin
//! without --cors-origin                                 → no CORS headers; OPTIONS → 405
//! ```

mod support;

use support::{Head, connect, get, publish_ok, start_server_with, ws_handshake};
use tinypush::Config;

const APP: &str = "https://app.example";

fn with_app(c: &mut Config) {
    c.access.cors_origins = vec![APP.to_string()];
}

fn preflight(origin: &str) -> Vec<u8> {
    format!(
        "OPTIONS /topics/news HTTP/1.1\r\nHost: t\r\nOrigin: {origin}\r\n\
         Access-Control-Request-Method: POST\r\n\
         Access-Control-Request-Headers: authorization, content-type\r\n\r\n"
    )
    .into_bytes()
}

fn publish_from(origin: &str, extra: &str) -> Vec<u8> {
    format!(
        "POST /topics/news HTTP/1.1\r\nHost: t\r\nOrigin: {origin}\r\n{extra}\
         Content-Length: 5\r\n\r\nhello"
    )
    .into_bytes()
}

fn no_cors(head: &Head) {
    assert!(!head.raw.contains("Access-Control-"), "{}", head.raw);
}

#[test]
fn a_preflight_from_a_listed_origin_gets_204_with_the_allow_headers() {
    let server = start_server_with(with_app);
    let mut c = connect(server.addr);
    c.send(&preflight(APP));
    assert_eq!(
        c.head().raw,
        "HTTP/1.1 204 No Content\r\n\
         Vary: Origin\r\n\
         Access-Control-Allow-Origin: https://app.example\r\n\
         Access-Control-Allow-Methods: POST, PUT, OPTIONS\r\n\
         Access-Control-Allow-Headers: Authorization, Content-Type, Last-Event-ID\r\n\
         Access-Control-Max-Age: 600\r\n\r\n"
    );
    // No body, and the connection goes on: the real request follows.
    c.send(&publish_from(APP, ""));
    let (head, body) = c.response();
    assert_eq!(head.status, 200, "{body}");
    assert_eq!(head.header("Access-Control-Allow-Origin"), Some(APP));
}

#[test]
fn a_preflight_for_a_subscription_allows_get() {
    let server = start_server_with(with_app);
    let raw = format!(
        "OPTIONS /topics/news/sse HTTP/1.1\r\nHost: t\r\nOrigin: {APP}\r\n\
         Access-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: last-event-id\r\n\r\n"
    );
    let mut c = connect(server.addr);
    c.send(raw.as_bytes());
    let head = c.head();
    assert_eq!(head.status, 204);
    assert_eq!(
        head.header("Access-Control-Allow-Methods"),
        Some("GET, HEAD, OPTIONS")
    );
}

#[test]
fn a_preflight_from_an_origin_not_listed_gets_403_and_no_allow_headers() {
    let server = start_server_with(with_app);
    let (head, body) = get(server.addr, &preflight("https://evil.example"));
    assert_eq!(head.status, 403);
    assert_eq!(body, "origin not allowed by --cors-origin\n");
    assert_eq!(head.header("Vary"), Some("Origin"));
    no_cors(&head);
}

#[test]
fn publish_replies_carry_the_origin_a_listed_page_sent() {
    let server = start_server_with(with_app);
    let (head, _) = get(server.addr, &publish_from(APP, ""));
    assert_eq!(head.status, 200);
    assert!(
        head.raw.contains(
            "\r\nVary: Origin\r\nAccess-Control-Allow-Origin: https://app.example\r\n\
             Access-Control-Expose-Headers: Retry-After, WWW-Authenticate\r\n"
        ),
        "{}",
        head.raw
    );
    // Another origin: refused, and nothing to read for its page.
    let (head, _) = get(server.addr, &publish_from("https://evil.example", ""));
    assert_eq!(head.status, 403);
    no_cors(&head);
}

#[test]
fn a_401_carries_allow_origin_so_the_page_can_read_why() {
    let server = start_server_with(|c| {
        with_app(c);
        c.access.publish_token = Some("s3cret".into());
    });
    let (head, _) = get(server.addr, &publish_from(APP, ""));
    assert_eq!(head.status, 401);
    assert_eq!(head.header("Access-Control-Allow-Origin"), Some(APP));
    assert_eq!(head.header("WWW-Authenticate"), Some("Bearer"));
    let authorized = publish_from(APP, "Authorization: Bearer s3cret\r\n");
    assert_eq!(get(server.addr, &authorized).0.status, 200);
}

#[test]
fn stream_and_poll_heads_carry_allow_origin() {
    let server = start_server_with(with_app);
    for path in ["/topics/news/sse", "/topics/news/stream?poll=1"] {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: t\r\nOrigin: {APP}\r\n\r\n");
        let mut c = connect(server.addr);
        c.send(raw.as_bytes());
        let head = c.head();
        assert_eq!(head.status, 200, "{path}");
        assert_eq!(
            head.header("Access-Control-Allow-Origin"),
            Some(APP),
            "{path}"
        );
        assert!(head.raw.ends_with("Transfer-Encoding: chunked\r\n\r\n"));
    }
}

#[test]
fn a_star_allows_every_origin_without_vary() {
    let server = start_server_with(|c| c.access.cors_origins = vec!["*".into()]);
    let (head, _) = get(server.addr, &publish_from("https://any.example", ""));
    assert_eq!(head.status, 200);
    assert_eq!(head.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(head.header("Vary"), None);
    let mut c = connect(server.addr);
    c.send(&preflight("https://any.example"));
    assert_eq!(c.head().status, 204);
}

#[test]
fn without_the_flag_no_cors_headers_and_options_keeps_its_405() {
    let server = start_server_with(|_| {});
    let (head, _) = get(server.addr, &publish_from("http://t", ""));
    assert_eq!(head.status, 200);
    no_cors(&head);
    assert_eq!(head.header("Vary"), None);
    let (head, _) = get(server.addr, &preflight(APP));
    assert_eq!(head.status, 405);
    assert_eq!(head.header("Allow"), Some("POST, PUT"));
    no_cors(&head);
}

#[test]
fn the_websocket_origin_check_follows_the_list() {
    let server = start_server_with(with_app);
    let upgrade = |origin: &str| {
        let origin = format!("Origin: {origin}");
        let mut c = connect(server.addr);
        c.send(&ws_handshake("/topics/news/ws", &[&origin]));
        c.head().status
    };
    assert_eq!(upgrade(APP), 101);
    assert_eq!(upgrade("https://evil.example"), 403);
    let default = start_server_with(|_| {});
    let mut c = connect(default.addr);
    c.send(&ws_handshake(
        "/topics/news/ws",
        &[&format!("Origin: {APP}")],
    ));
    assert_eq!(c.head().status, 403);
}

// ---- publishing from pages of other origins ----

/// A `POST` a form or a `text/plain` fetch sends without a preflight.
fn simple_post(method: &str, host: &str, origin: &str) -> Vec<u8> {
    format!(
        "{method} /topics/news HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\n\
         Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 5\r\n\r\nhello"
    )
    .into_bytes()
}

#[test]
fn a_simple_post_from_another_origin_gets_403_and_publishes_nothing() {
    for tweak in [(|_: &mut Config| {}) as fn(&mut Config), with_app] {
        let server = start_server_with(tweak);
        for method in ["POST", "PUT"] {
            let raw = simple_post(method, "t", "https://evil.example");
            let (head, body) = get(server.addr, &raw);
            assert_eq!(head.status, 403, "{method}");
            assert_eq!(body, "origin not allowed\n");
            no_cors(&head);
        }
        let (head, _) = get(server.addr, &simple_post("POST", "t", "null"));
        assert_eq!(head.status, 403, "a sandboxed frame");
        // The next publish (curl: no Origin) gets the first id.
        let (id, _) = publish_ok(&mut connect(server.addr), "news", "ok");
        assert_eq!(id, 1, "nothing was published");
    }
}

#[test]
fn the_servers_own_pages_publish_directly_and_behind_a_proxy_that_keeps_host() {
    // The name the proxy passes on is listed, as the README says to.
    let server = start_server_with(|c| {
        with_app(c);
        c.access.allowed_hosts = vec!["push.example".into()];
    });
    let host = server.addr.to_string();
    let own = format!("http://{host}");
    assert_eq!(
        get(server.addr, &simple_post("POST", &host, &own)).0.status,
        200
    );
    // nginx `proxy_set_header Host $http_host`, or Caddy, on https: 443.
    let proxied = simple_post("POST", "push.example", "https://push.example");
    assert_eq!(get(server.addr, &proxied).0.status, 200);
    let proxied = simple_post("PUT", "push.example:8443", "https://push.example:8443");
    assert_eq!(get(server.addr, &proxied).0.status, 200);
    // Listed, or every origin with '*'.
    assert_eq!(
        get(server.addr, &simple_post("POST", "t", APP)).0.status,
        200
    );
    let any = start_server_with(|c| c.access.cors_origins = vec!["*".into()]);
    let raw = simple_post("POST", "t", "https://any.example");
    assert_eq!(get(any.addr, &raw).0.status, 200);
}

#[test]
fn the_403_to_another_origin_says_vary_and_a_listed_page_still_reads_its_401() {
    let server = start_server_with(with_app);
    let (head, _) = get(
        server.addr,
        &simple_post("POST", "t", "https://evil.example"),
    );
    assert_eq!(head.status, 403);
    assert_eq!(head.header("Vary"), Some("Origin"));
    let star = start_server_with(|c| {
        c.access.cors_origins = vec!["*".into()];
        c.access.publish_token = Some("s3cret".into());
    });
    let (head, _) = get(star.addr, &simple_post("POST", "t", "https://any.example"));
    assert_eq!(head.status, 401);
    assert_eq!(head.header("Access-Control-Allow-Origin"), Some("*"));
}

#[test]
fn the_per_request_429_of_a_proxied_client_carries_allow_origin() {
    let server = start_server_with(|c| {
        with_app(c);
        c.access.max_connections_per_ip = 1;
        c.access.trust_proxy = vec!["127.0.0.1/32".parse().unwrap()];
    });
    // A stream holds 203.0.113.7's one place.
    let mut stream = connect(server.addr);
    stream.send(b"GET /topics/t/sse HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n");
    assert_eq!(stream.head().status, 200);
    let raw = format!(
        "POST /topics/news HTTP/1.1\r\nHost: t\r\nOrigin: {APP}\r\n\
         X-Forwarded-For: 203.0.113.7\r\nContent-Length: 5\r\n\r\nhello"
    );
    let (head, _) = get(server.addr, raw.as_bytes());
    assert_eq!(head.status, 429);
    assert_eq!(head.header("Access-Control-Allow-Origin"), Some(APP));
    assert_eq!(head.header("Retry-After"), Some("1"));
}
