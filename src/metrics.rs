//! Counters and gauges, served at `GET /metrics` in the Prometheus text
//! format:
//!
//! ```text
//! # HELP tinypush_connections Open connections by what they are doing.
//! # TYPE tinypush_connections gauge
//! tinypush_connections{kind="http"} 2
//! tinypush_connections{kind="sse"} 1
//! # HELP tinypush_messages_published_total Messages published to topics.
//! # TYPE tinypush_messages_published_total counter
//! tinypush_messages_published_total 42
//! # HELP tinypush_access_denied_total Requests refused for want of a token (401) or of its scope (403).
//! # TYPE tinypush_access_denied_total counter
//! tinypush_access_denied_total{status="401"} 3
//! tinypush_access_denied_total{status="403"} 0
//! ```
//!
//! Everything is an atomic, updated where the event happens; rendering
//! reads them without stopping anyone.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// What an open connection is doing; each is one `kind` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Requests and plain responses, or idle between them.
    Http,
    /// A chunked stream: `/stream`, or a topic's NDJSON.
    Chunked,
    /// A Server-Sent Events stream.
    Sse,
    /// A WebSocket.
    Ws,
}

const KINDS: [(Kind, &str); 4] = [
    (Kind::Http, "http"),
    (Kind::Chunked, "chunked"),
    (Kind::Sse, "sse"),
    (Kind::Ws, "ws"),
];

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    open: [AtomicI64; 4],
    /// Messages published to topics.
    pub published: AtomicU64,
    /// Messages handed to a subscriber's queue (one per subscriber reached).
    pub delivered: AtomicU64,
    /// Subscribers dropped because their queue was full when a message came.
    pub slow_consumers: AtomicU64,
    /// Bytes written to clients, all transports.
    pub bytes_written: AtomicU64,
    /// Write transactions of the durable history (each one `fsync`).
    pub store_commits: AtomicU64,
    /// The last publish's round trip to Redis, in microseconds.
    pub redis_rtt_us: AtomicU64,
    /// Times the Redis listener connected again after losing Redis.
    pub redis_reconnects: AtomicU64,
    /// Messages read from a Redis stream: holes in a topic's ids, a
    /// subscriber's catch-up, a resync after a reconnect.
    pub redis_holes_filled: AtomicU64,
    /// Messages heard on the Redis channel that other nodes published.
    pub redis_received: AtomicU64,
    /// Connections (or proxied requests) refused past `--max-connections-per-ip`.
    pub limited_connections: AtomicU64,
    /// Publishes refused (HTTP) or held (WebSocket) past `--publish-rate`.
    pub limited_publishes: AtomicU64,
    /// Requests refused with 401: no token where one is needed, or an unknown one.
    pub denied_401: AtomicU64,
    /// Requests refused with 403: a token without the scope.
    pub denied_403: AtomicU64,
}

/// Counts one connection under its current [`Kind`] while it lives.
pub struct Gauge {
    metrics: Arc<Metrics>,
    kind: Kind,
}

impl Metrics {
    /// Counts a new connection as [`Kind::Http`] until told otherwise.
    pub fn open_connection(self: &Arc<Self>) -> Gauge {
        self.slot(Kind::Http).fetch_add(1, Ordering::Relaxed);
        Gauge {
            metrics: Arc::clone(self),
            kind: Kind::Http,
        }
    }

