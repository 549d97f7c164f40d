//! curl as the real client: what a user sees with `curl -N`.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use support::start_server;

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl is installed");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn curl_sees_the_stream_lines() {
    let server = start_server();
    let url = format!("http://{}/stream?count=3&interval_ms=20", server.addr);
    let want = "start\nhoge:0\nhoge:1\nhoge:2\nmessage is over\nbye\n";
    assert_eq!(curl(&["-N", &url]), want);
    assert_eq!(curl(&["-N", "--http1.0", &url]), want);
}

#[test]
fn curl_sees_the_first_line_while_the_stream_is_open() {
    let server = start_server();
    let url = format!(
        "http://{}/stream?count=1&interval_ms=60000&timeout_ms=60000",
        server.addr
    );
    let mut child = Command::new("curl")
        .args(["-sSN", "--max-time", "10", &url])
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl is installed");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a line").expect("readable");
    assert_eq!(first, "start");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn curl_sees_sse_events_and_healthz() {
    let server = start_server();
    let url = format!("http://{}/event?interval_ms=20", server.addr);
    let out = Command::new("curl")
        .args(["-sN", "--max-time", "0.5", "-H", "Last-Event-ID: 9", &url])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("id: 10\ndata: 10\n\nid: 11\ndata: 11\n\n"),
        "{text}"
    );
    assert_eq!(curl(&[&format!("http://{}/healthz", server.addr)]), "ok\n");
}
