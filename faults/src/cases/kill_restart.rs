//! SIGKILL during publishing, then a restart on the same `--data-dir`.
//!
//! ```text
//! 16 publishers, keep-alive:  POST /topics/durable  p3-17 → 200 {"id":N,…}   (acks kept)
//! after ≥ 1.5 s, ≥ 2,000 acks: kill -KILL                                     (mid-publish)
//! restart, same data dir:     GET /topics/durable/stream?since=0&poll=1      (the history)
//!                             POST /topics/durable  → the next id
//! three rounds; each restart's history is checked against every ack so far
//! ```
//!
//! Must hold: every acknowledged id is in the history after the restart,
//! with its body; no id was acknowledged twice; the history's ids are
//! consecutive; the first publish after the restart gets the id after the
//! last one kept. A message committed but not yet acknowledged when the
//! process died may be there too: that is allowed. The probe runs on both
//! processes; threads are checked on the restarted one.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::{Ctx, Outcome, Watch};
use crate::http::Client;
use crate::report::Row;
use crate::server::{Server, TempDir};
use crate::subscribe::{self, Item, Transport};

const PUBLISHERS: usize = 16;
const KILL_AFTER: usize = 2000;
/// Publishing goes on at least this long before each kill.
const PUBLISH_FOR: Duration = Duration::from_millis(1500);
const ROUNDS: usize = 3;
const TOPIC: &str = "durable";

/// The server's RSS stays under this (about twice what was measured).
const RSS_BOUND_MIB: u64 = 128;

const MUST_HOLD: &str = "16 publishers, SIGKILL after ≥ 1.5 s and ≥ 2,000 acks, restart on the same --data-dir, 3 rounds: \
    every acked id present with its body, none acked twice, ids consecutive, next id follows; \
    threads back to baseline after restart";

type Acks = Vec<(u64, String)>;

/// Runs the case.
pub fn run(ctx: &Ctx) -> Row {
    let started = Instant::now();
    let dir = TempDir::new("kill-restart");
    let spec = ctx.spec.with(&[
        "--data-dir",
        &dir.arg(),
        "--topic-history",
        "1000000",
        "--topic-history-bytes",
        "256MiB",
    ]);
    let mut out = Outcome::default();
    let mut server = match super::start(&spec, "kill-restart", started) {
        Ok(s) => s,
        Err(row) => return *row,
    };
    let mut acks = Acks::new();
    for round in 1..=ROUNDS {
        let watch = Watch::start(&server, RSS_BOUND_MIB);
        let (got, secs) = publish_then_kill(&mut server, watch, &mut out);
        acks.extend(got.iter().cloned());
        out.figure(format!(
            "round {round}: {} acked in {secs:.1} s, SIGKILL",
            got.len()
        ));
        // Fewer would leave the loss check below with little or nothing to check.
        out.require(
            got.len() >= KILL_AFTER,
            format!("round {round}: only {} acked before the kill", got.len()),
        );
        drop(server);
        server = match Server::start(&spec) {
            Ok(s) => s,
            Err(e) => {
                out.fail(format!("restart {round} failed: {e}"));
                return out.row("kill-restart", MUST_HOLD, started);
            }
        };
        if round < ROUNDS {
            check_history(&server, &acks, &mut out);
        }
    }
    // The last restart's history check runs under the watch: its threads
    // must go, and the probes answer meanwhile.
    let watch = Watch::start(&server, RSS_BOUND_MIB);
    check_history(&server, &acks, &mut out);
    watch.finish(&mut out, Duration::from_secs(10));
    out.row("kill-restart", MUST_HOLD, started)
}

