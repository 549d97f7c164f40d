//! Connections open at once from one client address.
//!
//! ```text
//! accept 10.0.0.7:50312 ─► enter(10.0.0.7) ─► counts{10.0.0.7: 1} ─► Place
//! accept 10.0.0.7:50318 ─► enter(10.0.0.7) ─► counts{10.0.0.7: 2} ─► Place
//!   … the 257th while 256 are open ─► None: 429, close
//! a Place dropped (its connection ended) ─► count − 1; at 0 the entry goes
//! ```
//!
//! An entry lives only while a connection from its address is open, so the
//! table never holds more entries than there are open connections.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// Open connections counted by client address, each at most `max`.
#[derive(Debug)]
pub struct PerIp {
    max: usize,
    counts: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in its address's count; dropping it frees it.
#[derive(Debug)]
pub struct Place {
    table: Arc<PerIp>,
    ip: IpAddr,
}

impl PerIp {
    /// An empty table allowing `max` connections per address.
    pub fn new(max: usize) -> Arc<PerIp> {
        Arc::new(PerIp {
            max,
            counts: Mutex::new(HashMap::new()),
        })
    }

    /// Counts one more connection from `ip`, or `None` when it already has
    /// `max` open.
    pub fn enter(self: &Arc<Self>, ip: IpAddr) -> Option<Place> {
        let mut counts = self.counts();
        let count = counts.entry(ip).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Place {
            table: Arc::clone(self),
            ip,
        })
    }

    /// Connections open from `ip`.
    pub fn open_from(&self, ip: IpAddr) -> usize {
        self.counts().get(&ip).copied().unwrap_or(0)
    }

    /// Addresses with a connection open.
    pub fn addresses(&self) -> usize {
        self.counts().len()
    }

    fn counts(&self) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
        // Each update is one insert, add or remove: a panic elsewhere
        // cannot leave the map half-changed.
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut counts = self.table.counts();
        if let Some(count) = counts.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_address_and_frees_on_drop() {
        let table = PerIp::new(2);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let first = table.enter(a).expect("first");
        let _second = table.enter(a).expect("second");
        assert!(table.enter(a).is_none(), "a third from the same address");
        let _other = table.enter(b).expect("another address is not affected");
        drop(first);
        assert_eq!(table.open_from(a), 1);
        let _again = table.enter(a).expect("a place was freed");
    }

    #[test]
    fn an_address_with_nothing_open_leaves_no_entry() {
        let table = PerIp::new(1);
        let ip: IpAddr = "::1".parse().unwrap();
        let place = table.enter(ip).unwrap();
        assert!(table.enter(ip).is_none());
        drop(place);
        assert_eq!(table.addresses(), 0);
    }
}
