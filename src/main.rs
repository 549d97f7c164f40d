//! The `tinypush` command: parse the command line, start logging, run.

mod allocator;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread;

use log::{LevelFilter, error, info, warn};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use simplelog::{ColorChoice, ConfigBuilder, TermLogger, TerminalMode};

use tinypush::access::Access;
use tinypush::cli::{self, Command, Stop};
use tinypush::{Config, Server};

fn main() -> ExitCode {
    allocator::one_arena();
    match cli::parse(std::env::args_os()) {
        Ok(Command::Serve { config, log_level }) => serve(config, log_level),
        Ok(Command::Client(options)) => client(&options),
        Err(Stop::Info(text)) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(Stop::Usage(line)) => {
            eprintln!("{}", line.trim_end());
            ExitCode::from(2)
        }
    }
}

fn serve(config: Config, log_level: LevelFilter) -> ExitCode {
    let log_config = ConfigBuilder::new()
        .set_target_level(LevelFilter::Off)
        .set_thread_level(LevelFilter::Off)
        // tungstenite's own frame-by-frame lines; ours say the same with the peer.
        .add_filter_ignore_str("tungstenite")
        .build();
    // Colours only on a terminal: escape codes in a log file are noise.
    let color = if std::io::stderr().is_terminal() {
        ColorChoice::Auto
    } else {
        ColorChoice::Never
    };
    // Fails only when a logger is already set; there is none before this.
    let _ = TermLogger::init(log_level, log_config, TerminalMode::Stderr, color);

    // Each connection holds a descriptor: take all the kernel allows.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => info!("open-files limit {limit}"),
        Err(e) => warn!("cannot raise the open-files limit: {e}"),
    }
    let addr = config.addr;
    let server = match Server::bind(config) {
        Ok(server) => server,
        Err(tinypush::error::Error::Startup(why)) => {
            error!("{why}");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            error!("cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = watch_signals(server.shutdown_handle(), server.access()) {
        error!("cannot install signal handlers: {e}");
        return ExitCode::FAILURE;
    }
    if let Err(e) = allocator::trim_after_bursts(server.thread_budget()) {
        warn!("memory freed by closed connections will stay with the process: {e}");
    }
    server.run();
    ExitCode::SUCCESS
}

fn client(options: &tinypush::client::Options) -> ExitCode {
    // Ctrl-C sets the flag; the client then closes properly.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        if let Err(e) = signal_hook::flag::register(signal, Arc::clone(&stop)) {
            eprintln!("tinypush: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    }
    match tinypush::client::run(options, &stop) {
        Ok(()) => ExitCode::SUCCESS,
        Err(line) => {
            eprintln!("tinypush: {line}");
            ExitCode::FAILURE
        }
    }
}

/// The signal thread's stack: room for a reload's TOML parser at its
/// deepest.
const SIGNALS_STACK_BYTES: usize = 1024 * 1024;

/// The first SIGINT/SIGTERM starts a graceful shutdown; a second exits at
/// once. SIGHUP re-reads the auth file.
fn watch_signals(handle: tinypush::ShutdownHandle, access: Arc<Access>) -> std::io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    thread::Builder::new()
        .name("signals".into())
        // Parsing the auth file recurses (nested TOML arrays and tables,
        // to toml's own depth limit): 64 KiB overflowed in a debug build.
        .stack_size(SIGNALS_STACK_BYTES)
        .spawn(move || {
            let mut seen = 0;
            for signal in signals.forever() {
                if signal == SIGHUP {
                    reload(&access);
                    continue;
                }
                seen += 1;
                if seen > 1 {
                    warn!("signal {signal} again: exiting now");
                    std::process::exit(1);
                }
                info!("signal {signal}: finishing open streams, then exiting");
                handle.shutdown();
            }
        })?;
    Ok(())
}

/// Re-reads the auth file, saying in one line what came of it.
fn reload(access: &Access) {
    match access.reload() {
        Ok(Some(tokens)) => info!("SIGHUP: auth file re-read: {tokens} tokens"),
        Ok(None) => info!("SIGHUP: no --auth-file to re-read"),
        Err(why) => error!("SIGHUP: {why}; the tokens read before stay in force"),
    }
}
