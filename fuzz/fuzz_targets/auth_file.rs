//! The auth file parser (`--auth-file`, TOML): `tinypush::access::parse`,
//! the pure function under the start-up read and every SIGHUP reload.
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
//! message, unless it also appears when only that value is replaced, which
//! makes it a word of the message and not a leak.

#![no_main]

use std::ops::Range;

use libfuzzer_sys::fuzz_target;
use tinypush::access::parse;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let first = parse(text);
    assert_eq!(first, parse(text));
    let Err(message) = first else {
        return;
    };
    for span in secrets(text) {
        let secret = &text[span.clone()];
        if secret.chars().count() < 8 || !message.contains(secret) {
            continue;
        }
        // The same file with only this value changed: if its error still
        // holds the text, the text is a word of the message, not the secret.
        let masked = [
            &text[..span.start],
            &"x".repeat(span.len()),
            &text[span.end..],
        ]
        .concat();
        let unrelated = parse(&masked).err().is_some_and(|m| m.contains(secret));
        assert!(unrelated, "the secret {secret:?} leaks into {message:?}");
    }
});

/// Where the quoted values of `secret = "…"` (or `'…'`) lines are.
fn secrets(text: &str) -> impl Iterator<Item = Range<usize>> + '_ {
    text.lines().filter_map(move |line| {
        let rest = line.trim_start().strip_prefix("secret")?.trim_start();
        let rest = rest.strip_prefix('=')?.trim_start();
        let quote = rest.chars().next().filter(|q| *q == '"' || *q == '\'')?;
        let value = &rest[1..];
        let value = &value[..value.find(quote)?];
        // `lines` hands out slices of `text`: the offset is where it starts.
        let start = value.as_ptr() as usize - text.as_ptr() as usize;
        Some(start..start + value.len())
    })
}
