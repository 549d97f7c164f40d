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
//!     stderr ─► thread tinypush-log-PID ─► channel ─► wait_log(..), wait_exit(..)
//! ```
//!
//! The channel disconnects when stderr ends, which is when the process
//! exits (the server neither closes stderr nor starts processes that could
//! inherit it): [`ChildServer::wait_exit`] waits for that, not on a timer.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, unbounded};

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
        let log = read_lines(stderr, format!("tinypush-log-{}", child.id()));
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
        self.wait_new_log(needle)
    }

    /// [`ChildServer::wait_log`] among the lines not read yet: for a line
    /// that comes again (one per SIGHUP).
    pub fn wait_new_log(&mut self, needle: &str) -> String {
        let end = Instant::now() + READ_TIMEOUT;
        loop {
            let why = match self.log.recv_deadline(end) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                    continue;
                }
                Err(RecvTimeoutError::Timeout) => "in 5 s",
                Err(RecvTimeoutError::Disconnected) => "before stderr ended",
            };
            panic!(
                "no log line with {needle:?} {why}; seen:\n{}",
                self.seen.join("\n")
            );
        }
    }

    /// Every log line read so far (by [`ChildServer::wait_log`] or
    /// [`ChildServer::wait_exit`]).
    pub fn seen(&self) -> &[String] {
        &self.seen
    }

    /// The number of threads the server process has now.
    ///
    /// # Panics
    ///
    /// If `/proc/PID/task` cannot be read: a count of 0 would make a
    /// "back to the baseline" check pass for the wrong reason.
    pub fn threads(&self) -> usize {
        let dir = format!("/proc/{}/task", self.pid());
        let entries: std::io::Result<Vec<_>> = std::fs::read_dir(&dir).and_then(|d| d.collect());
        entries
            .unwrap_or_else(|e| panic!("cannot count threads in {dir}: {e}"))
            .len()
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

    /// Waits at most `limit` for the process to exit; returns its exit code
    /// (`None` if it is still running, or was ended by a signal). Its exit
    /// shows as the end of its stderr; the lines read on the way are kept
    /// for [`ChildServer::wait_log`].
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let seen = &mut self.seen;
        if !until_eof(&self.log, limit, |line| seen.push(line)) {
            return None;
        }
        // Stderr is closed as the process exits: it is reaped at once.
        self.child.wait().expect("wait for tinypush").code()
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `pipe` line by line on a thread named `name`, sending each line
/// (without its line end, invalid UTF-8 replaced) on the returned channel.
/// The channel disconnects once the pipe ends: for a child's stdout or
/// stderr, once the child has exited.
pub fn read_lines(pipe: impl Read + Send + 'static, name: String) -> Receiver<String> {
    // Unbounded: a line the test never takes must not stop the reader short
    // of the end of the pipe, which is how an exit is noticed.
    let (tx, rx) = unbounded();
    thread::Builder::new()
        .name(name)
        .spawn(move || {
            let mut pipe = BufReader::new(pipe);
            let mut line = Vec::new();
            while let Ok(1..) = pipe.read_until(b'\n', &mut line) {
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches(['\n', '\r']).to_string();
                if tx.send(text).is_err() {
                    break;
                }
                line.clear();
            }
        })
        .expect("spawn a pipe reader");
    rx
}

/// Takes lines from `lines` (from [`read_lines`]), handing each to `each`,
/// until its pipe ends: true. False if `limit` passes first.
pub fn until_eof(lines: &Receiver<String>, limit: Duration, mut each: impl FnMut(String)) -> bool {
    let end = Instant::now() + limit;
    loop {
        match lines.recv_deadline(end) {
            Ok(line) => each(line),
            Err(RecvTimeoutError::Disconnected) => return true,
            Err(RecvTimeoutError::Timeout) => return false,
        }
        if Instant::now() >= end {
            return false;
        }
    }
}

/// Runs `tinypush serve --addr 127.0.0.1:0 ARGS` with `env` (and without
/// `TINYPUSH_REDIS` or `TINYPUSH_PUBLISH_TOKEN` from ours), expecting it to
/// exit by itself within 10 s; returns its exit code and its log.
pub fn refused(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tinypush"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(args)
        .env_remove("TINYPUSH_REDIS")
        .env_remove("TINYPUSH_PUBLISH_TOKEN")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tinypush");
    let lines = read_lines(child.stderr.take().expect("piped"), "refused".into());
    let mut log = String::new();
    let ended = until_eof(&lines, Duration::from_secs(10), |l| {
        log.push_str(&l);
        log.push('\n');
    });
    let _ = child.kill();
    let status = child.wait().expect("wait");
    assert!(ended, "still running: {log}");
    (status.code(), log)
}
