//! The cases (they run in `main.rs`'s order: slowloris, header-bombs,
//! never-read, fd-burst, per-ip, vanish, kill-restart, soak), and what every
//! case checks besides its own rule:
//!
//! ```text
//! Server::start(spec) ─► Watch::start   baseline threads, probe, sampler
//!                        … the case's own load …
//!                        Watch::finish  probes: keep-alive /healthz each ≤ 100 ms,
//!                                       fresh-connection max ≤ 500 ms, p99 ≤ 100 ms
//!                                       (see probe/: from 1,000 answers, and over the run)
//!                                       threads back to the baseline (bounded wait)
//!                                       RSS (every 100 ms) under the case's bound
//!                                       peak RSS and threads, reported
//! drop(Server)           SIGKILL: nothing left running, even on a failure
//! ```

pub mod fd_burst;
pub mod header_bombs;
pub mod kill_restart;
pub mod never_read;
pub mod per_ip;
pub mod slowloris;
pub mod soak;
pub mod vanish;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::probe::{self, Probe};
use crate::procfs::{self, Sampler};
use crate::report::Row;
use crate::server::{Server, Spec};

/// What every case is given.
pub struct Ctx {
    /// The release binary and the static folder.
    pub spec: Spec,
    /// How long the soak runs.
    pub soak: Duration,
}

/// Figures and failures a case collects on its way.
#[derive(Default)]
pub struct Outcome {
    measured: Vec<String>,
    failures: Vec<String>,
    /// Rules added on the way (the watch's memory bound), said after the case's own.
    rules: Vec<String>,
}

impl Outcome {
    /// Notes a measured figure.
    pub fn figure(&mut self, text: impl Into<String>) {
        self.measured.push(text.into());
    }

    /// Notes a failure unless `ok`.
    pub fn require(&mut self, ok: bool, why: impl Into<String>) {
        if !ok {
            self.failures.push(why.into());
        }
    }

    /// Notes a failure.
    pub fn fail(&mut self, why: impl Into<String>) {
        self.failures.push(why.into());
    }

    /// The table row.
    pub fn row(self, case: &'static str, must_hold: &str, started: Instant) -> Row {
        let mut must_hold = must_hold.to_string();
        for rule in self.rules {
            must_hold += &format!("; {rule}");
        }
        Row {
            case,
            must_hold,
            measured: self.measured.join("; "),
            failures: self.failures,
            secs: started.elapsed().as_secs_f64(),
        }
    }
}

/// The checks every case shares, around its own load.
pub struct Watch {
    pid: u32,
    probe_ms: Arc<AtomicU64>,
    baseline: usize,
    probe: Probe,
    sampler: Sampler,
    rss_bound_mib: u64,
}

impl Watch {
    /// Reads the baseline thread count, then starts the probe and sampler;
    /// the server's RSS must stay under `rss_bound_mib` throughout.
    pub fn start(server: &Server, rss_bound_mib: u64) -> Watch {
        let pid = server.pid();
        let baseline = procfs::threads(pid).unwrap_or(0);
        let probe_ms = server.probe_ms();
        probe_ms.store(0, Ordering::Relaxed);
        Watch {
            pid,
            probe_ms,
            baseline,
            probe: Probe::start(server.addr),
            sampler: Sampler::start(pid, Duration::from_millis(100)),
            rss_bound_mib,
        }
    }

    /// Threads the server had before the case.
    pub fn baseline(&self) -> usize {
        self.baseline
    }

    /// The probes, to allow 503s while a case holds the server at its cap.
    pub fn probe(&self) -> &Probe {
        &self.probe
    }

    /// Stops the probe and sampler and notes the probe's figures, without
    /// the thread check: for a process about to be killed.
    pub fn stop_probe(self, out: &mut Outcome) {
        let mut health = self.probe.finish();
        health.server_ms = self.probe_ms.load(Ordering::Relaxed);
        let _ = self.sampler.finish();
        out.figure(format!("before the kill: {}", health.figures()));
        out.rules.push(probe::RULE.into());
        out.require(
            health.ok(),
            format!("/healthz before the kill: {}", health.figures()),
        );
    }

    /// Stops the probe and sampler; waits at most `settle` for the threads
    /// to come back to the baseline; notes the figures and failures.
    pub fn finish(self, out: &mut Outcome, settle: Duration) {
        let mut health = self.probe.finish();
        health.server_ms = self.probe_ms.load(Ordering::Relaxed);
        let samples = self.sampler.finish();
        let (after, took) = procfs::wait_threads(self.pid, self.baseline, settle);
        let peak_rss = samples.iter().map(|s| s.0).max().unwrap_or(0);
        let peak_threads = samples.iter().map(|s| s.1).max().unwrap_or(0);
        out.figure(health.figures());
        out.figure(format!(
            "threads {} → peak {peak_threads} → {after} in {} ms; peak RSS {} MiB",
            self.baseline,
            took.as_millis(),
            peak_rss / 1024
        ));
        out.require(health.ok(), format!("/healthz: {}", health.figures()));
        out.rules.push(probe::RULE.into());
        out.rules.push(format!(
            "peak RSS < {} MiB (every 100 ms)",
            self.rss_bound_mib
        ));
        out.require(
            peak_rss < self.rss_bound_mib * 1024,
            format!("peak RSS {} MiB", peak_rss / 1024),
        );
        out.require(
            after <= self.baseline,
            format!(
                "{after} threads {} s after the case, baseline {}",
                settle.as_secs(),
                self.baseline
            ),
        );
    }
}

/// Starts a server for a case, or a failed row saying why it could not.
pub fn start(spec: &Spec, case: &'static str, started: Instant) -> Result<Server, Box<Row>> {
    Server::start(spec).map_err(|e| {
        let mut out = Outcome::default();
        out.fail(format!("server did not start: {e}"));
        Box::new(out.row(case, "", started))
    })
}
