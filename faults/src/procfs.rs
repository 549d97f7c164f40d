//! What the kernel says about the server process and the machine.
//!
//! ```text
//! /proc/PID/task/     one entry per thread       → threads()
//! /proc/PID/status    VmRSS:     5120 kB         → rss_kib()
//! /proc/loadavg       3.95 2.15 1.52 …           → load()
//! /proc/net/sockstat  TCP: inuse 9 … mem 151     → tcp_mem_kib() (pages of 4 KiB)
//! /proc/net/tcp       0: 0100007F:9C40 … 0A 00000000:000002EE …
//!                     a listener (state 0A) and its accept queue (rx) → accept_queue()
//! ```
//!
//! "No thread left behind" is [`wait_threads`]: poll the count until it is
//! back at the baseline, with a bounded wait, instead of sleeping a fixed time.

use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Threads of process `pid` now; `None` once it is gone.
pub fn threads(pid: u32) -> Option<usize> {
    let dir = fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    Some(dir.count())
}

/// Resident memory of process `pid`, KiB; `None` once it is gone.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    line.split_whitespace().next()?.parse().ok()
}

/// Polls every 20 ms, at most `limit`, until `pid` has at most `baseline`
/// threads. Returns the last count seen and how long it took.
pub fn wait_threads(pid: u32, baseline: usize, limit: Duration) -> (usize, Duration) {
    let (now, took) = wait_thread_count(pid, limit, |n| n <= baseline);
    (now.unwrap_or(usize::MAX), took)
}

/// Polls every 20 ms, at most `limit`, until `pid`'s thread count
/// satisfies `done`. Returns the last count seen (`None`: the process is
/// gone) and how long it took.
pub fn wait_thread_count(
    pid: u32,
    limit: Duration,
    done: impl Fn(usize) -> bool,
) -> (Option<usize>, Duration) {
    let start = Instant::now();
    loop {
        let now = threads(pid);
        if now.is_some_and(&done) || start.elapsed() >= limit {
            return (now, start.elapsed());
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Connections waiting in the accept queue of the IPv4 listener on `port`
/// (for a listening socket, `/proc/net/tcp`'s `rx_queue`); `None` when no
/// such listener is found.
pub fn accept_queue(port: u16) -> Option<u64> {
    let text = fs::read_to_string("/proc/net/tcp").ok()?;
    let local = format!(":{port:04X}");
    text.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let listening = fields.get(3) == Some(&"0A");
        let ours = fields.get(1).is_some_and(|a| a.ends_with(&local));
        let (_, rx) = fields.get(4)?.split_once(':')?;
        (listening && ours).then(|| u64::from_str_radix(rx, 16).ok())?
    })
}

/// The 1-minute load average, as `/proc/loadavg` gives it.
pub fn load() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// Kernel memory held by every TCP socket of this network namespace
/// (buffers queued to send or not yet read), KiB: the `mem` pages of the
/// `TCP:` line of `/proc/net/sockstat`. Machine-wide: other programs'
/// sockets count too.
pub fn tcp_mem_kib() -> Option<u64> {
    let text = fs::read_to_string("/proc/net/sockstat").ok()?;
    let line = text.lines().find(|l| l.starts_with("TCP:"))?;
    let mut words = line.split_whitespace();
    words.find(|w| *w == "mem")?;
    let pages: u64 = words.next()?.parse().ok()?;
    Some(pages * 4)
}

/// Samples [`tcp_mem_kib`] every 100 ms on a thread until `stop`; the
/// highest seen.
pub fn peak_tcp_mem(stop: Arc<AtomicBool>) -> thread::JoinHandle<u64> {
    thread::Builder::new()
        .name("sockstat".into())
        .spawn(move || {
            let mut peak = 0;
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(tcp_mem_kib().unwrap_or(0));
                thread::sleep(Duration::from_millis(100));
            }
            peak.max(tcp_mem_kib().unwrap_or(0))
        })
        .expect("spawn the sockstat sampler")
}

/// One sample: resident KiB and thread count.
pub type Sample = (u64, usize);

/// Samples RSS and threads of `pid` every `every` on a thread until
/// [`Sampler::finish`]; a sample is skipped while `/proc` cannot be read.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: thread::JoinHandle<Vec<Sample>>,
}

impl Sampler {
    /// Starts sampling.
    pub fn start(pid: u32, every: Duration) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        // The first sample now, so even a short stretch has one.
        let first: Vec<Sample> = rss_kib(pid).zip(threads(pid)).into_iter().collect();
        let handle = thread::Builder::new()
            .name("sampler".into())
            .spawn(move || {
                let mut samples = first;
                let mut next = Instant::now();
                while !flag.load(Ordering::Relaxed) {
                    next += every;
                    thread::sleep(next.saturating_duration_since(Instant::now()));
                    if let (Some(kib), Some(n)) = (rss_kib(pid), threads(pid)) {
                        samples.push((kib, n));
                    }
                }
                samples
            })
            .expect("spawn the sampler");
        Sampler { stop, handle }
    }

    /// Stops and returns the samples.
    pub fn finish(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_default()
    }
}
