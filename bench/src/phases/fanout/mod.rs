//! Fan-out: N subscribers on one topic, one publisher at a fixed rate.
//!
//! ```text
//! 1. publisher connects (keep-alive)             RSS, threads: before
//! 2. N subscribers connect, ≤ 128 at a time       wait until RSS settles: after
//!                                                 → memory and threads per idle subscriber
//! 3. warm-up: "w0", "w1", … every 250 ms until every subscriber got one
//!    (a server may subscribe only after its head went out)
//! 4. window: "s{seq}:{nanos}" at 50 msg/s for the fan-out time, pipelined
//!    (a slow reply delays no later message), until every reply is in
//! 5. drain: until all delivered, or 1 s without progress, or 10 s
//! ```
//!
//! Latency is publish-send to subscriber-read, on one clock. Lost counts the
//! timed messages each connected subscriber should have had and did not
//! have by the end of the drain.
//!
//! The cluster phase (`../cluster.rs`) runs steps 1 and 3–5 the same way,
//! with its subscribers spread over three nodes.
//!
//! Files: `gather.rs` (steps 2–5: connect the crowd, warm it up, the timed
//! window, the tallies), `subscriber.rs` (one subscriber's task and tally),
//! `waits.rs` (settle, warm-up, drain), `summary.rs` (tallies to table values).

mod gather;
mod subscriber;
mod summary;
mod waits;

use std::time::Duration;

use super::{Outcome, Settings, Target, gone};
use crate::client::Transport;
use crate::client::publisher::Publisher;
use crate::proc;
use crate::stats::count;
use crate::table::{Format, Row};
pub use gather::gather;
pub use subscriber::{Crowd, Tally};
use summary::{Counts, Memory, summarize};
pub use summary::{Stages, deliveries, latency_ms};
use waits::{after_close, settle};

/// Longest the warm-up may take.
const WARM_UP_LIMIT: Duration = Duration::from_secs(15);
/// Longest the drain may take after the last publish.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);
/// Idle memory is reported from this many subscribers up (fewer is noise).
const IDLE_FROM: usize = 1000;
/// The RSS once every subscriber closed is reported from this many up.
const CLOSED_FROM: usize = 10_000;

/// A fan-out row's key: `fanout-ws-1000-latency`.
fn key(t: Transport, n: usize, what: &str) -> String {
    format!("fanout-{}-{n}-{what}", t.label().to_lowercase())
}

/// The rows this phase fills.
pub fn rows(t: Transport, n: usize, rate: u32) -> Vec<Row> {
    let (tr, subs) = (t.label(), count(n));
    let section = if t == Transport::Sse { 1 } else { 2 };
    let row = |what: &str, label: String, format| Row::new(key(t, n, what), section, label, format);
    let mut rows = vec![
        row(
            "latency",
            format!("fan-out {tr}, {subs} subscribers, {rate} msg/s: delivery p50 / p99 / max, ms"),
            Format::Latency,
        ),
        row(
            "delivery",
            format!("fan-out {tr}, {subs}: delivered / lost / out of order"),
            Format::Delivery,
        ),
        row(
            "cpu",
            format!("fan-out {tr}, {subs}: server CPU per delivered message, µs"),
            Format::Tenths,
        ),
    ];
    if n >= IDLE_FROM {
        let label = format!("idle {tr} subscriber, {subs} open: memory and threads each");
        rows.push(Row::new(key(t, n, "idle"), 3, label, Format::PerConnection));
    }
    if n >= CLOSED_FROM {
        let label = format!("RSS once {subs} {tr} subscribers closed / before they came, MiB");
        rows.push(Row::new(key(t, n, "closed"), 3, label, Format::TenthsPair));
    }
    rows
}

/// Timed messages one rep publishes: its rate for the fan-out time.
pub fn timed_messages(s: &Settings) -> usize {
    (f64::from(s.rate) * s.fanout.as_secs_f64())
        .round()
        .max(1.0) as usize
}

/// Runs one rep of fan-out to `n` subscribers over `transport`.
pub async fn run(
    t: Target,
    transport: Transport,
    n: usize,
    s: &Settings,
    tag: &str,
) -> Result<Outcome, String> {
    let messages = timed_messages(s);
    let mut stages = Stages::default();
    // The publisher connects first: a server at its connection cap then
    // refuses a subscriber, not the publisher.
    let mut publisher = Publisher::connect(t.addr)
        .await
        .map_err(|e| format!("publisher connect: {e}"))?;
    let before = proc::status(t.pid).map_err(gone)?;
    let crowd = Crowd::new(vec![t.addr], transport, format!("bench-{tag}"), messages);
    let mut gathered = gather(crowd, n).await?;
    stages.mark("connect");
    let idle = settle(t.pid).await.map_err(gone)?;
    stages.mark("settle");
    gathered.warm_up(&mut publisher).await?;
    stages.mark("warm-up");
    let timed = gathered.timed(publisher, &[t.pid], s, &mut stages).await?;
    let connected = timed.connected;
    let closed = if n >= CLOSED_FROM {
        let after = after_close(t.pid, before.threads).await.map_err(gone)?;
        stages.mark("memory back");
        Some([mib(after.rss_kib), mib(before.rss_kib)])
    } else {
        None
    };
    let memory = Memory {
        per_idle: [
            idle.rss_kib.saturating_sub(before.rss_kib) as f64 / connected as f64,
            idle.threads.saturating_sub(before.threads) as f64 / connected as f64,
        ],
        closed,
    };
    let counts = Counts {
        n,
        connected,
        messages,
    };
    let mut outcome = summarize(
        transport,
        counts,
        timed.tallies,
        timed.measured,
        memory,
        timed.notes,
        timed.window_notes,
    )?;
    outcome.detail = Some(stages.to_string());
    Ok(outcome)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
