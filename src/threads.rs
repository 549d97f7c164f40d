//! The thread budget: how many more threads this process may start
//! without reaching a limit that kills it.
//!
//! A thread costs memory mappings: its stack, the alternate signal stack
//! Rust maps as it starts, and a guard page each. Past `vm.max_map_count`
//! (65,530 by default), `spawn` may still succeed and the mapping then fail
//! inside the new thread, where the standard library can only abort:
//!
//! ```text
//! failed to set up alternative stack guard page: Cannot allocate memory
//! fatal runtime error: failed to initiate panic, error 5, aborting
//! ```
//!
//! That cannot be caught, so it is prevented: at start the budget reads the
//! limits, measures the mappings one thread adds, and keeps a count. Every connection
//! thread and every WebSocket writer takes a [`Permit`] first; with none
//! left, the client gets 503 and the process goes on. New connections stop
//! a sixteenth short of the budget: the open ones keep room to start the
//! writer threads their backlogs need.
//!
//! ```text
//! budget = min( (max_map_count − mappings now − reserve) / mappings per thread,
//!               pid_max − threads on the machine now − reserve,
//!               --max-threads if given )
//! ```
//! (Linux only: `/proc`; a limit that cannot be read does not bound.)

use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use crossbeam_channel::bounded;
use log::info;

use crate::error::{Error, Result};

/// Mappings kept free for the allocator's arenas, files and libraries.
const RESERVED_MAPPINGS: usize = 4096;
/// Machine-wide thread ids kept free for other processes.
const RESERVED_PIDS: usize = 512;
/// Mappings a thread costs when measuring it fails (two stacks, two guards).
const ASSUMED_MAPPINGS_PER_THREAD: usize = 4;

/// How many threads may be started, and how many are running.
#[derive(Debug)]
pub struct ThreadBudget {
    limit: usize,
    used: AtomicUsize,
}

/// One started thread's place in the budget; dropping it frees it.
#[derive(Debug)]
pub struct Permit {
    budget: Arc<ThreadBudget>,
}

/// What the budget was made from, for the start-up log line and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `vm.max_map_count`, if readable.
    pub max_map_count: Option<usize>,
    /// Mappings held now, if readable.
    pub mappings_now: Option<usize>,
    /// Mappings one thread adds.
    pub mappings_per_thread: usize,
    /// Thread ids the machine still has free, if readable.
    pub free_pids: Option<usize>,
    /// `--max-threads`, when set.
    pub configured: Option<usize>,
}

impl Limits {
    /// Reads the limits of this machine and process, measuring one thread
    /// of `stack_bytes`.
    pub fn read(stack_bytes: usize, configured: Option<usize>) -> Limits {
        Limits {
            max_map_count: read_number("/proc/sys/vm/max_map_count"),
            mappings_now: mappings(),
            mappings_per_thread: measure_thread(stack_bytes),
            free_pids: free_pids(),
            configured,
        }
    }

    /// The number of threads these limits allow.
    pub fn budget(&self) -> usize {
        let by_maps = match (self.max_map_count, self.mappings_now) {
            (Some(max), Some(now)) => {
                let free = max.saturating_sub(now + RESERVED_MAPPINGS);
                Some(free / self.mappings_per_thread.max(1))
            }
            _ => None,
        };
        let by_pids = self
            .free_pids
            .map(|free| free.saturating_sub(RESERVED_PIDS));
        [by_maps, by_pids, self.configured]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(usize::MAX)
    }
}

impl ThreadBudget {
    /// A budget of `limit` threads.
    pub fn new(limit: usize) -> Arc<ThreadBudget> {
        Arc::new(ThreadBudget {
            limit,
            used: AtomicUsize::new(0),
        })
    }

    /// The budget this process has, from [`Limits::read`]; logs how it was made.
    pub fn from_machine(stack_bytes: usize, configured: Option<usize>) -> Arc<ThreadBudget> {
        let limits = Limits::read(stack_bytes, configured);
        let limit = limits.budget();
        info!(
            "thread budget {limit} (vm.max_map_count {}, {} mappings per thread, {} free thread ids)",
            shown(limits.max_map_count),
            limits.mappings_per_thread,
            shown(limits.free_pids)
        );
        ThreadBudget::new(limit)
    }

    /// A place for one more thread, or `None` when the budget is spent.
    pub fn try_acquire(self: &Arc<Self>) -> Option<Permit> {
        self.take_below(self.limit)
    }

    /// A place for a new connection's thread: connections stop a sixteenth
    /// short of the budget, so that the connections already open can still
    /// start the writer threads their backlogs need.
    pub fn try_acquire_connection(self: &Arc<Self>) -> Option<Permit> {
        self.take_below(self.limit - self.limit / 16)
    }

