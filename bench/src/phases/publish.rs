//! Publishing: keep-alive publishers posting 64-byte messages to a topic no
//! one subscribes to, each waiting for its 200 before the next; 1 publisher,
//! then 16. Phase `publish` keeps history in memory (every server);
//! `publish-durable` starts tinypush alone with `--data-dir` (a fresh folder
//! each rep), where a publish is answered only once it is on disk.
//!
//! ```text
//! POST /topics/bench-publish-r0 HTTP/1.1 … Content-Length: 64   → 200 {"id":N,…,"receivers":0}
//! ```
//!
//! Durable, tinypush's writer thread commits the publishes waiting at that
//! moment in one redb transaction, one fsync (group commit). `/metrics`
//! counts those commits; read before and after each window, they give
//! publishes per fsync: 1.0 with one publisher (each waits for its own),
//! more with 16.
//!
//! ```text
//! GET /metrics → 200 …\ntinypush_store_commits_total 5523\n…
//! ```

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{Outcome, Settings, Target, counted_window};
use crate::client::http::get_body;
use crate::client::publisher::Publisher;
use crate::proc::Measured;
use crate::table::{Format, Row, Value};

/// What each publish sends: 64 bytes of text.
const BODY: &[u8] = b"pxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

/// Publisher counts measured.
const PUBLISHERS: [usize; 2] = [1, 16];

/// The `/metrics` counter of tinypush's durable commits (one fsync each).
const COMMITS: &str = "tinypush_store_commits_total";

/// Where the server keeps a message before it answers the publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// In memory: the usual command.
    Memory,
    /// On disk: tinypush with `--data-dir`.
    Disk,
}

impl Storage {
    /// `publish-1` or `durable-1`: the row keys of this storage.
    fn key(self, suffix: &str) -> String {
        match self {
            Storage::Memory => format!("publish-{suffix}"),
            Storage::Disk => format!("durable-{suffix}"),
        }
    }

    /// What labels say before "publish".
    fn word(self) -> &'static str {
        match self {
            Storage::Memory => "",
            Storage::Disk => "durable ",
        }
    }
}

/// The rows this phase fills.
pub fn rows(storage: Storage) -> Vec<Row> {
    let row = |suffix: &str, label: String, format| Row::new(storage.key(suffix), 5, label, format);
    let word = storage.word();
    let mut rows = vec![
        row(
            "1",
            format!("{word}publishes/s, 1 keep-alive publisher, 64 B"),
            Format::Whole,
        ),
        row(
            "16",
            format!("{word}publishes/s, 16 keep-alive publishers, 64 B"),
            Format::Whole,
        ),
        row(
            "cpu",
            format!("server CPU per {word}publish, µs (1 / 16 publishers)"),
            Format::TenthsPair,
        ),
    ];
    if storage == Storage::Disk {
        rows.push(row(
            "per-fsync",
            "publishes per fsync (1 / 16 publishers)".into(),
            Format::TenthsPair,
        ));
    }
    rows
}

/// What one window measured.
struct Sample {
    /// Publishes answered per second.
    rate: f64,
    /// Server CPU µs per publish.
    cpu_us: f64,
    /// The machine's idle share.
    idle: f64,
    /// Durable commits (fsyncs) in the window; `None` in memory.
    commits: Option<u64>,
    /// Publishes answered.
    published: u64,
}

/// Measures 1 publisher, then 16.
pub async fn run(t: Target, s: &Settings, tag: &str, storage: Storage) -> Result<Outcome, String> {
    let topic = format!("bench-{tag}");
    let one = measure(t, PUBLISHERS[0], &topic, s.publish, storage).await?;
    let many = measure(t, PUBLISHERS[1], &topic, s.publish, storage).await?;
    let value = |suffix: &str, nums, idle| Value {
        key: storage.key(suffix),
        nums,
        idle: Some(idle),
    };
    let mut values = vec![
        value("1", vec![one.rate], one.idle),
        value("16", vec![many.rate], many.idle),
        value("cpu", vec![one.cpu_us, many.cpu_us], many.idle),
    ];
    let mut detail = None;
    if let (Some(a), Some(b)) = (one.commits, many.commits) {
        let per = |w: &Sample, commits| w.published as f64 / commits as f64;
        values.push(value(
            "per-fsync",
            vec![per(&one, a), per(&many, b)],
            many.idle,
        ));
        detail = Some(format!("fsyncs: {a} / {b}"));
    }
    Ok(Outcome {
        values,
        detail,
        ..Outcome::default()
    })
}

