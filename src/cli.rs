//! Command line: `argv` to a [`Command`], with `--help`, `--version` and
//! one-line errors.
//!
//! The server's flags are the fields of [`Config`] (see `config/`); this
//! file adds the subcommands, the log level and the client's flags.

use std::ffi::OsString;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use log::LevelFilter;

use crate::config::Config;

/// What the user asked for.
// Built once at start: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Command {
    /// Run the server.
    Serve {
        /// Server settings.
        config: Config,
        /// Most verbose log level shown.
        log_level: LevelFilter,
    },
    /// Run the WebSocket client.
    Client(crate::client::Options),
}

/// Why parsing stopped: either text to print and exit 0 (help, version), or a
/// one-line error to print and exit 2.
#[derive(Debug)]
pub enum Stop {
    /// `--help` or `--version`: print this on stdout and exit 0.
    Info(String),
    /// Bad usage: print this one line on stderr and exit 2.
    Usage(String),
}

#[derive(Parser)]
#[command(
    name = "tinypush",
    version,
    about = "A small push server: chunked HTTP streams, Server-Sent Events and WebSocket on one port.",
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    command: Sub,
}

// Parsed once at start, like `Command`.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Sub {
    /// Serve the demo endpoints and static files.
    Serve(ServeArgs),
    /// Connect to a WebSocket, send a message every interval, print what comes back.
    Client(ClientArgs),
}

#[derive(Args)]
struct ClientArgs {
    /// The WebSocket to connect to, like ws://127.0.0.1:8080/echo.
    url: String,
    /// Text to send each interval.
    #[arg(long, default_value = "hello")]
    message: String,
    /// Time between sends.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    interval: Duration,
    /// Sends before closing (default: until Ctrl-C).
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Send nothing: print what arrives until Ctrl-C or the server closes.
    #[arg(long, conflicts_with_all = ["message", "count", "interval"])]
    listen: bool,
    /// Access token, sent as `Authorization: Bearer` (not in the URL, where
    /// logs show it; TINYPUSH_TOKEN keeps it out of `ps` too).
    #[arg(
        long,
        env = "TINYPUSH_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    token: Option<String>,
}

#[derive(Args)]
struct ServeArgs {
    /// Log level: error, warn, info, debug or trace.
    #[arg(long, default_value = "info")]
    log_level: LevelFilter,
    #[command(flatten)]
    config: Config,
}

/// Parses the command line.
///
/// # Errors
/// [`Stop::Info`] for `--help`/`--version`, [`Stop::Usage`] for bad flags.
pub fn parse<I, T>(args: I) -> Result<Command, Stop>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(args).map_err(|e| {
        use clap::error::ErrorKind::*;
        match e.kind() {
            DisplayHelp | DisplayVersion => Stop::Info(e.to_string()),
            // Plain `tinypush`: the whole help, on stderr, exit 2.
            DisplayHelpOnMissingArgumentOrSubcommand => Stop::Usage(e.to_string()),
            _ => Stop::Usage(first_line(&e)),
        }
    })?;
    match cli.command {
        Sub::Serve(a) => Ok(Command::Serve {
            config: a
                .config
                .check()
                .map_err(|e| Stop::Usage(format!("tinypush: {e}")))?,
            log_level: a.log_level,
        }),
        Sub::Client(c) => Ok(Command::Client(crate::client::Options {
            url: c.url,
            message: c.message,
            interval: c.interval,
            count: c.count,
            listen: c.listen,
            token: c.token,
        })),
    }
}

/// clap's errors run over several lines (usage, tips); the first says it all.
fn first_line(e: &clap::Error) -> String {
    let text = e.to_string();
    let line = text.lines().next().unwrap_or("invalid arguments");
    let line = line.strip_prefix("error: ").unwrap_or(line);
    format!("tinypush: {line} (see --help)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(args: &[&str]) -> Config {
        let argv = ["tinypush", "serve"].iter().chain(args);
        match parse(argv) {
            Ok(Command::Serve { config, .. }) => config,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_are_config_defaults() {
        assert_eq!(serve(&[]), Config::default());
    }

    #[test]
    fn zero_counts_and_timeouts_are_refused() {
        for (flag, value) in [
            ("--ws-queue", "0"),
            ("--head-timeout", "0s"),
            ("--max-head", "0"),
        ] {
            match parse(["tinypush", "serve", flag, value]) {
                Err(Stop::Usage(line)) => assert!(line.contains(flag), "{line}"),
                other => panic!("{flag} {value}: {other:?}"),
            }
        }
    }

    #[test]
    fn ping_interval_at_or_over_the_timeout_is_refused() {
        let args = [
            "tinypush",
            "serve",
            "--ws-ping-interval",
            "3s",
            "--ws-timeout",
            "3s",
        ];
        match parse(args) {
            Err(Stop::Usage(line)) => assert!(line.contains("--ws-ping-interval"), "{line}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn access_settings_that_could_never_work_are_one_line_refusals() {
        for (args, want) in [
            (
                &["--publish-token", ""][..],
                "tinypush: --publish-token is empty",
            ),
            (
                &["--publish-token", "a b"],
                "tinypush: --publish-token has a space",
            ),
            (&["--anonymous", "none"], "tinypush: --anonymous none needs"),
            (&["--anonymous", "read"], "tinypush: --anonymous read needs"),
            (
                &["--cors-origin", "null"],
                "tinypush: --cors-origin null would",
            ),
            (
                &["--cors-origin", "https://a.example/x"],
                "tinypush: --cors-origin https://a.example/x is not",
            ),
            (
                &["--allowed-host", "push.example:8080"],
                "tinypush: invalid value 'push.example:8080' for '--allowed-host <NAME>': not a host name",
            ),
        ] {
            let argv = ["tinypush", "serve"].iter().chain(args);
            match parse(argv) {
                Err(Stop::Usage(line)) => {
                    assert!(line.starts_with(want), "{args:?}: {line}");
                    assert!(!line.contains('\n'), "{line}");
                }
                other => panic!("{args:?}: {other:?}"),
            }
        }
        let c = serve(&["--anonymous", "none", "--publish-token", "s3cret"]);
        assert_eq!(c.access.publish_token.as_deref(), Some("s3cret"));
    }

    #[test]
    fn durations_and_sizes_parse() {
        let c = serve(&[
            "--head-timeout",
            "500ms",
            "--max-body",
            "2MiB",
            "--max-head",
            "4096",
        ]);
        assert_eq!(c.http.head_timeout, Duration::from_millis(500));
        assert_eq!(c.http.max_body_bytes, 2 * 1024 * 1024);
        assert_eq!(c.http.max_head_bytes, 4096);
    }

    #[test]
    fn bad_flag_is_one_line() {
        match parse(["tinypush", "serve", "--nope"]) {
            Err(Stop::Usage(line)) => {
                assert!(!line.contains('\n'), "{line}");
                assert!(line.contains("--nope"), "{line}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_duration_is_one_line() {
        match parse(["tinypush", "serve", "--head-timeout", "soon"]) {
            Err(Stop::Usage(line)) => assert!(line.contains("soon"), "{line}"),
            other => panic!("{other:?}"),
        }
    }
}
