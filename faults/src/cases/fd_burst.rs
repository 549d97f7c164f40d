//! A burst past the open-files limit: the server under
//! `prlimit --nofile=512:512`, 2,000 connections opened at once.
//!
//! ```text
//! 127.0.0.100…107 (250 each), 16 connecting threads
//!   over the cap (512 − 32 reserved = 480):  HTTP/1.1 503 … Retry-After, close
//!   admitted: GET /healthz → 200 (kept open)
//!   neither: still in the listen backlog, no answer yet (open, waiting)
//! all closed → GET /healthz → 200; subscribe, publish, receive
//! ```
//!
//! Must hold: each connection is served (200), refused with 503, or held
//! open unanswered (backlog) — no reset and no other status; the process
//! lives; once the burst is closed, /healthz answers 200 and a message
//! published reaches a new subscriber. While the burst is held, a probe
//! may get 503 (a new connection competes for the same places); each answer
//! still within the probes' bounds.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use super::{Ctx, Outcome, Watch};
use crate::http::{Client, connect_from, reset, source, status_of};
use crate::procfs;
use crate::report::Row;
use crate::subscribe::{self, Item, Transport};

const CONNECTIONS: usize = 2000;
const PER_SOURCE: usize = 250;
const CONNECTORS: usize = 16;
const NOFILE: u64 = 512;

/// The server's RSS stays under this (about twice what was measured).
const RSS_BOUND_MIB: u64 = 64;

const MUST_HOLD: &str = "server under nofile 512:512, 2,000 connections at once: each 200, 503 or held \
    in the backlog (no reset); process lives; after the burst /healthz 200 and publish → subscriber works; \
    a 503 to a probe allowed during the burst; threads back to baseline";

/// How one connection of the burst fared.
#[derive(Default, Debug)]
struct Tally {
    served: usize,
    refused: usize,
    held: usize,
    connect_failed: usize,
    other: Vec<String>,
    /// How long the accept queue took to empty after the burst (`None`:
    /// not within 3 s, or no listener found).
    drained: Option<Duration>,
}

/// Runs the case.
pub fn run(ctx: &Ctx) -> Row {
    let started = Instant::now();
    let mut spec = ctx.spec.with(&[]);
    spec.nofile = Some(NOFILE);
    let mut server = match super::start(&spec, "fd-burst", started) {
        Ok(s) => s,
        Err(row) => return *row,
    };
    let watch = Watch::start(&server, RSS_BOUND_MIB);
    watch.probe().allow_503(true);
    let mut out = Outcome::default();
    let mut tally = Tally::default();
    let burst = open_burst(server.addr, &mut tally);
    let burst_secs = started.elapsed().as_secs_f64();
    let pending = take_refusals(server.addr, burst, &mut tally);
    let held = ask_healthz(pending, &mut tally);
    out.figure(format!(
        "{CONNECTIONS} opened in {burst_secs:.1} s: {} served 200, {} refused 503, {} held in the backlog, \
         {} connects timed out, {} other; {} \"accept failed\" warnings; accept queue empty {}",
        tally.served,
        tally.refused,
        tally.held,
        tally.connect_failed,
        tally.other.len(),
        server.count_log("accept failed"),
        tally
            .drained
            .map_or("not within 3 s".into(), |d| format!("{} ms after", d.as_millis()))
    ));
    out.require(
        tally.other.is_empty(),
        format!("unexpected: {:?}", tally.other.first()),
    );
    out.require(tally.served > 0, "no connection served during the burst");
    held.into_iter().for_each(reset);
    watch.probe().allow_503(false);
    out.require(
        !server.exited(),
        format!("the server died: {}", server.tail()),
    );
    match round_trip(server.addr) {
        Ok(took) => out.figure(format!(
            "after: publish → subscriber in {} ms",
            took.as_millis()
        )),
        Err(e) => out.fail(format!("after the burst: {e}")),
    }
    watch.finish(&mut out, Duration::from_secs(15));
    out.row("fd-burst", MUST_HOLD, started)
}

