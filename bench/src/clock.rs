//! One epoch for the whole run, so a timestamp written into a message by the
//! publisher can be compared with the time a subscriber reads it.
//!
//! ```text
//! publisher   body "s42:1250000000"    (message 42, sent 1.25 s after the epoch)
//! subscriber  now_nanos() = 1252300000 → 2.3 ms delivery
//! ```
//!
//! Both ends live in this process, so a monotonic `Instant` serves: no wall
//! clock, no skew.

use std::sync::OnceLock;
use std::time::Instant;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds since the epoch (the first call to this function).
pub fn now_nanos() -> u64 {
    let epoch = EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}
