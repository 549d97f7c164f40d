//! The node's connections to Redis for publishing and reading histories:
//! at most [`CONNECTIONS`] at once, each lent to one call at a time, the
//! idle ones reused newest first.
//!
//! ```text
//! permits (a bounded channel of 16 tokens)     idle (a stack): [con, con]
//! call:    take a permit (wait at most 2 s)
//!          pop the newest idle connection, or open one
//!          run the call on it
//!          push the connection back (dropped if it failed), give the permit back
//! ```
//!
//! Without a bound, every publisher waiting on Redis would open a
//! connection of its own: a burst of 10,000 publishers on one node would
//! take Redis's whole client limit (`maxclients`, 10,000 by default) from
//! every node sharing it. With the bound, a call past the 16th waits for a
//! permit. A call is a round trip of about 100 µs, so even thousands of
//! waiting threads wait milliseconds; only when Redis itself is slow does
//! a caller give up after [`WAIT`], as it would on a connection's own read
//! timeout. The `redis-listen` thread's reads (a new topic's history, a
//! hole) take permits too. Idle connections are a stack, so a quiet node
//! keeps reusing one connection rather than cycling through sixteen.

use std::sync::Mutex;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, bounded};
use redis::{Connection, ErrorKind, RedisError};

/// Connections open at most, in use or idle.
pub const CONNECTIONS: usize = 16;
/// Longest a call waits for a permit.
pub const WAIT: Duration = Duration::from_secs(2);

/// Permits to use a connection, and the idle connections.
pub struct Pool {
    give: Sender<()>,
    take: Receiver<()>,
    idle: Mutex<Vec<Connection>>,
    wait: Duration,
}

/// A permit while a call has it; given back when dropped, with its
/// connection kept for the next call unless [`Lease::discard`] was called
/// (or the call panicked, perhaps halfway through a reply).
pub struct Lease<'a> {
    pool: &'a Pool,
    /// The newest idle connection, if there was one.
    pub con: Option<Connection>,
}

impl Pool {
    /// `permits` permits ([`CONNECTIONS`]); a call waits at most `wait`
    /// ([`WAIT`]) for one.
    pub fn new(permits: usize, wait: Duration) -> Pool {
        let (give, take) = bounded(permits);
        for _ in 0..permits {
            let _ = give.try_send(());
        }
        let idle = Mutex::new(Vec::with_capacity(permits));
        Pool {
            give,
            take,
            idle,
            wait,
        }
    }

    /// A permit and the newest idle connection, waiting at most the pool's
    /// wait; `None` when every permit stayed out that long.
    pub fn lease(&self) -> Option<Lease<'_>> {
        self.take.recv_timeout(self.wait).ok()?;
        let con = self.idle().pop();
        Some(Lease { pool: self, con })
    }

    /// Closes every idle connection (after Redis went away and came back,
    /// each would fail once).
    pub fn clear(&self) {
        self.idle().clear();
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What [`busy`] says.
const BUSY: &str = "every Redis connection stayed in use for the whole wait";

/// The error of a call that found every permit out for the whole wait: a
/// client-side error (nothing was sent), not an I/O one.
pub fn busy() -> RedisError {
    RedisError::from((ErrorKind::Client, BUSY))
}

/// Whether `e` is `busy`'s: Redis answers, but slower than this node asks.
/// Told by its kind and the start of its message (the crate's error keeps
/// no other mark); `busy_is_told_apart_from_other_errors` checks both.
pub fn is_busy(e: &RedisError) -> bool {
    e.kind() == ErrorKind::Client && e.to_string().starts_with(BUSY)
}

impl Lease<'_> {
    /// Drops the connection (it failed): only the permit goes back.
    pub fn discard(&mut self) {
        self.con = None;
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(con) = self.con.take().filter(|_| !std::thread::panicking()) {
            self.pool.idle().push(con);
        }
        // Never full: as many permits come back as were taken.
        let _ = self.pool.give.try_send(());
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    const SHORT: Duration = Duration::from_millis(50);

    #[test]
    fn a_call_past_the_permits_waits_then_gives_up() {
        let pool = Pool::new(2, SHORT);
        let (first, _second) = (pool.lease(), pool.lease());
        assert!(first.is_some());
        let asked = Instant::now();
        assert!(pool.lease().is_none(), "a third lease while two are out");
        assert!(asked.elapsed() >= SHORT, "it waited for one");
        drop(first);
        assert!(pool.lease().is_some(), "a permit given back is lent again");
    }

    #[test]
    fn busy_is_told_apart_from_other_errors() {
        assert!(is_busy(&busy()));
        assert!(!busy().is_io_error(), "not a failure of Redis");
        let timed_out = std::io::Error::from(std::io::ErrorKind::WouldBlock);
        assert!(!is_busy(&timed_out.into()));
        let other = RedisError::from((ErrorKind::Client, "another client-side error"));
        assert!(!is_busy(&other));
    }

    #[test]
    fn clearing_keeps_every_permit() {
        let pool = Pool::new(3, SHORT);
        let out = pool.lease();
        pool.clear();
        drop(out);
        let leases: Vec<_> = (0..3).map(|_| pool.lease()).collect();
        assert!(
            leases.iter().all(Option::is_some),
            "3 permits after a clear"
        );
    }
}
