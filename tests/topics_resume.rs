//! Resuming a topic subscription: `?since=N` on every transport and
//! `Last-Event-ID: N` on SSE replay what the history holds after N, then
//! continue live with no gap and no duplicate, even while another thread
//! publishes; a cursor the history cannot serve gets a `gap` first.
//!
//! ```text
//! published 1..=10, subscribe ?since=4    → 5 6 7 8 9 10 | 11 (live)
//! history 3, published 1..=10, ?since=2   → gap 3..=7, 8 9 10
//! published 1..=2, ?since=99              → gap 100..=null, 1 2
//! ```

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, unbounded};

use support::{
    READ_TIMEOUT, connect, ndjson_message, open_stream, publish, publish_ok, sse_message,
    start_server, start_server_with, ws_connect, ws_json_message, ws_text,
};

/// Publishes `m1` ..= `m{n}` to `topic` on one connection; ids 1 ..= n.
fn publish_numbered(addr: SocketAddr, topic: &str, n: u64) {
    let mut c = connect(addr);
    for i in 1..=n {
        assert_eq!(publish_ok(&mut c, topic, &format!("m{i}")).0, i);
    }
}

/// `(id, "m{id}")` for each id: what [`publish_numbered`] published.
fn numbered(ids: impl IntoIterator<Item = u64>) -> Vec<(u64, String)> {
    ids.into_iter().map(|i| (i, format!("m{i}"))).collect()
}

// ---- cursors: replay, then live ----

