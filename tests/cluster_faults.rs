//! Scale-out through Redis when things fail: Redis lost while running
//! (stopped, restarted with or without its data, or cut off from one node
//! only), and a node killed under its subscribers. Redis away at start:
//! `cluster_join.rs`.
//!
//! ```text
//! Redis gone:  POST /topics/t     → 503, Retry-After: 1, "Redis unreachable; try again"
//!              GET /healthz       → 503 "degraded: Redis unreachable"
//! Redis back:  log "redis: back"; what others published meanwhile reaches
//!              this node's subscribers, filled from the topic's stream
//! Redis empty: ids go on above every id a node has seen; an old cursor
//!              gets {"event":"gap",...} first
//! ```
//!
//! A `Link` sits between one node and Redis, so that node alone can lose
//! Redis while the others publish. These tests need `redis-server`:
//! `make cluster-test` runs them.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use support::*;

/// How long a node may take to notice Redis gone or back (its retries
/// grow to 2 s).
const NOTICE: Duration = Duration::from_secs(10);

/// A subscriber on one topic over SSE, NDJSON or a `format=json` WebSocket.
enum Sub {
    Sse(StreamReader),
    Ndjson(StreamReader),
    Ws(Client),
}

impl Sub {
    /// Subscribes to `topic` on `addr`, after id `after` when given (SSE:
    /// `Last-Event-ID`, the others `since`), else to live messages.
    fn open(addr: SocketAddr, how: &str, topic: &str, after: Option<u64>) -> Sub {
        let since = after.map(|n| format!("since={n}")).unwrap_or_default();
        let get = |target: String, extra: String| {
            let raw = format!("GET {target} HTTP/1.1\r\nHost: t\r\n{extra}\r\n");
            open_stream(addr, raw.as_bytes())
        };
        match how {
            "sse" => Sub::Sse(get(
                format!("/topics/{topic}/sse"),
                after
                    .map(|n| format!("Last-Event-ID: {n}\r\n"))
                    .unwrap_or_default(),
            )),
            "ndjson" => Sub::Ndjson(get(format!("/topics/{topic}/stream?{since}"), "".into())),
            "ws" => Sub::Ws(ws_connect(
                addr,
                &format!("/topics/{topic}/ws?format=json&{since}"),
            )),
            other => unreachable!("{other}"),
        }
    }

    /// The next message as `(id, body)`; NDJSON keepalives skipped.
    fn message(&mut self) -> (u64, String) {
        match self {
            Sub::Sse(r) => sse_message(r),
            Sub::Ndjson(r) => loop {
                let v = r.json().expect("a line");
                if v["event"] != "keepalive" {
                    return json_message(&v);
                }
            },
            Sub::Ws(c) => ws_json_message(c),
        }
    }
}

/// One subscriber per transport on `addr`, live on `topic`.
fn subscribe_all(addr: SocketAddr, topic: &str) -> Vec<Sub> {
    ["sse", "ndjson", "ws"]
        .map(|how| Sub::open(addr, how, topic, None))
        .into()
}

/// Publishes `bodies` to `topic` on `addr`; the receipts.
fn publish_all(addr: SocketAddr, topic: &str, bodies: &[&str]) -> Vec<(u64, String)> {
    let mut c = connect(addr);
    let sent = bodies
        .iter()
        .map(|b| (publish_ok(&mut c, topic, b).0, b.to_string()));
    sent.collect()
}

/// Each subscriber reads exactly `sent`, in order.
fn each_reads(subs: &mut [Sub], sent: &[(u64, String)], who: &str) {
    for (i, sub) in subs.iter_mut().enumerate() {
        for message in sent {
            assert_eq!(&sub.message(), message, "{who}, subscriber {i}");
        }
    }
}