    /// Adds `n` to the bytes-written counter.
    pub fn wrote(&self, n: usize) {
        self.bytes_written.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// A counter of the bytes one connection writes, which also counts
    /// them here.
    pub fn written_by_one(self: &Arc<Self>) -> Written {
        Written {
            total: Arc::clone(self),
            here: AtomicU64::new(0),
        }
    }

    fn slot(&self, kind: Kind) -> &AtomicI64 {
        let i = KINDS
            .iter()
            .position(|(k, _)| *k == kind)
            .expect("every kind is listed");
        &self.open[i]
    }

    /// The Prometheus text, with the hub's two gauges.
    pub fn render(&self, topics: usize, subscribers: usize) -> String {
        let mut out = String::with_capacity(1024);
        let _ = writeln!(
            out,
            "# HELP tinypush_connections Open connections by what they are doing."
        );
        let _ = writeln!(out, "# TYPE tinypush_connections gauge");
        for (kind, label) in KINDS {
            let n = self.slot(kind).load(Ordering::Relaxed);
            let _ = writeln!(out, "tinypush_connections{{kind=\"{label}\"}} {n}");
        }
        let gauges = [
            ("topics", "Topics held.", topics),
            ("subscribers", "Subscribers, all transports.", subscribers),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP tinypush_{name} {help}\n# TYPE tinypush_{name} gauge\ntinypush_{name} {value}"
            );
        }
        for (name, help, counter) in self.counters() {
            let value = counter.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "# HELP tinypush_{name} {help}\n# TYPE tinypush_{name} counter\ntinypush_{name} {value}"
            );
        }
        let limits = [
            ("connections_per_ip", &self.limited_connections),
            ("publish_rate", &self.limited_publishes),
        ];
        let help = "Requests refused (or WebSocket publishes held) past a per-client limit.";
        render_labelled(&mut out, ("limited_total", help), "limit", &limits);
        let denied = [("401", &self.denied_401), ("403", &self.denied_403)];
        let help = "Requests refused for want of a token (401) or of its scope (403).";
        render_labelled(&mut out, ("access_denied_total", help), "status", &denied);
        let rtt = self.redis_rtt_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            out,
            "# HELP tinypush_redis_rtt_seconds The last publish's round trip to Redis (0 without --redis).\n# TYPE tinypush_redis_rtt_seconds gauge\ntinypush_redis_rtt_seconds {rtt:.6}"
        );
        out
    }

    /// Every counter: its name after `tinypush_`, its help line, its value.
    fn counters(&self) -> [(&'static str, &'static str, &AtomicU64); 8] {
        [
            (
                "messages_published_total",
                "Messages published to topics.",
                &self.published,
            ),
            (
                "messages_delivered_total",
                "Messages handed to subscribers, once per subscriber reached.",
                &self.delivered,
            ),
            (
                "slow_consumers_dropped_total",
                "Subscribers dropped because their queue was full; each may resume.",
                &self.slow_consumers,
            ),
            (
                "bytes_written_total",
                "Bytes written to clients, all transports, heads included.",
                &self.bytes_written,
            ),
            (
                "store_commits_total",
                "Durable writes (one fsync each, shared by the publishes waiting then).",
                &self.store_commits,
            ),
            (
                "redis_reconnects_total",
                "Times the Redis listener connected again after losing Redis.",
                &self.redis_reconnects,
            ),
            (
                "redis_holes_filled_total",
                "Messages read from a topic's Redis stream: holes in its ids, catch-ups, resyncs.",
                &self.redis_holes_filled,
            ),
            (
                "redis_messages_received_total",
                "Messages other nodes published, heard on the Redis channel.",
                &self.redis_received,
            ),
        ]
    }
}

impl Gauge {
    /// Moves this connection to another kind (a stream starts or ends).
    pub fn set(&mut self, kind: Kind) {
        if kind != self.kind {
            self.metrics.slot(self.kind).fetch_sub(1, Ordering::Relaxed);
            self.metrics.slot(kind).fetch_add(1, Ordering::Relaxed);
            self.kind = kind;
        }
    }
}

impl Drop for Gauge {
    fn drop(&mut self) {
        self.metrics.slot(self.kind).fetch_sub(1, Ordering::Relaxed);
    }
}

/// One counter family split by a label: `tinypush_{name}{label="value"} n`.
fn render_labelled(
    out: &mut String,
    (name, help): (&str, &str),
    label: &str,
    values: &[(&str, &AtomicU64)],
) {
    let _ = writeln!(
        out,
        "# HELP tinypush_{name} {help}\n# TYPE tinypush_{name} counter"
    );
    for (value, counter) in values {
        let n = counter.load(Ordering::Relaxed);
        let _ = writeln!(out, "tinypush_{name}{{{label}=\"{value}\"}} {n}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauges_follow_connections() {
        let m = Arc::new(Metrics::default());
        let mut a = m.open_connection();
        let _b = m.open_connection();
        a.set(Kind::Sse);
        let text = m.render(3, 1);
        assert!(text.contains("connections{kind=\"http\"} 1\n"), "{text}");
        assert!(text.contains("tinypush_connections{kind=\"sse\"} 1\n"));
        assert!(text.contains("# TYPE tinypush_topics gauge\ntinypush_topics 3\n"));
        drop(a);
        let text = m.render(0, 0);
        assert!(text.contains("tinypush_connections{kind=\"sse\"} 0\n"));
    }

    #[test]
    fn every_metric_has_help_and_type() {
        let text = Metrics::default().render(0, 0);
        let types: Vec<&str> = text.lines().filter(|l| l.starts_with("# TYPE ")).collect();
        assert_eq!(types.len(), 14, "{text}");
        for line in types {
            let name = line.split(' ').nth(2).unwrap();
            let help = format!("# HELP {name} ");
            assert!(text.contains(&help), "no HELP for {name}");
        }
        assert!(!text.contains("messages_dropped_total"));
        assert!(text.contains("tinypush_limited_total{limit=\"publish_rate\"} 0\n"));
        assert!(text.contains("tinypush_access_denied_total{status=\"403\"} 0\n"));
    }
}

/// Bytes one connection wrote (for its access-log line), also counted in
/// the server's total.
#[derive(Debug)]
pub struct Written {
    total: Arc<Metrics>,
    here: AtomicU64,
}

impl Written {
    /// Counts `n` bytes written.
    pub fn add(&self, n: usize) {
        self.here.fetch_add(n as u64, Ordering::Relaxed);
        self.total.wrote(n);
    }

    /// Bytes written so far.
    pub fn get(&self) -> u64 {
        self.here.load(Ordering::Relaxed)
    }
}
