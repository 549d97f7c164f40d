//! What the kernel says about the server process and the machine, read from
//! `/proc` before and after each measured window:
//!
//! ```text
//! /proc/PID/stat      1234 (tinypush) S 1 … utime stime …   (fields 14, 15: clock ticks)
//! /proc/PID/status    VmRSS:     5120 kB
//!                     Threads:   3
//! /proc/stat          cpu  user nice system idle iowait irq softirq steal …
//! /proc/net/netstat   TcpExt: … ListenOverflows …          (a names line, then a values line)
//! ```
//!
//! utime and stime cover every thread of the process, so one read gives the
//! server's whole CPU time. Ticks are `getconf CLK_TCK` (100 on Linux) a
//! second. A window may watch several processes (`fanout-cluster`: three
//! tinypush nodes and their `redis-server`): each is read on its own, and
//! their sum is the server's CPU. Left out: children of the server (none of
//! ours fork; Redis runs with `--save ''`, so it forks no snapshot child).

use std::fs;
use std::io;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

/// CPU time of process `pid` (user + system, all threads), in microseconds.
///
/// # Errors
/// The process is gone or its stat line is not as expected.
pub fn cpu_micros(pid: u32) -> io::Result<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces and parentheses: count from the last ')'.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (state): utime is field 14, stime field 15.
    let tick = |i: usize| -> io::Result<u64> {
        let field = fields.get(i).ok_or_else(|| bad("short /proc/PID/stat"))?;
        field
            .parse()
            .map_err(|_| bad("bad tick count in /proc/PID/stat"))
    };
    let ticks = tick(11)? + tick(12)?;
    Ok(ticks as f64 * 1e6 / ticks_per_second() as f64)
}

/// Memory and threads of a process, from `/proc/PID/status`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Status {
    /// Resident set size, KiB.
    pub rss_kib: u64,
    /// Threads in the process.
    pub threads: u64,
}

/// Reads `VmRSS` and `Threads` of process `pid`.
///
/// # Errors
/// The process is gone (a zombie has no VmRSS line either).
pub fn status(pid: u32) -> io::Result<Status> {
    let text = fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> io::Result<u64> {
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .ok_or_else(|| bad("process gone (no VmRSS or Threads)"))?;
        let number = line.split_whitespace().next().unwrap_or("");
        number
            .parse()
            .map_err(|_| bad("bad number in /proc/PID/status"))
    };
    Ok(Status {
        rss_kib: field("VmRSS:")?,
        threads: field("Threads:")?,
    })
}

/// The machine's CPU time so far, all cores: busy and idle ticks.
#[derive(Debug, Clone, Copy)]
pub struct MachineCpu {
    busy: u64,
    idle: u64,
}

/// Reads the `cpu` line of `/proc/stat`.
///
/// # Errors
/// `/proc/stat` cannot be read or has no `cpu` line.
pub fn machine_cpu() -> io::Result<MachineCpu> {
    let text = fs::read_to_string("/proc/stat")?;
    let line = text
        .lines()
        .find(|l| l.starts_with("cpu "))
        .ok_or_else(|| bad("no cpu line in /proc/stat"))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    let all: u64 = ticks.iter().take(8).sum();
    Ok(MachineCpu {
        busy: all.saturating_sub(idle),
        idle,
    })
}

/// `TcpExtListenOverflows` so far: connections the kernel dropped because a
/// listener's accept queue was full (machine-wide, every listener).
///
/// # Errors
/// `/proc/net/netstat` cannot be read or lacks the counter.
pub fn listen_overflows() -> io::Result<u64> {
    let text = fs::read_to_string("/proc/net/netstat")?;
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = (lines.next(), lines.next());
    let (Some(names), Some(values)) = (names, values) else {
        return Err(bad("no TcpExt lines in /proc/net/netstat"));
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(name, _)| *name == "ListenOverflows")
        .and_then(|(_, value)| value.parse().ok())
        .ok_or_else(|| bad("no ListenOverflows in /proc/net/netstat"))
}

/// A measured stretch of time: the CPU of one or more server processes (a
/// cluster's nodes and its Redis) and the machine's idle share.
pub struct Window {
    pids: Vec<u32>,
    started: Instant,
    each_us: Vec<f64>,
    machine: MachineCpu,
}

/// What a closed [`Window`] saw.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Wall time, seconds.
    pub secs: f64,
    /// CPU the server used, all threads (all processes measured), microseconds.
    pub server_us: f64,
    /// The same for each process, in the order given to [`Window::open_all`].
    pub each_us: Vec<f64>,
    /// Share of the machine's CPU time (all cores) that was idle, 0–1.
    pub idle: f64,
}

impl Window {
    /// Starts measuring process `pid`.
    ///
    /// # Errors
    /// The process is gone.
    pub fn open(pid: u32) -> io::Result<Window> {
        Window::open_all(&[pid])
    }

    /// Starts measuring processes `pids`, each on its own and summed.
    ///
    /// # Errors
    /// A process is gone.
    pub fn open_all(pids: &[u32]) -> io::Result<Window> {
        Ok(Window {
            pids: pids.to_vec(),
            each_us: cpu_each(pids)?,
            machine: machine_cpu()?,
            started: Instant::now(),
        })
    }

    /// Stops measuring.
    ///
    /// # Errors
    /// A process is gone.
    pub fn close(self) -> io::Result<Measured> {
        let secs = self.started.elapsed().as_secs_f64();
        let (now_us, machine) = (cpu_each(&self.pids)?, machine_cpu()?);
        let each_us: Vec<f64> = now_us
            .iter()
            .zip(&self.each_us)
            .map(|(now, then)| now - then)
            .collect();
        let busy = machine.busy.saturating_sub(self.machine.busy);
        let idle = machine.idle.saturating_sub(self.machine.idle);
        Ok(Measured {
            secs,
            server_us: each_us.iter().sum(),
            each_us,
            idle: idle as f64 / (busy + idle).max(1) as f64,
        })
    }
}

fn cpu_each(pids: &[u32]) -> io::Result<Vec<f64>> {
    pids.iter().map(|&pid| cpu_micros(pid)).collect()
}

/// Clock ticks a second (`getconf CLK_TCK`); 100, Linux's value, if that fails.
fn ticks_per_second() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|&t| t > 0)
            .unwrap_or(100)
    })
}

/// The machine in one line: cores, CPU model, kernel.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim())
        .to_string();
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("nproc {cores} ({model}), Linux {}", kernel.trim())
}

fn bad(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}
