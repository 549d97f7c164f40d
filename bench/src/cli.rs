//! Command line: which servers, which phases, how long, how many reps.
//!
//! ```text
//! tinypush-bench --peer axum='/tmp/tinypush-peers/axum {port}' \
//!                --peer node='node /tmp/tinypush-peers/node/server.js {port}'
//! tinypush-bench --quick --only echo --only fanout-ws
//! tinypush-bench --only fanout-cluster --reps 1 --redis-server /usr/bin/redis-server
//! ```

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::client::Transport;
use crate::phases::{Phase, Settings, Storage};
use crate::plan::Plan;
use crate::server::Spec;

/// How tinypush is started; run from the project's root. Every subscriber
/// comes from a loopback address of this machine, thousands from each: the
/// per-address cap is raised past the connection cap.
const TINYPUSH: &str = "target/release/tinypush serve --addr 127.0.0.1:{port} --static-dir static --log-level warn --max-connections 12000 --max-connections-per-ip 12000";

/// Measures tinypush, and any server speaking its topic contract beside it,
/// on this machine; prints one markdown table.
#[derive(Parser, Debug)]
#[command(name = "tinypush-bench", version)]
pub struct Args {
    /// Another server speaking the topic contract, as NAME=COMMAND with
    /// {port} where its port goes; repeatable, columns in this order.
    #[arg(long = "peer", value_name = "NAME=COMMAND", value_parser = parse_peer)]
    peers: Vec<Spec>,
    /// How to start tinypush ({port} is replaced).
    #[arg(long, value_name = "COMMAND", default_value = TINYPUSH)]
    tinypush: String,
    /// Reps per cell; the table shows medians.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    reps: u32,
    /// A short smoke run: 1 rep, 100 and 1,000 subscribers, 1 s windows
    /// (overrides --reps, --subscribers and the window lengths).
    #[arg(long)]
    quick: bool,
    /// Run only the phases whose name starts with this (echo, fanout (SSE,
    /// WS and cluster), fanout-sse, fanout-ws-10000, stream, publish (in
    /// memory and durable), publish-durable, fanout-cluster, connects); repeatable.
    #[arg(long = "only", value_name = "PHASE")]
    only: Vec<String>,
    /// Fan-out subscriber counts.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "100,1000,10000",
        value_name = "N,N,…"
    )]
    subscribers: Vec<usize>,
    /// Fan-out messages per second.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    rate: u32,
    /// Fan-out publishing time, seconds.
    #[arg(long, default_value_t = 3, value_name = "SECS")]
    fanout_secs: u64,
    /// Each echo, publish and stream measurement, seconds.
    #[arg(long, default_value_t = 2, value_name = "SECS")]
    window_secs: u64,
    /// Worker threads of the client (the load shares the cores with the server).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    client_threads: u32,
    /// Start no phase after this many minutes (the rest is marked skipped).
    #[arg(long, default_value_t = 20, value_name = "MINUTES")]
    max_minutes: u64,
    /// The Redis that fanout-cluster starts beside three tinypush nodes: a
    /// path, or a name looked up on PATH.
    #[arg(long, default_value = "redis-server", value_name = "PROGRAM")]
    redis_server: String,
    /// Where each server's output (NAME.log) and a copy of its program go.
    #[arg(long, default_value = "bench/target/run", value_name = "DIR")]
    work_dir: PathBuf,
}

impl Args {
    /// The plan these arguments describe.
    ///
    /// # Errors
    /// A setting out of range, or `--only` matching no phase.
    pub fn into_plan(self) -> Result<Plan, String> {
        let (reps, sizes, fanout, window) = if self.quick {
            (1, vec![100, 1000], 2, 1)
        } else {
            (
                self.reps as usize,
                self.subscribers,
                self.fanout_secs,
                self.window_secs,
            )
        };
        if sizes.contains(&0) || fanout == 0 || window == 0 {
            return Err("subscriber counts and window lengths must be above 0".into());
        }
        let mut servers = vec![Spec {
            name: "tinypush".into(),
            command: self.tinypush,
        }];
        servers.extend(self.peers);
        let phases = phases(&sizes, &self.only)?;
        Ok(Plan {
            servers,
            phases,
            settings: Settings {
                rate: self.rate,
                fanout: Duration::from_secs(fanout),
                echo: Duration::from_secs(window),
                publish: Duration::from_secs(window),
                stream: Duration::from_secs(window),
            },
            reps,
            time_limit: Duration::from_secs(60 * self.max_minutes),
            work_dir: self.work_dir,
            client_threads: self.client_threads as usize,
            redis_server: self.redis_server,
        })
    }
}

/// Every phase in running order, filtered by `--only`.
fn phases(sizes: &[usize], only: &[String]) -> Result<Vec<Phase>, String> {
    let mut all = vec![Phase::Echo];
    for transport in [Transport::Sse, Transport::Ws] {
        all.extend(sizes.iter().map(|&n| Phase::Fanout(transport, n)));
    }
    all.extend([
        Phase::Stream,
        Phase::Publish(Storage::Memory),
        Phase::Publish(Storage::Disk),
        Phase::FanoutCluster,
        Phase::Connects,
    ]);
    if only.is_empty() {
        return Ok(all);
    }
    let chosen: Vec<Phase> = all
        .into_iter()
        .filter(|p| only.iter().any(|o| p.name().starts_with(o.as_str())))
        .collect();
    if chosen.is_empty() {
        return Err(format!("--only {} matches no phase", only.join(", ")));
    }
    Ok(chosen)
}

fn parse_peer(text: &str) -> Result<Spec, String> {
    let (name, command) = text.split_once('=').ok_or("expected NAME=COMMAND")?;
    let name = name.trim();
    if name.is_empty() || name.contains(char::is_whitespace) || name == "tinypush" {
        return Err(format!("bad peer name {name:?}"));
    }
    if !command.contains("{port}") {
        return Err("the command needs {port} where the port goes".into());
    }
    Ok(Spec {
        name: name.into(),
        command: command.trim().into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers() {
        let spec = parse_peer("go=/tmp/p/go {port}").unwrap();
        assert_eq!(
            (spec.name.as_str(), spec.command.as_str()),
            ("go", "/tmp/p/go {port}")
        );
        assert!(parse_peer("go /tmp/p/go {port}").is_err());
        assert!(parse_peer("go=/tmp/p/go").is_err());
    }

    #[test]
    fn only_filters_by_prefix() {
        let names = |only: &[&str]| -> Vec<String> {
            let only: Vec<String> = only.iter().map(|s| s.to_string()).collect();
            phases(&[100, 1000], &only)
                .unwrap()
                .into_iter()
                .map(Phase::name)
                .collect()
        };
        assert_eq!(names(&["fanout-ws"]), ["fanout-ws-100", "fanout-ws-1000"]);
        assert_eq!(
            names(&["fanout-sse"]),
            ["fanout-sse-100", "fanout-sse-1000"]
        );
        assert_eq!(names(&["fanout-cluster"]), ["fanout-cluster"]);
        assert_eq!(names(&["fanout"]).len(), 5);
        assert_eq!(names(&["echo", "connects"]), ["echo", "connects"]);
        assert_eq!(names(&["publish"]), ["publish", "publish-durable"]);
        assert_eq!(names(&["publish-d"]), ["publish-durable"]);
        assert!(phases(&[100], &["nothing".into()]).is_err());
    }
}
