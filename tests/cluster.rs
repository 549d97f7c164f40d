//! Scale-out through Redis (`--redis URL`), against a real `redis-server`:
//! three nodes share every topic. Whatever node a message is published on,
//! every subscriber of every node gets it once, in id order, over every
//! transport; a client resumes on any node with the cursor it kept.
//! Redis and nodes failing: `cluster_faults.rs`.
//!
//! ```text
//! node A: POST /topics/red "a-0"      → {"id":1,"topic":"red","receivers":3}
//! node B: POST /topics/red "b-0"      → {"id":2,...}
//! node C: GET /topics/red/sse         ← id: 1\ndata: a-0\n\n  id: 2\ndata: b-0\n\n
//! node B: GET /topics/red/sse  Last-Event-ID: 1   ← id: 2 ...  (resumed elsewhere)
//! ```
//!
//! Each test checks what subscribers read against the receipts the
//! publishers got: the same `(id, body)` list, ids consecutive. Publishers
//! end each topic with an `end` message, so a reader knows it has all.
//! These tests need `redis-server`: `make cluster-test` runs them.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender, unbounded};
use serde_json::{Value, json};
use support::*;

/// `(id, body)` of each message of a topic, in the order read or numbered.
type Log = Vec<(u64, String)>;

/// A subscriber on one node over SSE, NDJSON or a `format=json` WebSocket,
/// on one topic or several (`a,b`).
enum Sub {
    Sse(StreamReader, bool),
    Ndjson(StreamReader),
    Ws(Client),
}

impl Sub {
    /// Subscribes to `topics` on `addr` after `cursor` (`N`, or `a:N,b:M`
    /// on several topics); SSE sends it as `Last-Event-ID`, as a browser
    /// does, the others as `since`. `None`: live messages only.
    fn open(addr: SocketAddr, how: &str, topics: &str, cursor: Option<&str>) -> Sub {
        let since = cursor.map(|c| format!("since={c}")).unwrap_or_default();
        let last_event_id = cursor.map(|c| format!("Last-Event-ID: {c}\r\n"));
        let get = |target: String, extra: String| {
            let raw = format!("GET {target} HTTP/1.1\r\nHost: t\r\n{extra}\r\n");
            open_stream(addr, raw.as_bytes())
        };
        match how {
            "sse" => Sub::Sse(
                get(
                    format!("/topics/{topics}/sse"),
                    last_event_id.unwrap_or_default(),
                ),
                topics.contains(','),
            ),
            "ndjson" => Sub::Ndjson(get(format!("/topics/{topics}/stream?{since}"), "".into())),
            "ws" => Sub::Ws(ws_connect(
                addr,
                &format!("/topics/{topics}/ws?format=json&{since}"),
            )),
            other => unreachable!("{other}"),
        }
    }

    /// The next message or gap as the JSON object NDJSON would carry, and
    /// on SSE its `id:` line; keepalives skipped.
    fn next(&mut self) -> (Value, Option<String>) {
        loop {
            let (v, id) = match self {
                Sub::Sse(r, true) => {
                    let e = topic_event(r).expect("an event");
                    (e.json, e.id)
                }
                Sub::Sse(r, false) => {
                    let e = r.event().expect("an event");
                    let id = e.id.map(|id| id.to_string());
                    match e.event.as_deref() {
                        None => (json!({"event": "message", "id": e.id, "data": e.data}), id),
                        Some(_) => (serde_json::from_str(&e.data).expect("JSON data"), id),
                    }
                }
                Sub::Ndjson(r) => (r.json().expect("a line"), None),
                Sub::Ws(c) => (serde_json::from_str(&ws_text(c)).expect("a frame"), None),
            };
            if v["event"] != "keepalive" {
                return (v, id);
            }
        }
    }

    /// The next message's `(id, body)`; it must be a message.
    fn message(&mut self) -> (u64, String) {
        json_message(&self.next().0)
    }
}

