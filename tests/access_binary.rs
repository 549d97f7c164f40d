//! Access control through the `tinypush` binary: what its log says (never
//! a secret), SIGHUP re-reading the auth file, a bad file at start.
//!
//! ```text
//! GET /topics/news/stream?poll=1&token=r-s3cret-2   log: "GET /topics/news/stream?poll=1&token=REDACTED" 200
//! kill -HUP PID                                     log: SIGHUP: auth file re-read: 3 tokens
//! kill -HUP PID (file broken)                       log: SIGHUP: auth file …: token #1: an empty secret; the tokens read before stay in force
//! tinypush serve --auth-file bad.toml               log: auth file bad.toml: …  exit 1
//! tinypush client URL --token T  (or TINYPUSH_TOKEN) handshake with Authorization: Bearer T
//! ```

mod support;

use std::net::SocketAddr;

use support::{
    AUTH_FILE, ChildServer, READER, WRITER, auth_file, connect, get, refused, run_client,
};

/// Publishes `hello` to `topic` with the header lines `headers`; returns
/// the status.
fn publish_status(addr: SocketAddr, topic: &str, headers: &str) -> u16 {
    let raw = format!(
        "POST /topics/{topic} HTTP/1.1\r\nHost: t\r\n{headers}Content-Length: 5\r\n\r\nhello"
    );
    get(addr, raw.as_bytes()).0.status
}

/// Asserts no log line read so far holds either secret.
fn no_secret_in(server: &ChildServer) {
    for line in server.seen() {
        assert!(
            !line.contains(READER) && !line.contains(WRITER),
            "a secret in the log: {line}"
        );
    }
}

#[test]
fn the_access_log_writes_token_redacted_never_the_secret() {
    let file = auth_file(AUTH_FILE);
    let mut server = ChildServer::start(&["--auth-file", file.to_str().unwrap()]);
    server.wait_log("2 tokens");
    let mut c = connect(server.addr);
    c.send(
        b"GET /topics/news/sse?poll=1&token=r-s3cret-2&x=1&%74oken=r-s3cret-2 HTTP/1.1\r\n\
          Host: t\r\n\r\n",
    );
    assert_eq!(c.head().status, 200);
    server.wait_log("\"GET /topics/news/sse?poll=1&token=REDACTED&x=1&%74oken=REDACTED\" 200");
    // Refused by scope (403), and unknown (401): the reply names neither.
    let mut c = connect(server.addr);
    c.send(
        b"POST /topics/news?token=w-s3cret-1 HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi",
    );
    let (head, body) = c.response();
    assert_eq!(head.status, 403);
    assert!(!body.contains(WRITER), "{body}");
    server.wait_log("\"POST /topics/news?token=REDACTED\" 403");
    // Refused while the request was read (413): the other log line.
    let mut c = connect(server.addr);
    c.send(
        b"POST /topics/news?token=w-s3cret-1 HTTP/1.1\r\nHost: t\r\n\
          Authorization: Bearer r-s3cret-2\r\nContent-Length: 99999999\r\n\r\n",
    );
    assert_eq!(c.head().status, 413);
    server.wait_log("\"POST /topics/news?token=REDACTED\" 413");
    no_secret_in(&server);
}

#[test]
fn sighup_rereads_the_auth_file_and_a_bad_one_keeps_the_old() {
    let file = auth_file(AUTH_FILE);
    let mut server = ChildServer::start(&["--auth-file", file.to_str().unwrap()]);
    server.wait_log("2 tokens");
    let newcomer = "Authorization: Bearer n-s3cret-3\r\n";
    assert_eq!(publish_status(server.addr, "news", newcomer), 401);

    let grown = format!("{AUTH_FILE}\n[[token]]\nsecret = \"n-s3cret-3\"\npublish = [\"news\"]\n");
    std::fs::write(&file, grown).unwrap();
    server.signal("HUP");
    server.wait_log("SIGHUP: auth file re-read: 3 tokens");
    assert_eq!(publish_status(server.addr, "news", newcomer), 200);

    std::fs::write(&file, "[[token]]\nsecret = \"\"\n").unwrap();
    server.signal("HUP");
    let line = server.wait_log("the tokens read before stay in force");
    assert!(line.contains("[ERROR]"), "{line}");
    assert!(line.contains("token #1: an empty secret"), "{line}");
    assert_eq!(publish_status(server.addr, "news", newcomer), 200);
    // Still serving, and still only one line per reload.
    assert!(server.is_running());
    let errors = server
        .seen()
        .iter()
        .filter(|l| l.contains("[ERROR]"))
        .count();
    assert_eq!(errors, 1, "{:#?}", server.seen());
    no_secret_in(&server);
}

