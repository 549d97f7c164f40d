//! Access control from outside: an auth file written for the test, and the
//! two tokens most tests use.
//!
//! ```text
//! [[token]]  secret = "w-s3cret-1"  publish = ["alerts-*"]  subscribe = ["*"]
//! [[token]]  secret = "r-s3cret-2"  subscribe = ["news", "alerts-*"]
//! ```
//!
//! The secrets are long and odd enough that finding one in a log line or
//! in `/metrics` can only mean it leaked.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// May publish to `alerts-*`, subscribe to everything.
pub const WRITER: &str = "w-s3cret-1";
/// May subscribe to `news` and `alerts-*`, publish nowhere.
pub const READER: &str = "r-s3cret-2";

/// The auth file of [`WRITER`] and [`READER`].
pub const AUTH_FILE: &str = "[[token]]\nsecret = \"w-s3cret-1\"\npublish = [\"alerts-*\"]\n\
                             subscribe = [\"*\"]\n\n[[token]]\nsecret = \"r-s3cret-2\"\n\
                             subscribe = [\"news\", \"alerts-*\"]\n";

/// A fresh file holding `text`, for `--auth-file`.
pub fn auth_file(text: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("auth-{}-{n}.toml", std::process::id()));
    std::fs::write(&path, text).expect("write the auth file");
    path
}
