//! Behind a reverse proxy (`--trust-proxy`): the client is the rightmost
//! `X-Forwarded-For` address that is not a trusted proxy, counted per
//! request rather than per connection, and named in the access log. From
//! a peer not trusted, the header is ignored.
//!
//! ```text
//! 127.0.0.1 (trusted)   X-Forwarded-For: 203.0.113.7        → counted as 203.0.113.7
//!                       X-Forwarded-For: 198.51.100.1, 203.0.113.7 → still 203.0.113.7
//! 127.0.0.2 (not)       X-Forwarded-For: 203.0.113.7        → counted as 127.0.0.2
//! log: 203.0.113.7 via 127.0.0.1:50312 "GET /healthz" 200 82 0ms
//! ```

mod support;

use std::time::Duration;

use support::{ChildServer, Client, connect, connect_from, start_server_with, wait_until};

fn healthz_for(client: &str) -> Vec<u8> {
    format!("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: {client}\r\n\r\n").into_bytes()
}

fn status_for(c: &mut Client, client: &str) -> u16 {
    c.send(&healthz_for(client));
    c.response().0.status
}

fn one_per_client_behind_127_0_0_1(c: &mut tinypush::Config) {
    c.access.max_connections_per_ip = 1;
    c.access.trust_proxy = vec!["127.0.0.1/32".parse().unwrap()];
}

#[test]
fn through_a_trusted_proxy_each_request_counts_for_its_forwarded_client() {
    let server = start_server_with(one_per_client_behind_127_0_0_1);
    // A stream holds 203.0.113.7's one place while it lasts.
    let mut stream = connect(server.addr);
    stream.send(b"GET /topics/t/sse HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n");
    assert_eq!(stream.head().status, 200);

    // The proxy's connections are not counted at accept: a second is open.
    let mut proxy = connect(server.addr);
    assert_eq!(status_for(&mut proxy, "203.0.113.7"), 429);
    // What the client put on the left does not change who it is.
    assert_eq!(status_for(&mut proxy, "198.51.100.1, 203.0.113.7"), 429);
    // The same proxy connection goes on for another client.
    assert_eq!(status_for(&mut proxy, "203.0.113.8"), 200);
    assert_eq!(status_for(&mut proxy, "203.0.113.8"), 200);

    // The stream ends; its place is given back once the server sees it
    // (nothing tells the client when: polled).
    drop(stream);
    assert!(wait_until(Duration::from_secs(3), || status_for(
        &mut proxy,
        "203.0.113.7"
    ) == 200));
}

#[test]
fn from_a_peer_not_trusted_x_forwarded_for_is_ignored() {
    let server = start_server_with(one_per_client_behind_127_0_0_1);
    let mut first = connect_from(server.addr, "127.0.0.2");
    assert_eq!(status_for(&mut first, "203.0.113.7"), 200);
    // Counted as 127.0.0.2 at accept, whatever the header says.
    let mut second = connect_from(server.addr, "127.0.0.2");
    second.send(&healthz_for("203.0.113.9"));
    assert_eq!(second.head().status, 429);
    // A stream from another untrusted peer naming 203.0.113.7 does not take
    // that client's one place: through the trusted proxy it is still free.
    let mut stream = connect_from(server.addr, "127.0.0.3");
    stream.send(b"GET /topics/t/sse HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n");
    assert_eq!(stream.head().status, 200);
    let mut proxy = connect(server.addr);
    assert_eq!(status_for(&mut proxy, "203.0.113.7"), 200);
}

#[test]
fn the_access_log_names_the_forwarded_client_and_the_proxy() {
    let mut server = ChildServer::start(&["--trust-proxy", "127.0.0.1"]);
    let mut proxied = connect(server.addr);
    assert_eq!(status_for(&mut proxied, "198.51.100.1, 203.0.113.7"), 200);
    let line = server.wait_log("\"GET /healthz\" 200");
    assert!(line.contains(" 203.0.113.7 via 127.0.0.1:"), "{line}");

    let mut direct = connect_from(server.addr, "127.0.0.2");
    direct.send(b"GET /healthz?direct HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n");
    assert_eq!(direct.response().0.status, 200);
    let line = server.wait_log("\"GET /healthz?direct\" 200");
    assert!(line.contains("] 127.0.0.2:"), "{line}");
    assert!(!line.contains("203.0.113.9"), "{line}");
}
