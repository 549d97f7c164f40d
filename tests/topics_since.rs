//! Every `since` form on every transport: `?since=` on `/sse`, `/stream`
//! and `/ws`, and `Last-Event-ID` on `/sse`, which wins over `since`. Each
//! case publishes `m1`..`m5` to a topic of its own, subscribes, publishes
//! `live`, and looks at what came before `live`: the replay.
//!
//! ```text
//! since=3              → 4 5 | live
//! since=0, all, 1h     → 1 2 3 4 5 | live
//! since=latest         → 5 | live
//! since=t:2            → 3 4 5 | live      (a composite naming the one topic)
//! (none)               → live
//! since=banana         → 400 since and Last-Event-ID take N, all, latest, …
//! ```
//!
//! A window is tested here with `1h`, which holds everything just
//! published, and its grammar beside the parser (`since.rs`). Where a
//! window's edge falls is the hub's (`Since::Window` against message
//! times): waiting here for a message to age would be a sleep.

mod support;

use std::net::SocketAddr;

use support::{
    StreamReader, connect, get, json_message, metric, open_stream, publish, publish_ok,
    sse_message, start_server, ws_connect, ws_handshake, ws_text,
};

/// How a case subscribes.
#[derive(Debug, Clone, Copy)]
enum Way {
    SseSince,
    SseLastEventId,
    NdjsonSince,
    WsJsonSince,
    WsTextSince,
}

const WAYS: [Way; 5] = [
    Way::SseSince,
    Way::SseLastEventId,
    Way::NdjsonSince,
    Way::WsJsonSince,
    Way::WsTextSince,
];

/// A subscriber's next message as `(id, data)`, whatever the transport.
type Next = Box<dyn FnMut() -> (u64, String)>;

/// Subscribes to `topic` the way `way` says with `cursor` (`None`: no
/// cursor), plus the raw `extra` headers on SSE.
fn subscribe(addr: SocketAddr, topic: &str, way: Way, cursor: Option<&str>, extra: &str) -> Next {
    let since = cursor.map(|c| format!("since={c}")).unwrap_or_default();
    let stream = |path: &str, headers: &str| {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: t\r\n{headers}{extra}\r\n");
        open_stream(addr, raw.as_bytes())
    };
    match way {
        Way::SseSince => {
            let mut r = stream(&format!("/topics/{topic}/sse?{since}"), "");
            Box::new(move || sse_message(&mut r))
        }
        Way::SseLastEventId => {
            let header = cursor.map(|c| format!("Last-Event-ID: {c}\r\n"));
            let mut r = stream(&format!("/topics/{topic}/sse"), &header.unwrap_or_default());
            Box::new(move || sse_message(&mut r))
        }
        Way::NdjsonSince => {
            let mut r = stream(&format!("/topics/{topic}/stream?{since}"), "");
            Box::new(move || ndjson(&mut r))
        }
        Way::WsJsonSince => {
            let mut c = ws_connect(addr, &format!("/topics/{topic}/ws?format=json&{since}"));
            Box::new(move || json_message(&serde_json::from_str(&ws_text(&mut c)).unwrap()))
        }
        Way::WsTextSince => {
            let mut c = ws_connect(addr, &format!("/topics/{topic}/ws?{since}"));
            Box::new(move || {
                // Bare frames carry no id: the bodies say it (`m4`, or `live`).
                let text = ws_text(&mut c);
                let id = text.strip_prefix('m').map_or(0, |n| n.parse().unwrap());
                (id, text)
            })
        }
    }
}

fn ndjson(r: &mut StreamReader) -> (u64, String) {
    json_message(&r.json().expect("a line"))
}

/// Publishes `m1`..=`m5` to `topic`, subscribes, publishes `live`; the ids
/// the subscriber got before `live`.
fn replayed(
    addr: SocketAddr,
    topic: &str,
    way: Way,
    cursor: Option<&str>,
    extra: &str,
) -> Vec<u64> {
    let mut c = connect(addr);
    for i in 1..=5 {
        assert_eq!(publish_ok(&mut c, topic, &format!("m{i}")).0, i);
    }
    let mut next = subscribe(addr, topic, way, cursor, extra);
    publish_ok(&mut c, topic, "live");
    let mut ids = Vec::new();
    loop {
        let (id, data) = next();
        if data == "live" {
            return ids;
        }
        assert_eq!(data, format!("m{id}"));
        ids.push(id);
    }
}

