//! Never-readers: 5,000 SSE subscribers that never read, while publishers
//! publish to their topic at full speed.
//!
//! ```text
//! 5,000 × GET /topics/load/sse   from 127.0.0.50…69, SO_RCVBUF 4 KiB, never read
//! 2 × SSE, 2 × WS (?format=json) from 127.0.0.1, reading everything
//! 4 publishers × POST /topics/load (1 KiB bodies, 1.5 × tcp_wmem max in all), keep-alive
//! ```
//!
//! Must hold: every publish is acknowledged (200 with an id); each
//! well-behaved subscriber receives every acknowledged message, in id
//! order, with its body; every never-reader is dropped (its queue fills, or
//! a write stalls past `--write-timeout 2s`) within 15 s of the last publish;
//! and the threads come back to the baseline.
//!
//! What the server really does at full speed on 2 cores: a reader that is
//! not scheduled for a few milliseconds falls 256 messages behind and is
//! dropped like a never-reader (`event: error` / close 1008, "resume with
//! since=last_id"). The readers here do what that notice asks, and resume;
//! each resume is counted in the figures, and a gap on resuming fails the
//! case (the topic's history is made to hold the whole run).
//!
//! Why 1.5 × `tcp_wmem` max: a socket's send buffer grows up to that
//! (4 MiB by default), so a never-reader offered less can take everything
//! into the kernel, leaving nothing to stall on, and stay connected — with
//! 4,000 messages of 512 bytes (2 MiB), 505 of 5,000 did, holding about 1 GiB of
//! kernel memory between them.

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::{Ctx, Outcome, Watch};
use crate::http::{Client, connect_from, metric, reset, source};
use crate::report::Row;
use crate::subscribe::{self, Item, Transport};

const NEVER_READERS: usize = 5000;
const PER_SOURCE: usize = 250;
const PUBLISHERS: usize = 4;
const BODY_BYTES: usize = 1024;
const TOPIC: &str = "load";
/// Resumes a well-behaved reader may need (each one is reported).
const MAX_RESUMES: usize = 100;
const DROP_LIMIT: Duration = Duration::from_secs(15);

/// The server's RSS stays under this (about twice what was measured).
const RSS_BOUND_MIB: u64 = 256;

const MUST_HOLD: &str = "5,000 SSE never-readers (SO_RCVBUF 4 KiB) + 2 SSE and 2 WS readers; 4 publishers × 1 KiB bodies \
    at full speed, 1.5 × tcp_wmem max in all: every publish acked, each reader (resuming with since= when dropped \
    as too slow, as the server asks; counted) gets every acked message in order, no gap, \
    never-readers dropped within 15 s (--write-timeout 2s); threads back to baseline";

/// What a reader got, and how often it had to resume.
type Received = Result<(Vec<(u64, String)>, usize), String>;

/// Runs the case.
pub fn run(ctx: &Ctx) -> Row {
    let started = Instant::now();
    // The history holds the whole run, so a reader dropped for a moment of
    // starvation resumes without a gap.
    let spec = ctx.spec.with(&[
        "--write-timeout",
        "2s",
        "--topic-history",
        "10000",
        "--topic-history-bytes",
        "16MiB",
    ]);
    let server = match super::start(&spec, "never-read", started) {
        Ok(s) => s,
        Err(row) => return *row,
    };
    let watch = Watch::start(&server, RSS_BOUND_MIB);
    let mut out = Outcome::default();
    let addr = server.addr;
    // The last acknowledged id, once the publishers are done (0 until then).
    let last = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = [Transport::Sse, Transport::Sse, Transport::Ws, Transport::Ws]
        .into_iter()
        .map(|t| {
            (
                t,
                subscribe::open(addr, [127, 0, 0, 1], t, TOPIC, "", DROP_LIMIT),
            )
        })
        .map(|(t, feed)| {
            let last = Arc::clone(&last);
            thread::spawn(move || read_all(addr, t, feed, &last))
        })
        .collect();
    let sleepers = open_never_readers(addr, &mut out);
    let want = NEVER_READERS + 2;
    let registered = wait_metric(
        addr,
        "connections{kind=\"sse\"}",
        Duration::from_secs(30),
        |n| n >= want as u64,
    );
    out.require(registered, format!("fewer than {want} SSE streams open"));
    publish_and_check(addr, readers, &last, &mut out);
    wait_dropped(addr, &mut out);
    sleepers.into_iter().for_each(reset);
    watch.finish(&mut out, Duration::from_secs(20));
    out.row("never-read", MUST_HOLD, started)
}

/// Publishes at full speed, then checks what each reader got.
fn publish_and_check(
    addr: SocketAddr,
    readers: Vec<thread::JoinHandle<Received>>,
    last: &AtomicU64,
    out: &mut Outcome,
) {
    let publish_start = Instant::now();
    let acks = publish_all(addr, per_publisher());
    let publish_secs = publish_start.elapsed().as_secs_f64();
    let acked = acks.as_ref().map_or(0, Vec::len);
    out.figure(format!("{acked} publishes acked in {publish_secs:.1} s"));
    let acks = acks.unwrap_or_else(|e| {
        out.fail(e);
        Vec::new()
    });
    last.store(acks.last().map_or(u64::MAX, |a| a.0), Ordering::Relaxed);
    // One more message tells each reader the acknowledged ones are all out.
    let marker = Client::connect([127, 0, 0, 1], addr).and_then(|mut c| c.publish(TOPIC, "end"));
    out.require(marker.is_ok(), "the end marker was not acked");
    for (i, reader) in readers.into_iter().enumerate() {
        let got = reader
            .join()
            .unwrap_or_else(|_| Err("reader panicked".into()));
        check_reader(i, got, &acks, out);
    }
}

