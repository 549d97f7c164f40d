//! The auth file parser (`--auth-file`, TOML): `tinypush::access::parse`.
//!
//! Built only with `--features access` until the access work lands on main:
//! it expects `pub fn parse(text: &str) -> Result<Policy, String>` in
//! `tinypush::access`, with `Policy: Debug`.
//!
//! Input: UTF-8 text, the file as written, e.g.
//!
//! ```text
//! [[token]]
//! secret = "s3cret-token"
//! publish = ["alerts-*"]
//! subscribe = ["*"]
//! ```
//!
//! Asserts: never a panic; the same text parses the same twice; and no
//! secret of 8 or more characters (`secret = "…"`) appears in an error
//! message, unless it also appears when that secret is replaced, which
//! makes it a word of the message and not a leak.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tinypush::access::parse;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let first = parse(text);
    let second = parse(text);
    assert_eq!(format!("{first:?}"), format!("{second:?}"));
    let Err(message) = first else {
        return;
    };
    for secret in secrets(text).filter(|s| s.chars().count() >= 8) {
        if !message.contains(secret) {
            continue;
        }
        let masked = text.replace(secret, &"x".repeat(secret.len()));
        let unrelated = parse(&masked).err().is_some_and(|m| m.contains(secret));
        assert!(unrelated, "the secret {secret:?} leaks into {message:?}");
    }
});

/// The quoted values of `secret = "…"` (or `'…'`) lines.
fn secrets(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter_map(|line| {
        let rest = line.trim_start().strip_prefix("secret")?.trim_start();
        let rest = rest.strip_prefix('=')?.trim_start();
        let quote = rest.chars().next().filter(|q| *q == '"' || *q == '\'')?;
        let value = &rest[1..];
        Some(&value[..value.find(quote)?])
    })
}
