//! The `tinypush` binary as a child process, so its threads, descriptors,
//! signals and exit code are its own. Its stderr (the log, at `debug`) is
//! read line by line on a thread; the port comes from its "listening on"
//! line.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, unbounded};

use super::READ_TIMEOUT;
use super::server::static_dir;

/// The `tinypush` binary running as a child process, its stderr collected.
pub struct ChildServer {
    pub child: Child,
    pub addr: SocketAddr,
    pub static_dir: PathBuf,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl ChildServer {
    /// Starts `tinypush serve --addr 127.0.0.1:0 ARGS`, through `sh -c` with
    /// `prefix` before it (e.g. `ulimit -n 64;`), and waits for its port.
    pub fn start_with_prefix(prefix: &str, args: &[&str]) -> ChildServer {
        let bin = env!("CARGO_BIN_EXE_tinypush");
        let dir = static_dir();
        let mut line = format!(
            "{prefix} exec '{bin}' serve --addr 127.0.0.1:0 --static-dir '{}' --log-level debug",
            dir.display()
        );
        for a in args {
            line.push_str(&format!(" '{a}'"));
        }
        let mut command = Command::new("sh");
        command.arg("-c").arg(&line);
        Self::run(command, dir)
    }

    /// Runs `command` (the server, maybe through a shell) with its stderr
    /// collected line by line, and waits for the port it listens on.
    fn run(mut command: Command, static_dir: PathBuf) -> ChildServer {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tinypush");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = unbounded();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = ChildServer {
            child,
            addr: "127.0.0.1:0".parse().unwrap(),
            static_dir,
            lines: rx,
            seen: Vec::new(),
        };
        let line = server.wait_log("listening on http://");
        let addr = line.rsplit("http://").next().unwrap().trim();
        server.addr = addr.parse().expect("address in the listening line");
        server
    }

    /// Starts `tinypush serve --addr 127.0.0.1:0 ARGS`.
    pub fn start(args: &[&str]) -> ChildServer {
        Self::start_with_prefix("", args)
    }

    /// Waits (at most 5 s) for a log line containing `needle`; returns it.
    pub fn wait_log(&mut self, needle: &str) -> String {
        if let Some(line) = self.seen.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        let end = Instant::now() + READ_TIMEOUT;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no log line with {needle:?} in 5 s; seen:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// The number of threads the server process has now.
    pub fn threads(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/task", self.child.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Sends a signal by name (`TERM`, `INT`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits at most `limit` for the process to exit; returns its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let end = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            if Instant::now() >= end {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ChildServer {
    /// Starts `tinypush serve --static-dir DIR --log-level debug ARGS`
    /// directly (no shell, no `--addr` of its own: `args` must give one),
    /// with `TINYPUSH_PUBLISH_TOKEN` removed from its environment and then
    /// `envs` set; waits for its port.
    pub fn spawn(args: &[&str], envs: &[(&str, &str)]) -> ChildServer {
        let dir = static_dir();
        let mut command = Command::new(env!("CARGO_BIN_EXE_tinypush"));
        command
            .arg("serve")
            .arg("--static-dir")
            .arg(&dir)
            .args(["--log-level", "debug"])
            .args(args)
            .env_remove("TINYPUSH_PUBLISH_TOKEN");
        for (name, value) in envs {
            command.env(name, value);
        }
        Self::run(command, dir)
    }

    /// Every log line read so far (by [`ChildServer::wait_log`]).
    pub fn seen(&self) -> &[String] {
        &self.seen
    }
}
