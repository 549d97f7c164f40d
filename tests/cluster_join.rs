//! A node joining the cluster: one that cannot reach Redis at start says
//! so in one line and exits 1; one that can answers topics it has never
//! used from Redis (the first time a topic is used on a node, its history
//! and last id are read from the topic's stream), so `poll=1` and every
//! form of cursor work on any node, one started late included, and one
//! that has not yet heard the newest message a client read elsewhere.
//!
//! ```text
//! node A: POST /topics/hist  h-0 … h-4                 → ids 1…5
//! node B: GET /topics/hist/stream?poll=1&since=0       ← 1…5, then the end
//! node C: GET /topics/hist/stream?poll=1&since=latest  ← 5
//! tinypush serve --redis redis://127.0.0.1:FREE/0      → ERROR … cannot reach Redis …, exit 1
//! ```
//!
//! The harness itself is checked here too: Redis restarted with or without
//! its data, a `Link` to it cut and mended. These tests need
//! `redis-server`: `make cluster-test` runs them.

mod support;

use std::net::SocketAddr;

use support::*;

/// `(id, body)` of each message of a topic.
type Log = Vec<(u64, String)>;

/// Publishes `h-0` … `h-4` to `topic` on `addr`; the receipts, whose ids
/// must be consecutive.
fn publish_five(addr: SocketAddr, topic: &str) -> Log {
    let mut c = connect(addr);
    let sent: Log = (0..5)
        .map(|i| {
            let body = format!("h-{i}");
            (publish_ok(&mut c, topic, &body).0, body)
        })
        .collect();
    for pair in sent.windows(2) {
        assert_eq!(pair[1].0, pair[0].0 + 1, "ids not consecutive: {pair:?}");
    }
    sent
}

#[test]
#[ignore = "needs redis-server: make cluster-test"]
fn redis_unreachable_at_start_is_one_error_line_and_exit_1() {
    // Nothing listens there: a port just let go.
    let url = format!("redis://127.0.0.1:{}/0", free_port());
    for (args, env) in [
        (vec!["--redis", url.as_str()], vec![]),
        (vec![], vec![("TINYPUSH_REDIS", url.as_str())]),
    ] {
        let (code, log) = refused(&args, &env);
        assert_eq!(code, Some(1), "{log}");
        let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).collect();
        assert_eq!(errors.len(), 1, "{log}");
        assert!(errors[0].contains("cannot reach Redis"), "{log}");
    }
}

/// Every NDJSON message up to the end of the body.
fn to_end(mut r: StreamReader) -> Log {
    std::iter::from_fn(|| r.json())
        .map(|v| json_message(&v))
        .collect()
}

#[test]
#[ignore = "needs redis-server: make cluster-test"]
fn poll_on_a_node_that_never_saw_the_topic_answers_its_history() {
    let redis = RedisServer::start();
    let nodes: Vec<ChildServer> = (0..3).map(|_| node(&redis.url(), &[])).collect();
    let sent = publish_five(nodes[0].addr, "hist");
    let (other, _) = publish_ok(&mut connect(nodes[0].addr), "other", "o-0");
    let (first, newest) = (sent[0].0, sent[4].0);
    let poll = |n: usize, target: &str, extra: &str| {
        let raw = format!("GET {target} HTTP/1.1\r\nHost: t\r\n{extra}\r\n");
        open_stream(nodes[n].addr, raw.as_bytes())
    };
    // Node 1 has never used "hist": its whole history, from Redis.
    assert_eq!(
        to_end(poll(1, "/topics/hist/stream?poll=1&since=0", "")),
        sent
    );
    // Node 2 neither: the last hour, then the newest alone.
    assert_eq!(
        to_end(poll(2, "/topics/hist/stream?poll=1&since=1h", "")),
        sent
    );
    let latest = to_end(poll(2, "/topics/hist/stream?poll=1&since=latest", ""));
    assert_eq!(latest, sent[4..]);
    // SSE on node 1, from a cursor, and several topics with a composite id.
    let mut sse = poll(
        1,
        &format!("/topics/hist/sse?poll=1&since={}", first + 2),
        "",
    );
    for (id, body) in &sent[3..] {
        assert_eq!(sse_message(&mut sse), (*id, body.clone()));
    }
    assert_eq!(sse.event(), None, "the end of the poll");
    let cursor = format!("Last-Event-ID: hist:{},other:0\r\n", newest - 1);
    let mut multi = poll(2, "/topics/hist,other/sse?poll=1", &cursor);
    let ids: Vec<String> = std::iter::from_fn(|| topic_event(&mut multi))
        .map(|e| e.id.expect("an id line"))
        .collect();
    // One event per topic, in either order; the last id is past both.
    let both = format!("hist:{newest},other:{other}");
    let hist_first = [format!("hist:{newest},other:0"), both.clone()];
    let other_first = [format!("hist:{},other:{other}", newest - 1), both];
    assert!(ids == hist_first || ids == other_first, "{ids:?}");
}

