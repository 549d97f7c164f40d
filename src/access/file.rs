//! The auth file (`--auth-file`): TOML, one `[[token]]` table per token.
//!
//! ```toml
//! [[token]]
//! secret = "s3cret"
//! publish = ["alerts-*"]   # may publish to these topics (default: none)
//! subscribe = ["*"]        # may subscribe to these (default: none)
//!
//! [[token]]
//! secret = "reader-7f3a"
//! subscribe = ["news", "alerts-*"]
//! ```
//!
//! Refused, with one line naming the problem and the token by its place
//! (`token #2`), never by its secret: a key other than these (a typo
//! should not silently grant less or more), an empty secret, a secret with
//! whitespace or a control character (no `Authorization` header could
//! carry it), a secret given twice, and a pattern with characters outside
//! the topic alphabet and `*` (`pattern.rs`). A TOML syntax error is named
//! by its line; neither the offending text nor a value serde quotes is
//! repeated (`scrub.rs`), since it may be a secret.
//!
//! At start the file is read as given, a pipe included (`--auth-file
//! <(…)` is read once). A reload ([`reread`]) reads only a regular file,
//! opened without blocking, and refuses an empty one: an editor that
//! truncates before it writes must not revoke every token.

use std::fs::{File as OsFile, Metadata, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use serde::Deserialize;

use super::pattern::Pattern;
use super::policy::{Grant, Policy};

/// The file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    token: Vec<Token>,
}

/// One `[[token]]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Token {
    secret: String,
    #[serde(default)]
    publish: Vec<String>,
    #[serde(default)]
    subscribe: Vec<String>,
}

/// Reads an auth file's text into a [`Policy`]. Pure: no file system, no
/// log; the fuzz target calls it.
///
/// # Errors
/// One line saying what is wrong and where (`token #2: an empty secret`,
/// `line 3: unknown field ...`), without any secret.
pub fn parse(text: &str) -> Result<Policy, String> {
    let file: File = toml::from_str(text).map_err(|e| syntax(text, &e))?;
    let mut grants: Vec<Grant> = Vec::with_capacity(file.token.len());
    for (i, token) in file.token.into_iter().enumerate() {
        let place = format!("token #{}", i + 1);
        if token.secret.is_empty() {
            return Err(format!("{place}: an empty secret"));
        }
        if !crate::config::carriable(&token.secret) {
            return Err(format!(
                "{place}: the secret has whitespace or a control character, which no Authorization header can carry"
            ));
        }
        let list = |patterns: &[String], key: &str| -> Result<Vec<Pattern>, String> {
            let each = patterns.iter().map(|p| Pattern::new(p));
            each.collect::<Result<_, _>>()
                .map_err(|e| format!("{place}: {key}: {e}"))
        };
        let grant = Grant::new(
            &token.secret,
            list(&token.publish, "publish")?,
            list(&token.subscribe, "subscribe")?,
        );
        if let Some(first) = grants.iter().position(|g| g.same_secret(&grant)) {
            return Err(format!(
                "{place} has the same secret as token #{}",
                first + 1
            ));
        }
        grants.push(grant);
    }
    Ok(Policy::new(grants))
}

/// Reads and parses the auth file at `path`, as at start: whatever it is,
/// a pipe included, and empty or not.
///
/// # Errors
/// One line naming the file and the problem.
pub fn read(path: &Path) -> Result<Policy, String> {
    let name = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("auth file {name}: cannot read it: {e}"))?;
    parse(&text).map_err(|e| format!("auth file {name}: {e}"))
}

/// Reads and parses the auth file at `path` again (SIGHUP): only a regular
/// file, and not an empty one. Never waits for a writer.
///
/// # Errors
/// One line naming the file and the problem.
pub fn reread(path: &Path) -> Result<Policy, String> {
    let name = path.display();
    let mut file = open_regular(path).map_err(|e| format!("auth file {name} {e}"))?;
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| format!("auth file {name}: cannot read it: {e}"))?;
    // Whitespace only is what a truncate-then-write shows mid-way.
    if text.trim().is_empty() {
        return Err(format!("auth file {name} is empty"));
    }
    parse(&text).map_err(|e| format!("auth file {name}: {e}"))
}

/// `path` opened for reading, when it is a regular file.
fn open_regular(path: &Path) -> Result<OsFile, String> {
    let before = std::fs::metadata(path).map_err(|e| format!(": cannot read it: {e}"))?;
    if !before.is_file() {
        return Err(not_regular(&before));
    }
    // Without blocking: should the path become a FIFO after the check, the
    // open must not wait for a writer (it fails the check below instead).
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!(": cannot read it: {e}"))?;
    match file.metadata() {
        Ok(opened) if opened.is_file() => Ok(file),
        Ok(opened) => Err(not_regular(&opened)),
        Err(e) => Err(format!(": cannot read it: {e}")),
    }
}

/// Why a file that is not a regular one cannot be re-read.
fn not_regular(meta: &Metadata) -> String {
    let kind = meta.file_type();
    let what = if kind.is_fifo() {
        "a pipe"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else {
        "of another kind"
    };
    format!("is {what}, not a regular file: only a regular file can be re-read")
}

/// A TOML or serde error as one line: its message and the line it is on.
/// The error's own `Display` quotes the file around the fault, which may
/// be a secret, so it is not used.
fn syntax(text: &str, e: &toml::de::Error) -> String {
    let message = super::scrub::without_values(&e.message().trim().replace('\n', "; "));
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            format!("line {line}: {message}")
        }
        None => message,
    }
}

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;
