//! `tinypush client` as a child process, run to its end:
//!
//! ```text
//! run_client(&["ws://127.0.0.1:PORT/echo", "--count", "1"], &[])
//! run_client(&["--listen", URL], &[("TINYPUSH_TOKEN", "s3cret")])
//! ```

use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::Duration;

use crossbeam_channel::bounded;

/// Runs `tinypush client ARGS` with the variables `envs` to the end, at
/// most 10 s (then it is killed and the test fails).
pub fn run_client(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_tinypush"))
        .arg("client")
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tinypush client");
    let pid = child.id();
    let (tx, rx) = bounded(1);
    thread::Builder::new()
        .name("tinypush-client".into())
        .spawn(move || {
            let _ = tx.send(child.wait_with_output());
        })
        .expect("spawn the client's waiter");
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(output) => output.expect("wait for tinypush client"),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("tinypush client {args:?} still running after 10 s");
        }
    }
}
