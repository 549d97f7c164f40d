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
//! Host: evil.example:8080\r\n     403 this server does not answer to that host name (--allowed-host)
//! ```
//!
//! An outside page can only own a name with a dot in public DNS: a name
//! without one (`localhost`, a LAN's `pi`, a compose service) comes from
//! the local resolver, and `*.localhost` is loopback by RFC 6761. Any
//! other name must be listed (`*.example.com` lists its subdomains, `*`
//! every name). The port is not compared; a request with no `Host` at all
//! (HTTP/1.0) is no browser's and passes. Two `Host` lines, or a value that
//! is not `host[:port]`, get 400: a proxy in front could read another line,
//! or the name another way. Every request is checked, before routing
//! (`connection.rs`).

use std::net::IpAddr;

use super::request::Request;
use crate::error::{Error, Result};

/// Refuses a request whose `Host` names a host neither always allowed nor
/// in `listed` (the `--allowed-host` names, lower case, no trailing dot).
///
/// # Errors
/// 400 for two `Host` lines or one that is not `host[:port]` (RFC 9112,
/// section 3.2: a proxy reading another line, or the name another way,
/// would see another host); 403 with a reason that names the flag.
pub fn check(req: &Request, listed: &[String]) -> Result<()> {
    let mut hosts = req.headers_named("Host");
    let Some(host) = hosts.next() else {
        return Ok(());
    };
    if hosts.next().is_some() {
        return Err(Error::BadRequest("more than one Host header"));
    }
    let name = name_of(host).ok_or(Error::BadRequest("Host is not host[:port]"))?;
    match allowed(&name, listed) {
        true => Ok(()),
        false => Err(Error::Forbidden(
            "this server does not answer to that host name (--allowed-host)",
        )),
    }
}

/// Whether the host `name` (as [`name_of`] gives it) may be answered.
fn allowed(name: &str, listed: &[String]) -> bool {
    name.parse::<IpAddr>().is_ok()
        || !name.contains('.')
        || name.ends_with(".localhost")
        || listed.iter().any(|pattern| matches(pattern, name))
}

/// The name of a `Host` value, `host[:port]`: lower case, without the
/// port, an IPv6 address's brackets, or a trailing dot. `None` unless the
/// host is a name (letters, digits, `-`, `.`, `_`, `~`; no percent-encoding)
/// or a bracketed address, and the port all digits (RFC 3986's authority
/// without user info); an empty value is the empty name.
fn name_of(host: &str) -> Option<String> {
    let host = host.trim();
    let (name, port) = match host.strip_prefix('[') {
        Some(rest) => {
            let (v6, after) = rest.split_once(']')?;
            // An address, and perhaps a zone (`%25eth0`, RFC 6874).
            let address = v6
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ":.%-_~".contains(c));
            (address.then_some(v6)?, after)
        }
        None => {
            let end = host.find(':').unwrap_or(host.len());
            let name = &host[..end];
            let named = name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c));
            (named.then_some(name)?, &host[end..])
        }
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
    port_ok.then(|| name.trim_end_matches('.').to_ascii_lowercase())
}

/// `*` matches every name, `*.example.com` its subdomains, any other
/// pattern the name itself.
fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_prefix("*.") {
        _ if pattern == "*" => true,
        Some(parent) => name
            .strip_suffix(parent)
            .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
        None => pattern == name,
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
            let name = name_of(host).expect("a Host value");
            assert!(allowed(&name, &[]), "{host}");
        }
    }

    #[test]
    fn a_dotted_name_must_be_listed() {
        let listed = ["push.example".to_string(), "*.corp.example".to_string()];
        let ok = |host: &str, listed: &[String]| allowed(&name_of(host).unwrap(), listed);
        assert!(!ok("evil.example:8080", &[]));
        assert!(!ok("localhost.evil.example", &[]));
        assert!(ok("push.example", &listed));
        assert!(ok("PUSH.example.:443", &listed));
        assert!(ok("a.corp.example", &listed));
        assert!(ok("a.b.corp.example", &listed));
        assert!(!ok("corp.example", &listed));
        assert!(!ok("xcorp.example", &listed));
        assert!(!ok("push.example.evil.example", &listed));
        assert!(ok("anything.example", &["*".to_string()]));
    }

    #[test]
    fn a_host_that_is_not_host_and_port_is_malformed() {
        for bad in [
            "127.0.0.1:80.evil.example",
            "127.0.0.1:evil.example",
            "evil%2eexample",
            "a b",
            "[::1",
            "[::1]x",
            "[evil.example]:80x",
            "user@evil.example",
            "a/b",
        ] {
            assert_eq!(name_of(bad), None, "{bad}");
        }
        assert_eq!(name_of("").as_deref(), Some(""));
        assert_eq!(name_of("t:").as_deref(), Some("t"));
    }
}