#[test]
fn sse_since_4_replays_5_to_10_then_live_11() {
    let server = start_server();
    publish_numbered(server.addr, "news", 10);
    let mut r = open_stream(
        server.addr,
        b"GET /topics/news/sse?since=4 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let replay: Vec<_> = (0..6).map(|_| sse_message(&mut r)).collect();
    assert_eq!(replay, numbered(5..=10));
    publish(server.addr, "news", "m11");
    assert_eq!(sse_message(&mut r), (11, "m11".into()));
}

#[test]
fn sse_last_event_id_4_replays_5_to_10_then_live_11() {
    let server = start_server();
    publish_numbered(server.addr, "news", 10);
    let mut r = open_stream(
        server.addr,
        b"GET /topics/news/sse HTTP/1.1\r\nHost: t\r\nLast-Event-ID: 4\r\n\r\n",
    );
    let replay: Vec<_> = (0..6).map(|_| sse_message(&mut r)).collect();
    assert_eq!(replay, numbered(5..=10));
    publish(server.addr, "news", "m11");
    assert_eq!(sse_message(&mut r), (11, "m11".into()));
}

#[test]
fn sse_last_event_id_wins_over_since() {
    // A reconnecting EventSource sends Last-Event-ID with its original URL.
    let server = start_server();
    publish_numbered(server.addr, "news", 10);
    let mut r = open_stream(
        server.addr,
        b"GET /topics/news/sse?since=0 HTTP/1.1\r\nHost: t\r\nLast-Event-ID: 4\r\n\r\n",
    );
    let replay: Vec<_> = (0..6).map(|_| sse_message(&mut r)).collect();
    assert_eq!(replay, numbered(5..=10));
    publish(server.addr, "news", "m11");
    assert_eq!(sse_message(&mut r), (11, "m11".into()));
}

#[test]
fn ndjson_since_4_replays_5_to_10_then_live_11() {
    let server = start_server();
    publish_numbered(server.addr, "news", 10);
    let mut r = open_stream(
        server.addr,
        b"GET /topics/news/stream?since=4 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let replay: Vec<_> = (0..6).map(|_| ndjson_message(&mut r)).collect();
    assert_eq!(replay, numbered(5..=10));
    publish(server.addr, "news", "m11");
    assert_eq!(ndjson_message(&mut r), (11, "m11".into()));
}

#[test]
fn ws_since_4_replays_5_to_10_then_live_11() {
    let server = start_server();
    publish_numbered(server.addr, "news", 10);
    let mut c = ws_connect(server.addr, "/topics/news/ws?since=4");
    let replay: Vec<_> = (0..6).map(|_| ws_text(&mut c)).collect();
    assert_eq!(replay, ["m5", "m6", "m7", "m8", "m9", "m10"]);
    publish(server.addr, "news", "m11");
    assert_eq!(ws_text(&mut c), "m11");
}

#[test]
fn ws_json_since_4_replays_5_to_10_then_live_11() {
    let server = start_server();
    publish_numbered(server.addr, "news", 10);
    let mut c = ws_connect(server.addr, "/topics/news/ws?format=json&since=4");
    let replay: Vec<_> = (0..6).map(|_| ws_json_message(&mut c)).collect();
    assert_eq!(replay, numbered(5..=10));
    publish(server.addr, "news", "m11");
    assert_eq!(ws_json_message(&mut c), (11, "m11".into()));
}

#[test]
fn since_0_replays_the_whole_history_on_every_transport() {
    let server = start_server();
    publish_numbered(server.addr, "news", 3);
    let mut sse = open_stream(
        server.addr,
        b"GET /topics/news/sse?since=0 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let mut nd = open_stream(
        server.addr,
        b"GET /topics/news/stream?since=0 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let mut ws = ws_connect(server.addr, "/topics/news/ws?since=0&format=json");
    for want in numbered(1..=3) {
        assert_eq!(sse_message(&mut sse), want);
        assert_eq!(ndjson_message(&mut nd), want);
        assert_eq!(ws_json_message(&mut ws), want);
    }
}

#[test]
fn no_cursor_means_live_messages_only() {
    let server = start_server();
    publish_numbered(server.addr, "news", 3);
    let mut sse = open_stream(
        server.addr,
        b"GET /topics/news/sse HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let mut nd = open_stream(
        server.addr,
        b"GET /topics/news/stream HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let mut ws = ws_connect(server.addr, "/topics/news/ws");
    publish(server.addr, "news", "m4");
    assert_eq!(sse_message(&mut sse), (4, "m4".into()));
    assert_eq!(ndjson_message(&mut nd), (4, "m4".into()));
    assert_eq!(ws_text(&mut ws), "m4");
}

// ---- gaps ----

#[test]
fn cursor_older_than_the_history_gets_a_gap_then_the_rest() {
    let server = start_server_with(|c| c.topics.history = 3);
    publish_numbered(server.addr, "news", 10);
    let gap = "{\"event\":\"gap\",\"topic\":\"news\",\"from\":3,\"to\":7}";

    let mut sse = open_stream(
        server.addr,
        b"GET /topics/news/sse?since=2 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(sse.raw_event().unwrap(), format!("event: gap\ndata: {gap}"));
    for want in numbered(8..=10) {
        assert_eq!(sse_message(&mut sse), want);
    }

    let mut nd = open_stream(
        server.addr,
        b"GET /topics/news/stream?since=2 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(nd.line().unwrap(), gap);
    for want in numbered(8..=10) {
        assert_eq!(ndjson_message(&mut nd), want);
    }

    let mut ws = ws_connect(server.addr, "/topics/news/ws?format=json&since=2");
    assert_eq!(ws_text(&mut ws), gap);
    for want in numbered(8..=10) {
        assert_eq!(ws_json_message(&mut ws), want);
    }

    // Bare text frames have no room for a notice: the messages alone.
    let mut bare = ws_connect(server.addr, "/topics/news/ws?since=2");
    for want in ["m8", "m9", "m10"] {
        assert_eq!(ws_text(&mut bare), want);
    }
}

#[test]
fn cursor_beyond_the_last_id_gets_an_open_gap_then_everything() {
    // As after a restart: the client's cursor came from the old ids.
    let server = start_server();
    publish_numbered(server.addr, "news", 2);
    let gap = "{\"event\":\"gap\",\"topic\":\"news\",\"from\":100,\"to\":null}";

    let mut sse = open_stream(
        server.addr,
        b"GET /topics/news/sse HTTP/1.1\r\nHost: t\r\nLast-Event-ID: 99\r\n\r\n",
    );
    assert_eq!(sse.raw_event().unwrap(), format!("event: gap\ndata: {gap}"));
    let mut nd = open_stream(
        server.addr,
        b"GET /topics/news/stream?since=99 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(nd.line().unwrap(), gap);
    let mut ws = ws_connect(server.addr, "/topics/news/ws?format=json&since=99");
    assert_eq!(ws_text(&mut ws), gap);
    for want in numbered(1..=2) {
        assert_eq!(sse_message(&mut sse), want);
        assert_eq!(ndjson_message(&mut nd), want);
        assert_eq!(ws_json_message(&mut ws), want);
    }
    publish(server.addr, "news", "m3");
    assert_eq!(sse_message(&mut sse), (3, "m3".into()));
    assert_eq!(ndjson_message(&mut nd), (3, "m3".into()));
    assert_eq!(ws_json_message(&mut ws), (3, "m3".into()));
}

// ---- resuming while another thread publishes ----

/// Waits until the publisher reports at least `at_least` published (or has
/// already); returns the newest id it reported.
fn published_up_to(reports: &Receiver<u64>, latest: &mut u64, at_least: u64) -> u64 {
    *latest = reports.try_iter().last().unwrap_or(*latest);
    while *latest < at_least {
        *latest = reports
            .recv_timeout(READ_TIMEOUT)
            .expect("the publisher keeps publishing");
    }
    *latest
}

/// Reads `(id, data)` pairs until the data says `"{id} end"`; checks each
/// body is its own id and returns the ids in the order received.
fn ids_until_end(mut next: impl FnMut() -> (u64, String)) -> Vec<u64> {
    let mut ids = Vec::new();
    loop {
        let (id, data) = next();
        let number = data.strip_suffix(" end").unwrap_or(&data);
        assert_eq!(number, id.to_string(), "message {id} carries {data:?}");
        ids.push(id);
        if data.ends_with(" end") {
            return ids;
        }
    }
}

/// Subscribes to `live` with `cursor` the way `how` says, on this thread
/// (so the subscription is registered on return), and reads on another.
fn resume(addr: SocketAddr, how: &str, cursor: u64) -> JoinHandle<Vec<u64>> {
    let get = |target: &str, extra: &str| {
        open_stream(
            addr,
            format!("GET {target} HTTP/1.1\r\nHost: t\r\n{extra}\r\n").as_bytes(),
        )
    };
    match how {
        "sse since" => {
            let mut r = get(&format!("/topics/live/sse?since={cursor}"), "");
            thread::spawn(move || ids_until_end(|| sse_message(&mut r)))
        }
        "sse Last-Event-ID" => {
            let mut r = get("/topics/live/sse", &format!("Last-Event-ID: {cursor}\r\n"));
            thread::spawn(move || ids_until_end(|| sse_message(&mut r)))
        }
        "ndjson since" => {
            let mut r = get(&format!("/topics/live/stream?since={cursor}"), "");
            thread::spawn(move || ids_until_end(|| ndjson_message(&mut r)))
        }
        "ws json since" => {
            let mut c = ws_connect(addr, &format!("/topics/live/ws?format=json&since={cursor}"));
            thread::spawn(move || ids_until_end(|| ws_json_message(&mut c)))
        }
        "ws text since" => {
            let mut c = ws_connect(addr, &format!("/topics/live/ws?since={cursor}"));
            thread::spawn(move || {
                ids_until_end(|| {
                    // Bare frames carry no id; the body is the id.
                    let text = ws_text(&mut c);
                    let id = text.trim_end_matches(" end").parse().expect("a number");
                    (id, text)
                })
            })
        }
        other => unreachable!("{other}"),
    }
}

#[test]
fn resuming_while_another_thread_publishes_has_no_gap_and_no_duplicate() {
    // Room for everything: this test is about the replay/live seam only.
    let server = start_server_with(|c| {
        c.topics.history = 100_000;
        c.topics.subscriber_queue = 10_000;
    });
    let addr = server.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let (report, reports) = unbounded();
    let publisher = thread::spawn({
        let stop = Arc::clone(&stop);
        move || {
            let mut c = connect(addr);
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                assert_eq!(publish_ok(&mut c, "live", &n.to_string()).0, n);
                let _ = report.send(n);
            }
            n += 1;
            assert_eq!(publish_ok(&mut c, "live", &format!("{n} end")).0, n);
            n
        }
    });
    let mut latest = 0;
    published_up_to(&reports, &mut latest, 50);
    let ways = [
        "sse since",
        "sse Last-Event-ID",
        "ndjson since",
        "ws json since",
        "ws text since",
    ];
    let readers: Vec<_> = ways
        .iter()
        .map(|&how| {
            // A cursor a little behind the newest id: some replay, then live.
            let cursor = published_up_to(&reports, &mut latest, 0) - 10;
            (how, cursor, resume(addr, how, cursor))
        })
        .collect();
    // Every subscriber is registered; let plenty more arrive live.
    let target = latest + 200;
    published_up_to(&reports, &mut latest, target);
    stop.store(true, Ordering::Relaxed);
    let end = publisher.join().expect("publisher");
    for (how, cursor, reader) in readers {
        let ids = reader.join().expect("reader");
        assert_eq!(
            ids,
            (cursor + 1..=end).collect::<Vec<_>>(),
            "{how} from {cursor}"
        );
    }
}

#[test]
fn a_websocket_replay_longer_than_the_queue_is_not_falling_behind() {
    let server = start_server_with(|c| c.topics.subscriber_queue = 4);
    let mut publisher = connect(server.addr);
    for i in 1..=10 {
        publish_ok(&mut publisher, "long", &format!("m{i}"));
    }
    // The upgrade and a message to publish in one write: the publish is
    // offered while the ten replayed messages still wait to be written.
    let mut c = connect(server.addr);
    let mut raw = support::ws_handshake("/topics/long/ws?format=json&since=0", &[]);
    raw.extend(support::ws_frame(0x1, b"m11", true, true));
    c.send(&raw);
    assert_eq!(c.head().status, 101);
    for i in 1..=11 {
        assert_eq!(ws_json_message(&mut c), (i, format!("m{i}")));
    }
}
