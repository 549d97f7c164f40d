//! Command line: `argv` to a [`Command`], with `--help`, `--version` and
//! one-line errors.
//!
//! Durations are written like `500ms`, `10s` or `2m` (humantime); sizes like
//! `16KiB`, `1MiB` or plain bytes (bytesize).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
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

#[derive(Parser, Debug)]
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
#[derive(Subcommand, Debug)]
enum Sub {
    /// Serve the demo endpoints and static files.
    Serve(ServeArgs),
    /// Connect to a WebSocket, send a message every interval, print what comes back.
    Client(ClientArgs),
}

#[derive(Args, Debug)]
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
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = crate::config::DEFAULT_ADDR)]
    addr: SocketAddr,
    /// Folder served at / (index.html is the demo page).
    #[arg(long, default_value = "static")]
    static_dir: PathBuf,
    /// Log level: error, warn, info, debug or trace.
    #[arg(long, default_value = "info")]
    log_level: LevelFilter,
    /// Largest request head; past it: 431.
    #[arg(long, default_value = "16KiB", value_parser = parse_size, value_name = "SIZE")]
    max_head: usize,
    /// Most header lines in a request; past it: 431.
    #[arg(long, default_value_t = crate::config::MAX_HEADERS, value_name = "N")]
    max_headers: usize,
    /// Time to receive a request head, and again its body; past it: 408.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    head_timeout: Duration,
    /// Time an idle keep-alive connection is kept open.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    keepalive_timeout: Duration,
    /// Largest request body; past it: 413.
    #[arg(long, default_value = "1MiB", value_parser = parse_size, value_name = "SIZE")]
    max_body: usize,
    /// Longest one socket write may stall before the client is dropped.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    write_timeout: Duration,
    /// Most connections at once (also kept below the open-files limit); past it: 503.
    #[arg(long, default_value_t = crate::config::MAX_CONNECTIONS, value_name = "N")]
    max_connections: usize,
    /// Stack size of each connection thread.
    #[arg(long, default_value = "128KiB", value_parser = parse_size, value_name = "SIZE")]
    thread_stack: usize,
    /// Keepalive comment interval on quiet SSE streams.
    #[arg(long, default_value = "25s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    stream_keepalive: Duration,
    /// On SIGINT/SIGTERM, how long open streams get to end before exit.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    drain_timeout: Duration,
    /// An origin (like https://example.com) allowed to open WebSockets besides
    /// the server's own; repeatable; '*' allows every origin.
    #[arg(long = "allow-origin", value_name = "URL")]
    allow_origins: Vec<String>,
    /// A WebSocket subprotocol we speak; repeatable, in order of preference.
    #[arg(long = "ws-protocol", value_name = "NAME")]
    ws_protocols: Vec<String>,
    /// Largest WebSocket message; past it: close 1009.
    #[arg(long, default_value = "1MiB", value_parser = parse_size, value_name = "SIZE")]
    ws_max_message: usize,
    /// Largest WebSocket frame; past it: close 1009.
    #[arg(long, default_value = "1MiB", value_parser = parse_size, value_name = "SIZE")]
    ws_max_frame: usize,
    /// How often to ping WebSocket clients.
    #[arg(long, default_value = "25s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    ws_ping_interval: Duration,
    /// Close a WebSocket client silent this long.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    ws_timeout: Duration,
    /// How often /ws sends its heartbeat message.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    ws_heartbeat: Duration,
    /// Outgoing messages queued per WebSocket; a client that falls further
    /// behind is closed with 1008.
    #[arg(long, default_value_t = crate::config::WS_QUEUE, value_name = "N")]
    ws_queue: usize,
    /// Messages each topic keeps for subscribers resuming with a cursor.
    #[arg(long, default_value_t = crate::config::TOPIC_HISTORY, value_name = "N")]
    topic_history: usize,
    /// Bytes of message bodies each topic's history may hold.
    #[arg(long, default_value = "1MiB", value_parser = parse_size, value_name = "SIZE")]
    topic_history_bytes: usize,
    /// Most topics at once; past it: 503.
    #[arg(long, default_value_t = crate::config::MAX_TOPICS, value_name = "N")]
    max_topics: usize,
    /// Most subscribers at once, over all topics; past it: 503.
    #[arg(long, default_value_t = crate::config::MAX_SUBSCRIBERS, value_name = "N")]
    max_subscribers: usize,
    /// Messages queued per subscriber; one that falls further behind is
    /// dropped (and may resume from the history).
    #[arg(long, default_value_t = crate::config::SUBSCRIBER_QUEUE, value_name = "N")]
    subscriber_queue: usize,
    /// Forget a topic with no subscribers and no publish for this long.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration, value_name = "DURATION")]
    topic_idle: Duration,
    /// Require `Authorization: Bearer TOKEN` to publish.
    #[arg(
        long,
        env = "TINYPUSH_PUBLISH_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    publish_token: Option<String>,
}

