//! Who the client is when a reverse proxy stands in front: the proxy's
//! `X-Forwarded-For`, believed only from a `--trust-proxy` peer.
//!
//! Each proxy appends the address it got the request from:
//!
//! ```text
//! client 203.0.113.7 ──► nginx 10.0.0.2 ──► caddy 10.0.0.3 ──► tinypush
//! X-Forwarded-For: 198.51.100.1, 203.0.113.7, 10.0.0.2\r\n
//!                  └ the client wrote this   │            └ caddy appended
//!                                            └ nginx appended
//! ```
//!
//! Read from the right, skipping the proxies we trust (the TCP peer
//! 10.0.0.3, then 10.0.0.2): the first address not trusted, 203.0.113.7,
//! was written by a proxy we trust, about the peer it saw, so it is the
//! client. Everything left of it came with the request and anyone can
//! write it: taking the leftmost would let a client name any address it
//! likes, a new one per request to slip every limit, or another client's
//! to use up that client's places. When every entry is a trusted proxy,
//! the leftmost is the best there is. An entry that is not an address
//! ends the walk at the last good one.
//!
//! An entry may carry a port or an IPv6 zone, which some proxies write
//! (`203.0.113.7:5555`, `[2001:db8::5]:443`, `fe80::1%eth0`): both are
//! dropped, the address is the client.
//!
//! Not read: the `Forwarded` header of RFC 7239 (nginx and Caddy set
//! `X-Forwarded-For`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::request::Request;
use crate::config::is_port;

/// The client of `req`: `peer` itself, or, when `trusts(peer)`, the
/// rightmost address of `X-Forwarded-For` that `trusts` does not cover.
pub fn client(peer: IpAddr, req: &Request, trusts: impl Fn(IpAddr) -> bool) -> IpAddr {
    if !trusts(peer) {
        return peer;
    }
    // Several header lines are one list, in order (RFC 9110, section 5.3).
    let hops: Vec<&str> = req
        .headers_named("X-Forwarded-For")
        .flat_map(|v| v.split(','))
        .collect();
    rightmost_untrusted(peer, &hops, trusts)
}

/// Walks `hops` from the right while they are trusted proxies.
fn rightmost_untrusted(peer: IpAddr, hops: &[&str], trusts: impl Fn(IpAddr) -> bool) -> IpAddr {
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = address(hop) else {
            break;
        };
        client = ip;
        if !trusts(ip) {
            break;
        }
    }
    client
}

/// The address of one entry, its port and IPv6 zone dropped: `203.0.113.7`,
/// `203.0.113.7:5555`, `2001:db8::5`, `[2001:db8::5]`, `[2001:db8::5]:443`,
/// `fe80::1%eth0`. Anything else (`unknown`, an obfuscated `_hidden`) is
/// `None`.
fn address(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        return without_zone(inside);
    }
    // One colon: IPv4 and a port. More: IPv6 (a port would need brackets).
    match hop.split_once(':') {
        Some((v4, port)) if !port.contains(':') => {
            let ip = v4.parse::<Ipv4Addr>().ok()?;
            is_port(port).then_some(IpAddr::V4(ip))
        }
        _ => without_zone(hop),
    }
}

/// An IPv6 address, with or without its `%zone`.
fn without_zone(text: &str) -> Option<IpAddr> {
    let addr = text.split_once('%').map_or(text, |(addr, _zone)| addr);
    addr.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

/// How the access log names who asked, from the TCP peer and the client
/// the limits counted: the peer, or `client via peer`.
pub struct Who(pub SocketAddr, pub IpAddr);

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Who(peer, client) = self;
        if *client == peer.ip() {
            write!(f, "{peer}")
        } else {
            write!(f, "{client} via {peer}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn in_10(ip: IpAddr) -> bool {
        matches!(ip, IpAddr::V4(v4) if v4.octets()[0] == 10)
    }

    fn request(xff: &[&str]) -> Request {
        let headers = xff
            .iter()
            .map(|v| ("X-Forwarded-For".to_string(), v.to_string()))
            .collect();
        Request {
            method: "GET".into(),
            target: "/".into(),
            minor_version: 1,
            headers,
        }
    }

    #[test]
    fn rightmost_address_not_a_trusted_proxy() {
        let req = request(&["198.51.100.1, 203.0.113.7, 10.0.0.2"]);
        assert_eq!(client(ip("10.0.0.3"), &req, in_10), ip("203.0.113.7"));
        // Two header lines are one list.
        let req = request(&["198.51.100.1", "203.0.113.7,10.0.0.2"]);
        assert_eq!(client(ip("10.0.0.3"), &req, in_10), ip("203.0.113.7"));
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let req = request(&["203.0.113.7"]);
        assert_eq!(client(ip("192.0.2.9"), &req, in_10), ip("192.0.2.9"));
    }

    #[test]
    fn odd_lists() {
        let peer = ip("10.0.0.3");
        // No header: the proxy itself.
        assert_eq!(client(peer, &request(&[]), in_10), peer);
        // All trusted: the leftmost.
        let req = request(&["10.9.9.9, 10.0.0.2"]);
        assert_eq!(client(peer, &req, in_10), ip("10.9.9.9"));
        // Garbage stops the walk at the last address read.
        let req = request(&["203.0.113.7, junk, 10.0.0.2"]);
        assert_eq!(client(peer, &req, in_10), ip("10.0.0.2"));
        let req = request(&["2001:db8::7 , 10.0.0.2"]);
        assert_eq!(client(peer, &req, in_10), ip("2001:db8::7"));
    }

    #[test]
    fn ports_brackets_and_zones_are_dropped() {
        for (hop, want) in [
            ("203.0.113.7:5555", "203.0.113.7"),
            ("[2001:db8::5]", "2001:db8::5"),
            ("[2001:db8::5]:443", "2001:db8::5"),
            ("fe80::1%eth0", "fe80::1"),
            ("[fe80::1%25eth0]:80", "fe80::1"),
            (" 2001:db8::5 ", "2001:db8::5"),
        ] {
            assert_eq!(address(hop), Some(ip(want)), "{hop}");
        }
        for hop in [
            "unknown",
            "_hidden",
            "203.0.113.7:",
            "203.0.113.7:port",
            "203.0.113.7:99999",
            "[2001:db8::5]x",
            "[203.0.113.7]",
            "2001:db8::5:443:junk",
            "",
        ] {
            assert_eq!(address(hop), None, "{hop}");
        }
    }

    #[test]
    fn a_client_with_a_port_is_counted_apart_from_the_proxy() {
        let peer = ip("10.0.0.3");
        let req = request(&["203.0.113.7:5555, 10.0.0.2:80"]);
        assert_eq!(client(peer, &req, in_10), ip("203.0.113.7"));
        let req = request(&["[2001:db8::5]:443"]);
        assert_eq!(client(peer, &req, in_10), ip("2001:db8::5"));
    }

    #[test]
    fn who_names_the_proxy_too() {
        let peer: SocketAddr = "10.0.0.3:5000".parse().unwrap();
        assert_eq!(Who(peer, peer.ip()).to_string(), "10.0.0.3:5000");
        let proxied = Who(peer, ip("203.0.113.7"));
        assert_eq!(proxied.to_string(), "203.0.113.7 via 10.0.0.3:5000");
    }
}
