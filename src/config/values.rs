//! Reading and writing setting values: durations (`500ms`, `10s`, `2m`,
//! humantime) and sizes (`16KiB`, `1MiB`, bytes; bytesize), with the range
//! checks clap runs on each flag; the shape of an origin.

use std::time::Duration;

/// A duration as a flag default: `10s`, `2m`, `500ms`.
pub fn time(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// A size as a flag default: `16KiB`, `1MiB`, or bytes.
pub fn size(n: usize) -> String {
    const UNITS: [(usize, &str); 2] = [(1 << 20, "MiB"), (1 << 10, "KiB")];
    match UNITS
        .iter()
        .find(|(unit, _)| n >= *unit && n.is_multiple_of(*unit))
    {
        Some((unit, name)) => format!("{}{name}", n / unit),
        None => n.to_string(),
    }
}

pub fn any_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| e.to_string())
}

pub fn nonzero_duration(text: &str) -> Result<Duration, String> {
    match any_duration(text)? {
        d if d.is_zero() => Err("must be more than 0".into()),
        d => Ok(d),
    }
}

pub fn any_size(text: &str) -> Result<usize, String> {
    let size: bytesize::ByteSize = text.parse()?;
    usize::try_from(size.as_u64()).map_err(|_| format!("{text} is too large"))
}

pub fn nonzero_size(text: &str) -> Result<usize, String> {
    match any_size(text)? {
        0 => Err("must be at least 1".into()),
        n => Ok(n),
    }
}

pub fn nonzero_count(text: &str) -> Result<usize, String> {
    match text.parse::<usize>().map_err(|e| e.to_string())? {
        0 => Err("must be at least 1".into()),
        n => Ok(n),
    }
}

/// `*`, or an origin as a browser writes it: `scheme://host[:port]`, no
/// path (a trailing `/` aside), which is all an `Origin` header holds.
pub fn origin(text: &str) -> Result<(), String> {
    if text == "*" {
        return Ok(());
    }
    if text.eq_ignore_ascii_case("null") {
        // Sandboxed frames, `data:` and `file:` pages all send `null`.
        return Err(
            "--cors-origin null would admit every sandboxed frame and data: page; \
                    use '*' if every origin is meant"
                .into(),
        );
    }
    let bare = text.strip_suffix('/').unwrap_or(text);
    let fits = match bare.split_once("://") {
        Some((scheme, authority)) => is_scheme(scheme) && is_authority(authority),
        None => false,
    };
    match fits {
        true => Ok(()),
        false => Err(format!(
            "--cors-origin {text} is not an origin like https://app.example \
             (scheme://host[:port], no path): it would never match"
        )),
    }
}

fn is_scheme(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`, in the ASCII a browser
/// writes (an IDN host goes as punycode): no path, query, user or space.
fn is_authority(text: &str) -> bool {
    let (host, port) = match text.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((v6, "")) => (v6, None),
            Some((v6, after)) => (v6, Some(after.strip_prefix(':').unwrap_or("x"))),
            None => return false,
        },
        None => match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        },
    };
    let v6 = text.starts_with('[');
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c) || (v6 && c == ':'));
    host_ok && port.is_none_or(is_port)
}

/// Checks an `--allowed-host` value: a name (or `*.` and a name, or `*`),
/// with no scheme, port or path, which would never match. Lower-cased.
///
/// # Errors
/// One line naming the flag.
pub fn host_name(text: &str) -> Result<String, String> {
    // A trailing dot (the DNS root) changes nothing: `Host` loses it too.
    let text = match text.strip_suffix('.') {
        Some(bare) if bare != "*" => bare,
        _ => text,
    };
    let name = text.strip_prefix("*.").unwrap_or(text);
    let fits = text == "*"
        || (name.split('.').all(|label| !label.is_empty())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c)));
    match fits {
        true => Ok(text.to_ascii_lowercase()),
        false => Err(
            "not a host name like push.example or *.example.com (no scheme, port or path): \
             it would never match"
                .into(),
        ),
    }
}

/// Digits only, and a number a port can be (`8080`; not `+80`, not `70000`).
pub fn is_port(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit()) && text.parse::<u16>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_texts_parse_back() {
        assert_eq!(size(16 * 1024), "16KiB");
        assert_eq!(size(1 << 20), "1MiB");
        assert_eq!(size(1000), "1000");
        assert_eq!(any_size(&size(16 * 1024)), Ok(16 * 1024));
        assert_eq!(time(Duration::from_secs(600)), "10m");
        assert_eq!(time(Duration::from_millis(500)), "500ms");
        assert_eq!(any_duration("10m"), Ok(Duration::from_secs(600)));
    }

    #[test]
    fn allowed_hosts_with_a_scheme_or_port_are_refused() {
        assert_eq!(host_name("Push.Example"), Ok("push.example".to_string()));
        assert_eq!(
            host_name("*.corp.example."),
            Ok("*.corp.example".to_string())
        );
        assert!(host_name("*").is_ok());
        assert!(host_name("*.example.com").is_ok());
        for bad in [
            "https://push.example",
            "push.example:8080",
            "",
            ".",
            "a..b",
            "*.",
            "a/b",
            "a b",
        ] {
            assert!(host_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn zero_is_refused_where_it_means_nothing() {
        assert!(nonzero_duration("0s").is_err());
        assert!(nonzero_size("0").is_err());
        assert!(nonzero_count("0").is_err());
        assert_eq!(any_duration("0s"), Ok(Duration::ZERO));
    }
}
