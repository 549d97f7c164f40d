//! How much history a topic keeps: the same three bounds in memory and on
//! disk, so that both hold the same messages.
//!
//! ```text
//! --topic-history 1000        the oldest goes once there are 1001
//! --topic-history-bytes 1MiB  the oldest goes while the bodies pass 1 MiB,
//!                             but the newest stays (`since=latest` has it)
//! --topic-history-ttl 24h     a message older than a day goes, newest too
//! ```

use std::time::Duration;

/// The bounds on one topic's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Most messages held.
    pub messages: usize,
    /// Most bytes of bodies held (the newest message is kept even alone over it).
    pub bytes: usize,
    /// Oldest a message may be.
    pub ttl: Duration,
}

impl Bounds {
    /// Whether a history of `count` messages and `bytes` bytes must let its
    /// oldest go.
    pub fn over(&self, count: usize, bytes: usize) -> bool {
        count > self.messages || (bytes > self.bytes && count > 1)
    }

    /// Whether a message stamped `time_ms` has outlived the TTL at `now_ms`.
    pub fn expired(&self, time_ms: u64, now_ms: u64) -> bool {
        let ttl_ms = u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX);
        now_ms.saturating_sub(time_ms) > ttl_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_stays_over_the_byte_cap_but_not_past_the_ttl() {
        let b = Bounds {
            messages: 2,
            bytes: 10,
            ttl: Duration::from_secs(1),
        };
        assert!(!b.over(1, 100));
        assert!(b.over(2, 11));
        assert!(b.over(3, 0));
        assert!(!b.over(2, 10));
        assert!(!b.expired(5_000, 6_000));
        assert!(b.expired(5_000, 6_001));
    }
}