/// One window of `publishers` publishing to `topic` for `length`.
async fn measure(
    t: Target,
    publishers: usize,
    topic: &str,
    length: Duration,
    storage: Storage,
) -> Result<Sample, String> {
    let before = commits(t, storage).await?;
    let (published, measured) = window(&[t.addr], &[t.pid], publishers, topic, length).await?;
    // Every publish counted has had its 200, so its commit is counted too.
    let after = commits(t, storage).await?;
    if published == 0 {
        return Err("no publish succeeded".into());
    }
    let commits = before.zip(after).map(|(b, a)| a.saturating_sub(b));
    if commits == Some(0) {
        return Err(format!(
            "{published} publishes answered, but {COMMITS} did not move"
        ));
    }
    let n = published as f64;
    Ok(Sample {
        rate: n / measured.secs,
        cpu_us: measured.server_us / n,
        idle: measured.idle,
        commits,
        published,
    })
}

/// Connects `publishers` keep-alive publishers, publisher `i` to node
/// `i % nodes`, then lets them publish to `topic` for `length` while
/// measuring processes `pids`. Returns the publishes answered.
///
/// # Errors
/// A connect or a publish fails, or a process measured is gone.
pub async fn window(
    nodes: &[SocketAddr],
    pids: &[u32],
    publishers: usize,
    topic: &str,
    length: Duration,
) -> Result<(u64, Measured), String> {
    let mut connected = Vec::with_capacity(publishers);
    for i in 0..publishers {
        connected.push(
            Publisher::connect(nodes[i % nodes.len()])
                .await
                .map_err(|e| format!("publisher connect: {e}"))?,
        );
    }
    let publish = |publisher, go| publish_until(publisher, topic.to_string(), go);
    counted_window(pids, length, connected, publish, "publisher").await
}

/// The server's durable commits so far (`None` in memory: nothing to read).
async fn commits(t: Target, storage: Storage) -> Result<Option<u64>, String> {
    if storage == Storage::Memory {
        return Ok(None);
    }
    let metrics = get_body(t.addr, "/metrics")
        .await
        .map_err(|e| format!("GET /metrics: {e}"))?;
    match counter(&metrics, COMMITS) {
        Some(n) => Ok(Some(n)),
        None => Err(format!("no {COMMITS} in /metrics")),
    }
}

/// The value of the unlabelled counter `name` in a Prometheus text page:
/// `tinypush_store_commits_total 5523` gives 5523.
fn counter(page: &[u8], name: &str) -> Option<u64> {
    metric(page, name)?.parse().ok()
}

/// The value of the unlabelled gauge `name`:
/// `tinypush_redis_rtt_seconds 0.000231` gives 0.000231.
pub fn gauge(page: &[u8], name: &str) -> Option<f64> {
    metric(page, name)?.parse().ok()
}

/// The text of the unlabelled metric `name`'s value.
fn metric(page: &[u8], name: &str) -> Option<String> {
    String::from_utf8_lossy(page).lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(' ')?;
        Some(rest.trim().to_string())
    })
}

/// Waits for the start, then publishes until the deadline.
async fn publish_until(
    mut publisher: Publisher,
    topic: String,
    mut go: watch::Receiver<Option<Instant>>,
) -> Result<u64, String> {
    let deadline = loop {
        if let Some(deadline) = *go.borrow_and_update() {
            break deadline;
        }
        go.changed().await.map_err(|_| "never started")?;
    };
    let mut published = 0;
    while Instant::now() < deadline {
        publisher
            .publish(&topic, BODY)
            .await
            .map_err(|e| format!("publish: {e}"))?;
        published += 1;
    }
    Ok(published)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters() {
        let page = b"# HELP tinypush_store_commits_total Durable writes.\n\
                     # TYPE tinypush_store_commits_total counter\n\
                     tinypush_store_commits_total_x 7\n\
                     tinypush_store_commits_total 5523\n";
        assert_eq!(counter(page, COMMITS), Some(5523));
        assert_eq!(counter(b"tinypush_topics 3\n", COMMITS), None);
        let rtt = b"tinypush_redis_rtt_seconds 0.000231\n";
        assert_eq!(gauge(rtt, "tinypush_redis_rtt_seconds"), Some(0.000231));
    }

    #[test]
    fn keys_and_labels() {
        let labels = |s| {
            rows(s)
                .into_iter()
                .map(|r| (r.key, r.label))
                .collect::<Vec<_>>()
        };
        let memory: Vec<String> = labels(Storage::Memory).into_iter().map(|r| r.0).collect();
        assert_eq!(memory, ["publish-1", "publish-16", "publish-cpu"]);
        let durable = labels(Storage::Disk);
        assert_eq!(
            durable[0],
            (
                "durable-1".to_string(),
                "durable publishes/s, 1 keep-alive publisher, 64 B".to_string()
            )
        );
        assert_eq!(durable[3].0, "durable-per-fsync");
    }
}
