//! How much of the server one client may take: connections open at once
//! from one address (`--max-connections-per-ip`), and publishes per second
//! (`--publish-rate`, `--publish-burst`). Past either, a 429:
//!
//! ```text
//! HTTP/1.1 429 Too Many Requests\r\n
//! Content-Type: text/plain; charset=utf-8\r\n
//! Retry-After: 1\r\n
//! Connection: close\r\n
//! Content-Length: 39\r\n
//! \r\n
//! too many connections from your address\n
//! ```
//!
//! Who the client is: the TCP peer's address, counted at accept
//! (`server/mod.rs`), so a refusal costs no thread. A peer inside a
//! `--trust-proxy` network is a reverse proxy holding many clients'
//! connections: its connections are not counted at accept; each request
//! is counted under the client `X-Forwarded-For` names
//! (`http/forwarded.rs`), from the head until its answer or stream ends.
//!
//! Publishing over HTTP past the rate gets the 429 with `Retry-After`, the
//! seconds until the next token, rounded up. A WebSocket publishing through
//! its socket is held instead ([`Limits::wait_to_publish`]): its reader
//! waits until a token is due, reading nothing meanwhile, so the client's
//! sends back up into TCP (its own socket buffer fills and its writes
//! block). A chat client that types fast is slowed, not cut off, and its
//! subscription keeps flowing; a flood costs the thread that connection
//! already has. The wait is at most one token's time (1/rate s) at a
//! time, and a shutdown ends it.
//!
//! One client, one key: an IPv4 address, or an IPv6 address's /64 (one
//! host usually holds a whole /64 and could take a fresh address for each
//! connection). An IPv4 client of a dual-stack listener (`::ffff:1.2.3.4`)
//! counts as its IPv4 address.
//!
//! Files: `per_ip.rs` (open connections by address), `bucket.rs` (one
//! token bucket), `rates.rs` (every client's bucket, in a bounded table).

mod bucket;
mod per_ip;
mod rates;

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crossbeam_channel::{Receiver, select};

pub use bucket::{Bucket, Rate, retry_after_secs};
pub use per_ip::{PerIp, Place};
pub use rates::Rates;

use crate::config::AccessConfig;
use crate::error::{Error, Result};
use crate::metrics::Metrics;

/// Most clients whose publish buckets are held at once (see `rates.rs`).
pub const MAX_RATED_CLIENTS: usize = 16_384;

/// Why a connection is refused past `--max-connections-per-ip`.
const TOO_MANY_CONNECTIONS: &str = "too many connections from your address";
/// Why a publish is refused past `--publish-rate`.
const TOO_FAST: &str = "publishing too fast for --publish-rate";

/// The server's per-client limits.
#[derive(Debug)]
pub struct Limits {
    per_ip: Arc<PerIp>,
    publish: Option<Rates>,
    proxies: Vec<ipnet::IpNet>,
    metrics: Arc<Metrics>,
}

impl Limits {
    /// The limits `access` sets, counting refusals in `metrics`.
    pub fn new(access: &AccessConfig, metrics: Arc<Metrics>) -> Limits {
        let publish = access.publish_rate.map(|per_sec| {
            let rate = Rate {
                per_sec: per_sec as u64,
                burst: access.publish_burst.unwrap_or(per_sec) as u64,
            };
            Rates::new(rate, MAX_RATED_CLIENTS, Instant::now())
        });
        Limits {
            per_ip: PerIp::new(access.max_connections_per_ip),
            publish,
            proxies: access.trust_proxy.clone(),
            metrics,
        }
    }

    /// Counts a new connection from `peer`, at accept: `None` for a
    /// trusted proxy (its requests are counted one by one instead).
    ///
    /// # Errors
    /// `TooMany` when `peer` already has its most connections open.
    pub fn admit(&self, peer: IpAddr) -> Result<Option<Place>> {
        if self.is_proxy(peer) {
            return Ok(None);
        }
        self.enter(peer).map(Some)
    }

    /// Counts a request that came through a trusted proxy under `client`,
    /// until the returned place is dropped; `None` when `peer` is not a
    /// proxy (its connection was counted at accept).
    ///
    /// # Errors
    /// `TooMany` when `client` already has its most connections open.
    pub fn admit_request(&self, peer: IpAddr, client: IpAddr) -> Result<Option<Place>> {
        if !self.is_proxy(peer) {
            return Ok(None);
        }
        self.enter(client).map(Some)
    }

    /// Takes a publish token of `client`'s, when `--publish-rate` is set.
    ///
    /// # Errors
    /// `TooMany` with the seconds until its next token.
    pub fn publish(&self, client: IpAddr) -> Result<()> {
        let Some(rates) = &self.publish else {
            return Ok(());
        };
        rates.take(key(client), Instant::now()).map_err(|wait| {
            self.metrics
                .limited_publishes
                .fetch_add(1, Ordering::Relaxed);
            Error::TooMany {
                why: TOO_FAST,
                retry_after_secs: retry_after_secs(wait),
            }
        })
    }