/// Publishes `count` messages `"{tag}-{i}"` to `topic` on `addr`; the
/// receipts.
fn publish_many(addr: SocketAddr, topic: &str, tag: &str, count: usize) -> Log {
    let mut c = connect(addr);
    (0..count)
        .map(|i| {
            let body = format!("{tag}-{i}");
            (publish_ok(&mut c, topic, &body).0, body)
        })
        .collect()
}

/// Sorts a topic's receipts by id and checks the ids are consecutive.
fn numbered(mut log: Log) -> Log {
    log.sort();
    for pair in log.windows(2) {
        assert_eq!(pair[1].0, pair[0].0 + 1, "ids not consecutive: {pair:?}");
    }
    log
}

#[test]
#[ignore = "needs redis-server: make cluster-test"]
fn every_subscriber_on_every_node_gets_every_message_once_in_order() {
    const TOPICS: [&str; 3] = ["red", "green", "blue"];
    const EACH: usize = 40;
    let redis = RedisServer::start();
    let nodes: Vec<ChildServer> = (0..3).map(|_| node(&redis.url(), &[])).collect();
    // Subscribed (head read) before anything is published; read on threads.
    let mut readers = Vec::new();
    for (n, node) in nodes.iter().enumerate() {
        for how in ["sse", "ndjson", "ws"] {
            for topic in TOPICS {
                let mut sub = Sub::open(node.addr, how, topic, None);
                let who = format!("node {n} {how} {topic}");
                readers.push((topic, who, thread::spawn(move || read_to_end(&mut sub))));
            }
        }
    }
    // Two publishers per topic, on nodes 0 and 1, all at once.
    let publishers: Vec<_> = (0..2)
        .flat_map(|n| TOPICS.map(|topic| (n, topic)))
        .map(|(n, topic)| {
            let addr = nodes[n].addr;
            let handle = thread::spawn(move || publish_many(addr, topic, &format!("n{n}"), EACH));
            (topic, handle)
        })
        .collect();
    let mut sent: BTreeMap<&str, Log> = BTreeMap::new();
    for (topic, p) in publishers {
        sent.entry(topic)
            .or_default()
            .extend(p.join().expect("publisher"));
    }
    let mut last = connect(nodes[2].addr);
    for topic in TOPICS {
        let log = sent.get_mut(topic).expect("published");
        log.push((publish_ok(&mut last, topic, "end").0, "end".into()));
        *log = numbered(std::mem::take(log));
        assert_eq!(log.len(), 2 * EACH + 1);
    }
    for (topic, who, reader) in readers {
        assert_eq!(reader.join().expect("reader"), sent[topic], "{who}");
    }
}

/// Reads messages until one says `end`.
fn read_to_end(sub: &mut Sub) -> Log {
    let mut got = Log::new();
    while got.last().is_none_or(|(_, body)| body != "end") {
        got.push(sub.message());
    }
    got
}

/// Messages the publishers may be ahead of the reader.
const AHEAD: usize = 40;
/// Messages read on each connection before hanging up.
const PER_CONNECTION: usize = 25;

/// A publisher thread per topic on one node, publishing while it has
/// permits (one per message read), then `end` once stopped; each returns
/// its receipts.
struct Paced {
    stop: Arc<AtomicBool>,
    permits: Sender<()>,
    threads: Vec<(String, JoinHandle<Log>)>,
}

impl Paced {
    fn start(addr: SocketAddr, topics: &[&str]) -> Paced {
        let stop = Arc::new(AtomicBool::new(false));
        let (permits, take): (Sender<()>, Receiver<()>) = unbounded();
        (0..AHEAD).for_each(|_| permits.send(()).expect("open"));
        let threads = topics
            .iter()
            .map(|topic| {
                let (stop, take, topic) = (Arc::clone(&stop), take.clone(), topic.to_string());
                let name = topic.clone();
                let handle = thread::spawn(move || {
                    let mut c = connect(addr);
                    let mut sent = Log::new();
                    while take.recv_timeout(READ_TIMEOUT).is_ok() && !stop.load(Ordering::Relaxed) {
                        let body = format!("m{}", sent.len());
                        sent.push((publish_ok(&mut c, &topic, &body).0, body));
                    }
                    sent.push((publish_ok(&mut c, &topic, "end").0, "end".into()));
                    sent
                });
                (name, handle)
            })
            .collect();
        Paced {
            stop,
            permits,
            threads,
        }
    }

