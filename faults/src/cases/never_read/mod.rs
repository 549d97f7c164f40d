//! Never-readers: 5,000 SSE subscribers that never read, while publishers
//! publish to their topic at full speed.
//!
//! ```text
//! 5,000 × GET /topics/load/sse   from 127.0.0.50…69, SO_RCVBUF 4 KiB, never read
//! 2 × SSE, 2 × WS (?format=json) from 127.0.0.1, reading everything
//! 4 publishers × POST /topics/load (500 × 1 KiB bodies each, 2 MiB in all), keep-alive
//! ```
//!
//! Must hold: every publish is acknowledged (200 with an id); each
//! well-behaved subscriber receives every acknowledged message, in id
//! order, with its body; every never-reader is dropped (its queue fills, or
//! a write stalls past `--write-timeout 2s`) within 15 s of the last publish;
//! the kernel memory they hold stays under a bound (below); and the threads
//! come back to the baseline.
//!
//! What the server really does at full speed on 2 cores: a reader that is
//! not scheduled for a few milliseconds falls 256 messages behind and is
//! dropped like a never-reader (`event: error` / close 1008, "resume with
//! since=last_id"). The readers here do what that notice asks, and resume;
//! each resume is counted in the figures, and a gap on resuming fails the
//! case (the topic's history is made to hold the whole run).
//!
//! Kernel memory: a never-reader holds what the server's socket has queued
//! for it, up to its send buffer, which the server caps for subscribers
//! (`--subscriber-send-buffer`, doubled by the kernel). Without the cap the
//! kernel grows it up to `tcp_wmem`'s maximum (4 MiB): with 4,000 messages
//! of 512 bytes, 505 of 5,000 never-readers once took everything into the
//! kernel, were never dropped, and held about 1 GiB between them. So the
//! case publishes 2 MiB (half that maximum), none may escape the drop, and
//! the machine's TCP memory (`/proc/net/sockstat`, every 100 ms) may rise
//! by less than 1 GiB while the never-readers are open.
//!
//! The server runs with `--subscriber-send-buffer 64KiB`: 5,000 × (2 × 64 KiB
//! and the kernel's overhead) is about 700 MiB (683 measured), a bound the
//! case can state under the kernel's own limit (`tcp_mem`, 2.2 GiB here),
//! which autotuning (2.2 GiB measured) and the 256 KiB default (2.0 GiB)
//! both reach with this many never-readers.
//!
//! Files: `load.rs` (the readers and publishers).

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

mod load;

use super::{Ctx, Outcome, Watch};
use crate::http::{Client, connect_from, metric, reset, source};
use crate::procfs;
use crate::report::Row;
use crate::subscribe::{self, Transport};
use load::{Received, check_reader, publish_all, read_all};

const NEVER_READERS: usize = 5000;
const PER_SOURCE: usize = 250;
const PUBLISHERS: usize = 4;
/// Messages each publisher sends: 2 MiB in all.
const EACH: usize = 500;
const BODY_BYTES: usize = 1024;
const TOPIC: &str = "load";
/// The rise of the machine's TCP memory while the never-readers are open.
const TCP_MEM_BOUND_MIB: u64 = 1024;
const DROP_LIMIT: Duration = Duration::from_secs(15);

/// The server's RSS stays under this (about twice what was measured).
const RSS_BOUND_MIB: u64 = 256;

const MUST_HOLD: &str = "5,000 SSE never-readers (SO_RCVBUF 4 KiB) + 2 SSE and 2 WS readers; 4 publishers × 500 × 1 KiB \
    at full speed (2 MiB); --subscriber-send-buffer 64KiB: every publish acked, each reader (resuming with since= when \
    dropped as too slow, as the server asks; counted) gets every acked message in order, no gap, every never-reader \
    dropped within 15 s (--write-timeout 2s); machine TCP memory (sockstat) rises < 1 GiB; threads back to baseline";

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
        "--subscriber-send-buffer",
        "64KiB",
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
    let tcp_before = procfs::tcp_mem_kib().unwrap_or(0);
    let stop = Arc::new(AtomicBool::new(false));
    let peak = procfs::peak_tcp_mem(Arc::clone(&stop));
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
    stop.store(true, Ordering::Relaxed);
    let peak = peak.join().unwrap_or(0);
    check_tcp_mem(tcp_before, peak, &mut out);
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
    let acks = publish_all(addr, EACH);
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

/// Waits until no SSE stream is left: every never-reader dropped; counts
/// those that escape.
fn wait_dropped(addr: SocketAddr, out: &mut Outcome) {
    let drop_start = Instant::now();
    let dropped = wait_metric(addr, "connections{kind=\"sse\"}", DROP_LIMIT, |n| n == 0);
    let slow = metric(addr, "slow_consumers_dropped_total").unwrap_or(0);
    let left = metric(addr, "connections{kind=\"sse\"}").unwrap_or(u64::MAX);
    out.figure(format!(
        "never-readers gone {:.1} s after the last publish ({slow} dropped as slow consumers, {left} still connected)",
        drop_start.elapsed().as_secs_f64()
    ));
    out.require(
        dropped,
        format!("{left} never-readers still connected 15 s after the last publish"),
    );
}

/// The rise of the machine's TCP memory, before the never-readers to its
/// peak, under [`TCP_MEM_BOUND_MIB`].
fn check_tcp_mem(before_kib: u64, peak_kib: u64, out: &mut Outcome) {
    let rise = peak_kib.saturating_sub(before_kib) / 1024;
    out.figure(format!(
        "TCP memory (sockstat) {} MiB before, peak {} MiB: +{rise} MiB ({} KiB a never-reader)",
        before_kib / 1024,
        peak_kib / 1024,
        peak_kib.saturating_sub(before_kib) / NEVER_READERS as u64
    ));
    out.require(
        rise < TCP_MEM_BOUND_MIB,
        format!("TCP memory rose {rise} MiB"),
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
