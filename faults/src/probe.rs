//! The health probe every case runs: `GET /healthz` every 50 ms, each on a
//! fresh connection (so a stalled accept loop shows, not only a live
//! keep-alive thread), from 127.0.0.254 (outside every case's addresses).
//!
//! ```text
//! probe ──connect──► GET /healthz HTTP/1.1 … Connection: close
//!       ◄── HTTP/1.1 200 OK … ok          latency = connect → last byte
//! ```
//!
//! Must hold in every case: each answer within 100 ms. A case may also accept
//! 503 while it holds the server at its connection cap on purpose
//! ([`Probe::allow_503`]); every other status, or no answer in 2 s, is a miss.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::http::{connect_from, status_of};

/// How often the probe asks.
const EVERY: Duration = Duration::from_millis(50);
/// The bound every answer must meet.
pub const BOUND: Duration = Duration::from_millis(100);
/// Longest we wait for one answer before counting it as a miss.
const GIVE_UP: Duration = Duration::from_secs(2);

/// A running probe.
pub struct Probe {
    stop: Arc<AtomicBool>,
    allow_503: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    handle: Option<thread::JoinHandle<()>>,
}

#[derive(Default)]
struct Seen {
    /// Each answer's time, and when (since the probe started) it was asked.
    latencies: Vec<(Duration, Duration)>,
    connects: Vec<Duration>,
    refused: usize,
    misses: Vec<String>,
}

/// What the probe saw.
#[derive(Debug)]
pub struct Health {
    /// Answers (200, or 503 where allowed).
    pub answers: usize,
    /// Of those, 503s.
    pub refused: usize,
    /// Slowest answer.
    pub max: Duration,
    /// When the slowest was asked, since the probe started.
    pub max_at: Duration,
    /// Answers slower than [`BOUND`].
    pub over: usize,
    /// 99th percentile answer time.
    pub p99: Duration,
    /// Slowest connect (the kernel's part: SYN, SYN-ACK, ACK).
    pub max_connect: Duration,
    /// Slowest time the server's access log gave a probe (from the request
    /// head read to the answer written), ms; filled in by the caller.
    pub server_ms: u64,
    /// Errors, other statuses and timeouts, described.
    pub misses: Vec<String>,
}

impl Health {
    /// Every answer in time and no misses.
    pub fn ok(&self) -> bool {
        self.misses.is_empty() && self.max <= BOUND && self.answers > 0
    }

    /// `healthz 412× max 31 ms p99 9 ms`.
    pub fn figures(&self) -> String {
        let mut s = format!(
            "healthz {}× max {} ms (at +{:.1} s) p99 {} ms, {} over 100 ms (slowest connect {} ms, slowest in the server's log {} ms)",
            self.answers,
            self.max.as_millis(),
            self.max_at.as_secs_f64(),
            self.p99.as_millis(),
            self.over,
            self.max_connect.as_millis(),
            self.server_ms
        );
        if self.refused > 0 {
            s += &format!(" ({} of them 503)", self.refused);
        }
        if let Some(first) = self.misses.first() {
            s += &format!("; {} misses, first: {first}", self.misses.len());
        }
        s
    }
}

impl Probe {
    /// Starts probing `addr`.
    pub fn start(addr: SocketAddr) -> Probe {
        let stop = Arc::new(AtomicBool::new(false));
        let allow_503 = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (s, a, w) = (stop.clone(), allow_503.clone(), seen.clone());
        let handle = thread::Builder::new()
            .name("probe".into())
            .spawn(move || run(addr, &s, &a, &w))
            .expect("spawn the probe");
        Probe {
            stop,
            allow_503,
            seen,
            handle: Some(handle),
        }
    }

    /// Whether a 503 counts as an answer from now on.
    pub fn allow_503(&self, allow: bool) {
        self.allow_503.store(allow, Ordering::Relaxed);
    }

    /// Stops and sums up.
    pub fn finish(mut self) -> Health {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        let seen = std::mem::take(&mut *self.seen.lock().expect("probe lock"));
        let mut sorted: Vec<Duration> = seen.latencies.iter().map(|l| l.0).collect();
        sorted.sort();
        let slowest = seen.latencies.iter().max().copied().unwrap_or_default();
        let p99 = sorted
            .get((sorted.len() * 99 / 100).min(sorted.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default();
        Health {
            answers: sorted.len(),
            refused: seen.refused,
            max: slowest.0,
            max_at: slowest.1,
            over: sorted.iter().filter(|&&l| l > BOUND).count(),
            p99,
            max_connect: seen.connects.iter().max().copied().unwrap_or_default(),
            server_ms: 0,
            misses: seen.misses,
        }
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn run(addr: SocketAddr, stop: &AtomicBool, allow_503: &AtomicBool, seen: &Mutex<Seen>) {
    let began = Instant::now();
    let mut next = began;
    // At least one probe, however short the case.
    loop {
        let start = Instant::now();
        let outcome = ask(addr);
        let took = start.elapsed();
        let mut seen = seen.lock().expect("probe lock");
        if let Ok((_, connect)) = outcome {
            seen.connects.push(connect);
        }
        match outcome.map(|(status, _)| status) {
            Ok(200) => seen.latencies.push((took, start - began)),
            Ok(503) if allow_503.load(Ordering::Relaxed) => {
                seen.latencies.push((took, start - began));
                seen.refused += 1;
            }
            Ok(status) => seen.misses.push(format!("status {status}")),
            Err(e) => seen
                .misses
                .push(format!("{e} after {} ms", took.as_millis())),
        }
        drop(seen);
        if stop.load(Ordering::Relaxed) {
            break;
        }
        next += EVERY;
        let now = Instant::now();
        if next < now {
            next = now;
        }
        thread::sleep(next - now);
    }
}

/// One `GET /healthz` on a fresh connection: its status, and how long the
/// connect took.
fn ask(addr: SocketAddr) -> std::io::Result<(u16, Duration)> {
    let start = Instant::now();
    let mut stream = connect_from([127, 0, 0, 254], addr, None)?;
    let connect = start.elapsed();
    stream.set_read_timeout(Some(GIVE_UP))?;
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: faults\r\nConnection: close\r\n\r\n")?;
    let mut reply = Vec::new();
    // Read to the end: the server closes after the answer (Connection: close).
    stream.read_to_end(&mut reply)?;
    Ok((status_of(&reply)?, connect))
}
