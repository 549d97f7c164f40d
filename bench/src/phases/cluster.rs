//! Fan-out and publishing across three tinypush nodes that share topics
//! through one Redis (phase `fanout-cluster`; tinypush alone, started by
//! `deploy.rs` with `--redis`):
//!
//! ```text
//! POST node1:/topics/bench-fanout-cluster-r0  "s42:1250000000"
//!   node 1 → Redis   EVALSHA publish.lua: INCR the topic's id, XADD, PUBLISH tinypush:messages
//!   Redis → nodes 1, 2, 3 (one SUBSCRIBE each) → their 334 / 333 / 333 SSE subscribers:
//!   id: 46\ndata: s42:1250000000\n\n          (the same id on every node)
//! ```
//!
//! 1. Fan-out, with the machinery of `fanout/`: 1,000 SSE subscribers,
//!    subscriber i on node i % 3; one publisher on node 1 at the set rate;
//!    warm-up, the timed window, drain. CPU is read for each process: per
//!    delivered message, the three nodes summed, then Redis on its own.
//! 2. Publishing, as in `publish.rs`: 16 keep-alive publishers, publisher i
//!    on node i % 3, on a topic no one subscribes to (every node still hears
//!    and keeps each message), for the publish window. Meanwhile each node's
//!    `/metrics` is read every 100 ms for its last publish's Redis round trip:
//!
//!    ```text
//!    GET /metrics → 200 …\ntinypush_redis_rtt_seconds 0.000231\n…
//!    ```
//!
//!    The row gives the median of those samples, beside the whole publish
//!    round trip the publishers saw (16 × window / publishes answered).
//!
//! Left out: publishers on several nodes during fan-out (two connections
//! would race to Redis, and the bodies' numbers could leave the ids' order).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Instant, interval_at, timeout};

use super::fanout::{self, Crowd, Stages, Tally, deliveries, latency_ms};
use super::publish::{self, gauge};
use super::{Outcome, Settings, Targets};
use crate::client::Transport;
use crate::client::http::get_body;
use crate::client::publisher::Publisher;
use crate::deploy::NODES;
use crate::proc::Measured;
use crate::stats::{count, median};
use crate::table::{Format, Row, Value};

/// Subscribers over all nodes.
pub const SUBSCRIBERS: usize = 1000;
/// Publishers of the publishing window, spread over the nodes.
const PUBLISHERS: usize = 16;
/// How often each node's `/metrics` is read while publishing.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// A node's Redis round trip of its last publish.
const RTT: &str = "tinypush_redis_rtt_seconds";

/// How footnotes name the phase.
pub fn label() -> String {
    format!("fan-out across {NODES} nodes (Redis)")
}

/// The rows this phase fills.
pub fn rows(rate: u32) -> Vec<Row> {
    let (fan, subs, n) = (label(), count(SUBSCRIBERS), NODES);
    let row = |key: &str, label: String, format| Row::new(key, 6, label, format);
    vec![
        row(
            "cluster-latency",
            format!("{fan}, {subs} SSE subscribers, {rate} msg/s: delivery p50 / p99 / max, ms"),
            Format::Latency,
        ),
        row(
            "cluster-delivery",
            format!("{fan}, {subs} SSE: delivered / lost / out of order"),
            Format::Delivery,
        ),
        row(
            "cluster-cpu",
            format!("{fan}, {subs} SSE: server CPU per delivered message, µs ({n} nodes / Redis)"),
            Format::TenthsPair,
        ),
        row(
            "cluster-publish",
            format!(
                "publishes/s through Redis, {PUBLISHERS} keep-alive publishers over {n} nodes, 64 B"
            ),
            Format::Whole,
        ),
        row(
            "cluster-publish-cpu",
            format!("server CPU per publish through Redis, µs ({n} nodes / Redis)"),
            Format::TenthsPair,
        ),
        row(
            "cluster-rtt",
            format!("Redis round trip per publish / whole publish, µs ({PUBLISHERS} publishers)"),
            Format::TenthsPair,
        ),
    ]
}

/// Runs one rep: fan-out, then publishing.
///
/// # Errors
/// No Redis was started, or either part could not finish.
pub async fn run(t: &Targets, s: &Settings, tag: &str) -> Result<Outcome, String> {
    let redis = t.redis.ok_or("no redis-server was started")?;
    let nodes: Vec<SocketAddr> = t.nodes.iter().map(|n| n.addr).collect();
    // Nodes first, Redis last: `split` below counts on that order.
    let pids: Vec<u32> = t.nodes.iter().map(|n| n.pid).chain([redis.pid]).collect();
    let mut stages = Stages::default();
    let (mut outcome, by_node) = fan_out(&nodes, &pids, s, tag, &mut stages).await?;
    let (values, rtts) = publishing(&nodes, &pids, s, tag).await?;
    stages.mark("publishing");
    outcome.values.extend(values);
    outcome.detail = Some(format!(
        "{stages}; {by_node}; {rtts} Redis round trips sampled"
    ));
    Ok(outcome)
}

