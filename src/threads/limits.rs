//! What bounds the thread budget: the mapping limit, the machine's free
//! thread ids, `--max-threads`, and what one thread really costs, read and
//! measured at start.

use std::fs;
use std::thread;

use crossbeam_channel::bounded;

/// Mappings kept free for the allocator's arenas, files and libraries.
const RESERVED_MAPPINGS: usize = 4096;
/// Machine-wide thread ids kept free for other processes.
const RESERVED_PIDS: usize = 512;
/// Mappings a thread costs when measuring it fails (two stacks, two guards).
const ASSUMED_MAPPINGS_PER_THREAD: usize = 4;

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
    // Counted threads stay alive until all three counts are made, so each
    // maps a stack of its own rather than reusing the last one's.
    let (release, released) = bounded::<()>(0);
    let mut counted = Vec::new();
    let mut once = || {
        let (_, warm_up_released) = bounded::<()>(0);
        spawn(stack_bytes.saturating_mul(8), warm_up_released)?
            .join()
            .ok()?;
        let before = mappings()?;
        counted.push(spawn(stack_bytes, released.clone())?);
        Some(mappings()?.saturating_sub(before))
    };
    // Another thread starting meanwhile would add its mappings: the least
    // of three counts is the thread's own.
    let measured = (0..3).filter_map(|_| once()).min();
    drop(release);
    for handle in counted {
        let _ = handle.join();
    }
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
    fn a_thread_costs_at_least_two_mappings_here() {
        let cost = measure_thread(128 * 1024);
        assert!((2..=16).contains(&cost), "{cost}");
    }
}