    fn take_below(self: &Arc<Self>, limit: usize) -> Option<Permit> {
        let taken = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used < limit).then_some(used + 1)
            });
        taken.ok().map(|_| Permit {
            budget: Arc::clone(self),
        })
    }

    /// A place for one more thread, or a 503 for the client.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the budget is spent.
    pub fn acquire(self: &Arc<Self>) -> Result<Permit> {
        self.try_acquire()
            .ok_or(Error::Unavailable("server at its thread limit"))
    }

    /// Threads started under the budget and still running.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(1, Ordering::AcqRel);
    }
}

fn shown(n: Option<usize>) -> String {
    n.map_or_else(|| "unknown".into(), |n| n.to_string())
}

fn read_number(path: &str) -> Option<usize> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The number of memory mappings this process holds.
fn mappings() -> Option<usize> {
    let maps = fs::read_to_string("/proc/self/maps").ok()?;
    Some(maps.lines().count())
}

/// Thread ids free on the machine: `pid_max` less every thread running
/// (the fourth field of `/proc/loadavg` is `running/total`).
fn free_pids() -> Option<usize> {
    let pid_max = read_number("/proc/sys/kernel/pid_max")?;
    let loadavg = fs::read_to_string("/proc/loadavg").ok()?;
    let total: usize = loadavg
        .split_whitespace()
        .nth(3)?
        .split_once('/')?
        .1
        .parse()
        .ok()?;
    Some(pid_max.saturating_sub(total))
}

/// Mappings added by starting one thread with a stack of `stack_bytes`,
/// counted while it runs.
///
/// Two things a first thread does are not per-thread costs, so a warm-up
/// thread runs and ends before the one counted. Its first allocation makes
/// the allocator a new arena (two mappings; at most 8 per core, and reused
/// by later threads): the counted thread reuses it. And its stack is kept
/// for reuse when it ends: it is 8 times as large, which the C library
/// never hands to a thread asking for `stack_bytes`, so the counted thread
/// maps a stack of its own, as connection threads do.
fn measure_thread(stack_bytes: usize) -> usize {
    let spawn = |stack: usize, release: crossbeam_channel::Receiver<()>| {
        let (started_tx, started) = bounded::<()>(0);
        let handle = thread::Builder::new()
            .name("measure".into())
            .stack_size(stack)
            .spawn(move || {
                let _ = started_tx.send(());
                let _ = release.recv();
            })
            .ok()?;
        started.recv().ok()?;
        Some(handle)
    };
    let measured = (|| {
        let (_, released) = bounded::<()>(0);
        spawn(stack_bytes.saturating_mul(8), released)?
            .join()
            .ok()?;
        let before = mappings()?;
        let (release, released) = bounded::<()>(0);
        let handle = spawn(stack_bytes, released)?;
        let during = mappings();
        drop(release);
        handle.join().ok()?;
        Some(during?.saturating_sub(before))
    })();
    // Adjacent mappings with the same rights merge, so a count may come
    // out low; never assume less than a stack and its guard.
    measured.map_or(ASSUMED_MAPPINGS_PER_THREAD, |n| n.max(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_map_count: Some(65_530),
            mappings_now: Some(30),
            mappings_per_thread: 4,
            free_pids: Some(32_000),
            configured: None,
        }
    }

    #[test]
    fn the_mapping_limit_bounds_the_budget() {
        assert_eq!(limits().budget(), (65_530 - 30 - RESERVED_MAPPINGS) / 4);
    }

    #[test]
    fn the_smallest_limit_wins_and_unknowns_do_not_bound() {
        let few_pids = Limits {
            free_pids: Some(1000),
            ..limits()
        };
        assert_eq!(few_pids.budget(), 1000 - RESERVED_PIDS);
        let configured = Limits {
            configured: Some(7),
            ..limits()
        };
        assert_eq!(configured.budget(), 7);
        let unknown = Limits {
            max_map_count: None,
            free_pids: None,
            ..limits()
        };
        assert_eq!(unknown.budget(), usize::MAX);
    }

    #[test]
    fn permits_are_counted_and_given_back() {
        let budget = ThreadBudget::new(2);
        let a = budget.try_acquire().expect("first");
        let b = budget.try_acquire().expect("second");
        assert!(budget.try_acquire().is_none());
        drop(a);
        assert_eq!(budget.used(), 1);
        let _c = budget.try_acquire().expect("a freed place");
        drop(b);
        assert_eq!(budget.used(), 1);
    }

    #[test]
    fn connections_leave_a_sixteenth_for_writers() {
        let budget = ThreadBudget::new(32);
        let conns: Vec<_> = (0..32)
            .map_while(|_| budget.try_acquire_connection())
            .collect();
        let writers: Vec<_> = (0..32).map_while(|_| budget.try_acquire()).collect();
        assert_eq!((conns.len(), writers.len()), (30, 2));
        assert!(ThreadBudget::new(1).try_acquire_connection().is_some());
    }

    #[test]
    fn a_thread_costs_at_least_two_mappings_here() {
        let cost = measure_thread(128 * 1024);
        assert!((2..=16).contains(&cost), "{cost}");
    }
}
