//! The `tinypush` command: parse the command line, start logging, run.

mod allocator;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread;

use crossbeam_channel::{Sender, TrySendError, bounded};
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

/// The reload thread's stack: room for the TOML parser at its deepest.
const RELOAD_STACK_BYTES: usize = 1024 * 1024;

/// The first SIGINT/SIGTERM starts a graceful shutdown; a second exits at
/// once. SIGHUP asks the `auth-reload` thread to re-read the auth file:
/// the signal thread only passes signals on, so a reload that is slow or
/// stuck never keeps SIGTERM from being heard.
fn watch_signals(handle: tinypush::ShutdownHandle, access: Arc<Access>) -> std::io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    let reloads = start_reloader(access)?;
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut seen = 0;
            for signal in signals.forever() {
                if signal == SIGHUP {
                    // Full: a reload is already waiting, and it will read
                    // the file as it is then; this SIGHUP joins it.
                    if let Err(TrySendError::Full(())) = reloads.try_send(()) {
                        info!("SIGHUP: a reload is already waiting; it will read the file as it is then");
                    }
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

/// The `auth-reload` thread: one reload per request on the channel it
/// returns, which holds one request at most (SIGHUPs while one waits
/// coalesce).
fn start_reloader(access: Arc<Access>) -> std::io::Result<Sender<()>> {
    let (reloads, requests) = bounded::<()>(1);
    thread::Builder::new()
        .name("auth-reload".into())
        // Parsing the auth file recurses (nested TOML arrays and tables,
        // to toml's own depth limit): 64 KiB overflowed in a debug build.
        .stack_size(RELOAD_STACK_BYTES)
        .spawn(move || {
            for () in requests {
                reload(&access);
            }
        })?;
    Ok(reloads)
}

/// Re-reads the auth file, saying in one line what came of it (and the
/// warning about subscribe lists, when it applies).
fn reload(access: &Access) {
    match access.reload() {
        Ok(Some(tokens)) => {
            info!("SIGHUP: auth file re-read: {tokens} tokens");
            if let Some(line) = access.idle_subscribe_lists() {
                warn!("{line}");
            }
        }
        Ok(None) => info!("SIGHUP: no --auth-file to re-read"),
        Err(why) => error!("SIGHUP: {why}; the tokens read before stay in force"),
    }
}
