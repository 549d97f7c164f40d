//! Who may do what, and how much of the server one client may take: the
//! flags of access control, browsers on other origins, and per-client
//! limits. Read by `access/` (tokens and scopes), `endpoints/cors.rs`,
//! the WebSocket origin check, and the server's per-client counters.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::MAX_CONNECTIONS_PER_IP;
use super::values::{host_name, nonzero_count, origin};

/// Tokens, origins and per-client limits.
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct AccessConfig {
    /// A TOML file of tokens, each with the topic patterns it may publish
    /// and subscribe to; re-read on SIGHUP.
    #[arg(long, value_name = "FILE")]
    pub auth_file: Option<PathBuf>,
    /// What a request without a token may do (default: read-write, or read
    /// once --auth-file or --publish-token is given).
    #[arg(long, value_enum, value_name = "MODE")]
    pub anonymous: Option<Anonymous>,
    /// One token that may publish and subscribe to every topic (shorthand
    /// for a one-token auth file).
    #[arg(
        long,
        env = "TINYPUSH_PUBLISH_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub publish_token: Option<String>,
    /// An origin (like `https://app.example`) whose pages may publish,
    /// subscribe and open WebSockets besides the server's own; repeatable;
    /// '*' allows every origin.
    #[arg(
        long = "cors-origin",
        visible_alias = "allow-origin",
        value_name = "URL"
    )]
    pub cors_origins: Vec<String>,
    /// A host name this server answers to besides addresses, names without
    /// a dot and *.localhost (like push.example, or *.example.com); repeatable;
    /// '*' answers to every name. Others get 403: DNS rebinding.
    #[arg(long = "allowed-host", value_parser = host_name, value_name = "NAME")]
    pub allowed_hosts: Vec<String>,
    /// Most connections open at once from one client address; past it: 429.
    #[arg(long, default_value_t = MAX_CONNECTIONS_PER_IP, value_parser = nonzero_count, value_name = "N")]
    pub max_connections_per_ip: usize,
    /// Publishes per second one client address may make (a token bucket;
    /// default: no limit); past it: 429 with Retry-After.
    #[arg(long, value_parser = nonzero_count, value_name = "N")]
    pub publish_rate: Option<usize>,
    /// Publishes one client may make at once before --publish-rate applies
    /// (default: one second's worth).
    #[arg(long, value_parser = nonzero_count, value_name = "N", requires = "publish_rate")]
    pub publish_burst: Option<usize>,
    /// A reverse proxy (address or CIDR, like 10.0.0.0/8) whose
    /// X-Forwarded-For names the client for the limits and the access log;
    /// repeatable.
    #[arg(long, value_parser = cidr, value_name = "CIDR")]
    pub trust_proxy: Vec<ipnet::IpNet>,
}

/// What a request without a token may do.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anonymous {
    /// Publish and subscribe to every topic.
    ReadWrite,
    /// Subscribe to every topic; publishing needs a token.
    Read,
    /// Nothing: every topic request needs a token.
    None,
}

impl AccessConfig {
    /// What a request without a token may do, the default filled in.
    pub fn anonymous(&self) -> Anonymous {
        match self.anonymous {
            Some(mode) => mode,
            None if self.auth_file.is_some() || self.publish_token.is_some() => Anonymous::Read,
            None => Anonymous::ReadWrite,
        }
    }

    /// Refuses settings that could never work as meant: an empty token
    /// (an unset `TINYPUSH_PUBLISH_TOKEN=${TOKEN}` in a compose file would
    /// otherwise open publishing to everyone), one no header could carry,
    /// an anonymous mode that leaves no way in, and origins that would
    /// admit too much or never match.
    ///
    /// # Errors
    /// One line naming the flag; never the token itself.
    pub fn check(&self) -> Result<(), String> {
        if let Some(token) = &self.publish_token {
            if token.is_empty() {
                return Err("--publish-token is empty".into());
            }
            if !carriable(token) {
                return Err(
                    "--publish-token has a space or control character: no header could carry it"
                        .into(),
                );
            }
        }
        let mode = match self.anonymous {
            Some(Anonymous::None) => Some("none"),
            Some(Anonymous::Read) => Some("read"),
            _ => None,
        };
        if let Some(mode) = mode
            && self.auth_file.is_none()
            && self.publish_token.is_none()
        {
            return Err(format!(
                "--anonymous {mode} needs --auth-file or --publish-token: no request could carry a token"
            ));
        }
        self.cors_origins.iter().try_for_each(|o| origin(o))
    }
}

