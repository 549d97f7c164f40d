//! Header bombs: too many headers, and one header line of 200 MiB.
//!
//! ```text
//! GET / HTTP/1.1\r\nX-0: v\r\n … X-100: v\r\n\r\n        (101 headers)  → 431
//! GET / HTTP/1.1\r\nX-0: v\r\n … X-9999: v\r\n\r\n       (10,000)      → 431
//! GET / HTTP/1.1\r\nX-Big: aaaa…  (200 MiB, no line end)                → 431
//! ```
//!
//! Must hold: each gets 431 (defaults: 100 headers, 16 KiB head), the big
//! line within 1 s, and the server does not buffer it: its RSS, sampled
//! every 5 ms while the line is sent, stays within 16 MiB of what it was
//! before. A writer thread sends while this thread reads the answer, so
//! a server that answers early is seen answering early.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use super::{Ctx, Outcome, Watch};
use crate::http::{connect_from, status_of};
use crate::procfs::Sampler;
use crate::report::Row;

const BIG_LINE: usize = 200 << 20;
const QUICK: Duration = Duration::from_secs(1);
const RSS_GROWTH_KIB: u64 = 16 << 10;

/// The server's RSS stays under this (about twice what was measured).
const RSS_BOUND_MIB: u64 = 64;

const MUST_HOLD: &str = "101 headers → 431; 10,000 headers → 431; one 200 MiB header line → 431 within 1 s, \
    server RSS (every 5 ms) within 16 MiB of before; threads back to baseline";

/// Runs the case.
pub fn run(ctx: &Ctx) -> Row {
    let started = Instant::now();
    let server = match super::start(&ctx.spec.with(&[]), "header-bombs", started) {
        Ok(s) => s,
        Err(row) => return *row,
    };
    let watch = Watch::start(&server, RSS_BOUND_MIB);
    let mut out = Outcome::default();
    for count in [101, 10_000] {
        let head = many_headers(count);
        let (status, took, _) = bomb(server.addr, head, Vec::new());
        out.figure(format!(
            "{count} headers: {} in {} ms",
            shown(status),
            took.as_millis()
        ));
        out.require(
            status == Some(431),
            format!("{count} headers answered {status:?}"),
        );
    }
    let before = crate::procfs::rss_kib(server.pid()).unwrap_or(0);
    let sampler = Sampler::start(server.pid(), Duration::from_millis(5));
    let line = b"GET / HTTP/1.1\r\nHost: faults\r\nX-Big: ".to_vec();
    let (status, took, sent) = bomb(server.addr, line, vec![b'a'; 1 << 20]);
    let peak = sampler.finish().iter().map(|s| s.0).max().unwrap_or(0);
    out.figure(format!(
        "200 MiB line: {} in {} ms, {} KiB sent before the server hung up; RSS {} → peak {} KiB",
        shown(status),
        took.as_millis(),
        sent >> 10,
        before,
        peak
    ));
    out.require(
        status == Some(431),
        format!("the big line answered {status:?}"),
    );
    out.require(took <= QUICK, format!("431 took {} ms", took.as_millis()));
    out.require(
        peak <= before + RSS_GROWTH_KIB,
        format!("RSS grew {} KiB", peak.saturating_sub(before)),
    );
    watch.finish(&mut out, Duration::from_secs(10));
    out.row("header-bombs", MUST_HOLD, started)
}

/// `431`, or `no status`.
fn shown(status: Option<u16>) -> String {
    status.map_or("no status".into(), |s| s.to_string())
}

/// A request head with `count` header lines.
fn many_headers(count: usize) -> Vec<u8> {
    let mut head = b"GET / HTTP/1.1\r\nHost: faults\r\n".to_vec();
    for i in 0..count {
        head.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// Sends `first`, then `filler` over and over up to 200 MiB when it is not
/// empty, on a writer thread; reads the answer here. Returns the status
/// (if one came), the time to it, and the bytes the writer got out.
fn bomb(addr: SocketAddr, first: Vec<u8>, filler: Vec<u8>) -> (Option<u16>, Duration, usize) {
    let start = Instant::now();
    let Ok(stream) = connect_from([127, 0, 0, 40], addr, None) else {
        return (None, start.elapsed(), 0);
    };
    let Ok(mut writer) = stream.try_clone() else {
        return (None, start.elapsed(), 0);
    };
    let sender = thread::spawn(move || send(&mut writer, &first, &filler));
    let status = read_status(&stream);
    let took = start.elapsed();
    // The server has hung up: the writer's next write fails.
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let sent = sender.join().unwrap_or(0);
    (status, took, sent)
}

fn send(stream: &mut TcpStream, first: &[u8], filler: &[u8]) -> usize {
    let mut sent = 0;
    if stream.write_all(first).is_err() {
        return sent;
    }
    sent += first.len();
    while !filler.is_empty() && sent < BIG_LINE {
        match stream.write(filler) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    sent
}

fn read_status(mut stream: &TcpStream) -> Option<u16> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 256];
    while reply.len() < 12 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
        }
    }
    status_of(&reply).ok()
}
