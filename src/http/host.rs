//! Whether this server answers to the name in `Host`: the defence against
//! DNS rebinding.
//!
//! A page on `evil.example` can have its own name resolve to `127.0.0.1`
//! once loaded. Its scripts then reach a tinypush on the visitor's machine
//! as `evil.example:8080`, the page's own origin in the browser's eyes: no
//! CORS, and an `Origin` that equals `Host`. Only the name gives it away:
//!
//! ```text
//! GET /topics/news/sse HTTP/1.1\r\n
//! Host: 127.0.0.1:8080\r\n        an address: answered
//! Host: localhost:8080\r\n        a name without a dot, or *.localhost: answered
//! Host: push.example\r\n          answered with --allowed-host push.example
//! Host: evil.example:8080\r\n     403 this server does not answer to that name
//! ```
//!
//! An outside page can only own a name with a dot in public DNS: a name
//! without one (`localhost`, a LAN's `pi`, a compose service) comes from
//! the local resolver, and `*.localhost` is loopback by RFC 6761. Any
//! other name must be listed (`*.example.com` lists its subdomains, `*`
//! every name). The port is not compared; a request with no `Host` at all
//! (HTTP/1.0) is no browser's and passes. Every request is checked, before
//! routing (`connection.rs`).

use std::net::IpAddr;

use super::request::Request;
use crate::error::{Error, Result};

/// Refuses a request whose `Host` names a host neither always allowed nor
/// in `listed` (the `--allowed-host` names).
///
/// # Errors
/// 403 with a reason that names the flag.
pub fn check(req: &Request, listed: &[String]) -> Result<()> {
    match req.header("Host") {
        Some(host) if !allowed(host, listed) => Err(Error::Forbidden(
            "this server does not answer to that host name (--allowed-host)",
        )),
        _ => Ok(()),
    }
}

/// Whether `host` (a `Host` value, port and all) may be answered.
pub fn allowed(host: &str, listed: &[String]) -> bool {
    let name = name_of(host);
    name.parse::<IpAddr>().is_ok()
        || !name.contains('.')
        || name.ends_with(".localhost")
        || listed.iter().any(|pattern| matches(pattern, &name))
}

/// The name alone: lower case, without the port, the brackets of an IPv6
/// address, or a trailing dot.
fn name_of(host: &str) -> String {
    let host = host.trim();
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or(rest, |(v6, _)| v6),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// `*` matches every name, `*.example.com` its subdomains, any other
/// pattern the name itself.
fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_prefix("*.") {
        _ if pattern == "*" => true,
        Some(parent) => name
            .strip_suffix(parent)
            .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
        None => pattern.trim_end_matches('.').eq_ignore_ascii_case(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_dotless_names_and_localhost_are_always_answered() {
        for host in [
            "127.0.0.1:8080",
            "[::1]:8080",
            "[fe80::1%25eth0]",
            "10.0.0.7",
            "localhost:8080",
            "LOCALHOST",
            "pi",
            "app.localhost:3000",
            "t",
        ] {
            assert!(allowed(host, &[]), "{host}");
        }
    }

    #[test]
    fn a_dotted_name_must_be_listed() {
        let listed = ["push.example".to_string(), "*.corp.example".to_string()];
        assert!(!allowed("evil.example:8080", &[]));
        assert!(!allowed("localhost.evil.example", &[]));
        assert!(allowed("push.example", &listed));
        assert!(allowed("PUSH.example.:443", &listed));
        assert!(allowed("a.corp.example", &listed));
        assert!(allowed("a.b.corp.example", &listed));
        assert!(!allowed("corp.example", &listed));
        assert!(!allowed("xcorp.example", &listed));
        assert!(!allowed("push.example.evil.example", &listed));
        assert!(allowed("anything.example", &["*".to_string()]));
    }
}
