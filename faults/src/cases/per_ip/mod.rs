//! Per-address limits: one address opens 2,000 connections at once; past
//! `--max-connections-per-ip` (256 by default) each is refused at accept,
//! while another address is served as usual. Then a publisher past
//! `--publish-rate` (`rate.rs`).
//!
//! ```text
//! 127.0.0.61   GET /topics/per-ip/sse        (subscribed first, reads everything)
//! 127.0.0.1    POST /topics/per-ip, 50 a second, the whole time
//! 127.0.0.60   2,000 connects from 8 threads, nothing sent
//!                the 1,744 past the cap:  HTTP/1.1 429 … Retry-After: 1 … close   (unasked)
//!                the 256 admitted:        silent (--head-timeout 60s keeps them)
//!              then on each admitted one: GET /healthz → 200
//! all closed → a new connection from 127.0.0.60: GET /healthz → 200
//! ```
//!
//! Must hold: exactly 256 admitted, each then answered 200; every other
//! one a 429 with `Retry-After` (its bytes read); the other address's
//! subscriber gets every message acknowledged meanwhile, in order; once
//! the 2,000 are closed, the address is admitted again within 5 s.

mod meanwhile;
mod rate;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::{Ctx, Outcome, Watch};
use crate::http::{Client, connect_from, reset, status_of};
use crate::report::Row;
use crate::subscribe::{self, Transport};
use meanwhile::TOPIC;

const CONNECTIONS: usize = 2000;
/// The server's default `--max-connections-per-ip`.
const PER_IP: usize = 256;
const CONNECTORS: usize = 8;
const CROWD: [u8; 4] = [127, 0, 0, 60];
const READER: [u8; 4] = [127, 0, 0, 61];
/// How long the refusals may take to come, unasked.
const REFUSALS_WITHIN: Duration = Duration::from_secs(10);
const FREED_WITHIN: Duration = Duration::from_secs(5);

/// The server's RSS stays under this (about twice what was measured).
const RSS_BOUND_MIB: u64 = 64;

const MUST_HOLD: &str = "2,000 connections at once from 127.0.0.60 (default --max-connections-per-ip 256): exactly 256 \
    admitted (each then GET /healthz → 200), every other one 429 with Retry-After; a subscriber on 127.0.0.61 gets every \
    message acked meanwhile (50/s from 127.0.0.1), in order; all closed → 127.0.0.60 admitted again within 5 s. \
    --publish-rate 100 --publish-burst 100: a full-speed publisher gets 429 with Retry-After and ≤ 100 × t + 100 \
    acked in t; another address at 20/s all acked; threads back to baseline";

/// How the crowd's connections fared.
#[derive(Default)]
struct Tally {
    refused: usize,
    without_retry_after: usize,
    other: Vec<String>,
}

/// Runs the case.
pub fn run(ctx: &Ctx) -> Row {
    let started = Instant::now();
    let spec = ctx.spec.with(&[
        "--head-timeout",
        "60s",
        "--publish-rate",
        "100",
        "--publish-burst",
        "100",
    ]);
    let server = match super::start(&spec, "per-ip", started) {
        Ok(s) => s,
        Err(row) => return *row,
    };
    let watch = Watch::start(&server, RSS_BOUND_MIB);
    let mut out = Outcome::default();
    crowd(server.addr, &mut out);
    rate::run(server.addr, &mut out);
    watch.finish(&mut out, Duration::from_secs(15));
    out.row("per-ip", MUST_HOLD, started)
}

