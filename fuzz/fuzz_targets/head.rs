//! The request head reader: `http::inbound::Inbound::read_head`, fed the
//! input in pieces (`pieces.rs`), reading request after request as a
//! keep-alive connection does.
//!
//! Input: the two cut bytes of `pieces.rs`, one limits byte, then the wire
//! bytes. The limits byte, when its top bit is set, shrinks the caps to
//! `max_head_bytes` = 32 * (((byte >> 3) & 0x0f) + 1), 32 to 512, and
//! `max_headers` = (byte & 0x07) + 1; else the defaults hold.
//!
//! Asserts, for each head: never a panic, never more than `max_head_bytes`
//! buffered, and the same answer as `parse_head` on the whole bytes at once
//! (the reference): the same request, whose fields are within the limits,
//! or the same error (400, 431, 505), or 431 when the cap is reached
//! mid-head, or end of stream or 408 when the input ends mid-head.

#![no_main]

mod pieces;

use libfuzzer_sys::fuzz_target;
use tinypush::Error;
use tinypush::config::HttpConfig;
use tinypush::http::inbound::{Inbound, Wait};
use tinypush::http::request::{Request, parse_head};

use pieces::Pieces;

fuzz_target!(|data: &[u8]| {
    let Some((cuts, limits, wire)) = pieces::http_input(data) else {
        return;
    };
    let config = config(limits);
    let times_out = cuts.times_out;
    let mut inbound = Inbound::new(Pieces::new(wire, cuts));
    let mut used = 0;
    let mut wait = Wait::First;
    loop {
        let got = inbound.read_head(&config, wait);
        assert!(inbound.buffered().len() <= config.max_head_bytes);
        match (got, expected(&wire[used..], &config)) {
            (Ok(Some(request)), Expected::Head(want, len)) => {
                assert_same(&request, &want);
                assert_within(&request, &config);
                used += len;
            }
            (Ok(None), Expected::Nothing) => return,
            (Err(Error::Timeout), Expected::Nothing) => {
                assert!(times_out && wait == Wait::First);
                return;
            }
            (Err(Error::HeadTooLarge(n)), Expected::TooLarge) => {
                assert_eq!(n, config.max_head_bytes);
                return;
            }
            (Err(Error::Io(e)), Expected::Cut) => {
                assert!(!times_out && e.kind() == std::io::ErrorKind::UnexpectedEof);
                return;
            }
            (Err(Error::Timeout), Expected::Cut) => {
                assert!(times_out);
                return;
            }
            (Err(got), Expected::Refused(want)) => {
                assert_eq!(got.to_string(), want.to_string());
                assert!(got.status().is_some(), "{got}");
                return;
            }
            (got, want) => panic!("read {got:?}, but the whole bytes give {want:?}"),
        }
        wait = Wait::Idle;
    }
});

fn config(limits: u8) -> HttpConfig {
    let mut config = pieces::http_defaults();
    if limits & 0x80 != 0 {
        config.max_head_bytes = 32 * (usize::from((limits >> 3) & 0x0f) + 1);
        config.max_headers = usize::from(limits & 0x07) + 1;
    }
    config
}

/// What the next head must be, from the bytes left, parsed at once.
#[derive(Debug)]
enum Expected {
    /// This request, this many bytes long.
    Head(Request, usize),
    /// No byte left: no request.
    Nothing,
    /// The cap is reached before the head ends.
    TooLarge,
    /// The input ends inside a head.
    Cut,
    /// `parse_head`'s refusal.
    Refused(Error),
}

fn expected(left: &[u8], config: &HttpConfig) -> Expected {
    if left.is_empty() {
        return Expected::Nothing;
    }
    // The reader never buffers past the cap, so the reference sees no more.
    let window = &left[..left.len().min(config.max_head_bytes)];
    match parse_head(window, config) {
        Ok(Some((request, len))) => Expected::Head(request, len),
        Ok(None) if window.len() == config.max_head_bytes => Expected::TooLarge,
        Ok(None) => Expected::Cut,
        Err(e) => Expected::Refused(e),
    }
}

fn assert_same(got: &Request, want: &Request) {
    assert_eq!(got.method, want.method);
    assert_eq!(got.target, want.target);
    assert_eq!(got.minor_version, want.minor_version);
    assert_eq!(got.headers, want.headers);
}

fn assert_within(request: &Request, config: &HttpConfig) {
    assert!(!request.method.is_empty());
    assert!(request.target.starts_with('/'));
    assert!(request.minor_version <= 1);
    assert!(request.headers.len() <= config.max_headers);
    assert!(!request.is_http11() || request.header("Host").is_some());
    let size: usize = request.method.len() + request.target.len();
    assert!(size <= config.max_head_bytes);
}