/// Whether a secret can travel in an `Authorization` header: no
/// whitespace, no control character.
pub fn carriable(secret: &str) -> bool {
    !secret.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Whether `ip` is inside one of the `--trust-proxy` networks; an IPv4
/// peer of a dual-stack listener (`::ffff:10.0.0.2`) as its IPv4 address.
pub fn trusted(proxies: &[ipnet::IpNet], ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    proxies.iter().any(|net| net.contains(&ip))
}

/// `10.0.0.0/8`, `::1/128`, or one address (`10.0.0.5`) for just itself.
fn cidr(text: &str) -> Result<ipnet::IpNet, String> {
    match text.parse::<IpAddr>() {
        Ok(ip) => Ok(ip.into()),
        Err(_) => text
            .parse::<ipnet::IpNet>()
            .map_err(|_| format!("{text} is not an address or a CIDR like 10.0.0.0/8")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_defaults_to_read_once_a_token_exists() {
        let mut c = crate::Config::default().access;
        assert_eq!(c.anonymous(), Anonymous::ReadWrite);
        c.publish_token = Some("s3cret".into());
        assert_eq!(c.anonymous(), Anonymous::Read);
        c.anonymous = Some(Anonymous::None);
        assert_eq!(c.anonymous(), Anonymous::None);
    }

    fn check(tweak: impl FnOnce(&mut AccessConfig)) -> Result<(), String> {
        let mut c = crate::Config::default().access;
        tweak(&mut c);
        c.check()
    }

    #[test]
    fn an_empty_or_unsendable_token_is_refused() {
        let e = check(|c| c.publish_token = Some(String::new()));
        assert_eq!(e, Err("--publish-token is empty".into()));
        for bad in ["s3cret\n", "two words", "tab\there", "bell\u{7}"] {
            let e = check(|c| c.publish_token = Some(bad.into())).unwrap_err();
            assert!(e.starts_with("--publish-token has a space"), "{bad:?}: {e}");
            assert!(!e.contains(bad), "the token is not shown: {e}");
        }
        assert_eq!(check(|c| c.publish_token = Some("s3cret".into())), Ok(()));
    }

    #[test]
    fn anonymous_none_or_read_needs_a_way_to_carry_a_token() {
        let e = check(|c| c.anonymous = Some(Anonymous::None)).unwrap_err();
        assert_eq!(
            e,
            "--anonymous none needs --auth-file or --publish-token: no request could carry a token"
        );
        let e = check(|c| c.anonymous = Some(Anonymous::Read)).unwrap_err();
        assert!(e.starts_with("--anonymous read needs"), "{e}");
        assert_eq!(check(|c| c.anonymous = Some(Anonymous::ReadWrite)), Ok(()));
        let with_token = |c: &mut AccessConfig| {
            c.anonymous = Some(Anonymous::None);
            c.publish_token = Some("s3cret".into());
        };
        assert_eq!(check(with_token), Ok(()));
        let with_file = |c: &mut AccessConfig| {
            c.anonymous = Some(Anonymous::Read);
            c.auth_file = Some("auth.toml".into());
        };
        assert_eq!(check(with_file), Ok(()));
    }

    #[test]
    fn cors_origins_are_origins_or_star() {
        for good in [
            "*",
            "https://app.example",
            "https://app.example/",
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
            "http://[2001:db8::5]",
            "chrome-extension://abcdef",
        ] {
            assert_eq!(
                check(|c| c.cors_origins = vec![good.into()]),
                Ok(()),
                "{good}"
            );
        }
        let e = check(|c| c.cors_origins = vec!["null".into()]).unwrap_err();
        assert!(e.contains("use '*'"), "{e}");
        for bad in [
            "app.example",
            "https://app.example/path",
            "https://app.example?x",
            "https://user@app.example",
            "https://app.example:port",
            "https://app.example:99999",
            "https://",
            "https://[::1",
            "https://[::1]x",
            "https://bücher.example",
            "https://app.example ",
            "*.example.com",
        ] {
            let e = check(|c| c.cors_origins = vec![bad.into()]).unwrap_err();
            assert!(e.contains("is not an origin"), "{bad}: {e}");
        }
    }

    #[test]
    fn proxies_by_address_or_network() {
        assert_eq!(cidr("10.0.0.5"), Ok("10.0.0.5/32".parse().unwrap()));
        let c = AccessConfig {
            trust_proxy: vec![cidr("10.0.0.0/8").unwrap(), cidr("::1").unwrap()],
            ..crate::Config::default().access
        };
        let trusts = |ip: &str| trusted(&c.trust_proxy, ip.parse().unwrap());
        assert!(trusts("10.1.2.3"));
        assert!(trusts("::1"));
        assert!(!trusts("11.0.0.1"));
        assert!(trusts("::ffff:10.0.0.2"));
        assert!(cidr("10.0.0.0/33").unwrap_err().contains("CIDR"));
    }
}
