//! The fault suite: runs each case against the release `tinypush` binary,
//! in order, prints one markdown table and exits 1 if any case failed.
//!
//! ```text
//! tinypush-faults [--binary target/release/tinypush] [--soak 10m] [--only slowloris,soak]
//! ```
//!
//! Every case starts its own server on a free port (read from its log),
//! with its own temporary data folder when it needs one, and kills it at the
//! end; see `cases/mod.rs` for what every case checks besides its own rule.

mod cases;
mod http;
mod probe;
mod procfs;
mod report;
mod server;
mod subscribe;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use cases::Ctx;
use report::Row;
use server::Spec;

type Case = fn(&Ctx) -> Row;

/// The cases, in the order they run.
const CASES: [(&str, Case); 8] = [
    ("slowloris", cases::slowloris::run),
    ("header-bombs", cases::header_bombs::run),
    ("never-read", cases::never_read::run),
    ("fd-burst", cases::fd_burst::run),
    ("per-ip", cases::per_ip::run),
    ("vanish", cases::vanish::run),
    ("kill-restart", cases::kill_restart::run),
    ("soak", cases::soak::run),
];

fn main() -> ExitCode {
    let ctx = match parse_args() {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("tinypush-faults: {e}");
            return ExitCode::from(2);
        }
    };
    let (ctx, only) = ctx;
    // Thousands of client sockets: our soft open-files limit up to the hard one.
    if let Ok((_, hard)) = rlimit::getrlimit(rlimit::Resource::NOFILE) {
        let _ = rlimit::setrlimit(rlimit::Resource::NOFILE, hard, hard);
    }
    let started = Instant::now();
    let load_before = procfs::load();
    let mut rows: Vec<Row> = Vec::new();
    for (name, case) in CASES {
        if only.as_ref().is_some_and(|o| !o.iter().any(|n| n == name)) {
            continue;
        }
        eprintln!("faults: {name} …");
        // A case that panics is a failed row; its server is killed as the
        // panic unwinds through the case's guard, and the next case runs.
        let row = std::panic::catch_unwind(|| case(&ctx)).unwrap_or_else(|_| Row {
            case: name,
            must_hold: String::new(),
            measured: String::new(),
            failures: vec!["the case panicked (see stderr)".into()],
            secs: 0.0,
        });
        eprintln!("faults: {name} {} in {:.0} s", verdict(&row), row.secs);
        rows.push(row);
    }
    println!("{}", report::table(&rows));
    let (answers, p99, over) = probe::pooled();
    let pooled_ok = answers < probe::P99_FROM || p99 <= probe::BOUND;
    println!(
        "Fresh-connection /healthz over the run: {answers} answers, p99 {} ms (must be ≤ 100 ms from {} answers), {over} over 100 ms{}.",
        p99.as_millis(),
        probe::P99_FROM,
        if pooled_ok { "" } else { ": **FAIL**" }
    );
    print!("{}", report::failures(&rows));
    println!(
        "Total {:.0} s; 1-minute load average {load_before} before, {} after (2 cores; other builds may share the machine).",
        started.elapsed().as_secs_f64(),
        procfs::load()
    );
    if pooled_ok && rows.iter().all(Row::passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn verdict(row: &Row) -> &'static str {
    if row.passed() { "passed" } else { "FAILED" }
}

/// `--binary PATH`, `--soak DURATION`, `--only a,b`.
fn parse_args() -> Result<(Ctx, Option<Vec<String>>), String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut binary = root.join("target/release/tinypush");
    let mut soak = Duration::from_secs(600);
    let mut only = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--binary" => binary = PathBuf::from(value),
            "--soak" => {
                soak = humantime::parse_duration(&value)
                    .map_err(|e| format!("--soak {value}: {e}"))?;
            }
            "--only" => only = Some(value.split(',').map(str::to_string).collect()),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if !binary.is_file() {
        return Err(format!(
            "no server binary at {} (make release)",
            binary.display()
        ));
    }
    let spec = Spec {
        binary,
        static_dir: root.join("static"),
        args: Vec::new(),
        nofile: None,
    };
    Ok((Ctx { spec, soak }, only))
}
