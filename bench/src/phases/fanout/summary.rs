//! Fan-out results: one rep's tallies to the table's values, and the time
//! each stage took (for the progress line).

use std::time::Duration;

use tokio::time::Instant;

use super::subscriber::Tally;
use super::{IDLE_FROM, key};
use crate::client::Transport;
use crate::phases::Outcome;
use crate::proc::Measured;
use crate::stats::{count, percentile};
use crate::table::Value;

/// Subscribers asked for, connected, and timed messages each should get.
#[derive(Debug, Clone, Copy)]
pub struct Counts {
    /// Subscribers asked for.
    pub n: usize,
    /// Subscribers connected.
    pub connected: usize,
    /// Timed messages each should get.
    pub messages: usize,
}

/// How long each stage of a rep took, for the progress line.
#[derive(Debug)]
pub struct Stages {
    last: Instant,
    took: Vec<(&'static str, Duration)>,
}

impl Default for Stages {
    fn default() -> Self {
        Stages {
            last: Instant::now(),
            took: Vec::new(),
        }
    }
}

impl Stages {
    /// Ends the current stage, naming it; how long it took.
    pub fn mark(&mut self, stage: &'static str) -> Duration {
        let took = self.last.elapsed();
        self.took.push((stage, took));
        self.last = Instant::now();
        took
    }
}

impl std::fmt::Display for Stages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .took
            .iter()
            .map(|(stage, d)| format!("{stage} {:.1} s", d.as_secs_f64()))
            .collect();
        f.write_str(&parts.join(", "))
    }
}

/// The server's memory around a rep: per idle subscriber (KiB, threads),
/// and once they all closed (MiB then, MiB before they came).
pub struct Memory {
    pub per_idle: [f64; 2],
    pub closed: Option<[f64; 2]>,
}

/// What every subscriber of one rep got, together.
#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    /// Delivery time p50, p99 and max, ms.
    pub latency_ms: [f64; 3],
    /// Timed messages delivered, all subscribers.
    pub delivered: u64,
    /// Timed messages a connected subscriber did not get.
    pub lost: u64,
    /// Messages that came after one with a higher number.
    pub out_of_order: u64,
}

impl Delivery {
    /// delivered / lost / out of order, as the table's `Delivery` format takes them.
    pub fn counts(&self) -> Vec<f64> {
        vec![
            self.delivered as f64,
            self.lost as f64,
            self.out_of_order as f64,
        ]
    }
}

/// Sums the tallies of `connected` subscribers that should each have had
/// `messages`; subscribers cut off while reading get a window note.
///
/// # Errors
/// No timed message was delivered at all (the notes say what was seen).
pub fn deliveries(
    tallies: &[Tally],
    connected: usize,
    messages: usize,
    notes: &[String],
    window_notes: &mut Vec<String>,
) -> Result<Delivery, String> {
    let delivered: u64 = tallies.iter().map(|t| t.delivered).sum();
    let out_of_order: u64 = tallies.iter().map(|t| t.out_of_order).sum();
    let cut: Vec<&String> = tallies.iter().filter_map(|t| t.cut_off.as_ref()).collect();
    if let Some(first) = cut.first() {
        window_notes.push(format!(
            "{} subscribers cut off while reading: {first}",
            count(cut.len())
        ));
    }
    window_notes.extend(id_disagreement(tallies));
    let Some(latency_ms) = latency_ms(tallies) else {
        let all: Vec<&str> = notes
            .iter()
            .chain(window_notes.iter())
            .map(String::as_str)
            .collect();
        return Err(format!("no message delivered ({})", all.join("; ")));
    };
    let expected = (connected * messages) as u64;
    Ok(Delivery {
        latency_ms,
        delivered,
        lost: expected - delivered.min(expected),
        out_of_order,
    })
}

/// A note when subscribers saw one message under different ids: their id
/// gaps (id minus number) differ, or changed along the way.
fn id_disagreement(tallies: &[Tally]) -> Option<String> {
    let first = tallies.iter().find_map(|t| t.id_gap)?;
    let off = tallies
        .iter()
        .filter(|t| t.id_gap.is_some_and(|g| g != first) || t.id_gap_changes > 0)
        .count();
    (off > 0).then(|| {
        format!(
            "ids disagree: {} subscribers saw messages under other ids than the first one did",
            count(off)
        )
    })
}

/// The values of one rep: latency, delivery, CPU, and memory.
///
/// # Errors
/// No timed message was delivered at all.
pub fn summarize(
    t: Transport,
    counts: Counts,
    tallies: Vec<Tally>,
    measured: Measured,
    memory: Memory,
    notes: Vec<String>,
    mut window_notes: Vec<String>,
) -> Result<Outcome, String> {
    let Counts {
        n,
        connected,
        messages,
    } = counts;
    let got = deliveries(&tallies, connected, messages, &notes, &mut window_notes)?;
    let idle = Some(measured.idle);
    let value = |what: &str, nums: Vec<f64>, idle| Value {
        key: key(t, n, what),
        nums,
        idle,
    };
    let mut values = vec![
        value("latency", got.latency_ms.to_vec(), idle),
        value("delivery", got.counts(), idle),
        value("cpu", vec![measured.server_us / got.delivered as f64], idle),
    ];
    if n >= IDLE_FROM {
        values.push(value("idle", memory.per_idle.to_vec(), None));
    }
    if let Some(closed) = memory.closed {
        values.push(value("closed", closed.to_vec(), None));
    }
    Ok(Outcome {
        values,
        notes,
        window_notes,
        detail: None,
    })
}

/// p50, p99 and max delivery time over every subscriber, in ms.
pub fn latency_ms<'a>(tallies: impl IntoIterator<Item = &'a Tally>) -> Option<[f64; 3]> {
    let mut latencies: Vec<u32> = tallies
        .into_iter()
        .flat_map(|t| t.latencies_us.iter().copied())
        .collect();
    latencies.sort_unstable();
    let ms = |us: u32| f64::from(us) / 1000.0;
    Some([
        ms(percentile(&latencies, 50.0)?),
        ms(percentile(&latencies, 99.0)?),
        ms(*latencies.last()?),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_disagree_get_a_note() {
        let gap = |id_gap, id_gap_changes| Tally {
            id_gap,
            id_gap_changes,
            ..Tally::default()
        };
        assert_eq!(id_disagreement(&[gap(None, 0), gap(Some(4), 0)]), None);
        let off = [
            gap(Some(4), 0),
            gap(Some(4), 2),
            gap(Some(5), 0),
            gap(None, 0),
        ];
        let note = id_disagreement(&off).unwrap();
        assert!(note.starts_with("ids disagree: 2 subscribers"), "{note}");
    }
}