/// Opens the burst from [`CONNECTORS`] threads at once, sending nothing yet.
fn open_burst(addr: SocketAddr, tally: &mut Tally) -> Vec<TcpStream> {
    let each = CONNECTIONS / CONNECTORS;
    let connectors: Vec<_> = (0..CONNECTORS)
        .map(|c| {
            thread::spawn(move || {
                (c * each..(c + 1) * each)
                    .map(|i| connect_from(source(100, i, PER_SOURCE), addr, None))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut open = Vec::new();
    for connector in connectors {
        for result in connector.join().unwrap_or_default() {
            match result {
                Ok(s) => open.push(s),
                Err(_) => tally.connect_failed += 1,
            }
        }
    }
    open
}

/// Reads what came unasked (the 503s) once the accept queue is empty, or
/// after 3 s if it never is (connections held there: the open-files limit
/// stops `accept`); returns the rest. The accept thread writes each 503
/// before it accepts again; one it is still writing is read later, when
/// asked.
fn take_refusals(addr: SocketAddr, burst: Vec<TcpStream>, tally: &mut Tally) -> Vec<TcpStream> {
    let (start, end) = (Instant::now(), Instant::now() + Duration::from_secs(3));
    while Instant::now() < end {
        if procfs::accept_queue(addr.port()) == Some(0) {
            tally.drained = Some(start.elapsed());
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let mut pending = Vec::new();
    let mut buf = [0u8; 512];
    for mut stream in burst {
        let _ = stream.set_nonblocking(true);
        match stream.read(&mut buf) {
            Ok(0) => tally.other.push("closed without an answer".into()),
            Ok(n) => match status_of(&buf[..n]) {
                Ok(503) => tally.refused += 1,
                status => tally.other.push(format!("unasked answer {status:?}")),
            },
            Err(e) if e.kind() == ErrorKind::WouldBlock => pending.push(stream),
            Err(e) => tally.other.push(format!("before asking: {e}")),
        }
    }
    pending
}

/// Sends `GET /healthz` on each connection still waiting and reads for 3 s;
/// returns the connections, kept open until the tally is made.
fn ask_healthz(pending: Vec<TcpStream>, tally: &mut Tally) -> Vec<TcpStream> {
    let request = b"GET /healthz HTTP/1.1\r\nHost: faults\r\n\r\n";
    let mut waiting: Vec<(TcpStream, bool)> = pending
        .into_iter()
        .map(|mut s| {
            let sent = s.write_all(request).is_ok();
            (s, sent)
        })
        .collect();
    let end = Instant::now() + Duration::from_secs(3);
    let mut answered = vec![false; waiting.len()];
    let mut buf = [0u8; 512];
    while Instant::now() < end && answered.iter().any(|a| !a) {
        for (i, (stream, sent)) in waiting.iter_mut().enumerate() {
            if answered[i] || !*sent {
                continue;
            }
            match stream.read(&mut buf) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                Ok(n) if n > 0 => match status_of(&buf[..n]) {
                    Ok(200) => tally.served += 1,
                    Ok(503) => tally.refused += 1,
                    status => tally.other.push(format!("answer {status:?}")),
                },
                Ok(_) => tally.other.push("closed after the request".into()),
                Err(e) => tally.other.push(format!("after the request: {e}")),
            }
            answered[i] = true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    tally.held += answered.iter().filter(|a| !**a).count();
    tally.other.extend(
        waiting
            .iter()
            .filter(|w| !w.1)
            .map(|_| "request not sent".to_string()),
    );
    waiting.drain(..).map(|(s, _)| s).collect()
}

/// `/healthz` on a fresh connection, then a subscriber gets a message
/// published after it joined; the time that took.
fn round_trip(addr: SocketAddr) -> Result<Duration, String> {
    let start = Instant::now();
    let mut client = Client::connect([127, 0, 0, 1], addr).map_err(|e| e.to_string())?;
    let (status, _) = client
        .request("GET", "/healthz", "")
        .map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("/healthz answered {status}"));
    }
    let timeout = Duration::from_secs(5);
    let mut feed = subscribe::open(addr, [127, 0, 0, 1], Transport::Sse, "after", "", timeout)
        .map_err(|e| format!("subscribe: {e}"))?;
    let id = client
        .publish("after", "still here")
        .map_err(|e| e.to_string())?;
    loop {
        match feed.next().map_err(|e| format!("receive: {e}"))? {
            Item::Message(got, text) if got == id && text == "still here" => {
                return Ok(start.elapsed());
            }
            Item::Other => {}
            other => return Err(format!("subscriber got {other:?}")),
        }
    }
}
