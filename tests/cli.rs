//! The command line: help, version, and one-line errors with exit code 2.

mod support;

use std::process::{Command, Output};

use support::refused;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tinypush"))
        .args(args)
        .output()
        .expect("run tinypush")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn version_prints_name_and_version() {
    let out = run(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        format!("tinypush {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_lists_serve_and_serve_help_lists_every_limit() {
    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("serve"));
    let out = run(&["serve", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for flag in [
        "--addr",
        "--static-dir",
        "--log-level",
        "--max-head",
        "--max-headers",
        "--head-timeout",
        "--keepalive-timeout",
        "--max-body",
        "--write-timeout",
        "--max-connections",
        "--thread-stack",
        "--stream-keepalive",
        "--drain-timeout",
    ] {
        assert!(help.contains(flag), "{flag} missing from serve --help");
    }
}

#[test]
fn unknown_flag_is_one_line_and_exit_2() {
    let out = run(&["serve", "--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("tinypush: unexpected argument '--bogus'"),
        "{err}"
    );
}

#[test]
fn bad_duration_and_size_are_one_line_and_exit_2() {
    for args in [
        ["serve", "--head-timeout", "soon"],
        ["serve", "--max-body", "lots"],
        ["serve", "--addr", "nowhere"],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(args[2]), "{err}");
    }
}

#[test]
fn zero_timeouts_are_refused() {
    for flag in [
        "--head-timeout",
        "--keepalive-timeout",
        "--write-timeout",
        "--ws-timeout",
    ] {
        let out = run(&["serve", flag, "0s"]);
        assert_eq!(out.status.code(), Some(2), "{flag}");
        assert_eq!(
            text(&out.stderr),
            format!(
                "tinypush: invalid value '0s' for '{flag} <DURATION>': must be more than 0 (see --help)\n"
            )
        );
    }
}

#[test]
fn no_arguments_prints_help_and_exits_2() {
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("Usage"));
}

#[test]
fn address_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run(&["serve", "--addr", &addr]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!("cannot listen on {addr}")),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_empty_publish_token_is_refused_from_the_flag_or_the_environment() {
    // An unset `${TOKEN}` in a compose file arrives as an empty variable:
    // it must not mean "no token", which would let anyone publish.
    for (args, env) in [
        (&["--publish-token", ""][..], &[][..]),
        (&[], &[("TINYPUSH_PUBLISH_TOKEN", "")]),
    ] {
        let (code, log) = refused(args, env);
        assert_eq!(code, Some(2), "{args:?} {env:?}: {log}");
        assert_eq!(log, "tinypush: --publish-token is empty\n");
    }
}
