//! The durable history (`--data-dir`), through the binary: stopped,
//! killed, restarted on the same folder; and memory mode across a restart.
//! Damaged files and unusable folders: `durable_faults.rs`.
//!
//! ```text
//! POST /topics/news  m1 m2 m3    → ids 1 2 3, each answered once on disk
//! SIGTERM (or SIGKILL), start again with the same --data-dir
//! POST /topics/news  m4          → id 4: ids go on
//! GET /topics/news/stream?since=1 → 2 3 4
//! ```

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use crossbeam_channel::unbounded;
use support::*;

#[test]
fn history_and_ids_survive_a_restart_on_every_transport() {
    let dir = DataDir::new("restart");
    let mut server = serve(&dir, &[]);
    server.wait_log("history kept in");
    let mut c = connect(server.addr);
    for i in 1..=3 {
        assert_eq!(publish_ok(&mut c, "news", &format!("m{i}")).0, i);
    }
    drop(c);
    stop(server);

    let server = serve(&dir, &[]);
    assert_eq!(publish_ok(&mut connect(server.addr), "news", "m4"), (4, 0));
    let mut ndjson = ndjson_since(server.addr, "news", "1");
    for i in 2..=4 {
        assert_eq!(ndjson_message(&mut ndjson), (i, format!("m{i}")));
    }
    let sse = b"GET /topics/news/sse HTTP/1.1\r\nHost: t\r\nLast-Event-ID: 2\r\n\r\n";
    let mut sse = open_stream(server.addr, sse);
    assert_eq!(sse_message(&mut sse), (3, "m3".into()));
    assert_eq!(sse_message(&mut sse), (4, "m4".into()));
    let mut ws = ws_connect(server.addr, "/topics/news/ws?since=3&format=json");
    assert_eq!(ws_json_message(&mut ws), (4, "m4".into()));
}

#[test]
fn without_a_data_dir_the_server_says_history_is_in_memory() {
    let mut server = ChildServer::start(&[]);
    let line = server.wait_log("history kept in memory only");
    assert!(line.contains("--data-dir"), "{line}");
}