fn parse_size(text: &str) -> Result<usize, String> {
    let size: bytesize::ByteSize = text.parse()?;
    usize::try_from(size.as_u64()).map_err(|_| format!("{text} is too large"))
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
    let a = match cli.command {
        Sub::Serve(a) => a,
        Sub::Client(c) => {
            return Ok(Command::Client(crate::client::Options {
                url: c.url,
                message: c.message,
                interval: c.interval,
                count: c.count,
                listen: c.listen,
            }));
        }
    };
    let counts = [
        ("--max-connections", a.max_connections),
        ("--max-headers", a.max_headers),
        ("--max-head", a.max_head),
        ("--ws-queue", a.ws_queue),
        ("--topic-history", a.topic_history),
        ("--max-topics", a.max_topics),
        ("--max-subscribers", a.max_subscribers),
        ("--subscriber-queue", a.subscriber_queue),
    ];
    if let Some((flag, _)) = counts.iter().find(|(_, n)| *n == 0) {
        return Err(Stop::Usage(format!("tinypush: {flag} must be at least 1")));
    }
    let zero = [
        ("--head-timeout", a.head_timeout),
        ("--keepalive-timeout", a.keepalive_timeout),
        ("--write-timeout", a.write_timeout),
        ("--ws-ping-interval", a.ws_ping_interval),
        ("--ws-timeout", a.ws_timeout),
        ("--ws-heartbeat", a.ws_heartbeat),
        ("--stream-keepalive", a.stream_keepalive),
    ];
    if let Some((flag, _)) = zero.iter().find(|(_, d)| d.is_zero()) {
        return Err(Stop::Usage(format!("tinypush: {flag} must be more than 0")));
    }
    let config = Config {
        addr: a.addr,
        static_dir: a.static_dir,
        max_head_bytes: a.max_head,
        max_headers: a.max_headers,
        head_timeout: a.head_timeout,
        keepalive_timeout: a.keepalive_timeout,
        max_body_bytes: a.max_body,
        write_timeout: a.write_timeout,
        max_connections: a.max_connections,
        thread_stack_bytes: a.thread_stack,
        stream_keepalive: a.stream_keepalive,
        drain_timeout: a.drain_timeout,
        allow_origins: a.allow_origins,
        ws_protocols: a.ws_protocols,
        ws_max_message_bytes: a.ws_max_message,
        ws_max_frame_bytes: a.ws_max_frame,
        ws_ping_interval: a.ws_ping_interval,
        ws_timeout: a.ws_timeout,
        ws_heartbeat: a.ws_heartbeat,
        ws_queue: a.ws_queue,
        topic_history: a.topic_history,
        topic_history_bytes: a.topic_history_bytes,
        max_topics: a.max_topics,
        max_subscribers: a.max_subscribers,
        subscriber_queue: a.subscriber_queue,
        topic_idle: a.topic_idle,
        publish_token: a.publish_token.filter(|t| !t.is_empty()),
    };
    Ok(Command::Serve {
        config,
        log_level: a.log_level,
    })
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
    fn durations_and_sizes_parse() {
        let c = serve(&[
            "--head-timeout",
            "500ms",
            "--max-body",
            "2MiB",
            "--max-head",
            "4096",
        ]);
        assert_eq!(c.head_timeout, Duration::from_millis(500));
        assert_eq!(c.max_body_bytes, 2 * 1024 * 1024);
        assert_eq!(c.max_head_bytes, 4096);
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