/// The fan-out part: its values and notes, and for the progress line each
/// node's p99 and how many subscribers' ids were checked.
async fn fan_out(
    nodes: &[SocketAddr],
    pids: &[u32],
    s: &Settings,
    tag: &str,
    stages: &mut Stages,
) -> Result<(Outcome, String), String> {
    let messages = fanout::timed_messages(s);
    let mut publisher = Publisher::connect(nodes[0])
        .await
        .map_err(|e| format!("publisher connect: {e}"))?;
    let crowd = Crowd::new(
        nodes.to_vec(),
        Transport::Sse,
        format!("bench-{tag}"),
        messages,
    );
    let mut gathered = fanout::gather(crowd, SUBSCRIBERS).await?;
    stages.mark("connect");
    gathered.warm_up(&mut publisher).await?;
    stages.mark("warm-up");
    let mut timed = gathered.timed(publisher, pids, s, stages).await?;
    let (connected, tallies) = (timed.connected, &timed.tallies);
    let got = deliveries(
        tallies,
        connected,
        messages,
        &timed.notes,
        &mut timed.window_notes,
    )?;
    let (p99s, losses) = by_node(tallies, messages);
    timed.window_notes.extend(losses);
    let [nodes_us, redis_us] = split(&timed.measured);
    let delivered = got.delivered as f64;
    let idle = Some(timed.measured.idle);
    let values = vec![
        value("cluster-latency", got.latency_ms.to_vec(), idle),
        value("cluster-delivery", got.counts(), idle),
        value(
            "cluster-cpu",
            vec![nodes_us / delivered, redis_us / delivered],
            idle,
        ),
    ];
    let outcome = Outcome {
        values,
        notes: timed.notes,
        window_notes: timed.window_notes,
        detail: None,
    };
    let with_ids = tallies.iter().filter(|t| t.id_gap.is_some()).count();
    let said = format!("p99 by node {p99s} ms; ids checked on {with_ids} subscribers");
    Ok((outcome, said))
}

/// The publishing part: its values, and how many round trips were sampled.
async fn publishing(
    nodes: &[SocketAddr],
    pids: &[u32],
    s: &Settings,
    tag: &str,
) -> Result<(Vec<Value>, usize), String> {
    let topic = format!("bench-{tag}-publish");
    let (stop, stopped) = watch::channel(false);
    let sampling = tokio::spawn(sample_rtts(nodes.to_vec(), stopped));
    let published = publish::window(nodes, pids, PUBLISHERS, &topic, s.publish).await;
    let _ = stop.send(true);
    let rtts = sampling.await.unwrap_or_default();
    let (published, measured) = published?;
    if published == 0 {
        return Err("no publish through Redis succeeded".into());
    }
    let n = published as f64;
    let [nodes_us, redis_us] = split(&measured);
    let whole_us = PUBLISHERS as f64 * measured.secs * 1e6 / n;
    let idle = Some(measured.idle);
    let values = vec![
        value("cluster-publish", vec![n / measured.secs], idle),
        value(
            "cluster-publish-cpu",
            vec![nodes_us / n, redis_us / n],
            idle,
        ),
        value(
            "cluster-rtt",
            vec![median(&rtts).unwrap_or(f64::NAN), whole_us],
            idle,
        ),
    ];
    Ok((values, rtts.len()))
}

/// Reads every node's [`RTT`] gauge each [`SAMPLE_EVERY`] until `stop`,
/// first one period in (publishing has begun by then); the samples, µs.
/// A node that has not published yet says 0: not a sample.
async fn sample_rtts(nodes: Vec<SocketAddr>, mut stop: watch::Receiver<bool>) -> Vec<f64> {
    let mut samples = Vec::new();
    let mut ticks = interval_at(Instant::now() + SAMPLE_EVERY, SAMPLE_EVERY);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = ticks.tick() => {}
        }
        for &node in &nodes {
            let Ok(Ok(page)) = timeout(SAMPLE_EVERY * 10, get_body(node, "/metrics")).await else {
                continue;
            };
            if let Some(rtt) = gauge(&page, RTT).filter(|&rtt| rtt > 0.0) {
                samples.push(rtt * 1e6);
            }
        }
    }
    samples
}

/// Each node's p99 delivery time (`2.10 / 2.31 / 2.28`), and a note for
/// each node whose subscribers missed timed messages.
fn by_node(tallies: &[Tally], messages: usize) -> (String, Vec<String>) {
    let (mut p99s, mut losses) = (Vec::new(), Vec::new());
    for node in 0..NODES {
        let on: Vec<&Tally> = tallies.iter().filter(|t| t.node == node).collect();
        let p99 =
            latency_ms(on.iter().copied()).map_or("–".into(), |[_, p99, _]| format!("{p99:.2}"));
        p99s.push(p99);
        let expected = (on.iter().filter(|t| t.connected).count() * messages) as u64;
        let delivered: u64 = on.iter().map(|t| t.delivered).sum();
        if delivered < expected {
            losses.push(format!(
                "node {}: {} of {} timed deliveries lost",
                node + 1,
                count((expected - delivered) as usize),
                count(expected as usize)
            ));
        }
    }
    (p99s.join(" / "), losses)
}

/// CPU over a window: the nodes summed, then Redis (the last process).
fn split(measured: &Measured) -> [f64; 2] {
    let (redis, nodes) = measured
        .each_us
        .split_last()
        .expect("a cluster window measures its nodes and Redis");
    [nodes.iter().sum(), *redis]
}

fn value(key: &str, nums: Vec<f64>, idle: Option<f64>) -> Value {
    Value {
        key: key.into(),
        nums,
        idle,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_are_named_by_node() {
        let tally = |node, delivered| Tally {
            node,
            connected: true,
            delivered,
            latencies_us: vec![2000; delivered as usize],
            ..Tally::default()
        };
        let tallies = [tally(0, 3), tally(1, 2), tally(2, 3), tally(1, 3)];
        let (p99s, losses) = by_node(&tallies, 3);
        assert_eq!(p99s, "2.00 / 2.00 / 2.00");
        assert_eq!(losses, ["node 2: 1 of 6 timed deliveries lost"]);
    }
}