#[test]
#[ignore = "needs redis-server: make cluster-test"]
fn a_node_started_later_replays_from_redis_then_goes_on_live() {
    let redis = RedisServer::start();
    let first = node(&redis.url(), &[]);
    let mut sent = publish_five(first.addr, "late");
    let later = node(&redis.url(), &[]);
    let mut r = ndjson_since(later.addr, "late", "0");
    for message in &sent {
        assert_eq!(&ndjson_message(&mut r), message);
    }
    // Published on the first node: live on the later one, numbered on.
    let mut c = connect(first.addr);
    let (id, receivers) = publish_ok(&mut c, "late", "live");
    assert_eq!(
        (id, receivers),
        (sent[4].0 + 1, 0),
        "no subscriber on the first node"
    );
    sent.push((id, "live".into()));
    assert_eq!(ndjson_message(&mut r), (id, "live".into()));
    // And published on the later one, its subscriber counted there.
    assert_eq!(
        publish_ok(&mut connect(later.addr), "late", "here"),
        (id + 1, 1)
    );
    assert_eq!(ndjson_message(&mut r), (id + 1, "here".into()));
}

#[test]
#[ignore = "needs redis-server: make cluster-test"]
fn a_cursor_read_on_one_node_resumes_at_once_on_another() {
    // The channel reaches nodes at slightly different moments: a client
    // that just read id N on one node and comes straight to another must
    // get N+1 next, whether or not that node has heard N yet.
    let redis = RedisServer::start();
    let ahead = node(&redis.url(), &[]);
    let other = node(&redis.url(), &[]);
    let mut c = connect(ahead.addr);
    for round in 0..50 {
        let (id, _) = publish_ok(&mut c, "race", &format!("r{round}"));
        let mut r = ndjson_since(other.addr, "race", &id.to_string());
        let (next, _) = publish_ok(&mut c, "race", "next");
        let v = r.json().expect("a line");
        // On failure, what follows shows whether anything is lost or repeated.
        let then = (v["event"] != "message").then(|| r.json()).flatten();
        let then = then.map(|v| v.to_string()).unwrap_or_default();
        assert_eq!(
            v["event"], "message",
            "round {round}, since={id}: {v} then {then}"
        );
        assert_eq!(json_message(&v), (next, "next".into()), "round {round}");
    }
}

#[test]
#[ignore = "needs redis-server: make cluster-test"]
fn the_harness_restarts_redis_with_or_without_data_and_cuts_a_link() {
    let mut redis = RedisServer::start();
    assert_eq!(
        resp_command(&["GET", "k"]),
        b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
    );
    assert_eq!(
        redis.command(&["SET", "k", "v"]),
        Reply::Simple("OK".into())
    );
    redis.restart_with_data();
    assert_eq!(redis.command(&["GET", "k"]), Reply::Bulk(Some("v".into())));
    redis.restart_empty();
    assert_eq!(redis.command(&["GET", "k"]), Reply::Bulk(None));
    let link = Link::to(redis.port);
    let mut through = connect(format!("127.0.0.1:{}", link.port).parse().unwrap());
    through.send(&resp_command(&["PING"]));
    assert_eq!(through.take(7, "+PONG"), b"+PONG\r\n");
    link.cut();
    assert!(through.at_eof(), "a connection through a cut link ends");
    link.mend();
    let mut again = connect(format!("127.0.0.1:{}", link.port).parse().unwrap());
    again.send(&resp_command(&["PING"]));
    assert_eq!(again.take(7, "+PONG"), b"+PONG\r\n");
    redis.stop();
    assert!(!redis.ping(), "PING answered after stop");
}
