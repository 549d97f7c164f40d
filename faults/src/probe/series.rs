//! What one probe saw, as it comes ([`Seen`]) and summed up ([`Series`]).

use std::time::Duration;

use super::ask::Asked;

/// Each outcome, as it comes.
#[derive(Default)]
pub struct Seen {
    /// Each answer's time, and when (since the probe started) it was asked.
    latencies: Vec<(Duration, Duration)>,
    connects: Vec<Duration>,
    refused: usize,
    reconnects: usize,
    misses: Vec<String>,
}

impl Seen {
    /// Notes one ask's outcome; `at` is when it was asked, `took` how long
    /// the whole ask took (for a miss).
    pub fn note(
        &mut self,
        outcome: std::io::Result<Asked>,
        at: Duration,
        took: Duration,
        allow_503: bool,
    ) {
        let asked = match outcome {
            Ok(asked) => asked,
            Err(e) => {
                let miss = format!("{e} after {} ms", took.as_millis());
                return self.misses.push(miss);
            }
        };
        self.connects.extend(asked.connect);
        self.reconnects += usize::from(asked.reconnected);
        match asked.status {
            200 => self.latencies.push((asked.took, at)),
            503 if allow_503 => {
                self.latencies.push((asked.took, at));
                self.refused += 1;
            }
            status => self.misses.push(format!("status {status}")),
        }
    }

    /// Each answer's time.
    pub fn times(&self) -> impl Iterator<Item = Duration> + '_ {
        self.latencies.iter().map(|l| l.0)
    }

    /// The figures; `bound` for the count of answers over it.
    pub fn sum_up(self, bound: Duration) -> Series {
        let mut sorted: Vec<Duration> = self.latencies.iter().map(|l| l.0).collect();
        sorted.sort();
        let slowest = self.latencies.iter().max().copied().unwrap_or_default();
        let p99 = p99(&sorted);
        Series {
            answers: sorted.len(),
            refused: self.refused,
            max: slowest.0,
            max_at: slowest.1,
            over: sorted.iter().filter(|&&l| l > bound).count(),
            p99,
            max_connect: self.connects.iter().max().copied().unwrap_or_default(),
            reconnects: self.reconnects,
            misses: self.misses,
        }
    }
}

/// What one probe saw, summed up.
#[derive(Debug)]
pub struct Series {
    /// Answers (200, or 503 where allowed).
    pub answers: usize,
    /// Of those, 503s.
    pub refused: usize,
    /// Slowest answer.
    pub max: Duration,
    /// When the slowest was asked, since the probe started.
    pub max_at: Duration,
    /// Answers slower than the bound given to [`Seen::sum_up`].
    pub over: usize,
    /// 99th percentile answer time.
    pub p99: Duration,
    /// Slowest connect (the kernel's part: SYN, SYN-ACK, ACK).
    pub max_connect: Duration,
    /// Times the kept connection was closed by the server and made again.
    pub reconnects: usize,
    /// Errors, other statuses and timeouts, described.
    pub misses: Vec<String>,
}

impl Series {
    /// No misses, some answers, p99 within `p99` and the slowest within `max`.
    pub fn ok(&self, p99: Duration, max: Duration) -> bool {
        self.misses.is_empty() && self.answers > 0 && self.p99 <= p99 && self.max <= max
    }

    /// `412× max 31 ms (at +2.1 s) p99 9 ms, 0 over 100 ms, slowest connect 1 ms, 0 reconnects`.
    pub fn figures(&self) -> String {
        let mut s = format!(
            "{}× max {} ms (at +{:.1} s) p99 {} ms, {} over 100 ms, slowest connect {} ms, {} reconnects",
            self.answers,
            self.max.as_millis(),
            self.max_at.as_secs_f64(),
            self.p99.as_millis(),
            self.over,
            self.max_connect.as_millis(),
            self.reconnects
        );
        if self.refused > 0 {
            s += &format!(" ({} of them 503)", self.refused);
        }
        if let Some(first) = self.misses.first() {
            s += &format!("; {} misses, first: {first}", self.misses.len());
        }
        s
    }
}

/// The 99th percentile of sorted times, nearest rank: the ⌈0.99 n⌉-th, so
/// with fewer than 100 it is the slowest.
pub fn p99(sorted: &[Duration]) -> Duration {
    let rank = (sorted.len() * 99).div_ceil(100);
    sorted
        .get(rank.saturating_sub(1))
        .copied()
        .unwrap_or_default()
}
