//! The auth file as the `tinypush` binary reads it, at start and on
//! SIGHUP: what a reload refuses, what no error line may quote, what a
//! start warns about.
//!
//! ```text
//! secret = "open s3same"          log: auth file F: token #3: the secret has whitespace or a control character, …
//! ```

mod support;

use support::{AUTH_FILE, auth_file, refused};

#[test]
fn a_secret_with_whitespace_is_refused_by_its_place_alone() {
    let text = format!("{AUTH_FILE}[[token]]\nsecret = \"open s3same\"\n");
    let file = auth_file(&text);
    let (code, log) = refused(&["--auth-file", file.to_str().unwrap()], &[]);
    assert_eq!(code, Some(1), "{log}");
    let expected = "token #3: the secret has whitespace or a control character, which no Authorization header can carry";
    assert!(log.contains(expected), "{log}");
    assert!(!log.contains("s3same"), "{log}");
}