#[test]
fn a_bad_auth_file_at_start_is_one_line_and_exit_1() {
    let file =
        auth_file("[[token]]\nsecret = \"w-s3cret-1\"\n[[token]]\nsecret = \"w-s3cret-1\"\n");
    let (code, log) = refused(&["--auth-file", file.to_str().unwrap()], &[]);
    assert_eq!(code, Some(1), "{log}");
    let errors: Vec<&str> = log.lines().filter(|l| l.contains("[ERROR]")).collect();
    assert_eq!(errors.len(), 1, "{log}");
    let expected = format!(
        "auth file {}: token #2 has the same secret as token #1",
        file.display()
    );
    assert!(errors[0].ends_with(&expected), "{log}");
    assert!(!log.contains(WRITER), "{log}");

    let (code, log) = refused(&["--auth-file", "/nonexistent/auth.toml"], &[]);
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("auth file /nonexistent/auth.toml: cannot read it"),
        "{log}"
    );
}

#[test]
fn sighup_without_an_auth_file_says_so_and_keeps_serving() {
    let mut server = ChildServer::start(&["--publish-token", "w-s3cret-1"]);
    server.signal("HUP");
    server.wait_log("SIGHUP: no --auth-file to re-read");
    let auth = "Authorization: Bearer w-s3cret-1\r\n";
    assert_eq!(publish_status(server.addr, "news", auth), 200);
    no_secret_in(&server);
}

#[test]
fn a_deeply_nested_file_at_reload_is_refused_not_a_crash() {
    let file = auth_file(AUTH_FILE);
    let mut server = ChildServer::start(&["--auth-file", file.to_str().unwrap()]);
    // The TOML parser recurses once per level, up to its own limit; the
    // signal thread must have the stack for that.
    let depth = 1000;
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    std::fs::write(&file, format!("{AUTH_FILE}x = {nested}\n")).unwrap();
    server.signal("HUP");
    let line = server.wait_log("the tokens read before stay in force");
    assert!(line.contains("line 9: cannot recurse further"), "{line}");
    let auth = "Authorization: Bearer w-s3cret-1\r\n";
    assert_eq!(publish_status(server.addr, "alerts-a", auth), 200);
    assert!(server.is_running());
}

#[test]
fn the_client_sends_its_token_in_a_header_from_the_flag_or_the_environment() {
    let file = auth_file(AUTH_FILE);
    let mut server =
        ChildServer::start(&["--auth-file", file.to_str().unwrap(), "--anonymous", "none"]);
    let url = format!("ws://{}/topics/alerts-1/ws", server.addr);
    let anonymous = run_client(&[&url, "--count", "1"], &[]);
    assert_eq!(anonymous.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&anonymous.stderr),
        format!("tinypush: {url}: handshake rejected: 401 Unauthorized\n")
    );
    let by_flag = run_client(
        &[
            &url,
            "--message",
            "by-flag",
            "--count",
            "1",
            "--token",
            WRITER,
        ],
        &[],
    );
    let by_env = run_client(
        &[&url, "--message", "by-env", "--count", "1"],
        &[("TINYPUSH_TOKEN", WRITER)],
    );
    for (out, message) in [(by_flag, "by-flag"), (by_env, "by-env")] {
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{stdout}");
        // Published through its own socket, and heard back as a subscriber.
        assert!(
            stdout.trim_end().ends_with(&format!(" {message}")),
            "{stdout}"
        );
    }
    // The URL carried no token: the access log line shows none.
    server.wait_log("\"GET /topics/alerts-1/ws\" 101");
    no_secret_in(&server);
}
