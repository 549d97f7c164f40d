//! Slowloris: 2,000 connections at once, each sending a request head a
//! byte every 500 ms and never finishing it.
//!
//! ```text
//! 127.0.0.2…21 (100 each, under the per-address limit of 256)
//!   G … E … T … ␠ … / … H … (a byte every 500 ms, never the blank line)
//! server, --head-timeout 2s:  HTTP/1.1 408 Request Timeout, close   (or just close)
//! ```
//!
//! Must hold: every connection ends (408 or a close) within the head
//! timeout plus 2 s of its connect, the deadline being for the whole head,
//! not for each read (a byte now and then must not keep a thread forever);
//! no other status. One thread drives every socket, non-blocking.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::{Ctx, Outcome, Watch};
use crate::http::{connect_from, source, status_of};
use crate::report::Row;

const CONNECTIONS: usize = 2000;
const PER_SOURCE: usize = 100;
const HEAD_TIMEOUT: Duration = Duration::from_secs(2);
/// Past the head timeout, how late an end may come.
const SLACK: Duration = Duration::from_secs(2);
const DRIP_EVERY: Duration = Duration::from_millis(500);
/// The head dripped; after it, `a` forever (a header value that never ends).
const HEAD: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: faults\r\nX-Slow: ";

/// The server's RSS stays under this (about twice what was measured).
const RSS_BOUND_MIB: u64 = 128;

const MUST_HOLD: &str = "2,000 partial heads, a byte every 500 ms, from 20 addresses; --head-timeout 2s: \
    each gets 408 or a close within 2 s + 2 s of its connect; threads back to baseline";

/// How a connection ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Status(u16),
    Closed,
    Reset,
}

struct Loris {
    stream: TcpStream,
    opened: Instant,
    dripped: Instant,
    sent: usize,
    end: Option<(End, Duration)>,
}

/// Runs the case.
pub fn run(ctx: &Ctx) -> Row {
    let started = Instant::now();
    let spec = ctx.spec.with(&["--head-timeout", "2s"]);
    let server = match super::start(&spec, "slowloris", started) {
        Ok(s) => s,
        Err(row) => return *row,
    };
    let watch = Watch::start(&server, RSS_BOUND_MIB);
    let mut out = Outcome::default();
    let mut lorises = Vec::with_capacity(CONNECTIONS);
    let mut connect_errors = 0;
    for i in 0..CONNECTIONS {
        match open(source(2, i, PER_SOURCE), server.addr) {
            Ok(l) => lorises.push(l),
            Err(_) => connect_errors += 1,
        }
    }
    let opened_in = started.elapsed();
    drip_until_all_end(&mut lorises);
    judge(&lorises, connect_errors, opened_in, &mut out);
    drop(lorises);
    watch.finish(&mut out, Duration::from_secs(15));
    out.row("slowloris", MUST_HOLD, started)
}

fn open(from: [u8; 4], addr: std::net::SocketAddr) -> std::io::Result<Loris> {
    let mut stream = connect_from(from, addr, None)?;
    stream.write_all(&HEAD[..1])?;
    stream.set_nonblocking(true)?;
    let now = Instant::now();
    Ok(Loris {
        stream,
        opened: now,
        dripped: now,
        sent: 1,
        end: None,
    })
}

/// Every 50 ms: reads what each open socket has (a status, an end), and
/// drips a byte into those whose turn it is; until all ended or time is up.
fn drip_until_all_end(lorises: &mut [Loris]) {
    let give_up = Instant::now() + HEAD_TIMEOUT + SLACK + Duration::from_secs(8);
    let mut buf = [0u8; 512];
    while Instant::now() < give_up && lorises.iter().any(|l| l.end.is_none()) {
        for l in lorises.iter_mut().filter(|l| l.end.is_none()) {
            let end = match l.stream.read(&mut buf) {
                Ok(0) => Some(End::Closed),
                Ok(n) => Some(status_of(&buf[..n]).map_or(End::Status(0), End::Status)),
                Err(e) if e.kind() == ErrorKind::WouldBlock => drip(l),
                Err(_) => Some(End::Reset),
            };
            if let Some(end) = end {
                l.end = Some((end, l.opened.elapsed()));
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends the next byte when its turn has come; a failed write is an end.
fn drip(l: &mut Loris) -> Option<End> {
    if l.dripped.elapsed() < DRIP_EVERY {
        return None;
    }
    let byte = HEAD.get(l.sent).copied().unwrap_or(b'a');
    match l.stream.write(&[byte]) {
        Ok(_) => {
            l.sent += 1;
            l.dripped = Instant::now();
            None
        }
        Err(e) if e.kind() == ErrorKind::WouldBlock => None,
        Err(_) => Some(End::Reset),
    }
}

fn judge(lorises: &[Loris], connect_errors: usize, opened_in: Duration, out: &mut Outcome) {
    let count = |f: &dyn Fn(End) -> bool| {
        lorises
            .iter()
            .filter(|l| l.end.is_some_and(|(e, _)| f(e)))
            .count()
    };
    let timeouts = count(&|e| e == End::Status(408));
    let closed = count(&|e| e == End::Closed || e == End::Reset);
    let resets = count(&|e| e == End::Reset);
    let other = count(&|e| matches!(e, End::Status(s) if s != 408));
    let open = lorises.iter().filter(|l| l.end.is_none()).count();
    let times = lorises.iter().filter_map(|l| l.end.map(|(_, t)| t));
    let slowest = times.clone().max().unwrap_or_default();
    let fastest = times.min().unwrap_or_default();
    out.figure(format!(
        "{} opened in {:.1} s ({connect_errors} connect errors); {timeouts}× 408, {closed} closed ({resets} by RST), \
         {other} other, {open} still open; ended {:.2}–{:.2} s after connect",
        lorises.len(),
        opened_in.as_secs_f64(),
        fastest.as_secs_f64(),
        slowest.as_secs_f64()
    ));
    out.require(
        connect_errors == 0,
        format!("{connect_errors} connects failed"),
    );
    out.require(
        open == 0,
        format!("{open} still open after the head timeout"),
    );
    out.require(other == 0, format!("{other} answered with another status"));
    out.require(
        slowest <= HEAD_TIMEOUT + SLACK,
        format!("slowest ended {:.2} s after connect", slowest.as_secs_f64()),
    );
}
