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
//! Files: `subscriber.rs` (one subscriber's task and tally), `waits.rs`
//! (settle, warm-up, drain), `summary.rs` (tallies to table values).

mod subscriber;
mod summary;
mod waits;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::{Outcome, Settings, Target, gone};
use crate::client::Transport;
use crate::client::publisher::Publisher;
use crate::clock::now_nanos;
use crate::proc::{self, Window};
use crate::stats::count;
use crate::table::{Format, Row};
use subscriber::{Crowd, Tally};
use summary::{Counts, Memory, Stages, summarize};
use waits::{after_close, drain, settle, warm_up};

/// Subscriber connects in flight at once.
const CONNECTING: usize = 128;
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

/// Runs one rep of fan-out to `n` subscribers over `transport`.
pub async fn run(
    t: Target,
    transport: Transport,
    n: usize,
    s: &Settings,
    tag: &str,
) -> Result<Outcome, String> {
    let messages = (f64::from(s.rate) * s.fanout.as_secs_f64())
        .round()
        .max(1.0) as usize;
    let crowd = Arc::new(Crowd::new(
        t.addr,
        transport,
        format!("bench-{tag}"),
        messages,
        CONNECTING,
    ));
    let mut stages = Stages::default();
    // The publisher connects first: a server at its connection cap then
    // refuses a subscriber, not the publisher.
    let mut publisher = Publisher::connect(t.addr)
        .await
        .map_err(|e| format!("publisher connect: {e}"))?;
    let before = proc::status(t.pid).map_err(gone)?;
    let (stop, stopped) = watch::channel(false);
    let (tasks, connected, refused) = connect_all(&crowd, n, stopped).await;
    stages.mark("connect");
    let mut notes = shortfall(connected, n, refused)?;
    let idle = settle(t.pid).await.map_err(gone)?;
    stages.mark("settle");
    notes.extend(warm_up(&mut publisher, &crowd, connected).await?);
    stages.mark("warm-up");
    let window = Window::open(t.pid).map_err(gone)?;
    let stamp = |seq| format!("s{seq}:{}", now_nanos()).into_bytes();
    let paced = publisher
        .publish_paced(&crowd.topic, messages, s.rate, stamp)
        .await;
    paced.map_err(|e| format!("publishing: {e}"))?;
    let answered = stages.mark("publish");
    let mut window_notes = Vec::new();
    if answered > s.fanout.mul_f64(1.5) {
        window_notes.push(format!(
            "fell behind: its {messages} publishes ({} s of sending) were all answered only after {:.1} s",
            s.fanout.as_secs(),
            answered.as_secs_f64()
        ));
    }
    drain(&crowd, (connected * messages) as u64).await;
    let measured = window.close().map_err(gone)?;
    stages.mark("drain");
    let _ = stop.send(true);
    let tallies = join(tasks).await;
    stages.mark("close");
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
        tallies,
        measured,
        memory,
        notes,
        window_notes,
    )?;
    outcome.detail = Some(stages.to_string());
    Ok(outcome)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// A note when fewer than `n` connected; an error when none did.
fn shortfall(connected: usize, n: usize, refused: Option<String>) -> Result<Vec<String>, String> {
    let why = refused.unwrap_or_else(|| "a subscriber task ended without a word".into());
    match connected {
        0 => Err(format!("no subscriber connected: {why}")),
        c if c < n => Ok(vec![format!(
            "only {} of {} subscribers connected: {why}",
            count(c),
            count(n)
        )]),
        _ => Ok(Vec::new()),
    }
}

/// Spawns `n` subscribers and waits until each has connected or failed.
/// Returns the tasks, how many connected, and the first refusal.
async fn connect_all(
    crowd: &Arc<Crowd>,
    n: usize,
    stop: watch::Receiver<bool>,
) -> (JoinSet<Tally>, usize, Option<String>) {
    let (ready, mut results) = mpsc::unbounded_channel();
    let mut tasks = JoinSet::new();
    for _ in 0..n {
        tasks.spawn(subscriber::run(
            Arc::clone(crowd),
            ready.clone(),
            stop.clone(),
        ));
    }
    drop(ready);
    let (mut connected, mut refused) = (0, None);
    // Ends after n answers, or early if a task died without answering.
    for _ in 0..n {
        match results.recv().await {
            Some(Ok(())) => connected += 1,
            Some(Err(e)) => {
                refused.get_or_insert(e);
            }
            None => break,
        }
    }
    (tasks, connected, refused)
}

/// Every subscriber's tally (a panicked task counts as an empty one).
async fn join(mut tasks: JoinSet<Tally>) -> Vec<Tally> {
    let mut tallies = Vec::with_capacity(tasks.len());
    while let Some(joined) = tasks.join_next().await {
        tallies.push(joined.unwrap_or_default());
    }
    tallies
}