/// Runs the publishers for at least [`PUBLISH_FOR`] and [`KILL_AFTER`]
/// acks, stops the probe, then SIGKILLs the server; the acks, and the
/// seconds it took.
fn publish_then_kill(server: &mut Server, watch: Watch, out: &mut Outcome) -> (Acks, f64) {
    let start = Instant::now();
    let acked = Arc::new(AtomicUsize::new(0));
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let (addr, acked) = (server.addr, Arc::clone(&acked));
            thread::spawn(move || publish_until_error(addr, p, &acked))
        })
        .collect();
    let end = start + Duration::from_secs(30);
    while (acked.load(Ordering::Relaxed) < KILL_AFTER || start.elapsed() < PUBLISH_FOR)
        && Instant::now() < end
    {
        thread::sleep(Duration::from_millis(5));
    }
    let secs = start.elapsed().as_secs_f64();
    watch.stop_probe(out);
    server.kill();
    let acks = publishers
        .into_iter()
        .flat_map(|p| p.join().unwrap_or_default())
        .collect();
    (acks, secs)
}

/// Publishes until the first failure (the kill); returns the acks.
fn publish_until_error(addr: SocketAddr, p: usize, acked: &AtomicUsize) -> Acks {
    let round = fastrand::u32(..);
    let Ok(mut client) = Client::connect([127, 0, 0, 1], addr) else {
        return Vec::new();
    };
    let mut acks = Vec::new();
    for i in 0.. {
        let body = format!("r{round}-p{p}-{i}");
        match client.publish(TOPIC, &body) {
            Ok(id) => acks.push((id, body)),
            Err(_) => break,
        }
        acked.fetch_add(1, Ordering::Relaxed);
    }
    acks
}

fn check_history(server: &Server, acks: &Acks, out: &mut Outcome) {
    let history = match read_history(server.addr) {
        Ok(h) => h,
        Err(e) => return out.fail(format!("reading the history: {e}")),
    };
    let distinct: HashSet<u64> = acks.iter().map(|a| a.0).collect();
    out.require(
        distinct.len() == acks.len(),
        format!("{} ids acked twice", acks.len() - distinct.len()),
    );
    let kept: HashMap<u64, &String> = history.iter().map(|(id, body)| (*id, body)).collect();
    let lost: Vec<_> = acks
        .iter()
        .filter(|(id, body)| kept.get(id) != Some(&body))
        .collect();
    out.require(
        lost.is_empty(),
        format!(
            "{} acked messages lost or changed, first {:?}",
            lost.len(),
            lost.first()
        ),
    );
    let holes = history.windows(2).filter(|w| w[1].0 != w[0].0 + 1).count();
    out.require(holes == 0, format!("{holes} breaks in the history's ids"));
    let last = history.last().map_or(0, |m| m.0);
    let next =
        Client::connect([127, 0, 0, 1], server.addr).and_then(|mut c| c.publish(TOPIC, "after"));
    let follows = match next {
        Ok(id) => {
            out.require(
                id == last + 1,
                format!("first id after the restart {id}, last kept {last}"),
            );
            if id == last + 1 {
                "follows"
            } else {
                "does NOT follow"
            }
        }
        Err(e) => {
            out.fail(format!("publish after the restart: {e}"));
            "failed"
        }
    };
    out.figure(format!(
        "after restart: {} in the history ({} more than acked: in flight at a kill, one publish after each restart), {} acked lost, {holes} id breaks, next id {follows}",
        history.len(),
        history.len().saturating_sub(acks.len()),
        lost.len(),
    ));
}

/// Every message of the topic, in the order the history gives them.
fn read_history(addr: SocketAddr) -> std::io::Result<Acks> {
    let timeout = Duration::from_secs(10);
    let mut feed = subscribe::open(
        addr,
        [127, 0, 0, 1],
        Transport::Ndjson,
        TOPIC,
        "since=0&poll=1",
        timeout,
    )?;
    let mut history = Vec::new();
    loop {
        match feed.next()? {
            Item::Message(id, body) => history.push((id, body)),
            Item::Dropped(_) => return Ok(history),
            Item::Gap | Item::Other => {}
        }
    }
}
