//! A server under test as a child process: started on a free port for each
//! phase and rep, ready once `GET /healthz` answers 200, killed afterwards.
//!
//! ```text
//! sh -c 'exec target/release/tinypush serve --addr 127.0.0.1:40123 …'   ({port} filled in)
//! GET /healthz → 200          ready: RSS at start is read now
//! … the phase …
//! kill -KILL -- -PGID         the child's whole process group
//! ```
//!
//! `exec` makes the server itself the child, so its PID is the one whose
//! `/proc` entries are read (a command must therefore be one program, not a
//! pipeline). It inherits our raised open-files limit. SIGKILL, not SIGTERM:
//! a graceful drain would only add seconds. Its stdout and stderr are
//! appended to `WORK_DIR/NAME.log`, where a crash leaves its last words; its
//! program is copied to `WORK_DIR/NAME` first (see [`Spec::snapshot`]).
//!
//! A `redis-server` (for `fanout-cluster`) is started the same way, and is
//! ready once it answers an inline `PING\r\n` with `+PONG\r\n`.
//!
//! A durable phase starts tinypush with a data folder of its own, made empty
//! before the start and removed once the server is killed:
//!
//! ```text
//! … tinypush serve … --data-dir bench/target/run/tinypush-data-r0
//! ```

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout};

use crate::client::http::get_status;
use crate::phases::Target;
use crate::proc::{self, Status};

/// Longest a server may take to answer its first `/healthz`.
const STARTUP_LIMIT: Duration = Duration::from_secs(20);

/// A server as given on the command line.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Column name: `tinypush`, `axum`, ….
    pub name: String,
    /// The command, with `{port}` where the port goes.
    pub command: String,
}

impl Spec {
    /// Size of the program file, when the command starts with a path to one
    /// (`node server.js` starts with an interpreter found on PATH: no size).
    pub fn binary_bytes(&self) -> Option<u64> {
        let program = self.command.split_whitespace().next()?;
        if !program.contains('/') {
            return None;
        }
        std::fs::metadata(program)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
    }

    /// Where its output goes.
    pub fn log_path(&self, work_dir: &Path) -> PathBuf {
        work_dir.join(format!("{}.log", self.name))
    }

    /// Copies the program (when the command starts with a path to a file)
    /// to `work_dir/NAME` and runs the copy from now on: a rebuild of the
    /// shared target folder in the middle of a run cannot mix two versions.
    ///
    /// # Errors
    /// The copy fails.
    pub fn snapshot(&mut self, work_dir: &Path) -> std::io::Result<()> {
        let Some(program) = self.command.split_whitespace().next() else {
            return Ok(());
        };
        if self.binary_bytes().is_none() {
            return Ok(());
        }
        let copy = work_dir.join(&self.name);
        std::fs::copy(program, &copy)?;
        let rest = &self.command.trim_start()[program.len()..];
        self.command = format!("{}{rest}", copy.display());
        Ok(())
    }

    /// The same server, keeping its history in `dir` (tinypush's `--data-dir`).
    pub fn with_data_dir(&self, dir: &DataDir) -> Spec {
        Spec {
            name: self.name.clone(),
            command: format!("{} --data-dir {}", self.command, dir.path.display()),
        }
    }
}

/// A data folder for one start of a server; removed when dropped.
pub struct DataDir {
    path: PathBuf,
}

impl DataDir {
    /// `work_dir/NAME-data-rREP`, emptied of anything a killed run left there.
    ///
    /// # Errors
    /// What was there cannot be removed.
    pub fn fresh(work_dir: &Path, name: &str, rep: usize) -> Result<DataDir, String> {
        let path = work_dir.join(format!("{name}-data-r{rep}"));
        match std::fs::remove_dir_all(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(format!("cannot empty {}: {e}", path.display()))
            }
            _ => Ok(DataDir { path }),
        }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A running server; killed when dropped.
pub struct Server {
    child: Child,
    /// Where it listens and its PID.
    pub target: Target,
    /// Its memory and threads once it first answered.
    pub start: Status,
}

/// How a started server shows it is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// `GET /healthz` answers 200: every HTTP server under test.
    Healthz,
    /// `PING` answers `+PONG`: the `redis-server` of a cluster phase.
    Pong,
}

/// Starts `spec` on a free port and waits until it answers `/healthz`.
///
/// # Errors
/// It cannot be spawned, exits, or does not answer within 20 s.
pub async fn start(spec: &Spec, work_dir: &Path) -> Result<Server, String> {
    start_until(spec, work_dir, Ready::Healthz).await
}

/// Starts `spec` on a free port and waits until it shows it is `ready`.
///
/// # Errors
/// It cannot be spawned, exits, or does not answer within 20 s.
pub async fn start_until(spec: &Spec, work_dir: &Path, ready: Ready) -> Result<Server, String> {
    let port = free_port().map_err(|e| format!("no free port: {e}"))?;
    let command = spec.command.replace("{port}", &port.to_string());
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(spec.log_path(work_dir))
        .map_err(|e| format!("cannot open its log: {e}"))?;
    let _ = writeln!(log, "--- {command}");
    let err_log: File = log
        .try_clone()
        .map_err(|e| format!("cannot open its log: {e}"))?;
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!("exec {command}"))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err_log)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start `{command}`: {e}"))?;
    let target = Target {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        pid: child.id(),
    };
    let mut server = Server {
        child,
        target,
        start: Status::default(),
    };
    server.wait_ready(ready).await?;
    server.start = proc::status(target.pid).map_err(|e| format!("cannot read its status: {e}"))?;
    Ok(server)
}

impl Server {
    async fn wait_ready(&mut self, ready: Ready) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP_LIMIT;
        loop {
            if let Some(death) = self.died() {
                return Err(format!("exited at start ({death})"));
            }
            let addr = self.target.addr;
            let answered = match ready {
                Ready::Healthz => timeout(Duration::from_secs(1), get_status(addr, "/healthz"))
                    .await
                    .is_ok_and(|status| matches!(status, Ok(200))),
                Ready::Pong => timeout(Duration::from_secs(1), pong(addr))
                    .await
                    .is_ok_and(|pong| pong.unwrap_or(false)),
            };
            if answered {
                return Ok(());
            }
            if Instant::now() > deadline {
                let what = match ready {
                    Ready::Healthz => "no 200 from /healthz",
                    Ready::Pong => "no +PONG to PING",
                };
                return Err(format!("{what} within 20 s"));
            }
            sleep(Duration::from_millis(50)).await;
        }
    }

    /// How it ended, if it has: `signal 6 (SIGABRT)`, `exit code 1`.
    pub fn died(&mut self) -> Option<String> {
        self.child.try_wait().ok().flatten().map(describe)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The group first: a command that forked leaves no orphan behind.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.target.pid)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => {
            let name = match signal {
                6 => " (SIGABRT)",
                9 => " (SIGKILL)",
                11 => " (SIGSEGV)",
                15 => " (SIGTERM)",
                _ => "",
            };
            format!("signal {signal}{name}")
        }
        (None, None) => "ended".into(),
    }
}

/// Whether Redis at `addr` answers an inline `PING\r\n` with `+PONG\r\n`.
async fn pong(addr: SocketAddr) -> std::io::Result<bool> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(b"PING\r\n").await?;
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).await?;
    Ok(&reply == b"+PONG\r\n")
}

/// A port nothing listens on right now (the kernel's pick for port 0).
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}