    /// Stops every publisher (each publishes its `end`); their receipts.
    fn stop(self) -> BTreeMap<String, Log> {
        self.stop.store(true, Ordering::Relaxed);
        self.threads.iter().for_each(|_| {
            let _ = self.permits.send(());
        });
        let joined = self.threads.into_iter();
        joined
            .map(|(t, h)| (t, numbered(h.join().expect("publisher"))))
            .collect()
    }
}

/// Subscribes to `topics` on node `hops[0]` from the start, reads a few
/// messages, hangs up, and resumes with its cursor on the next node and
/// transport, while the topics are published to on node 0. The last hop
/// stops the publishers and reads to the end.
fn hop_around(topics: &[&str], hops: &[(usize, &str)]) {
    let redis = RedisServer::start();
    let nodes: Vec<ChildServer> = (0..3).map(|_| node(&redis.url(), &[])).collect();
    let mut publishers = Some(Paced::start(nodes[0].addr, topics));
    let mut got: BTreeMap<&str, Log> = topics.iter().map(|t| (*t, Log::new())).collect();
    // `7` on one topic, `a:7,b:0` on several.
    let cursor = |got: &BTreeMap<&str, Log>| {
        let last = |t: &str| got[t].last().map_or(0, |(id, _)| *id);
        match topics {
            [one] => last(one).to_string(),
            _ => topics
                .iter()
                .map(|t| format!("{t}:{}", last(t)))
                .collect::<Vec<_>>()
                .join(","),
        }
    };
    let (mut sent, mut ended) = (None, 0);
    for (hop, &(n, how)) in hops.iter().enumerate() {
        let last_hop = hop == hops.len() - 1;
        let mut sub = Sub::open(nodes[n].addr, how, &topics.join(","), Some(&cursor(&got)));
        let mut read = 0;
        while ended < topics.len() && (last_hop || read < PER_CONNECTION) {
            let (v, sse_id) = sub.next();
            let topic = v["topic"].as_str().unwrap_or(topics[0]);
            let log = got.get_mut(topic).expect("a topic subscribed to");
            log.push(json_message(&v));
            if let Some(sse_id) = sse_id {
                assert_eq!(
                    sse_id,
                    cursor(&got),
                    "node {n} {how}: the id line is the cursor"
                );
            }
            ended += usize::from(v["data"] == "end");
            read += 1;
            if let Some(p) = &publishers {
                let _ = p.permits.send(());
            }
            if last_hop && read == PER_CONNECTION {
                sent = publishers.take().map(Paced::stop);
            }
        }
        // Hanging up; the publishers go on meanwhile.
        drop(sub);
    }
    let sent = sent.expect("the publishers were stopped");
    for topic in topics {
        assert_eq!(got[topic], sent[*topic], "{topic} over {hops:?}");
    }
}

#[test]
#[ignore = "needs redis-server: make cluster-test"]
fn a_subscriber_resumes_on_other_nodes_and_transports_missing_nothing() {
    hop_around(
        &["news"],
        &[
            (0, "sse"),
            (1, "sse"),
            (2, "ndjson"),
            (0, "ws"),
            (1, "ndjson"),
            (2, "sse"),
        ],
    );
}

#[test]
#[ignore = "needs redis-server: make cluster-test"]
fn a_multi_topic_sse_stream_resumes_on_other_nodes_with_its_composite_id() {
    hop_around(
        &["a", "b"],
        &[(1, "sse"), (2, "sse"), (0, "sse"), (1, "sse")],
    );
}

#[test]
#[ignore = "needs redis-server: make cluster-test"]
fn a_multi_topic_stream_resumes_on_other_nodes_with_a_composite_since() {
    hop_around(
        &["a", "b"],
        &[(2, "ndjson"), (1, "ws"), (0, "ndjson"), (2, "ws")],
    );
}
