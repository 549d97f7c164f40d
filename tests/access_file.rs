//! The auth file as the `tinypush` binary reads it, at start and on
//! SIGHUP: what a reload refuses, what no error line may quote, what a
//! start warns about.
//!
//! ```text
//! secret = 123456789              log: auth file F: line 2: invalid type: integer, expected a string
//! secret = "open s3same"          log: auth file F: token #3: the secret has whitespace or a control character, …
//! ```

mod support;

use support::{AUTH_FILE, ChildServer, READER, WRITER, auth_file, refused};

/// Asserts no log line read so far holds `secret`.
fn not_in_log(server: &ChildServer, secret: &str) {
    for line in server.seen() {
        assert!(!line.contains(secret), "a secret in the log: {line}");
    }
}

/// Files whose error line could quote the secret `9s3cret7` (or its
/// number), and the error expected instead.
const QUOTING: [(&str, &str); 5] = [
    (
        "secret = \"9s3cret7\"\n",
        "line 1: unknown field `secret`, expected `token`",
    ),
    (
        "token = \"9s3cret7\"\n",
        "line 1: invalid type: string, expected a sequence",
    ),
    (
        "[[token]]\nsecret = 987654321\n",
        "line 2: invalid type: integer, expected a string",
    ),
    (
        "[[token]]\nsecret = 0xDEAD\n",
        "line 2: invalid type: integer, expected a string",
    ),
    (
        "[[token]]\nsecret = \"a\"\nnote = \"9s3cret7\"\n",
        "line 3: unknown field `note`",
    ),
];

#[test]
fn a_bad_file_never_quotes_a_secret_at_start_or_at_reload() {
    for (text, expected) in QUOTING {
        let file = auth_file(text);
        let (code, log) = refused(&["--auth-file", file.to_str().unwrap()], &[]);
        assert_eq!(code, Some(1), "{log}");
        assert!(log.contains(expected), "{text:?}: {log}");
        for secret in ["9s3cret7", "987654321", "57005", "DEAD"] {
            assert!(!log.contains(secret), "{text:?}: {log}");
        }
    }
    let file = auth_file(AUTH_FILE);
    let mut server = ChildServer::start(&["--auth-file", file.to_str().unwrap()]);
    for (text, expected) in QUOTING {
        std::fs::write(&file, text).unwrap();
        server.signal("HUP");
        let line = server.wait_new_log("the tokens read before stay in force");
        assert!(line.contains(expected), "{text:?}: {line}");
    }
    for secret in ["9s3cret7", "987654321", "57005", "DEAD", READER, WRITER] {
        not_in_log(&server, secret);
    }
}

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
