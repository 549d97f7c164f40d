//! The one wall clock: milliseconds since the Unix epoch, the `time` of
//! every message and keepalive object (`"time":1763755200000`), and
//! microseconds for where a history that starts empty begins its ids.
//!
//! Deadlines and timeouts use `Instant` (monotonic) instead; this clock is
//! only for times a client reads.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in milliseconds since the Unix epoch (0 if the clock is before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Now, in microseconds since the Unix epoch (0 if the clock is before 1970).
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// A number no one can guess in advance (std's per-process random hash
/// keys over the time): for a node's name and for jitter, not for secrets.
pub fn random() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(now_us())
}
