//! Every client's publish bucket, in a table with a bound.
//!
//! ```text
//! publish from 10.0.0.7 ─► buckets[10.0.0.7] (a full one when not there) ─► take
//!                                 ok ─► publish     empty ─► 429, Retry-After
//! ```
//!
//! A bucket that has refilled to the brim says no more than a new one
//! would, so forgetting it loses nothing: a sweep drops every full bucket,
//! once a minute and whenever the table reaches its cap. If the cap is
//! still reached (more clients than that publishing within one refill
//! time), the bucket nearest to full is forgotten: that client gets back at
//! most one burst, and the table never grows past the cap, however many
//! addresses publish.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::bucket::{Bucket, Rate};

/// How often full buckets are swept even below the cap.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The buckets of every client that published lately.
#[derive(Debug)]
pub struct Rates {
    rate: Rate,
    cap: usize,
    table: Mutex<Table>,
}

#[derive(Debug)]
struct Table {
    buckets: HashMap<IpAddr, Bucket>,
    swept: Instant,
}

impl Rates {
    /// No buckets yet; at most `cap` of them at once.
    pub fn new(rate: Rate, cap: usize, now: Instant) -> Rates {
        Rates {
            rate,
            cap: cap.max(1),
            table: Mutex::new(Table {
                buckets: HashMap::new(),
                swept: now,
            }),
        }
    }

    /// Takes a token from `client`'s bucket.
    ///
    /// # Errors
    /// The time until its next token, when its bucket is empty.
    pub fn take(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let rate = self.rate;
        let mut table = self.table();
        if !table.buckets.contains_key(&client) {
            table.make_room(rate, self.cap, now);
        }
        let bucket = table
            .buckets
            .entry(client)
            .or_insert_with(|| Bucket::full(rate, now));
        bucket.take(rate, now)
    }

    /// The number of buckets held.
    pub fn len(&self) -> usize {
        self.table().buckets.len()
    }

    /// Whether no bucket is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        // Each update is one insert, take or sweep; none leaves the map broken.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Table {
    /// Before a new bucket: sweep when due or full, then, at the cap, forget
    /// the bucket nearest to full.
    fn make_room(&mut self, rate: Rate, cap: usize, now: Instant) {
        let due = now.saturating_duration_since(self.swept) >= SWEEP_EVERY;
        if due || self.buckets.len() >= cap {
            self.buckets.retain(|_, b| !b.is_full(rate, now));
            self.swept = now;
        }
        if self.buckets.len() >= cap {
            let fullest = self
                .buckets
                .iter()
                .max_by_key(|(_, b)| b.level_at(rate, now))
                .map(|(ip, _)| *ip);
            if let Some(ip) = fullest {
                self.buckets.remove(&ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate {
        per_sec: 1,
        burst: 2,
    };

    fn ip(n: u32) -> IpAddr {
        IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + n))
    }

    #[test]
    fn each_address_has_its_own_bucket() {
        let t0 = Instant::now();
        let rates = Rates::new(RATE, 100, t0);
        assert_eq!(rates.take(ip(1), t0), Ok(()));
        assert_eq!(rates.take(ip(1), t0), Ok(()));
        assert_eq!(rates.take(ip(1), t0), Err(Duration::from_secs(1)));
        assert_eq!(rates.take(ip(2), t0), Ok(()), "another address");
    }

    #[test]
    fn full_buckets_are_swept_when_due() {
        let t0 = Instant::now();
        let rates = Rates::new(RATE, 100, t0);
        for n in 0..10 {
            rates.take(ip(n), t0).unwrap();
        }
        assert_eq!(rates.len(), 10);
        // A minute on, all have refilled: the next newcomer sweeps them.
        rates.take(ip(99), t0 + SWEEP_EVERY).unwrap();
        assert_eq!(rates.len(), 1);
    }

    #[test]
    fn the_table_never_passes_its_cap() {
        let t0 = Instant::now();
        let rates = Rates::new(RATE, 8, t0);
        for n in 0..1000 {
            // Two each: no bucket is full, so the sweep frees nothing.
            let _ = rates.take(ip(n), t0);
            let _ = rates.take(ip(n), t0);
            assert!(rates.len() <= 8);
        }
        // The newest is still held: its bucket is empty.
        assert!(rates.take(ip(999), t0).is_err());
    }
}