#[test]
fn every_form_on_every_transport() {
    let server = start_server();
    let forms: [(Option<&str>, &[u64]); 7] = [
        (Some("3"), &[4, 5]),
        (Some("0"), &[1, 2, 3, 4, 5]),
        (Some("all"), &[1, 2, 3, 4, 5]),
        (Some("latest"), &[5]),
        (Some("1h"), &[1, 2, 3, 4, 5]),
        (Some("TOPIC:2"), &[3, 4, 5]),
        (None, &[]),
    ];
    let mut n = 0;
    for (form, want) in forms {
        for way in WAYS {
            n += 1;
            let topic = format!("t{n}");
            let cursor = form.map(|f| f.replace("TOPIC", &topic));
            let got = replayed(server.addr, &topic, way, cursor.as_deref(), "");
            assert_eq!(got, want, "{way:?} with {cursor:?}");
        }
    }
}

#[test]
fn last_event_id_wins_over_since_in_every_form() {
    // A reconnecting EventSource sends it with its original URL.
    let server = start_server();
    let cases: [(&str, &str, &[u64]); 4] = [
        ("all", "latest", &[5]),
        ("latest", "1h", &[1, 2, 3, 4, 5]),
        ("0", "TOPIC:3", &[4, 5]),
        ("latest", "all", &[1, 2, 3, 4, 5]),
    ];
    for (i, (since, header, want)) in cases.into_iter().enumerate() {
        let topic = format!("t{i}");
        let extra = format!("Last-Event-ID: {}\r\n", header.replace("TOPIC", &topic));
        let got = replayed(server.addr, &topic, Way::SseSince, Some(since), &extra);
        assert_eq!(got, want, "since={since}, Last-Event-ID: {header}");
    }
}

#[test]
fn an_empty_last_event_id_counts_as_none() {
    let server = start_server();
    let got = replayed(
        server.addr,
        "news",
        Way::SseSince,
        Some("latest"),
        "Last-Event-ID: \r\n",
    );
    assert_eq!(got, [5]);
}

#[test]
fn a_percent_encoded_composite_is_read() {
    // JavaScript's encodeURIComponent("news:3") is news%3A3.
    let server = start_server();
    for (i, way) in [Way::SseSince, Way::NdjsonSince, Way::WsJsonSince]
        .into_iter()
        .enumerate()
    {
        let topic = format!("t{i}");
        let cursor = format!("{topic}%3A3");
        assert_eq!(
            replayed(server.addr, &topic, way, Some(&cursor), ""),
            [4, 5],
            "{way:?}"
        );
    }
}

// ---- refusals ----

const NOT_A_CURSOR: &str = "since and Last-Event-ID take N, all, latest, a duration like 10m, or topic:id pairs like a:41,b:7";
const TOO_BIG: &str = "ids in since and Last-Event-ID must be from 0 to 9007199254740991";

/// Sends `raw` and expects a 400 whose one line is `reason`.
fn refused(addr: SocketAddr, raw: &[u8], reason: &str) {
    let (head, body) = get(addr, raw);
    assert_eq!(head.status, 400, "{}", String::from_utf8_lossy(raw));
    assert_eq!(
        body,
        format!("{reason}\n"),
        "{}",
        String::from_utf8_lossy(raw)
    );
}

#[test]
fn bad_cursors_get_400_with_a_reason_on_every_transport() {
    let server = start_server();
    let cases = [
        ("/topics/a,b/X?since=banana", NOT_A_CURSOR),
        ("/topics/a,b/X?since=a:1,a:2", "since names a topic twice"),
        (
            "/topics/a,b/X?since=a:1,z:2",
            "since names a topic that is not in the subscription",
        ),
        ("/topics/a/X?since=9007199254740992", TOO_BIG),
        ("/topics/a,b/X?since=a:9007199254740992", TOO_BIG),
        ("/topics/a/X?since=a:", NOT_A_CURSOR),
        ("/topics/a/X?since=", NOT_A_CURSOR),
        ("/topics/a/X?poll=2", "poll must be 0 or 1"),
    ];
    for (path, reason) in cases {
        for kind in ["sse", "stream"] {
            let path = path.replace('X', kind);
            let raw = format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n");
            refused(server.addr, raw.as_bytes(), reason);
        }
        // Refused before the upgrade, so still a plain HTTP 400.
        refused(
            server.addr,
            &ws_handshake(&path.replace('X', "ws"), &[]),
            reason,
        );
    }
    for header in ["banana", "a:1,a:2", "z:4", "-1"] {
        let raw =
            format!("GET /topics/a/sse HTTP/1.1\r\nHost: t\r\nLast-Event-ID: {header}\r\n\r\n");
        let (head, _) = get(server.addr, raw.as_bytes());
        assert_eq!(head.status, 400, "Last-Event-ID: {header}");
    }
    // Refused before subscribing: nothing was left behind.
    assert_eq!(metric(server.addr, "tinypush_subscribers"), 0);
    // And nothing of it was published.
    let (status, receipt) = publish(server.addr, "a", "x");
    assert_eq!(
        (status, receipt.as_str()),
        (200, "{\"id\":1,\"topic\":\"a\",\"receivers\":0}\n")
    );
}
