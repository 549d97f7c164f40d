//! The measurements, one phase each, every one run against a freshly started
//! server and bounded in time:
//!
//! ```text
//! echo          WS echo, 64 B, 1 then 50 clients, each sending its next message
//!               when the last came back: round trips/s, server CPU per round trip
//! fanout        N subscribers (SSE or WS) on one topic, one publisher at 50 msg/s:
//!               delivery latency, delivered/lost/out of order, server CPU per
//!               delivered message; before publishing, memory and threads per idle subscriber
//! stream        one SSE subscriber, 64 KiB messages back to back: MB/s
//! publish       1, then 16 keep-alive publishers, no subscribers: publishes/s,
//!               server CPU per publish
//! publish-durable
//!               the same, tinypush alone started with --data-dir (the peers keep
//!               history in memory); also publishes per fsync
//! fanout-cluster
//!               three tinypush nodes sharing topics through one redis-server
//!               (tinypush alone): 1,000 SSE subscribers spread over the nodes,
//!               one publisher on node 1 at 50 msg/s; then 16 publishers over the
//!               nodes: publishes/s through Redis; CPU of nodes and Redis apart
//! connects      1,000 connects at once: the kernel's listen-queue overflows
//! ```
//!
//! A phase returns its [`Value`]s and notes, or why it could not finish.
//! `--only publish` runs both publish phases (names match by prefix), so the
//! durable rows sit beside the in-memory ones of the same run; `--only fanout`
//! runs the cluster phase too, `--only fanout-sse` does not.

mod cluster;
mod connects;
mod echo;
mod fanout;
mod publish;
mod stream;

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::sleep_until;

use crate::client::Transport;
use crate::proc::{Measured, Window};
use crate::stats::count;
use crate::table::{Row, Value};

pub use publish::Storage;

/// The server a phase measures.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its process, for `/proc`.
    pub pid: u32,
}

/// What one rep of a phase measures: the server, or a cluster's nodes and
/// its Redis.
#[derive(Debug, Clone)]
pub struct Targets {
    /// The server, or the nodes (node 1 first).
    pub nodes: Vec<Target>,
    /// The cluster's `redis-server`.
    pub redis: Option<Target>,
}

impl Targets {
    /// The server (a cluster's node 1).
    fn first(&self) -> Target {
        self.nodes[0]
    }
}

/// What a phase needs started for each rep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// The server's usual command; every server.
    Alone,
    /// tinypush alone, with `--data-dir` and an empty folder.
    DataDir,
    /// tinypush alone, as three nodes with `--redis`, and their Redis.
    Cluster,
}

/// How long each phase measures.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Fan-out messages per second.
    pub rate: u32,
    /// Fan-out publishing time.
    pub fanout: Duration,
    /// Each echo measurement (1 client, then 50).
    pub echo: Duration,
    /// Each publish measurement (1 publisher, then 16).
    pub publish: Duration,
    /// The stream measurement.
    pub stream: Duration,
}

/// What a phase measured in one rep.
#[derive(Debug, Default)]
pub struct Outcome {
    /// One value per row it fills.
    pub values: Vec<Value>,
    /// What the reader should know about every row of this rep (fewer
    /// subscribers than asked, …): a footnote each.
    pub notes: Vec<String>,
    /// The same, for the rows measured over a window only (those whose
    /// value has an idle share): a server that fell behind, ….
    pub window_notes: Vec<String>,
    /// Where the time went, for the progress line only.
    pub detail: Option<String>,
}

/// One kind of measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// WebSocket echo round trips.
    Echo,
    /// Fan-out to this many subscribers over a transport.
    Fanout(Transport, usize),
    /// One SSE stream's throughput.
    Stream,
    /// Keep-alive publishers, no subscribers; history in memory or on disk.
    Publish(Storage),
    /// Fan-out and publishing across three tinypush nodes and a Redis.
    FanoutCluster,
    /// 1,000 connects at once.
    Connects,
}

impl Phase {
    /// The name `--only` matches: `echo`, `fanout-sse-1000`, `publish-durable`, ….
    pub fn name(self) -> String {
        match self {
            Phase::Echo => "echo".into(),
            Phase::Fanout(t, n) => format!("fanout-{}-{n}", t.label().to_lowercase()),
            Phase::Stream => "stream".into(),
            Phase::Publish(Storage::Memory) => "publish".into(),
            Phase::Publish(Storage::Disk) => "publish-durable".into(),
            Phase::FanoutCluster => "fanout-cluster".into(),
            Phase::Connects => "connects".into(),
        }
    }

