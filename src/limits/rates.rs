//! Every client's publish bucket, in a table with a bound.
//!
//! ```text
//! publish from 10.0.0.7 ─► buckets[10.0.0.7] (a full one when not there) ─► take
//!                                 ok ─► publish     empty ─► 429, Retry-After
//! ```
//!
//! A bucket that has refilled to the brim says no more than a new one
//! would, so forgetting it loses nothing: once a minute, a newcomer sweeps
//! every full bucket out. Between sweeps, a newcomer that finds the table
//! at its cap (more clients than that publishing within a minute) makes
//! room by forgetting the oldest bucket, in the order they came (a queue
//! of keys beside the map), giving a second chance to one used since its
//! last turn at the front (the "clock" of page caches): a client that
//! keeps publishing keeps its bucket, and a flood of new addresses pushes
//! out only each other and the quiet. A forgotten client gets back at most
//! one burst, and the table never grows past the cap.
//!
//! Cost under the lock: a take is one lookup; a newcomer at the cap pops a
//! few keys (each second chance was paid for by the take that earned it);
//! the sweep walks the table, at most once a minute.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::bucket::{Bucket, Rate};

/// How often full buckets are swept.
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
    buckets: HashMap<IpAddr, Held>,
    /// The keys of `buckets`, oldest first: the next to go at the cap.
    order: VecDeque<IpAddr>,
    swept: Instant,
}

/// A bucket, and whether its client came back since its last turn at the
/// front of `order`.
#[derive(Debug)]
struct Held {
    bucket: Bucket,
    used: bool,
}

impl Rates {
    /// No buckets yet; at most `cap` of them at once.
    pub fn new(rate: Rate, cap: usize, now: Instant) -> Rates {
        Rates {
            rate,
            cap: cap.max(1),
            table: Mutex::new(Table {
                buckets: HashMap::new(),
                order: VecDeque::new(),
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
        if let Some(held) = table.buckets.get_mut(&client) {
            held.used = true;
            return held.bucket.take(rate, now);
        }
        table.make_room(rate, self.cap, now);
        let mut bucket = Bucket::full(rate, now);
        let taken = bucket.take(rate, now);
        table.buckets.insert(
            client,
            Held {
                bucket,
                used: false,
            },
        );
        table.order.push_back(client);
        taken
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
        // Each update is one insert, take, pop or sweep; none leaves the map broken.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Table {
    /// Before a new bucket: sweep the full ones when due, then, at the
    /// cap, forget the oldest not used since its last turn.
    fn make_room(&mut self, rate: Rate, cap: usize, now: Instant) {
        if now.saturating_duration_since(self.swept) >= SWEEP_EVERY {
            self.buckets
                .retain(|_, held| !held.bucket.is_full(rate, now));
            let buckets = &self.buckets;
            self.order.retain(|ip| buckets.contains_key(ip));
            self.swept = now;
        }
        while self.buckets.len() >= cap {
            let Some(ip) = self.order.pop_front() else {
                break;
            };
            match self.buckets.get_mut(&ip) {
                Some(held) if held.used => {
                    held.used = false;
                    self.order.push_back(ip);
                }
                Some(_) => {
                    self.buckets.remove(&ip);
                }
                None => {}
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

    #[test]
    fn a_client_that_keeps_publishing_keeps_its_bucket_through_a_flood() {
        let t0 = Instant::now();
        let rates = Rates::new(RATE, 8, t0);
        let known = ip(1_000_000);
        assert_eq!(rates.take(known, t0), Ok(()));
        assert_eq!(rates.take(known, t0), Ok(()));
        for n in 0..10_000 {
            let _ = rates.take(ip(n), t0);
            assert!(rates.len() <= 8);
            if n % 4 == 0 {
                // Still empty: a fresh bucket would say yes.
                assert!(rates.take(known, t0).is_err(), "forgotten at {n}");
            }
        }
    }

    #[test]
    fn at_the_cap_between_sweeps_one_bucket_goes_not_all_full_ones() {
        let t0 = Instant::now();
        let rates = Rates::new(RATE, 8, t0);
        for n in 0..8 {
            rates.take(ip(n), t0).unwrap();
        }
        // Two seconds on, every bucket is full again, but the sweep is not
        // due: the newcomer takes the oldest's place, nothing more.
        let t2 = t0 + Duration::from_secs(2);
        rates.take(ip(100), t2).unwrap();
        assert_eq!(rates.len(), 8);
        // A minute on, the sweep forgets every full bucket.
        rates.take(ip(101), t0 + SWEEP_EVERY).unwrap();
        assert_eq!(rates.len(), 1, "only the newcomer's");
    }
}
