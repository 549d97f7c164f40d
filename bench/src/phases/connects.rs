//! 1,000 connects at once, each asking `GET /healthz`: does the server's
//! accept queue overflow?
//!
//! ```text
//! /proc/net/netstat TcpExt ListenOverflows   before: 17
//! 1,000 × (connect, GET /healthz, read the head)
//! /proc/net/netstat TcpExt ListenOverflows   after:  17   → 0 overflows
//! ```
//!
//! The counter is machine-wide: another program's listener overflowing at
//! the same moment would count too. A dropped SYN is retried by the kernel
//! after 1 s, so an overflow costs latency before it costs a connection.

use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::timeout;

use super::{Outcome, Target};
use crate::client::http::get_status;
use crate::proc::listen_overflows;
use crate::stats::count;
use crate::table::{Format, Row, Value};

/// Connects started together.
const CONNECTS: usize = 1000;

/// Longest one connect and its answer may take (room for two SYN retries).
const EACH_LIMIT: Duration = Duration::from_secs(15);

/// The row this phase fills.
pub fn rows() -> Vec<Row> {
    let label = "1,000 connects at once: listen overflows (requests answered)";
    vec![Row::new("connects", 7, label, Format::Overflows)]
}

/// Runs one rep.
pub async fn run(t: Target) -> Result<Outcome, String> {
    let before = listen_overflows().map_err(|e| format!("cannot read overflows: {e}"))?;
    let mut tasks = JoinSet::new();
    for _ in 0..CONNECTS {
        tasks.spawn(timeout(EACH_LIMIT, get_status(t.addr, "/healthz")));
    }
    let mut answered = 0usize;
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        let error = match joined {
            Ok(Ok(Ok(200))) => {
                answered += 1;
                continue;
            }
            Ok(Ok(Ok(status))) => format!("HTTP {status}"),
            Ok(Ok(Err(e))) => e.to_string(),
            Ok(Err(_)) => "no answer within 15 s".to_string(),
            Err(e) => e.to_string(),
        };
        first_error.get_or_insert(error);
    }
    let after = listen_overflows().map_err(|e| format!("cannot read overflows: {e}"))?;
    let notes = first_error.map(|e| {
        format!(
            "{} of {} unanswered, first: {e}",
            count(CONNECTS - answered),
            count(CONNECTS)
        )
    });
    Ok(Outcome {
        values: vec![Value {
            key: "connects".into(),
            nums: vec![after.saturating_sub(before) as f64, answered as f64],
            idle: None,
        }],
        notes: notes.into_iter().collect(),
        ..Outcome::default()
    })
}
