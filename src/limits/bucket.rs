//! A token bucket: `burst` tokens to start with, `rate` more each second,
//! never more than `burst`; each publish takes one.
//!
//! ```text
//! rate 2/s, burst 3     t=0.0  ●●●   take, take, take → ok, ok, ok
//!                       t=0.0  ○○○   take → wait 0.5 s (Retry-After: 1)
//!                       t=0.5  ●○○   take → ok
//! ```
//!
//! The bucket stores its level and when it was last looked at, and refills
//! by the time passed when asked: no timer. Time comes in as an argument,
//! so the tests can step it without sleeping.

use std::time::{Duration, Instant};

/// One token, in the billionths the level is counted in: whole numbers
/// keep the arithmetic exact (a token is due after exactly 1/rate s).
const TOKEN: u128 = 1_000_000_000;

/// How fast tokens come back, and how many a bucket holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Tokens added per second.
    pub per_sec: u64,
    /// Tokens a full bucket holds: the publishes one client may make at once.
    pub burst: u64,
}

/// One client's bucket.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    /// Billionths of a token.
    level: u128,
    at: Instant,
}

impl Bucket {
    /// A full bucket: a client not seen before may make a burst at once.
    pub fn full(rate: Rate, now: Instant) -> Bucket {
        Bucket {
            level: brim(rate),
            at: now,
        }
    }

    /// Takes one token, or says how long until one is due.
    ///
    /// # Errors
    /// The time until the next token, when the bucket is empty.
    pub fn take(&mut self, rate: Rate, now: Instant) -> Result<(), Duration> {
        self.level = self.level_at(rate, now);
        self.at = self.at.max(now);
        if self.level >= TOKEN {
            self.level -= TOKEN;
            return Ok(());
        }
        // Nanoseconds until the missing part has dripped in, rounded up.
        let missing = TOKEN - self.level;
        let per_sec = u128::from(rate.per_sec.max(1));
        let nanos = missing.div_ceil(per_sec);
        Err(Duration::from_nanos(
            u64::try_from(nanos).unwrap_or(u64::MAX),
        ))
    }

    /// Whether it has refilled to the brim: then it says nothing a new
    /// bucket would not, and can be forgotten.
    pub fn is_full(&self, rate: Rate, now: Instant) -> bool {
        self.level_at(rate, now) >= brim(rate)
    }

    /// The level at `now`: refilled by the time passed, at most the brim.
    pub fn level_at(&self, rate: Rate, now: Instant) -> u128 {
        let passed = now.saturating_duration_since(self.at).as_nanos();
        // nanoseconds × tokens per second = billionths of a token.
        let dripped = passed.saturating_mul(u128::from(rate.per_sec));
        self.level.saturating_add(dripped).min(brim(rate))
    }
}

fn brim(rate: Rate) -> u128 {
    u128::from(rate.burst) * TOKEN
}

/// A wait as whole seconds for `Retry-After`: rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let up = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    up.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_A_SECOND: Rate = Rate {
        per_sec: 2,
        burst: 3,
    };

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_burst_then_a_wait_for_the_next_token() {
        let t0 = Instant::now();
        let mut b = Bucket::full(TWO_A_SECOND, t0);
        for _ in 0..3 {
            assert_eq!(b.take(TWO_A_SECOND, t0), Ok(()));
        }
        assert_eq!(b.take(TWO_A_SECOND, t0), Err(ms(500)));
        assert_eq!(b.take(TWO_A_SECOND, t0 + ms(100)), Err(ms(400)));
        assert_eq!(b.take(TWO_A_SECOND, t0 + ms(500)), Ok(()));
        assert_eq!(b.take(TWO_A_SECOND, t0 + ms(500)), Err(ms(500)));
    }

    #[test]
    fn refills_to_the_burst_and_no_further() {
        let t0 = Instant::now();
        let mut b = Bucket::full(TWO_A_SECOND, t0);
        assert_eq!(b.take(TWO_A_SECOND, t0), Ok(()));
        assert!(!b.is_full(TWO_A_SECOND, t0 + ms(400)));
        assert!(b.is_full(TWO_A_SECOND, t0 + ms(500)));
        let later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(b.take(TWO_A_SECOND, later), Ok(()));
        }
        assert!(b.take(TWO_A_SECOND, later).is_err());
    }

    #[test]
    fn time_going_backwards_adds_nothing() {
        let t0 = Instant::now() + Duration::from_secs(1);
        let mut b = Bucket::full(TWO_A_SECOND, t0);
        for _ in 0..3 {
            assert_eq!(b.take(TWO_A_SECOND, t0), Ok(()));
        }
        assert!(b.take(TWO_A_SECOND, t0 - ms(900)).is_err());
        assert_eq!(b.take(TWO_A_SECOND, t0 + ms(500)), Ok(()));
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(ms(1)), 1);
        assert_eq!(retry_after_secs(ms(1000)), 1);
        assert_eq!(retry_after_secs(ms(1001)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