/// Publishes on one keep-alive connection until it fails, sending each
/// acknowledged `(id, body)` on `acks`.
fn publish_until_refused(
    addr: SocketAddr,
    who: usize,
    acks: crossbeam_channel::Sender<(u64, String)>,
) {
    let Ok(stream) = TcpStream::connect(addr) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    for n in 0.. {
        let body = format!("p{who}-{n}");
        let raw = format!(
            "POST /topics/burst HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let Some(id) = writer
            .write_all(raw.as_bytes())
            .ok()
            .and_then(|()| read_receipt(&mut reader))
        else {
            return;
        };
        if acks.send((id, body)).is_err() {
            return;
        }
    }
}

/// Reads one publish response; the receipt's id when it is a 200.
fn read_receipt(r: &mut BufReader<TcpStream>) -> Option<u64> {
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let ok = line.starts_with("HTTP/1.1 200 ");
    let mut length = 0;
    loop {
        line.clear();
        r.read_line(&mut line).ok().filter(|n| *n > 0)?;
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).ok()?;
    let receipt: serde_json::Value = serde_json::from_slice(&body).ok()?;
    receipt["id"].as_u64().filter(|_| ok)
}

#[test]
fn every_acknowledged_publish_survives_sigkill_during_a_burst() {
    let dir = DataDir::new("kill");
    let roomy = [
        "--topic-history",
        "1000000",
        "--topic-history-bytes",
        "256MiB",
    ];
    let server = serve(&dir, &roomy);
    let (acks_tx, acks) = unbounded();
    let publishers: Vec<_> = (0..16)
        .map(|who| {
            let (addr, acks) = (server.addr, acks_tx.clone());
            thread::spawn(move || publish_until_refused(addr, who, acks))
        })
        .collect();
    drop(acks_tx);
    let mut acked = Vec::new();
    while acked.len() < 3000 {
        acked.push(acks.recv_timeout(READ_TIMEOUT).expect("publishes go on"));
    }
    // Group commit: sixteen publishers waiting share their syncs.
    let text = metrics(server.addr);
    let commits = metric_in(&text, "tinypush_store_commits_total");
    let published = metric_in(&text, "tinypush_messages_published_total");
    assert!(
        commits * 2 <= published,
        "{commits} syncs for {published} publishes"
    );
    server.signal("KILL");
    for p in publishers {
        p.join().expect("publisher");
    }
    acked.extend(acks.try_iter());
    drop(server);

    let server = serve(&dir, &roomy);
    let (after, _) = publish_ok(&mut connect(server.addr), "burst", "after");
    let newest = acked.iter().map(|(id, _)| *id).max().expect("acks");
    assert!(
        after > newest,
        "id {after} given again (acked up to {newest})"
    );
    // Every id from 1 up to the new one, once, in order; every acked body.
    let mut kept = vec![String::new(); after as usize];
    let mut replay = ndjson_since(server.addr, "burst", "0");
    for id in 1..=after {
        let (got, data) = ndjson_message(&mut replay);
        assert_eq!(got, id);
        kept[id as usize - 1] = data;
    }
    for (id, body) in &acked {
        assert_eq!(&kept[*id as usize - 1], body, "acked id {id}");
    }
    assert_eq!(kept[after as usize - 1], "after");
}

#[test]
fn the_count_and_byte_caps_hold_on_disk_and_the_file_stops_growing() {
    let dir = DataDir::new("caps");
    let server = serve(
        &dir,
        &["--topic-history", "10", "--topic-history-bytes", "3KiB"],
    );
    let mut c = connect(server.addr);
    let kib = "k".repeat(1024);
    let mut sizes = Vec::new();
    for i in 1..=1500 {
        publish_ok(&mut c, "big", &kib);
        publish_ok(&mut c, "small", &format!("s{i}"));
        if i % 500 == 0 {
            sizes.push(std::fs::metadata(dir.file()).expect("file").len());
        }
    }
    drop(c);
    stop(server);
    // 3,000 messages and 1.5 MiB published; the file holds 13 and reuses
    // the pages of the rest.
    assert!(sizes[2] <= sizes[0] + 64 * 1024, "file grew: {sizes:?}");
    assert!(
        sizes[2] < 512 * 1024,
        "file holds more than its history: {sizes:?}"
    );

    let server = serve(
        &dir,
        &["--topic-history", "10", "--topic-history-bytes", "3KiB"],
    );
    let mut c = connect(server.addr);
    assert_eq!(publish_ok(&mut c, "big", "last").0, 1501);
    assert_eq!(publish_ok(&mut c, "small", "last").0, 1501);
    // Bytes: two of 1 KiB and "last" fit in 3 KiB; a gap names the rest.
    let mut big = ndjson_since(server.addr, "big", "0");
    let gap = big.json().expect("gap");
    assert_eq!(
        (gap["from"].as_u64(), gap["to"].as_u64()),
        (Some(1), Some(1498))
    );
    for id in 1499..=1500 {
        assert_eq!(ndjson_message(&mut big), (id, kib.clone()));
    }
    assert_eq!(ndjson_message(&mut big), (1501, "last".into()));
    // Count: the last ten.
    let mut small = ndjson_since(server.addr, "small", "1491");
    for id in 1492..=1500 {
        assert_eq!(ndjson_message(&mut small), (id, format!("s{id}")));
    }
    assert_eq!(ndjson_message(&mut small), (1501, "last".into()));
}

#[test]
fn messages_past_the_ttl_are_let_go_and_stay_gone_after_a_restart() {
    let dir = DataDir::new("ttl");
    let ttl = ["--topic-history-ttl", "200ms"];
    let server = serve(&dir, &ttl);
    assert_eq!(publish_ok(&mut connect(server.addr), "news", "brief").0, 1);
    let first_of_replay = |addr| ndjson_since(addr, "news", "0").json().expect("a line");
    assert_eq!(first_of_replay(server.addr)["event"], "message");
    // Nothing announces the moment a message expires: ask until it has.
    let expired = wait_until(Duration::from_secs(5), || {
        first_of_replay(server.addr)["event"] == "gap"
    });
    assert!(expired, "message 1 still replayed past its TTL");
    stop(server);

    let server = serve(&dir, &ttl);
    let gap = first_of_replay(server.addr);
    assert_eq!(
        (gap["event"].as_str(), gap["to"].as_u64()),
        (Some("gap"), Some(1))
    );
    assert_eq!(publish_ok(&mut connect(server.addr), "news", "next").0, 2);
}

#[test]
fn in_memory_a_cursor_from_before_a_restart_gets_a_gap_not_silence() {
    let first = ChildServer::start(&[]);
    let mut c = connect(first.addr);
    let (old, _) = publish_ok(&mut c, "news", "before");
    publish_ok(&mut c, "news", "lost in the restart");
    drop(c);
    stop(first);
    // The new run numbers after its own start time, above every old id.
    let second = ChildServer::start(&[]);
    let mut c = connect(second.addr);
    let ids: Vec<u64> = (0..3)
        .map(|i| publish_ok(&mut c, "news", &format!("new {i}")).0)
        .collect();
    assert!(
        ids[0] > old + 1,
        "new ids {ids:?} overlap the old run's ({old})"
    );
    let mut r = ndjson_since(second.addr, "news", &old.to_string());
    let gap = r.json().expect("a gap first");
    assert_eq!(gap["event"], "gap", "{gap}");
    assert_eq!(
        (gap["from"].as_u64(), gap["to"].as_u64()),
        (Some(old + 1), Some(ids[0] - 1))
    );
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(ndjson_message(&mut r), (*id, format!("new {i}")));
    }
    // Everything held: the new history, with no gap before it.
    let mut all = ndjson_since(second.addr, "news", "0");
    assert_eq!(ndjson_message(&mut all), (ids[0], "new 0".into()));
}