    /// Waits until `client` may publish, taking the token; `false` when
    /// `shutdown` disconnects first, or `gone` (asked after each wait) says
    /// the connection has closed meanwhile. Each wait is for one token's
    /// time; another connection of the same client may take it first, and
    /// then this one waits again.
    pub fn wait_to_publish(
        &self,
        client: IpAddr,
        shutdown: &Receiver<()>,
        gone: impl Fn() -> bool,
    ) -> bool {
        let Some(rates) = &self.publish else {
            return true;
        };
        let mut counted = false;
        loop {
            let Err(wait) = rates.take(key(client), Instant::now()) else {
                return true;
            };
            if !std::mem::replace(&mut counted, true) {
                self.metrics
                    .limited_publishes
                    .fetch_add(1, Ordering::Relaxed);
            }
            select! {
                recv(shutdown) -> _ => return false,
                default(wait) => {}
            }
            if gone() {
                return false;
            }
        }
    }

    /// Whether `peer` is inside a `--trust-proxy` network.
    pub fn is_proxy(&self, peer: IpAddr) -> bool {
        crate::config::trusted(&self.proxies, peer)
    }

    fn enter(&self, ip: IpAddr) -> Result<Place> {
        self.per_ip.enter(key(ip)).ok_or_else(|| {
            let limited = &self.metrics.limited_connections;
            limited.fetch_add(1, Ordering::Relaxed);
            Error::TooMany {
                why: TOO_MANY_CONNECTIONS,
                retry_after_secs: 1,
            }
        })
    }
}

/// What a client is counted under: its IPv4 address, or its IPv6 /64.
pub fn key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !u128::from(u64::MAX);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn limits(tweak: impl FnOnce(&mut AccessConfig)) -> Limits {
        let mut access = crate::Config::default().access;
        tweak(&mut access);
        Limits::new(&access, Arc::new(Metrics::default()))
    }

    #[test]
    fn one_key_per_ipv4_address_or_ipv6_64() {
        assert_eq!(key(ip("10.1.2.3")), ip("10.1.2.3"));
        assert_eq!(key(ip("::ffff:10.1.2.3")), ip("10.1.2.3"));
        assert_eq!(key(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
        let l = limits(|a| a.max_connections_per_ip = 1);
        let _first = l.admit(ip("2001:db8::1")).unwrap();
        assert!(l.admit(ip("2001:db8::2")).is_err(), "the same /64");
        assert!(l.admit(ip("2001:db8:0:1::1")).is_ok(), "another /64");
    }

    #[test]
    fn proxies_are_counted_per_request_not_at_accept() {
        let l = limits(|a| {
            a.max_connections_per_ip = 1;
            a.trust_proxy = vec!["10.0.0.0/8".parse().unwrap()];
        });
        let proxy = ip("::ffff:10.0.0.2");
        assert!(l.admit(proxy).unwrap().is_none());
        assert!(
            l.admit_request(ip("192.0.2.1"), ip("192.0.2.1"))
                .unwrap()
                .is_none()
        );
        let held = l.admit_request(proxy, ip("203.0.113.7")).unwrap();
        assert!(held.is_some());
        assert!(l.admit_request(proxy, ip("203.0.113.7")).is_err());
        drop(held);
        assert!(l.admit_request(proxy, ip("203.0.113.7")).is_ok());
        assert_eq!(l.metrics.limited_connections.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_held_publisher_lets_go_at_shutdown() {
        let l = limits(|a| a.publish_rate = Some(1));
        let (stop, shutdown) = crossbeam_channel::bounded::<()>(0);
        assert!(
            l.wait_to_publish(ip("10.0.0.1"), &shutdown, || false),
            "the burst"
        );
        drop(stop);
        // The next token is a second away; the shutdown ends the wait now.
        assert!(!l.wait_to_publish(ip("10.0.0.1"), &shutdown, || false));
        assert!(l.publish(ip("10.0.0.2")).is_ok(), "another client");
        let e = l.publish(ip("10.0.0.1")).unwrap_err();
        assert!(
            matches!(
                e,
                Error::TooMany {
                    retry_after_secs: 1,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn a_held_publisher_lets_go_once_its_connection_is_gone() {
        let l = limits(|a| a.publish_rate = Some(1));
        let (_stop, shutdown) = crossbeam_channel::bounded::<()>(0);
        assert!(
            l.wait_to_publish(ip("10.0.0.1"), &shutdown, || true),
            "the burst"
        );
        // The next token is a second away: one wait, then `gone` ends it
        // without the token, which the next publish of the client still finds.
        assert!(!l.wait_to_publish(ip("10.0.0.1"), &shutdown, || true));
        assert!(l.wait_to_publish(ip("10.0.0.1"), &shutdown, || false));
    }

    #[test]
    fn without_a_rate_publishing_is_never_held() {
        let l = limits(|_| {});
        let (_stop, shutdown) = crossbeam_channel::bounded::<()>(0);
        for _ in 0..100 {
            assert!(l.publish(ip("10.0.0.1")).is_ok());
            assert!(l.wait_to_publish(ip("10.0.0.1"), &shutdown, || false));
        }
    }
}
