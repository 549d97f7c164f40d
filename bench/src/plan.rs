//! The run: every phase, rep after rep, and within a rep each server in
//! turn (so a noisy moment on the machine falls on all of them alike), each
//! on a fresh start.
//!
//! ```text
//! for phase in phases            echo, fanout-sse-100, …, connects
//!   for rep in 1..=reps
//!     for server in servers      tinypush first, then the peers in order
//!       start → phase → kill     the phase bounded by its time limit
//! ```
//!
//! A durable phase (`publish-durable`) runs on tinypush alone, started with
//! `--data-dir` and a fresh folder each rep; so does `fanout-cluster`, on
//! three tinypush nodes and a `redis-server` (see `deploy.rs`). The peers'
//! cells of their rows stay empty (`—`).
//!
//! A failure (a refused connect, a crash, a timeout) marks that server's
//! cells of the phase with a footnote, and the run goes on. Past the run's
//! time limit, what is left is skipped, with a footnote too.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::time::timeout;

use crate::deploy::{self, Deployment};
use crate::phases::{Outcome, Phase, Settings, Setup};
use crate::server::Spec;
use crate::table::{Format, Row, Table, Value};

/// Everything the run needs to know.
pub struct Plan {
    /// tinypush first, then the peers.
    pub servers: Vec<Spec>,
    /// In the order they run (and their rows print).
    pub phases: Vec<Phase>,
    /// Measurement lengths and rates.
    pub settings: Settings,
    /// Reps per cell.
    pub reps: usize,
    /// After this, no phase starts.
    pub time_limit: Duration,
    /// Where server output and program copies go.
    pub work_dir: PathBuf,
    /// Worker threads of the client runtime.
    pub client_threads: usize,
    /// The `redis-server` program a cluster phase starts.
    pub redis_server: String,
}

/// Runs every phase against every server and gathers the table.
pub async fn run(plan: &Plan) -> Table {
    let mut table = Table::new(plan.servers.iter().map(|s| s.name.clone()).collect());
    for phase in &plan.phases {
        table.add_rows(phase.rows(&plan.settings));
    }
    table.add_rows(start_rows());
    let started = Instant::now();
    for &phase in &plan.phases {
        let keys: Vec<String> = phase
            .rows(&plan.settings)
            .into_iter()
            .map(|r| r.key)
            .collect();
        for rep in 0..plan.reps {
            for (i, spec) in plan.servers.iter().enumerate() {
                // Only tinypush (servers[0]) has --data-dir and --redis.
                if phase.setup() != Setup::Alone && i > 0 {
                    continue;
                }
                if started.elapsed() > plan.time_limit {
                    let why = format!(
                        "{}: skipped, the run's {} min limit had passed",
                        phase.label(),
                        plan.time_limit.as_secs() / 60
                    );
                    table.fail(i, &keys, &why);
                    continue;
                }
                let run = Run {
                    plan,
                    phase,
                    rep,
                    server: i,
                    spec,
                    keys: &keys,
                };
                run.measure(&mut table, started).await;
            }
        }
    }
    table
}

/// One phase, one rep, one server.
struct Run<'a> {
    plan: &'a Plan,
    phase: Phase,
    rep: usize,
    server: usize,
    spec: &'a Spec,
    keys: &'a [String],
}

impl Run<'_> {
    async fn measure(&self, table: &mut Table, run_started: Instant) {
        let started = Instant::now();
        let prefix = format!("{}, {}", self.spec.name, self.phase.label());
        let started_up = deploy::start(
            self.phase.setup(),
            self.spec,
            &self.plan.work_dir,
            self.rep,
            &self.plan.redis_server,
        );
        let mut deployment = match started_up.await {
            Ok(deployment) => deployment,
            Err(e) => {
                table.fail(self.server, self.keys, &format!("{prefix}: {e}"));
                self.progress(run_started, started, &format!("failed: {e}"));
                return;
            }
        };
        self.record_start(table, &deployment);
        let settings = &self.plan.settings;
        let tag = format!("{}-r{}", self.phase.name(), self.rep);
        let limit = self.phase.limit(settings);
        let targets = deployment.targets();
        let result = match timeout(limit, self.phase.run(&targets, settings, &tag)).await {
            Ok(result) => result,
            Err(_) => Err(format!("did not finish within {} s", limit.as_secs())),
        };
        let death = deployment.died();
        drop(deployment);
        let said = match result {
            Ok(outcome) => self.record(table, outcome, death, &prefix),
            Err(e) => {
                let why = death.map_or(e.clone(), |d| format!("{e}; {d}"));
                table.fail(self.server, self.keys, &format!("{prefix}: {why}"));
                format!("failed: {why}")
            }
        };
        self.progress(run_started, started, &said);
    }

    /// Records a finished rep: its values, and a footnote for each note
    /// (window notes on the windowed rows only). Returns the progress text.
    fn record(
        &self,
        table: &mut Table,
        outcome: Outcome,
        death: Option<String>,
        prefix: &str,
    ) -> String {
        let windowed: Vec<String> = outcome
            .values
            .iter()
            .filter(|v| v.idle.is_some())
            .map(|v| v.key.clone())
            .collect();
        for value in outcome.values {
            table.value(self.server, value);
        }
        let notes: Vec<String> = outcome.notes.into_iter().chain(death).collect();
        for note in &notes {
            table.note(self.server, self.keys, &format!("{prefix}: {note}"));
        }
        for note in &outcome.window_notes {
            table.note(self.server, &windowed, &format!("{prefix}: {note}"));
        }
        let said: Vec<String> = notes.into_iter().chain(outcome.window_notes).collect();
        let detail = outcome
            .detail
            .map(|d| format!(" [{d}]"))
            .unwrap_or_default();
        if said.is_empty() {
            format!("ok{detail}")
        } else {
            format!("ok, {}{detail}", said.join("; "))
        }
    }

    fn record_start(&self, table: &mut Table, deployment: &Deployment) {
        let value = |key: &str, v: f64| Value {
            key: key.into(),
            nums: vec![v],
            idle: None,
        };
        // RSS at start is that of the usual command, without a data dir or Redis.
        if self.phase.setup() == Setup::Alone {
            let rss_kib = deployment.nodes[0].start.rss_kib;
            table.value(self.server, value("rss-start", rss_kib as f64 / 1024.0));
        }
        if let Some(bytes) = self.spec.binary_bytes() {
            table.value(
                self.server,
                value("binary", bytes as f64 / (1024.0 * 1024.0)),
            );
        }
    }

    /// One line on stderr per rep, so a long run shows where it is.
    fn progress(&self, run_started: Instant, started: Instant, said: &str) {
        eprintln!(
            "[{:>4} s] {:<10} {:<18} rep {}/{}: {said} ({:.1} s)",
            run_started.elapsed().as_secs(),
            self.spec.name,
            self.phase.name(),
            self.rep + 1,
            self.plan.reps,
            started.elapsed().as_secs_f64()
        );
    }
}

/// Rows filled at every start, whatever the phase.
fn start_rows() -> Vec<Row> {
    let row = |key: &str, label: &str| Row::new(key, 8, label, Format::Tenths);
    vec![
        row("rss-start", "RSS at start, MiB"),
        row("binary", "binary size, MiB"),
    ]
}
