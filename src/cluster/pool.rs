//! The node's connections to Redis for publishing and reading histories:
//! at most [`CONNECTIONS`], open or not, each lent to one call at a time.
//!
//! ```text
//! slots (a bounded channel of 16):  [con] [con] [none] [none] … [none]
//! call:    take a slot (wait at most 2 s) ─► its connection, or open one
//!          run the call on it
//!          give the slot back: the connection, or none if it failed
//! ```
//!
//! Without a bound, every publisher waiting on Redis would open a
//! connection of its own: a burst of 10,000 publishers on one node would
//! take Redis's whole client limit (`maxclients`, 10,000 by default) from
//! every node sharing it. With the bound, a call past the 16th waits for a
//! slot; a call is a round trip of about 100 µs, so the wait is short
//! unless Redis itself is slow, and then a caller gives up after
//! [`WAIT`], as it would on a connection's own timeout.

use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, bounded};
use redis::Connection;

/// Connections open at most, in use or idle.
pub const CONNECTIONS: usize = 16;
/// Longest a call waits for a free slot.
pub const WAIT: Duration = Duration::from_secs(2);

/// Slots: each holds an idle connection, or room to open one.
pub struct Pool {
    give: Sender<Option<Connection>>,
    take: Receiver<Option<Connection>>,
    wait: Duration,
}

/// A slot while a call has it; given back when dropped, with its
/// connection unless [`Lease::discard`] was called.
pub struct Lease<'a> {
    pool: &'a Pool,
    /// The slot's connection, if it holds one.
    pub con: Option<Connection>,
}

impl Pool {
    /// `slots` empty slots ([`CONNECTIONS`]); a call waits at most `wait`
    /// ([`WAIT`]) for one.
    pub fn new(slots: usize, wait: Duration) -> Pool {
        let (give, take) = bounded(slots);
        for _ in 0..slots {
            let _ = give.try_send(None);
        }
        Pool { give, take, wait }
    }

    /// A free slot, waiting at most the pool's wait; `None` when every one
    /// stayed in use that long.
    pub fn lease(&self) -> Option<Lease<'_>> {
        let con = self.take.recv_timeout(self.wait).ok()?;
        Some(Lease { pool: self, con })
    }

    /// Closes every idle connection (after Redis went away and came back,
    /// each would fail once); the slots stay.
    pub fn clear(&self) {
        for _ in 0..self.take.len() {
            if self.take.try_recv().is_ok() {
                let _ = self.give.try_send(None);
            }
        }
    }
}

impl Lease<'_> {
    /// Drops the connection (it failed): the slot goes back empty.
    pub fn discard(&mut self) {
        self.con = None;
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        // Never full: as many slots come back as were taken.
        let _ = self.pool.give.try_send(self.con.take());
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    const SHORT: Duration = Duration::from_millis(50);

    #[test]
    fn a_call_past_the_slots_waits_then_gives_up() {
        let pool = Pool::new(2, SHORT);
        let (first, _second) = (pool.lease(), pool.lease());
        assert!(first.is_some());
        let asked = Instant::now();
        assert!(pool.lease().is_none(), "a third lease while two are out");
        assert!(asked.elapsed() >= SHORT, "it waited for one");
        drop(first);
        assert!(pool.lease().is_some(), "a slot given back is lent again");
    }

    #[test]
    fn clearing_keeps_every_slot() {
        let pool = Pool::new(3, SHORT);
        let out = pool.lease();
        pool.clear();
        drop(out);
        let leases: Vec<_> = (0..3).map(|_| pool.lease()).collect();
        assert!(leases.iter().all(Option::is_some), "3 slots after a clear");
    }
}
