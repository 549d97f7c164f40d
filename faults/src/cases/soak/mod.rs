//! The soak: mixed load for `--soak` (10 minutes by default), RSS sampled
//! every second.
//!
//! ```text
//! 4 publishers      POST /topics/soak-{0..7}, 100 a second each, 64–512-byte bodies
//! 3 staying         SSE, NDJSON, WS on soak-0, the whole time
//! 6 churners        join/leave over SSE, NDJSON, WS with ?since=LAST (see churn.rs)
//! sampler           VmRSS every 1 s
//! ```
//!
//! Must hold: every publish acknowledged; every subscriber's ids follow one
//! by one (a gap event only where the history no longer reaches the
//! cursor); none dropped as too slow; after the warm-up (the first 20 % of
//! the samples, at least 40 s: the histories fill in 20 s), the
//! least-squares slope of RSS is under 1 MiB/min; RSS under 128 MiB
//! throughout; the /healthz probes hold; threads back to the baseline. The server keeps its history in a data dir, so the store is
//! part of the soak.

mod churn;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::{Ctx, Outcome, Watch};
use crate::http::Client;
use crate::procfs::Sampler;
use crate::report::Row;
use crate::server::TempDir;
use crate::subscribe::Transport;
use churn::{TOPICS, Tally};

const PUBLISHERS: usize = 4;
const RATE_EACH: u32 = 100;
const CHURNERS: u8 = 6;
const WARM_UP: f64 = 0.2;
/// The warm-up lasts at least this long: every topic's history (1,000
/// messages) is full after 8,000 / 400 a second = 20 s, and RSS grows until
/// then by design; twice that, for the store's cache to settle.
const MIN_WARM_UP_SECS: usize = 40;
const SLOPE_MIB_PER_MIN: f64 = 1.0;

/// The server's RSS stays under this (about twice what was measured).
const RSS_BOUND_MIB: u64 = 128;

const MUST_HOLD: &str = "4 publishers × 100/s over 8 topics, 3 staying + 6 churning SSE/NDJSON/WS subscribers \
    resuming with since=: every publish acked, ids one by one, none dropped; after the warm-up (20 %, ≥ 40 s) RSS slope \
    < 1 MiB/min; threads back to baseline";

/// Runs the case.
pub fn run(ctx: &Ctx) -> Row {
    let started = Instant::now();
    let dir = TempDir::new("soak");
    let spec = ctx.spec.with(&["--data-dir", &dir.arg()]);
    let server = match super::start(&spec, "soak", started) {
        Ok(s) => s,
        Err(row) => return *row,
    };
    let watch = Watch::start(&server, RSS_BOUND_MIB);
    let rss = Sampler::start(server.pid(), Duration::from_secs(1));
    let mut out = Outcome::default();
    let addr = server.addr;
    let (stop_subs, stop_pubs) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let acked = Arc::new(AtomicU64::new(0));
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let (stop, acked) = (Arc::clone(&stop_pubs), Arc::clone(&acked));
            thread::spawn(move || publish(addr, p, &stop, &acked))
        })
        .collect();
    let subscribers = start_subscribers(addr, &stop_subs);
    thread::sleep(ctx.soak);
    stop_subs.store(true, Ordering::Relaxed);
    let mut tally = Tally::default();
    subscribers
        .into_iter()
        .for_each(|s| tally.add(s.join().unwrap_or_default()));
    stop_pubs.store(true, Ordering::Relaxed);
    let publish_errors: Vec<String> = publishers
        .into_iter()
        .flat_map(|p| p.join().unwrap_or_default())
        .collect();
    let samples: Vec<u64> = rss.finish().iter().map(|s| s.0).collect();
    save_samples(&samples);
    report_load(
        acked.load(Ordering::Relaxed),
        &publish_errors,
        &tally,
        &mut out,
    );
    check_rss(&samples, &mut out);
    watch.finish(&mut out, Duration::from_secs(15));
    out.row("soak", MUST_HOLD, started)
}

