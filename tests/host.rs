//! The `Host` check against DNS rebinding: a page whose own name was made
//! to resolve to this server reaches it as that name, and is refused.
//!
//! ```text
//! POST /topics/news  Host: evil.example:PORT, Origin: http://evil.example:PORT  → 403, nothing published
//! GET /topics/news/sse  Host: evil.example:PORT                                  → 403
//! Host: 127.0.0.1:PORT, [::1]:PORT, localhost:PORT, pi, app.localhost            → answered
//! --allowed-host push.example: Host: push.example (WebSocket from its page)      → 101
//! HTTP/1.0 without Host                                                          → answered
//! two Host lines; Host: 127.0.0.1:80.evil.example                                → 400
//! ```

mod support;

use support::{WS_SAMPLE_KEY, connect, get, publish_ok, start_server, start_server_with};

/// The whole refusal, as the wire carries it.
const REFUSED: &str = "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\n\
                       Content-Length: 63\r\n\r\n";
const REASON: &str = "this server does not answer to that host name (--allowed-host)\n";

#[test]
fn a_rebound_page_can_neither_publish_nor_subscribe() {
    let server = start_server();
    let port = server.addr.port();
    // The page's origin equals its Host: the origin check alone lets it by.
    let publish = format!(
        "POST /topics/news HTTP/1.1\r\nHost: evil.example:{port}\r\n\
         Origin: http://evil.example:{port}\r\nContent-Length: 5\r\n\r\nhello"
    );
    let (head, body) = get(server.addr, publish.as_bytes());
    assert_eq!((head.raw.as_str(), body.as_str()), (REFUSED, REASON));
    let subscribe = format!("GET /topics/news/sse HTTP/1.1\r\nHost: evil.example:{port}\r\n\r\n");
    let (head, body) = get(server.addr, subscribe.as_bytes());
    assert_eq!((head.raw.as_str(), body.as_str()), (REFUSED, REASON));
    // Nothing was published: the first publish by address gets id 1.
    assert_eq!(publish_ok(&mut connect(server.addr), "news", "hi").0, 1);
}

#[test]
fn addresses_names_without_a_dot_and_localhost_are_answered() {
    let server = start_server();
    let port = server.addr.port();
    for host in [
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        format!("localhost:{port}"),
        "pi".to_string(),
        format!("app.localhost:{port}"),
    ] {
        let raw = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n");
        let (head, body) = get(server.addr, raw.as_bytes());
        assert_eq!((head.status, body.as_str()), (200, "ok\n"), "Host: {host}");
    }
    // No Host at all: HTTP/1.0, no browser's.
    let (head, _) = get(server.addr, b"GET /healthz HTTP/1.0\r\n\r\n");
    assert_eq!(head.status, 200);
}

#[test]
fn a_listed_name_is_answered_and_its_pages_may_open_websockets() {
    let server = start_server_with(|c| {
        c.access.allowed_hosts = vec!["push.example".into(), "*.corp.example".into()];
    });
    let handshake = |host: &str| {
        let mut c = connect(server.addr);
        c.send(
            format!(
                "GET /topics/news/ws HTTP/1.1\r\nHost: {host}\r\nOrigin: https://{host}\r\n\
                 Upgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: {WS_SAMPLE_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            .as_bytes(),
        );
        c.head().status
    };
    assert_eq!(handshake("PUSH.example."), 101);
    for (host, status) in [
        ("a.corp.example", 200),
        ("corp.example", 403),
        ("push.example.evil.example", 403),
    ] {
        let raw = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n");
        assert_eq!(get(server.addr, raw.as_bytes()).0.status, status, "{host}");
    }
    // The same handshake under an unlisted name.
    assert_eq!(handshake("evil.example"), 403);
}

#[test]
fn two_hosts_or_one_that_is_not_host_and_port_get_400() {
    let server = start_server();
    for (hosts, reason) in [
        (
            "Host: 127.0.0.1\r\nHost: evil.example\r\n",
            "more than one Host header\n",
        ),
        (
            "Host: 127.0.0.1:80.evil.example\r\n",
            "Host is not host[:port]\n",
        ),
        ("Host: evil%2eexample\r\n", "Host is not host[:port]\n"),
    ] {
        let raw = format!("GET /healthz HTTP/1.1\r\n{hosts}\r\n");
        let (head, body) = get(server.addr, raw.as_bytes());
        assert_eq!((head.status, body.as_str()), (400, reason), "{hosts:?}");
    }
}