/// Waits until no SSE stream is left: every never-reader dropped.
fn wait_dropped(addr: SocketAddr, out: &mut Outcome) {
    let drop_start = Instant::now();
    let dropped = wait_metric(addr, "connections{kind=\"sse\"}", DROP_LIMIT, |n| n == 0);
    let slow = metric(addr, "slow_consumers_dropped_total").unwrap_or(0);
    out.figure(format!(
        "never-readers gone {:.1} s after the last publish ({slow} dropped as slow consumers)",
        drop_start.elapsed().as_secs_f64()
    ));
    out.require(
        dropped,
        "never-readers still connected 15 s after the last publish",
    );
}

fn open_never_readers(addr: SocketAddr, out: &mut Outcome) -> Vec<TcpStream> {
    let request = format!("GET /topics/{TOPIC}/sse HTTP/1.1\r\nHost: faults\r\n\r\n");
    let mut open = Vec::with_capacity(NEVER_READERS);
    let (mut errors, start) = (0, Instant::now());
    for i in 0..NEVER_READERS {
        let stream = connect_from(source(50, i, PER_SOURCE), addr, Some(4096));
        match stream.and_then(|s| std::io::Write::write_all(&mut &s, request.as_bytes()).map(|_| s))
        {
            Ok(s) => open.push(s),
            Err(_) => errors += 1,
        }
    }
    out.figure(format!(
        "{} never-readers opened, all at once, in {:.1} s",
        open.len(),
        start.elapsed().as_secs_f64()
    ));
    out.require(
        errors == 0,
        format!("{errors} never-readers could not connect"),
    );
    open
}

/// Reads until a message after the last acknowledged one (the end marker)
/// comes, or a read times out. Dropped as too slow, it resumes from its
/// last id, as the server asks; a gap is a failure.
fn read_all(
    addr: SocketAddr,
    transport: Transport,
    feed: std::io::Result<subscribe::Feed>,
    last: &AtomicU64,
) -> Received {
    let fail = |what: String, got: &Vec<(u64, String)>| {
        format!("{transport:?} reader: {what} after {} messages", got.len())
    };
    let mut feed = feed.map_err(|e| e.to_string())?;
    let (mut got, mut resumes) = (Vec::new(), 0);
    loop {
        match feed.next() {
            Ok(Item::Message(id, data)) => {
                // Past the last acknowledged id: the end marker.
                let last = last.load(Ordering::Relaxed);
                if last != 0 && id > last {
                    return Ok((got, resumes));
                }
                got.push((id, data));
            }
            Ok(Item::Other) => {}
            Ok(Item::Dropped(why)) if resumes < MAX_RESUMES => {
                resumes += 1;
                let since = got.last().map_or(0, |m: &(u64, String)| m.0);
                feed = subscribe::open(
                    addr,
                    [127, 0, 0, 1],
                    transport,
                    TOPIC,
                    &format!("since={since}"),
                    DROP_LIMIT,
                )
                .map_err(|e| fail(format!("resume after {why}: {e}"), &got))?;
            }
            Ok(other) => return Err(fail(format!("{other:?}"), &got)),
            Err(e) => return Err(fail(e.to_string(), &got)),
        }
    }
}

fn check_reader(i: usize, got: Received, acks: &[(u64, String)], out: &mut Outcome) {
    match got {
        Ok((got, resumes)) => {
            out.figure(format!(
                "reader {i}: {} messages, resumed {resumes}×",
                got.len()
            ));
            out.require(
                got == acks,
                format!(
                    "reader {i} got {} messages, not the {} acked in order",
                    got.len(),
                    acks.len()
                ),
            );
        }
        Err(e) => out.fail(e),
    }
}

/// Every publisher's acks, sorted by id, or the first error.
fn publish_all(addr: SocketAddr, each: usize) -> Result<Vec<(u64, String)>, String> {
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| thread::spawn(move || publish_many(addr, p, each)))
        .collect();
    let mut acks = Vec::new();
    for p in publishers {
        acks.extend(p.join().map_err(|_| "publisher panicked".to_string())??);
    }
    acks.sort();
    Ok(acks)
}

fn publish_many(addr: SocketAddr, p: usize, each: usize) -> Result<Vec<(u64, String)>, String> {
    let mut client = Client::connect([127, 0, 0, 1], addr).map_err(|e| e.to_string())?;
    let mut acks = Vec::with_capacity(each);
    for i in 0..each {
        let mut body = format!("p{p}-{i}-");
        body.extend(std::iter::repeat_n('x', BODY_BYTES - body.len()));
        let id = client
            .publish(TOPIC, &body)
            .map_err(|e| format!("publisher {p}, message {i}: {e}"))?;
        acks.push((id, body));
    }
    Ok(acks)
}

/// Messages each publisher sends: together more than a socket's send
/// buffer can grow to (`tcp_wmem` max, 4 MiB by default) plus a full
/// queue, so no never-reader can hold everything in kernel buffers and
/// look like a reader that keeps up.
fn per_publisher() -> usize {
    let wmem_max = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|t| t.split_whitespace().nth(2).and_then(|n| n.parse().ok()))
        .unwrap_or(4 << 20);
    let total = wmem_max * 3 / 2 / BODY_BYTES + 256;
    total.div_ceil(PUBLISHERS)
}

/// Polls `/metrics` every 100 ms until `name` satisfies `done`, at most `limit`.
pub fn wait_metric(
    addr: SocketAddr,
    name: &str,
    limit: Duration,
    done: impl Fn(u64) -> bool,
) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if metric(addr, name).is_ok_and(&done) {
            return true;
        }
        thread::sleep(Duration::from_millis(100));
    }
    false
}
