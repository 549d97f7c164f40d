//! `tinypush-bench`: measures tinypush on this machine, and any other server
//! speaking the same topic contract beside it, in one run; prints one
//! markdown table.
//!
//! ```text
//! make bench-quick                       tinypush alone, 1 rep, small sizes
//! make bench                             tinypush, axum, go and node, 3 reps
//! bench/target/release/tinypush-bench --only fanout-ws --peer go='/tmp/tinypush-peers/go {port}'
//! ```
//!
//! The contract: `GET /echo` (WebSocket echo), `POST /topics/{t}` (publish),
//! `GET /topics/{t}/sse` and `/ws` (subscribe), `GET /healthz`.
//!
//! How it measures (see `phases/` for each measurement):
//! - every phase and rep starts the server afresh as a child, on a free
//!   port, and kills it after (`fanout-cluster`: a `redis-server` and three
//!   tinypush nodes, tinypush alone); phases are bounded in time, connects and
//!   reads by timeouts, so a run always ends by itself;
//! - the load runs on a small tokio runtime (`--client-threads`, default 2)
//!   sharing the machine's cores with the server; client sockets are bound
//!   to 127.0.0.1–127.0.0.4 in turn;
//! - server CPU is utime + stime from `/proc/PID/stat` over the measured
//!   window; memory and threads come from `/proc/PID/status`; the machine's
//!   idle share over each window (`/proc/stat`) prints beside each row;
//! - a cell is the median of its reps; what failed, or looked off, gets a
//!   footnote instead of stopping the run.
//!
//! Files: `cli.rs`, `plan.rs` (the loop), `server.rs` (the child),
//! `deploy.rs` (what a rep starts: a server, or a Redis and three nodes),
//! `phases/` (the measurements), `client/` (HTTP, SSE and WebSocket
//! clients), `proc.rs`, `table.rs` and `notes.rs` (the output), `stats.rs`,
//! `clock.rs`.

mod cli;
mod client;
mod clock;
mod deploy;
mod notes;
mod phases;
mod plan;
mod proc;
mod server;
mod stats;
mod table;

use std::fs::{self, File};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

use phases::Setup;
use plan::Plan;
use stats::median;
use table::Table;

fn main() -> ExitCode {
    let mut plan = match cli::Args::parse().into_plan() {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("tinypush-bench: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = prepare(&mut plan) {
        eprintln!("tinypush-bench: {e}");
        return ExitCode::FAILURE;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(plan.client_threads)
        .thread_name("bench-client")
        .enable_all()
        .build()
        .expect("a tokio runtime can be built (threads and an epoll set)");
    clock::now_nanos();
    let started = Instant::now();
    let table = runtime.block_on(plan::run(&plan));
    // A task still running here has nothing left to say.
    runtime.shutdown_timeout(Duration::from_secs(1));
    println!("{}", header(&plan, &table, started.elapsed()));
    print!("{}", table.render(plan.reps));
    ExitCode::SUCCESS
}

/// Raises our open-files limit (the servers inherit it), starts fresh logs,
/// and snapshots each server's program.
fn prepare(plan: &mut Plan) -> Result<(), String> {
    let limit = rlimit::increase_nofile_limit(u64::MAX)
        .map_err(|e| format!("cannot raise the open-files limit: {e}"))?;
    eprintln!("open-files limit: {limit}");
    let dir = &plan.work_dir;
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let fresh_log = |name: &str| {
        let path = dir.join(format!("{name}.log"));
        File::create(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))
    };
    for spec in &mut plan.servers {
        fresh_log(&spec.name)?;
        spec.snapshot(dir)
            .map_err(|e| format!("cannot copy the program of {}: {e}", spec.name))?;
    }
    if plan.phases.iter().any(|p| p.setup() == Setup::Cluster) {
        for name in deploy::cluster_logs(&plan.servers[0].name) {
            fresh_log(&name)?;
        }
    }
    Ok(())
}

/// What ran, where, and how idle the machine was meanwhile.
fn header(plan: &Plan, table: &Table, took: Duration) -> String {
    let idles = table.idles();
    let idle = match (
        median(&idles),
        idles.iter().copied().reduce(f64::min),
        idles.iter().copied().reduce(f64::max),
    ) {
        (Some(mid), Some(lo), Some(hi)) => {
            format!(
                "idle {:.0}% (median; {:.0}–{:.0}%)",
                mid * 100.0,
                lo * 100.0,
                hi * 100.0
            )
        }
        _ => "idle share not measured".into(),
    };
    let s = &plan.settings;
    format!(
        "tinypush bench on {}; machine {idle} over the measured windows.\n\
         Each cell: median of {} rep(s), each on a fresh server start; client: {} tokio threads, \
         sockets from 127.0.0.1–4; fan-out {} msg/s for {} s; echo, publish and stream windows {} s. \
         Run took {} min {} s. Server logs and program copies: {}.\n",
        proc::machine(),
        plan.reps,
        plan.client_threads,
        s.rate,
        s.fanout.as_secs(),
        s.echo.as_secs(),
        took.as_secs() / 60,
        took.as_secs() % 60,
        plan.work_dir.display()
    )
}