/// `GET /healthz`: the status and the body.
fn health(addr: SocketAddr) -> (u16, String) {
    let (head, body) = get(
        addr,
        b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    (head.status, body)
}

/// Waits until every node's `/healthz` answers `status` with `body`.
fn wait_health(nodes: &[&ChildServer], status: u16, body: &str) {
    for node in nodes {
        let reached = wait_until(NOTICE, || health(node.addr) == (status, body.to_string()));
        assert!(reached, "{} answers {:?}", node.addr, health(node.addr));
    }
}

/// A publish while Redis is away: 503, `Retry-After: 1`, one line.
fn publish_refused(addr: SocketAddr, topic: &str) {
    let raw = format!("POST /topics/{topic} HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nlost");
    let (head, body) = get(addr, raw.as_bytes());
    assert_eq!(head.status, 503, "{}{body}", head.raw);
    assert_eq!(head.header("Retry-After"), Some("1"), "{}", head.raw);
    assert_eq!(body, "Redis unreachable; try again\n");
}

/// The value of a sample of `/metrics` on `addr`, as a float (gauges in
/// seconds are not whole).
fn sample(addr: SocketAddr, name: &str) -> f64 {
    let text = metrics(addr);
    let value = text
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '));
    let value = value.unwrap_or_else(|| panic!("no sample {name} in:\n{text}"));
    value.parse().expect("a number")
}

#[test]
#[ignore = "needs redis-server: make cluster-test"]
fn a_node_cut_off_from_redis_gets_what_it_missed_once_back() {
    let redis = RedisServer::start();
    let link = Link::to(redis.port);
    let near = node(&redis.url(), &[]);
    let mut far = node(&link.url(), &[]);
    let mut subs = subscribe_all(far.addr, "cut");
    let sent = publish_all(near.addr, "cut", &["m0", "m1", "m2"]);
    each_reads(&mut subs, &sent, "before the cut");

    link.cut();
    publish_refused(far.addr, "cut");
    wait_health(&[&far], 503, "degraded: Redis unreachable\n");
    wait_health(&[&near], 200, "ok\n");
    // The near node goes on; its subscribers get these at once.
    let mut watcher = Sub::open(near.addr, "ndjson", "cut", Some(sent[2].0));
    let missed = publish_all(near.addr, "cut", &["m3", "m4", "m5", "m6", "m7"]);
    each_reads(
        std::slice::from_mut(&mut watcher),
        &missed,
        "near, meanwhile",
    );

    link.mend();
    far.wait_log("redis: back");
    // Filled from the stream once back, before anything new is published.
    each_reads(&mut subs, &missed, "far, once back");
    let here = publish_all(far.addr, "cut", &["m8"]);
    assert_eq!(here[0].0, missed[4].0 + 1);
    each_reads(&mut subs, &here, "far, published there");
    each_reads(std::slice::from_mut(&mut watcher), &here, "near, from far");
    wait_health(&[&far], 200, "ok\n");

    // m3-m7 reached the far node filled from the stream; m0-m2 heard on
    // the channel, or filled too if it subscribed after they were published
    // (nothing says when a node has subscribed). m8 is its own.
    let count = |n: &ChildServer, name: &str| sample(n.addr, &format!("tinypush_redis_{name}"));
    assert!(count(&far, "reconnects_total") >= 1.0);
    let filled = count(&far, "holes_filled_total");
    let heard = count(&far, "messages_received_total");
    assert!(
        filled >= 5.0 && heard <= 3.0 && filled + heard >= 8.0,
        "{filled} filled, {heard} heard"
    );
    assert_eq!(count(&near, "reconnects_total"), 0.0);
    assert_eq!(count(&near, "messages_received_total"), 1.0);
    let rtt = sample(near.addr, "tinypush_redis_rtt_seconds");
    assert!(rtt > 0.0 && rtt < 2.0, "last publish round trip {rtt} s");
}

#[test]
#[ignore = "needs redis-server: make cluster-test"]
fn redis_stopped_then_started_with_its_data_every_node_comes_back() {
    let mut redis = RedisServer::start();
    let mut nodes: Vec<ChildServer> = (0..3).map(|_| node(&redis.url(), &[])).collect();
    let mut subs: Vec<Vec<Sub>> = nodes.iter().map(|n| subscribe_all(n.addr, "out")).collect();
    let before = publish_all(nodes[0].addr, "out", &["m0", "m1", "m2"]);
    subs.iter_mut()
        .for_each(|s| each_reads(s, &before, "before"));

    redis.stop_saving();
    publish_refused(nodes[0].addr, "out");
    publish_refused(nodes[1].addr, "out");
    wait_health(
        &nodes.iter().collect::<Vec<_>>(),
        503,
        "degraded: Redis unreachable\n",
    );

    redis.start_again();
    // The first node back publishes at once, before the others are back.
    nodes[2].wait_log("redis: back");
    let meanwhile = publish_all(nodes[2].addr, "out", &["m3", "m4", "m5"]);
    assert_eq!(
        meanwhile[0].0,
        before[2].0 + 1,
        "ids go on from Redis's data"
    );
    for (n, node_subs) in subs.iter_mut().enumerate() {
        each_reads(
            node_subs,
            &meanwhile,
            &format!("node {n}, after the outage"),
        );
    }
    for node in &mut nodes[..2] {
        node.wait_log("redis: back");
    }
    let after = publish_all(nodes[0].addr, "out", &["m6"]);
    subs.iter_mut().for_each(|s| each_reads(s, &after, "after"));
    wait_health(&nodes.iter().collect::<Vec<_>>(), 200, "ok\n");
    for node in &nodes {
        assert!(sample(node.addr, "tinypush_redis_reconnects_total") >= 1.0);
    }
}

#[test]
#[ignore = "needs redis-server: make cluster-test"]
fn redis_restarted_empty_ids_go_on_and_an_old_cursor_gets_a_gap() {
    let mut redis = RedisServer::start();
    let mut nodes: Vec<ChildServer> = (0..3).map(|_| node(&redis.url(), &[])).collect();
    // Node 1 has subscribers on both topics; node 2 none.
    let mut e_subs = subscribe_all(nodes[1].addr, "e");
    let mut f_subs = subscribe_all(nodes[1].addr, "f");
    let bodies = ["o0", "o1", "o2", "o3", "o4"];
    let old_e = publish_all(nodes[0].addr, "e", &bodies);
    let old_f = publish_all(nodes[0].addr, "f", &bodies);
    let old_g = publish_all(nodes[0].addr, "g", &bodies);
    each_reads(&mut e_subs, &old_e, "e before");
    each_reads(&mut f_subs, &old_f, "f before");

    redis.restart_empty();
    for node in &mut nodes[..2] {
        node.wait_log("redis: back");
    }
    // Each topic first published again on a node that has seen it.
    let new_e = publish_all(nodes[0].addr, "e", &["n0"]);
    let new_f = publish_all(nodes[1].addr, "f", &["n0"]);
    assert!(new_e[0].0 > old_e[4].0, "e: id {} again", new_e[0].0);
    assert!(new_f[0].0 > old_f[4].0, "f: id {} again", new_f[0].0);
    let more_e = publish_all(nodes[1].addr, "e", &["n1"]);
    let more_f = publish_all(nodes[0].addr, "f", &["n1"]);
    assert!(more_e[0].0 > new_e[0].0 && more_f[0].0 > new_f[0].0);
    each_reads(
        &mut e_subs,
        &[new_e.clone(), more_e.clone()].concat(),
        "e after",
    );
    each_reads(&mut f_subs, &[new_f, more_f].concat(), "f after");

    // A node started now reads "e" from the emptied Redis: 3 to 5 are lost.
    // (The others heard them on the channel, and replay them.)
    let late = node(&redis.url(), &[]);
    let mut r = ndjson_since(late.addr, "e", &old_e[1].0.to_string());
    let gap = r.json().expect("a line");
    assert_eq!(gap["event"], "gap", "{gap}");
    assert_eq!(gap["from"].as_u64(), Some(old_e[2].0), "{gap}");
    assert_eq!(gap["to"].as_u64(), Some(new_e[0].0 - 1), "{gap}");
    assert_eq!(ndjson_message(&mut r), new_e[0]);
    assert_eq!(ndjson_message(&mut r), more_e[0]);

    // "g" was last published before Redis lost its data, and the node
    // publishing it now never knew it: its ids still go on, because the
    // nodes that knew it put its count back when they came back.
    let again = publish_all(late.addr, "g", &["late"]);
    assert!(again[0].0 > old_g[4].0, "g: id {} given again", again[0].0);
}

#[test]
#[ignore = "needs redis-server: make cluster-test"]
fn subscribers_of_a_killed_node_resume_on_another_missing_nothing() {
    let redis = RedisServer::start();
    let doomed = node(&redis.url(), &[]);
    let other = node(&redis.url(), &[]);
    let mut subs = subscribe_all(doomed.addr, "k");
    let bodies: Vec<String> = (0..30).map(|i| format!("k{i}")).collect();
    let bodies: Vec<&str> = bodies.iter().map(String::as_str).collect();
    let first = publish_all(other.addr, "k", &bodies[..20]);
    // Each has read ten when the node dies; the rest is lost with it.
    each_reads(&mut subs, &first[..10], "before the kill");
    doomed.signal("KILL");
    drop(subs);
    let rest = publish_all(other.addr, "k", &bodies[20..]);
    let last_id = first[9].0;
    for how in ["sse", "ndjson", "ws"] {
        let mut sub = Sub::open(other.addr, how, "k", Some(last_id));
        let missed = [&first[10..], &rest[..]].concat();
        each_reads(std::slice::from_mut(&mut sub), &missed, how);
    }
}