/// The crowd from one address, with a reader and a publisher elsewhere.
fn crowd(addr: SocketAddr, out: &mut Outcome) {
    let timeout = Duration::from_secs(10);
    let feed = subscribe::open(addr, READER, Transport::Sse, TOPIC, "", timeout);
    let stop = Arc::new(AtomicBool::new(false));
    let publisher = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || meanwhile::publish_until(addr, &stop))
    };
    let start = Instant::now();
    let (open, connect_errors) = open_crowd(addr);
    let mut tally = Tally::default();
    let held = take_refusals(open, &mut tally);
    out.figure(format!(
        "{CONNECTIONS} from 127.0.0.60 in {:.1} s: {} held, {}× 429 ({} without Retry-After), {} other, \
         {connect_errors} connect errors",
        start.elapsed().as_secs_f64(),
        held.len(),
        tally.refused,
        tally.without_retry_after,
        tally.other.len()
    ));
    out.require(
        connect_errors == 0,
        format!("{connect_errors} connects failed"),
    );
    out.require(
        held.len() == PER_IP,
        format!("{} admitted, not {PER_IP}", held.len()),
    );
    out.require(
        tally.refused + held.len() == CONNECTIONS,
        "not every other one got 429",
    );
    out.require(tally.without_retry_after == 0, "a 429 without Retry-After");
    out.require(
        tally.other.is_empty(),
        format!("unexpected: {:?}", tally.other.first()),
    );
    let served = ask_each(&held);
    out.require(
        served == held.len(),
        format!("{served} of {} held answered 200", held.len()),
    );
    stop.store(true, Ordering::Relaxed);
    let acks = publisher
        .join()
        .unwrap_or_else(|_| Err("publisher panicked".into()));
    meanwhile::check_reader(addr, feed, acks, out);
    held.into_iter().for_each(reset);
    match wait_admitted(addr) {
        Some(took) => out.figure(format!(
            "after closing: 127.0.0.60 admitted again in {} ms",
            took.as_millis()
        )),
        None => out.fail("127.0.0.60 still refused 5 s after closing its connections"),
    }
}

/// Connects [`CONNECTIONS`] times from [`CROWD`], from [`CONNECTORS`]
/// threads at once; the connections and the number that failed.
fn open_crowd(addr: SocketAddr) -> (Vec<TcpStream>, usize) {
    let each = CONNECTIONS / CONNECTORS;
    let connectors: Vec<_> = (0..CONNECTORS)
        .map(|_| {
            thread::spawn(move || {
                (0..each)
                    .map(|_| connect_from(CROWD, addr, None))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let (mut open, mut failed) = (Vec::new(), 0);
    for result in connectors
        .into_iter()
        .flat_map(|c| c.join().unwrap_or_default())
    {
        match result {
            Ok(s) => open.push(s),
            Err(_) => failed += 1,
        }
    }
    (open, failed)
}

/// Reads every refusal that comes unasked, to its end (the server closes
/// after it), until only the admitted remain or time is up; returns the
/// connections that got nothing.
fn take_refusals(crowd: Vec<TcpStream>, tally: &mut Tally) -> Vec<TcpStream> {
    let mut waiting: Vec<(TcpStream, Vec<u8>)> = crowd
        .into_iter()
        .filter_map(|s| s.set_nonblocking(true).ok().map(|_| (s, Vec::new())))
        .collect();
    let end = Instant::now() + REFUSALS_WITHIN;
    let mut buf = [0u8; 1024];
    while waiting.len() > PER_IP && Instant::now() < end {
        waiting.retain_mut(|(stream, got)| {
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => {
                        judge_refusal(got, tally);
                        return false;
                    }
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                    Err(e) => {
                        tally.other.push(format!("{e} after {} bytes", got.len()));
                        return false;
                    }
                }
            }
        });
        thread::sleep(Duration::from_millis(20));
    }
    waiting.into_iter().map(|(s, _)| s).collect()
}

/// A whole refusal: 429 with a `Retry-After` header.
fn judge_refusal(reply: &[u8], tally: &mut Tally) {
    match status_of(reply) {
        Ok(429) => {
            tally.refused += 1;
            let text = String::from_utf8_lossy(reply).to_ascii_lowercase();
            let head = text.split("\r\n\r\n").next().unwrap_or("");
            if !head.contains("\r\nretry-after: ") {
                tally.without_retry_after += 1;
            }
        }
        status => tally.other.push(format!("unasked answer {status:?}")),
    }
}

/// `GET /healthz` on each held connection; how many answered 200.
fn ask_each(held: &[TcpStream]) -> usize {
    let mut served = 0;
    for mut stream in held {
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let mut buf = [0u8; 512];
        let asked = stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: faults\r\n\r\n")
            .and_then(|_| stream.read(&mut buf));
        if asked.is_ok_and(|n| status_of(&buf[..n]).is_ok_and(|s| s == 200)) {
            served += 1;
        }
    }
    served
}

/// Polls `GET /healthz` from [`CROWD`] on new connections until one is
/// answered 200; how long that took.
fn wait_admitted(addr: SocketAddr) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < FREED_WITHIN {
        let answered =
            Client::connect(CROWD, addr).and_then(|mut c| c.request("GET", "/healthz", ""));
        if answered.is_ok_and(|(status, _)| status == 200) {
            return Some(start.elapsed());
        }
        thread::sleep(Duration::from_millis(50));
    }
    None
}