/// The staying subscribers, one per transport, and the churners.
fn start_subscribers(addr: SocketAddr, stop: &Arc<AtomicBool>) -> Vec<thread::JoinHandle<Tally>> {
    let mut subscribers: Vec<_> = [Transport::Sse, Transport::Ndjson, Transport::Ws]
        .into_iter()
        .map(|t| {
            let stop = Arc::clone(stop);
            thread::spawn(move || churn::stay(addr, t, stop))
        })
        .collect();
    subscribers.extend((0..CHURNERS).map(|c| {
        let stop = Arc::clone(stop);
        thread::spawn(move || churn::churn(addr, 200 + c, stop))
    }));
    subscribers
}

/// Notes what publishers and subscribers saw; any error is a failure.
fn report_load(acked: u64, publish_errors: &[String], tally: &Tally, out: &mut Outcome) {
    out.figure(format!(
        "{} acked, {} publish errors; {} sessions, {} messages received, {} gaps, {} dropped, {} errors",
        acked,
        publish_errors.len(),
        tally.sessions,
        tally.messages,
        tally.gaps,
        tally.dropped,
        tally.errors.len()
    ));
    out.require(
        publish_errors.is_empty(),
        format!("publish: {:?}", publish_errors.first()),
    );
    out.require(
        tally.errors.is_empty(),
        format!("subscribers: {:?}", tally.errors.first()),
    );
}

/// Publishes at [`RATE_EACH`] a second to random topics until `stop`;
/// returns the errors (a failed publish is retried on a new connection).
fn publish(addr: SocketAddr, p: usize, stop: &AtomicBool, acked: &AtomicU64) -> Vec<String> {
    let mut errors = Vec::new();
    let mut client = None;
    let every = Duration::from_secs(1) / RATE_EACH;
    let mut next = Instant::now();
    for i in 0.. {
        if stop.load(Ordering::Relaxed) || errors.len() > 20 {
            break;
        }
        let topic = format!("soak-{}", fastrand::usize(..TOPICS));
        let body = format!("p{p}-{i}-{}", "x".repeat(fastrand::usize(64..=512)));
        let c = match client
            .take()
            .map_or_else(|| Client::connect([127, 0, 0, 1], addr), Ok)
        {
            Ok(c) => client.insert(c),
            Err(e) => {
                errors.push(format!("connect: {e}"));
                continue;
            }
        };
        match c.publish(&topic, &body) {
            Ok(_) => {
                acked.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                errors.push(format!("publisher {p}: {e}"));
                client = None;
            }
        }
        next += every;
        thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    errors
}

/// Keeps the samples in `faults/target/soak-rss.csv` (second, KiB), for a look.
fn save_samples(samples: &[u64]) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/target/soak-rss.csv");
    let text: String = samples
        .iter()
        .enumerate()
        .map(|(s, kib)| format!("{s},{kib}\n"))
        .collect();
    let _ = std::fs::write(path, format!("second,rss_kib\n{text}"));
}

/// The RSS rule: after the warm-up, slope and maximum.
fn check_rss(samples: &[u64], out: &mut Outcome) {
    let skip = ((samples.len() as f64 * WARM_UP) as usize).max(MIN_WARM_UP_SECS);
    let kept = &samples[skip.min(samples.len())..];
    let slope = slope_kib_per_sec(kept) * 60.0 / 1024.0;
    let max = samples.iter().max().copied().unwrap_or(0) / 1024;
    let (first, last) = (
        kept.first().copied().unwrap_or(0),
        kept.last().copied().unwrap_or(0),
    );
    out.figure(format!(
        "RSS {} samples: after warm-up {:.1} → {:.1} MiB, slope {slope:+.3} MiB/min, max {max} MiB",
        samples.len(),
        first as f64 / 1024.0,
        last as f64 / 1024.0
    ));
    out.require(
        kept.len() >= 10,
        format!("only {} RSS samples after the warm-up", kept.len()),
    );
    out.require(
        slope < SLOPE_MIB_PER_MIN,
        format!("RSS grows {slope:.3} MiB/min"),
    );
}

/// Least-squares slope of samples one second apart, KiB per second.
fn slope_kib_per_sec(samples: &[u64]) -> f64 {
    let n = samples.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mean_x = (n - 1.0) / 2.0;
    let mean_y = samples.iter().map(|&y| y as f64).sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for (x, &y) in samples.iter().enumerate() {
        let dx = x as f64 - mean_x;
        num += dx * (y as f64 - mean_y);
        den += dx * dx;
    }
    num / den
}
