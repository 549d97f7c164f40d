//! One connection on three topics, resumed with one composite cursor while
//! all three are being published to: the subscriber reads some messages,
//! hangs up, and comes back with its last cursor, twice, on each
//! transport. In the end it has every id of every topic exactly once, in
//! order per topic.
//!
//! ```text
//! GET /topics/a,b,c/sse?since=0          … id: a:14,b:12,c:15   (hangs up)
//! GET /topics/a,b,c/sse?since=0          (the original URL, as EventSource keeps it)
//! Last-Event-ID: a:14,b:12,c:15          → a 15…, b 13…, c 16…
//! GET /topics/a,b,c/stream?since=a:14,b:12,c:15    (NDJSON and WebSocket: the
//! GET /topics/a,b,c/ws?since=a:14,b:12,c:15         client keeps the cursor itself)
//! ```
//!
//! The publishers (one thread per topic) are paced by the reader: each
//! message read lets one more be published, and 60 may be ahead, so they
//! keep publishing while the subscriber is away and reconnecting, and the
//! test stays small. No sleeps: every wait is a read or a channel, bounded.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender, unbounded};

use support::{
    Client, Positions, READ_TIMEOUT, StreamReader, connect, open_stream, publish_ok,
    start_server_with, topic_event, topic_message, ws_connect, ws_text,
};

const TOPICS: [&str; 3] = ["a", "b", "c"];
/// Messages the publishers may be ahead of the reader.
const AHEAD: usize = 60;
/// Messages read on each connection before hanging up.
const PER_CONNECTION: usize = 40;

/// A publisher per topic, publishing `1`, `2`, … while it has permits,
/// then `"{n} end"` once stopped; each returns its last id.
struct Publishers {
    stop: Arc<AtomicBool>,
    permits: Sender<()>,
    threads: Vec<JoinHandle<u64>>,
}

impl Publishers {
    fn start(addr: SocketAddr) -> Publishers {
        let stop = Arc::new(AtomicBool::new(false));
        let (permits, take): (Sender<()>, Receiver<()>) = unbounded();
        (0..AHEAD).for_each(|_| permits.send(()).unwrap());
        let threads = TOPICS
            .iter()
            .map(|topic| {
                let (stop, take) = (Arc::clone(&stop), take.clone());
                thread::spawn(move || {
                    let mut c = connect(addr);
                    let mut n = 0;
                    loop {
                        take.recv_timeout(READ_TIMEOUT)
                            .expect("the reader keeps reading");
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        n += 1;
                        assert_eq!(publish_ok(&mut c, topic, &n.to_string()).0, n);
                    }
                    n += 1;
                    assert_eq!(publish_ok(&mut c, topic, &format!("{n} end")).0, n);
                    n
                })
            })
            .collect();
        Publishers {
            stop,
            permits,
            threads,
        }
    }

    /// One more message may be published.
    fn permit(&self) {
        let _ = self.permits.send(());
    }

    /// Stops every publisher; each publishes its end. Their last ids.
    fn stop(self) -> Vec<u64> {
        self.stop.store(true, Ordering::Relaxed);
        TOPICS.iter().for_each(|_| self.permit());
        self.threads
            .into_iter()
            .map(|t| t.join().expect("publisher"))
            .collect()
    }
}

/// A subscriber on a, b and c, whatever the transport.
enum Sub {
    Sse(StreamReader),
    Ndjson(StreamReader),
    Ws(Client),
}

/// `(topic, id, data)` and, on SSE, the event's `id:` line.
type Received = (String, u64, String, Option<String>);

impl Sub {
    /// Subscribes from `cursor` (`None`: the first time, from 0).
    fn open(addr: SocketAddr, how: &str, cursor: Option<&str>) -> Sub {
        let since = cursor.unwrap_or("0");
        let get = |target: String, extra: String| {
            let raw = format!("GET {target} HTTP/1.1\r\nHost: t\r\n{extra}\r\n");
            open_stream(addr, raw.as_bytes())
        };
        match how {
            // EventSource keeps its URL and sends the last id it saw.
            "sse" => Sub::Sse(get(
                "/topics/a,b,c/sse?since=0".into(),
                cursor
                    .map(|c| format!("Last-Event-ID: {c}\r\n"))
                    .unwrap_or_default(),
            )),
            "ndjson" => Sub::Ndjson(get(
                format!("/topics/a,b,c/stream?since={since}"),
                String::new(),
            )),
            "ws" => Sub::Ws(ws_connect(addr, &format!("/topics/a,b,c/ws?since={since}"))),
            other => unreachable!("{other}"),
        }
    }

    fn next(&mut self) -> Received {
        let (json, sse_id) = match self {
            Sub::Sse(r) => {
                let e = topic_event(r).expect("an event");
                assert_eq!(e.event, None, "{e:?}");
                (e.json, e.id)
            }
            Sub::Ndjson(r) => (r.json().expect("a line"), None),
            Sub::Ws(c) => (
                serde_json::from_str(&ws_text(c)).expect("a JSON frame"),
                None,
            ),
        };
        let (topic, id, data) = topic_message(&json);
        (topic, id, data, sse_id)
    }
}

/// Three connections in turn, each resuming from the last cursor; in the
/// end each topic's ids came once each, from 1 to its end.
fn resume_three_times(how: &str) {
    // Room for everything: this is about the seams between connections.
    let server = start_server_with(|c| {
        c.topics.history = 100_000;
        c.topics.subscriber_queue = 10_000;
    });
    let addr = server.addr;
    let mut publishers = Some(Publishers::start(addr));
    let mut seen = Positions::new(&TOPICS, 0);
    let (mut cursor, mut ends, mut ended) = (None::<String>, None, 0);
    for round in 0..3 {
        let mut sub = Sub::open(addr, how, cursor.as_deref());
        let mut read = 0;
        while ended < TOPICS.len() && (round == 2 || read < PER_CONNECTION) {
            let (topic, id, data, sse_id) = sub.next();
            // Each id the next of its topic: none twice, none missing.
            let now = seen.seen(&topic, id).cursor();
            if let Some(sse_id) = sse_id {
                assert_eq!(sse_id, now, "{how}: an event's id is the cursor after it");
            }
            let number = data.strip_suffix(" end").unwrap_or(&data);
            assert_eq!(number, id.to_string(), "{topic} {id} carries {data:?}");
            ended += usize::from(data.ends_with(" end"));
            read += 1;
            if let Some(p) = &publishers {
                p.permit();
            }
            if round == 2 && read == PER_CONNECTION {
                // Back and reading: let the publishers finish.
                ends = publishers.take().map(Publishers::stop);
            }
        }
        cursor = Some(seen.cursor());
        // Hanging up; the publishers go on meanwhile.
        drop(sub);
    }
    let ends = ends.expect("the publishers were stopped");
    for (topic, end) in TOPICS.iter().zip(ends) {
        assert_eq!(seen.of(topic), end, "{how}: {topic} up to its end");
    }
}

#[test]
fn sse_resumes_three_topics_with_last_event_id_while_they_are_published_to() {
    resume_three_times("sse");
}

#[test]
fn ndjson_resumes_three_topics_with_a_composite_since_while_they_are_published_to() {
    resume_three_times("ndjson");
}

#[test]
fn websocket_resumes_three_topics_with_a_composite_since_while_they_are_published_to() {
    resume_three_times("ws");
}
