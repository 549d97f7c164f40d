//! Publishing: keep-alive publishers posting 64-byte messages to a topic no
//! one subscribes to, each waiting for its 200 before the next.
//!
//! ```text
//! POST /topics/bench-publish-r0 HTTP/1.1 … Content-Length: 64   → 200 {"id":N,…,"receivers":0}
//! ```
//!
//! Today a publish lands in memory. When publishing becomes durable (a later
//! issue), these rows are where its cost shows: run them with durability on,
//! and add a row here if it needs a setting of its own.

use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{Outcome, Settings, Target, counted_window};
use crate::client::publisher::Publisher;

use crate::table::{Format, Row, Value};

/// What each publish sends: 64 bytes of text.
const BODY: &[u8] = b"pxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

/// Publisher counts measured.
const PUBLISHERS: [usize; 2] = [1, 16];

/// The rows this phase fills.
pub fn rows() -> Vec<Row> {
    let row = |key: &str, label: &str, format| Row::new(key, 5, label, format);
    vec![
        row(
            "publish-1",
            "publishes/s, 1 keep-alive publisher, 64 B",
            Format::Whole,
        ),
        row(
            "publish-16",
            "publishes/s, 16 keep-alive publishers, 64 B",
            Format::Whole,
        ),
        row(
            "publish-cpu",
            "server CPU per publish, µs (1 / 16 publishers)",
            Format::TenthsPair,
        ),
    ]
}

/// Measures 1 publisher, then 16.
pub async fn run(t: Target, s: &Settings, tag: &str) -> Result<Outcome, String> {
    let topic = format!("bench-{tag}");
    let (one, one_cpu, one_idle) = measure(t, PUBLISHERS[0], &topic, s.publish).await?;
    let (many, many_cpu, many_idle) = measure(t, PUBLISHERS[1], &topic, s.publish).await?;
    let value = |key: &str, nums, idle| Value {
        key: key.into(),
        nums,
        idle: Some(idle),
    };
    Ok(Outcome {
        values: vec![
            value("publish-1", vec![one], one_idle),
            value("publish-16", vec![many], many_idle),
            value("publish-cpu", vec![one_cpu, many_cpu], many_idle),
        ],
        ..Outcome::default()
    })
}

/// Publishes/s, server CPU µs per publish, and the idle share.
async fn measure(
    t: Target,
    publishers: usize,
    topic: &str,
    length: Duration,
) -> Result<(f64, f64, f64), String> {
    let mut connected = Vec::with_capacity(publishers);
    for _ in 0..publishers {
        connected.push(
            Publisher::connect(t.addr)
                .await
                .map_err(|e| format!("publisher connect: {e}"))?,
        );
    }
    let publish = |publisher, go| publish_until(publisher, topic.to_string(), go);
    let (published, measured) =
        counted_window(t.pid, length, connected, publish, "publisher").await?;
    if published == 0 {
        return Err("no publish succeeded".into());
    }
    let n = published as f64;
    Ok((n / measured.secs, measured.server_us / n, measured.idle))
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
