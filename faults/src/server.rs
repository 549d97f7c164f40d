//! The release binary as a child process, one per case, killed when dropped.
//!
//! ```text
//! [prlimit --nofile=512:512 --] target/release/tinypush serve --addr 127.0.0.1:0
//!                   (or sh -c 'ulimit -n 512 && exec "$0" "$@"' … without prlimit)
//!     --static-dir static ARGS        stderr ─► thread ─► channel
//! INFO listening on http://127.0.0.1:40123      ← the address is read from here
//! … the case …
//! drop(Server)                                  → SIGKILL, wait: no stray process
//! ```
//!
//! The probes' lines of the access log (`127.0.0.254:… "GET /healthz" 200 82 3ms`,
//! and 127.0.0.253 for the keep-alive probe) give the server's own time for
//! each probe, to tell a slow server from a slow client.
//!
//! `prlimit` (or `sh`) execs the server, so the child's PID is the server's and its
//! `/proc` entries are the ones read. Warnings and errors are kept, so a case
//! can count lines (`accept failed`) and a failure can show the last words.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Longest a server may take to print its "listening on" line.
const STARTUP_LIMIT: Duration = Duration::from_secs(20);

/// How to start a server: the binary, its arguments, an open-files limit.
#[derive(Clone, Debug)]
pub struct Spec {
    /// `target/release/tinypush`.
    pub binary: PathBuf,
    /// The project's `static/` folder.
    pub static_dir: PathBuf,
    /// Arguments after `serve --addr 127.0.0.1:0 --static-dir DIR`.
    pub args: Vec<String>,
    /// RLIMIT_NOFILE, soft and hard, set by `prlimit`.
    pub nofile: Option<u64>,
}

impl Spec {
    /// The same binary with `args`.
    pub fn with(&self, args: &[&str]) -> Spec {
        Spec {
            args: args.iter().map(|a| a.to_string()).collect(),
            nofile: None,
            ..self.clone()
        }
    }
}

/// A running server; SIGKILLed and reaped when dropped.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    probe_ms: Arc<AtomicU64>,
}

impl Server {
    /// Starts `spec` and waits for its "listening on" line.
    ///
    /// # Errors
    /// It cannot be spawned, or exits or stays silent for 20 s.
    pub fn start(spec: &Spec) -> Result<Server, String> {
        let mut command = match spec.nofile {
            Some(n) if has_prlimit() => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--nofile={n}:{n}"))
                    .arg("--")
                    .arg(&spec.binary);
                c
            }
            // Without util-linux: the shell's ulimit sets soft and hard, then execs.
            Some(n) => {
                let mut c = Command::new("sh");
                c.args(["-c", &format!("ulimit -n {n} && exec \"$0\" \"$@\"")])
                    .arg(&spec.binary);
                c
            }
            None => Command::new(&spec.binary),
        };
        command
            .args(["serve", "--addr", "127.0.0.1:0", "--static-dir"])
            .arg(&spec.static_dir)
            .args(&spec.args)
            .env_remove("TINYPUSH_PUBLISH_TOKEN")
            .env_remove("TINYPUSH_REDIS")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", spec.binary.display()))?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let probe_ms = Arc::new(AtomicU64::new(0));
        let lines = read_lines(stderr, Arc::clone(&log), Arc::clone(&probe_ms));
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
            probe_ms,
        };
        let addr = listening_addr(&lines).map_err(|e| format!("{e}; log: {}", server.tail()))?;
        server.addr = addr;
        Ok(server)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The longest time the server's access log gave a probe's `/healthz`
    /// (from 127.0.0.253 or .254), in ms, kept up to date by the log reader.
    pub fn probe_ms(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.probe_ms)
    }

    /// Whether it has exited (or was killed).
    pub fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Log lines so far that contain `needle`.
    pub fn count_log(&self, needle: &str) -> usize {
        let log = self.log.lock().expect("log lock");
        log.iter().filter(|l| l.contains(needle)).count()
    }

    /// The last few log lines, for a failure message.
    pub fn tail(&self) -> String {
        let log = self.log.lock().expect("log lock");
        let from = log.len().saturating_sub(3);
        log[from..].join(" | ")
    }

    /// SIGKILL now, and reap it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether util-linux's `prlimit` can be run.
fn has_prlimit() -> bool {
    Command::new("prlimit")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Waits for the "listening on http://ADDR" line.
fn listening_addr(lines: &Receiver<String>) -> Result<SocketAddr, String> {
    let end = Instant::now() + STARTUP_LIMIT;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                if let Some((_, addr)) = line.rsplit_once("listening on http://") {
                    return addr
                        .trim()
                        .parse()
                        .map_err(|e| format!("bad address in {line:?}: {e}"));
                }
            }
            Err(RecvTimeoutError::Timeout) => return Err("no \"listening on\" in 20 s".into()),
            Err(RecvTimeoutError::Disconnected) => return Err("exited at start".into()),
        }
    }
}

/// Reads the child's stderr on a thread: every line is
/// sent on the channel while anyone still listens (only at start);
/// warnings and errors are also kept in `log`.
fn read_lines(
    pipe: impl std::io::Read + Send + 'static,
    log: Arc<Mutex<Vec<String>>>,
    probe_ms: Arc<AtomicU64>,
) -> Receiver<String> {
    let (tx, rx) = channel();
    thread::Builder::new()
        .name("server-log".into())
        .spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                // Only warnings and errors are kept: the access log of a
                // 10-minute soak would otherwise fill our memory.
                if let Some(ms) = probe_time(&line) {
                    probe_ms.fetch_max(ms, Ordering::Relaxed);
                }
                if line.contains("[WARN]") || line.contains("[ERROR]") {
                    log.lock().expect("log lock").push(line.clone());
                }
                let _ = tx.send(line);
            }
        })
        .expect("spawn the log reader");
    rx
}

/// The time of a probe's access-log line:
/// `… [INFO] 127.0.0.254:39554 "GET /healthz" 200 82 3ms` → 3.
fn probe_time(line: &str) -> Option<u64> {
    let probe = line.contains("127.0.0.254:") || line.contains("127.0.0.253:");
    if !probe || !line.contains("\"GET /healthz\"") {
        return None;
    }
    line.rsplit(' ').next()?.strip_suffix("ms")?.parse().ok()
}

/// A temporary data folder, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// `faults/target/run/NAME-PID`, emptied first.
    pub fn new(name: &str) -> TempDir {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/run")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temp data dir");
        TempDir(path)
    }

    /// The path as an argument.
    pub fn arg(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