    /// How footnotes name it: `fan-out WS, 10,000 subscribers`.
    pub fn label(self) -> String {
        match self {
            Phase::Echo => "WS echo".into(),
            Phase::Fanout(t, n) => format!("fan-out {}, {} subscribers", t.label(), count(n)),
            Phase::Stream => "one SSE stream".into(),
            Phase::Publish(Storage::Memory) => "publishing".into(),
            Phase::Publish(Storage::Disk) => "durable publishing".into(),
            Phase::FanoutCluster => cluster::label(),
            Phase::Connects => "1,000 connects at once".into(),
        }
    }

    /// The rows it fills.
    pub fn rows(self, s: &Settings) -> Vec<Row> {
        match self {
            Phase::Echo => echo::rows(),
            Phase::Fanout(t, n) => fanout::rows(t, n, s.rate),
            Phase::Stream => stream::rows(),
            Phase::Publish(storage) => publish::rows(storage),
            Phase::FanoutCluster => cluster::rows(s.rate),
            Phase::Connects => connects::rows(),
        }
    }

    /// What it needs started: anything but [`Setup::Alone`] runs on
    /// tinypush alone.
    pub fn setup(self) -> Setup {
        match self {
            Phase::Publish(Storage::Disk) => Setup::DataDir,
            Phase::FanoutCluster => Setup::Cluster,
            _ => Setup::Alone,
        }
    }

    /// The longest one rep may take before it counts as failed.
    pub fn limit(self, s: &Settings) -> Duration {
        let margin = Duration::from_secs(30);
        match self {
            Phase::Echo => 2 * s.echo + margin,
            // Connecting 10,000 takes a while; so may a struggling server's drain.
            Phase::Fanout(_, n) => s.fanout + 2 * margin + Duration::from_millis(5 * n as u64),
            Phase::Stream => s.stream + margin,
            Phase::Publish(_) => 2 * s.publish + margin,
            Phase::FanoutCluster => {
                let connecting = Duration::from_millis(5 * cluster::SUBSCRIBERS as u64);
                s.fanout + s.publish + 2 * margin + connecting
            }
            Phase::Connects => margin,
        }
    }

    /// Runs one rep; `tag` names this rep's topic, so reps never share one.
    ///
    /// # Errors
    /// Why the phase could not finish: a refused connect, the server gone, ….
    pub async fn run(self, targets: &Targets, s: &Settings, tag: &str) -> Result<Outcome, String> {
        let t = targets.first();
        match self {
            Phase::Echo => echo::run(t, s).await,
            Phase::Fanout(tr, n) => fanout::run(t, tr, n, s, tag).await,
            Phase::Stream => stream::run(t, s, tag).await,
            Phase::Publish(storage) => publish::run(t, s, tag, storage).await,
            Phase::FanoutCluster => cluster::run(targets, s, tag).await,
            Phase::Connects => connects::run(t).await,
        }
    }
}

/// Starts one task per connection at the same moment, measures the server
/// processes `pids` for `length`, then sums what the tasks counted (round
/// trips, publishes). `what` names the task in an error.
async fn counted_window<C, F, Fut>(
    pids: &[u32],
    length: Duration,
    conns: Vec<C>,
    task: F,
    what: &str,
) -> Result<(u64, Measured), String>
where
    F: Fn(C, watch::Receiver<Option<Instant>>) -> Fut,
    Fut: Future<Output = Result<u64, String>> + Send + 'static,
{
    let (start, go) = watch::channel(None);
    let mut tasks = JoinSet::new();
    for conn in conns {
        tasks.spawn(task(conn, go.clone()));
    }
    let window = Window::open_all(pids).map_err(gone)?;
    let deadline = Instant::now() + length;
    let _ = start.send(Some(deadline));
    sleep_until(deadline.into()).await;
    let measured = window.close().map_err(gone)?;
    let mut counted = 0u64;
    while let Some(joined) = tasks.join_next().await {
        counted += joined.map_err(|e| format!("{what}: {e}"))??;
    }
    Ok((counted, measured))
}

/// Names a failed read of the server's `/proc` entries.
fn gone(e: std::io::Error) -> String {
    format!("server process unreadable ({e})")
}
