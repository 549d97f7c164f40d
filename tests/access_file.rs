//! The auth file as the `tinypush` binary reads it, at start and on
//! SIGHUP: what a reload refuses, what no error line may quote, what a
//! start warns about.
//!
//! ```text
//! kill -HUP PID (file empty)      log: SIGHUP: auth file F is empty; the tokens read before stay in force
//! kill -HUP PID (file a FIFO)     log: SIGHUP: auth file F is a pipe, not a regular file: …
//! secret = 123456789              log: auth file F: line 2: invalid type: integer, expected a string
//! secret = "open s3same"          log: auth file F: token #3: the secret has whitespace or a control character, …
//! --anonymous read, narrow lists  log: anonymous clients may subscribe to every topic (--anonymous read): …
//! ```

mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use support::{AUTH_FILE, ChildServer, READER, WRITER, auth_file, get, refused};

/// Whether WRITER may publish to `alerts-a` now.
fn writer_publishes(addr: SocketAddr) -> bool {
    let raw = "POST /topics/alerts-a HTTP/1.1\r\nHost: t\r\n\
               Authorization: Bearer w-s3cret-1\r\nContent-Length: 2\r\n\r\nhi";
    get(addr, raw.as_bytes()).0.status == 200
}

/// Asserts no log line read so far holds `secret`.
fn not_in_log(server: &ChildServer, secret: &str) {
    for line in server.seen() {
        assert!(!line.contains(secret), "a secret in the log: {line}");
    }
}

#[test]
fn a_reload_of_an_empty_or_blank_file_keeps_the_tokens() {
    let file = auth_file(AUTH_FILE);
    let mut server = ChildServer::start(&["--auth-file", file.to_str().unwrap()]);
    for text in ["", " \n\t\n"] {
        std::fs::write(&file, text).unwrap();
        server.signal("HUP");
        let line = server.wait_new_log("the tokens read before stay in force");
        let expected = format!(
            "SIGHUP: auth file {} is empty; the tokens read before stay in force",
            file.display()
        );
        assert!(line.ends_with(&expected), "{line}");
        assert!(writer_publishes(server.addr));
    }
}

#[test]
fn a_fifo_is_read_at_start_refused_at_reload_and_sigterm_still_works() {
    let file = auth_file("");
    std::fs::remove_file(&file).unwrap();
    let made = std::process::Command::new("mkfifo").arg(&file).status();
    assert!(made.unwrap().success());
    // The server's first read of the FIFO waits for this writer.
    let path = file.clone();
    let (written, done) = crossbeam_channel::bounded(1);
    std::thread::Builder::new()
        .name("fifo-writer".into())
        .spawn(move || {
            let mut fifo = std::fs::OpenOptions::new().write(true).open(path).unwrap();
            fifo.write_all(AUTH_FILE.as_bytes()).unwrap();
            let _ = written.send(());
        })
        .unwrap();
    let mut server = ChildServer::start(&["--auth-file", file.to_str().unwrap()]);
    // Bounded: a server that never opened the FIFO fails here, not hangs.
    done.recv_timeout(Duration::from_secs(5))
        .expect("the server read the FIFO");
    server.wait_log("2 tokens");
    server.wait_log("is not a regular file: read once now, SIGHUP cannot re-read it");
    // No writer now: opening the FIFO to read would wait for ever.
    server.signal("HUP");
    let line = server.wait_log("the tokens read before stay in force");
    let expected = format!(
        "SIGHUP: auth file {} is a pipe, not a regular file: only a regular file can be re-read",
        file.display()
    );
    assert!(line.contains(&expected), "{line}");
    assert!(writer_publishes(server.addr));
    server.signal("TERM");
    assert_eq!(server.wait_exit(Duration::from_secs(5)), Some(0));
}

#[test]
fn reloads_run_on_their_own_thread_not_the_signal_thread() {
    let file = auth_file(AUTH_FILE);
    let server = ChildServer::start(&["--auth-file", file.to_str().unwrap()]);
    let tasks = std::fs::read_dir(format!("/proc/{}/task", server.pid())).unwrap();
    let names: Vec<String> = tasks
        .map(|task| std::fs::read_to_string(task.unwrap().path().join("comm")).unwrap())
        .map(|name| name.trim().to_string())
        .collect();
    assert!(names.iter().any(|n| n == "auth-reload"), "{names:?}");
    assert!(names.iter().any(|n| n == "signals"), "{names:?}");
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

#[test]
fn anonymous_read_warns_that_narrow_subscribe_lists_add_nothing() {
    let file = auth_file(AUTH_FILE);
    let mut server = ChildServer::start(&["--auth-file", file.to_str().unwrap()]);
    let line = server.wait_log("anonymous clients may subscribe");
    assert!(line.contains("[WARN]"), "{line}");
    assert!(
        line.ends_with(
            "anonymous clients may subscribe to every topic (--anonymous read): \
         the subscribe list of 1 token adds nothing; --anonymous none makes it count"
        ),
        "{line}"
    );
    let more = format!("{AUTH_FILE}\n[[token]]\nsecret = \"x-s3cret-3\"\nsubscribe = [\"a\"]\n");
    reload_with(&mut server, &file, &more);
    let line = server.wait_new_log("anonymous clients may subscribe");
    assert!(
        line.contains(
            "the subscribe lists of 2 tokens add nothing; --anonymous none makes them count"
        ),
        "{line}"
    );

    let mut quiet =
        ChildServer::start(&["--auth-file", file.to_str().unwrap(), "--anonymous", "none"]);
    assert!(writer_publishes(quiet.addr));
    // Every line up to that publish's, whenever the warning would come.
    quiet.wait_log("\"POST /topics/alerts-a\" 200");
    let warned = quiet
        .seen()
        .iter()
        .any(|l| l.contains("anonymous clients may subscribe"));
    assert!(!warned, "{:#?}", quiet.seen());
}

/// Rewrites the auth file as `text`, sends SIGHUP and waits for the reload.
fn reload_with(server: &mut ChildServer, file: &Path, text: &str) {
    std::fs::write(file, text).unwrap();
    server.signal("HUP");
    server.wait_new_log("SIGHUP: auth file re-read");
}
