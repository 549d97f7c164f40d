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

mod limits;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use log::info;

pub use limits::Limits;

use crate::error::{Error, Result};

/// How many threads may be started, and how many are running.
#[derive(Debug)]
pub struct ThreadBudget {
    limit: usize,
    used: AtomicUsize,
    /// The most used since [`ThreadBudget::take_peak`] last looked.
    peak: AtomicUsize,
}

/// One started thread's place in the budget; dropping it frees it.
#[derive(Debug)]
pub struct Permit {
    budget: Arc<ThreadBudget>,
}

impl ThreadBudget {
    /// A budget of `limit` threads.
    pub fn new(limit: usize) -> Arc<ThreadBudget> {
        Arc::new(ThreadBudget {
            limit,
            used: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
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
        let used = taken.ok()? + 1;
        self.peak.fetch_max(used, Ordering::Relaxed);
        Some(Permit {
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

    /// The most threads running at once since the last call, and now.
    pub fn take_peak(&self) -> (usize, usize) {
        let used = self.used();
        let peak = self.peak.swap(used, Ordering::Relaxed);
        (peak.max(used), used)
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(budget.take_peak(), (2, 1));
        assert_eq!(budget.take_peak(), (1, 1));
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
}
