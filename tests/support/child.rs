//! The `tinypush` binary as a child process, so its threads, descriptors,
//! signals and exit code are its own. Its stderr (the log, at `debug`) is
//! read line by line on a thread; the port comes from its "listening on"
//! line.
//!
//! ```text
//! ChildServer::start(&["--drain-timeout", "300ms"])
//! ChildServer::builder().env("TINYPUSH_PUBLISH_TOKEN", "t").open_files_limit(64).start(&[])
//!
//!   tinypush serve --addr 127.0.0.1:0 --static-dir DIR --log-level debug ARGS
//!     stderr ─► thread ─► channel ─► wait_log(..)
//! ```

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, unbounded};

use super::READ_TIMEOUT;
use super::server::static_dir;

/// The `tinypush` binary running as a child process, its stderr collected.
pub struct ChildServer {
    child: Child,
    pub addr: SocketAddr,
    pub static_dir: PathBuf,
    log: Receiver<String>,
    seen: Vec<String>,
}

/// How to start a [`ChildServer`]: the listening address, environment
/// variables, an open-files limit.
pub struct ChildServerBuilder {
    addr: String,
    envs: Vec<(String, String)>,
    open_files_limit: Option<u64>,
}

impl ChildServerBuilder {
    /// Listens on `addr` instead of `127.0.0.1:0`.
    pub fn addr(mut self, addr: &str) -> Self {
        self.addr = addr.to_string();
        self
    }

    /// Sets an environment variable of the process.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.envs.push((name.to_string(), value.to_string()));
        self
    }

    /// Starts the process with RLIMIT_NOFILE set to `limit`, soft and hard:
    /// the server raises its soft limit to the hard one at start, so a lower
    /// soft limit alone would not hold.
    pub fn open_files_limit(mut self, limit: u64) -> Self {
        self.open_files_limit = Some(limit);
        self
    }

    /// Starts `tinypush serve --addr ADDR --static-dir DIR --log-level debug
    /// ARGS`, with `TINYPUSH_PUBLISH_TOKEN` removed from its environment
    /// (then the variables given to [`ChildServerBuilder::env`] set), and
    /// waits for the port it listens on.
    pub fn start(self, args: &[&str]) -> ChildServer {
        let static_dir = static_dir();
        let mut command = Command::new(env!("CARGO_BIN_EXE_tinypush"));
        command
            .arg("serve")
            .args(["--addr", &self.addr])
            .arg("--static-dir")
            .arg(&static_dir)
            .args(["--log-level", "debug"])
            .args(args)
            .env_remove("TINYPUSH_PUBLISH_TOKEN")
            .envs(self.envs)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(limit) = self.open_files_limit {
            // SAFETY: the closure runs in the child between fork and exec,
            // where only async-signal-safe calls are sound. It makes one
            // setrlimit system call; rlimit's wrapper allocates nothing for
            // a supported resource such as NOFILE, and reads a failure from
            // errno.
            unsafe {
                command.pre_exec(move || rlimit::setrlimit(rlimit::Resource::NOFILE, limit, limit));
            }
        }
        let mut child = command.spawn().expect("spawn tinypush");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, log) = unbounded();
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
            log,
            seen: Vec::new(),
        };
        let line = server.wait_log("listening on http://");
        let addr = line.rsplit("http://").next().unwrap().trim();
        server.addr = addr.parse().expect("address in the listening line");
        server
    }
}

impl ChildServer {
    /// Starts `tinypush serve --addr 127.0.0.1:0 ARGS` (see
    /// [`ChildServerBuilder::start`]) and waits for its port.
    pub fn start(args: &[&str]) -> ChildServer {
        Self::builder().start(args)
    }

    /// A builder for a server with other settings than [`ChildServer::start`].
    pub fn builder() -> ChildServerBuilder {
        ChildServerBuilder {
            addr: "127.0.0.1:0".to_string(),
            envs: Vec::new(),
            open_files_limit: None,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (at most 5 s) for a log line containing `needle`; returns it.
    pub fn wait_log(&mut self, needle: &str) -> String {
        if let Some(line) = self.seen.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        let end = Instant::now() + READ_TIMEOUT;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
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

    /// Every log line read so far (by [`ChildServer::wait_log`]).
    pub fn seen(&self) -> &[String] {
        &self.seen
    }

    /// The number of threads the server process has now.
    pub fn threads(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/task", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Sends a signal by name (`TERM`, `INT`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Whether the process is running now (it has not exited).
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
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
