//! The WebSocket read adapter: `ws::read_frames`, which runs the reader's
//! own parse loop (`src/ws/reader.rs`, feeding tungstenite through
//! `src/ws/feed.rs`) on frames in memory, as socket reads cut by the
//! input (`pieces.rs`).
//!
//! Input: the two cut bytes of `pieces.rs`; one limits byte (top bit
//! clear: the largest frame is (byte & 0x0f) * 16 + 1 bytes and the largest
//! message four times that; set: the defaults); one byte whose value mod 32
//! is how many of the bytes after it came with the handshake; then the
//! client's bytes, which end with end of stream when the cut seed's low bit
//! is 0.
//!
//! Asserts: never a panic or a hang; no message over the limit; the same
//! messages, close code and end whatever the cuts (compared with the bytes
//! in one read); after a protocol error, our close frame with its code is
//! the last thing written.

#![no_main]

mod pieces;

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use tinypush::metrics::Metrics;
use tinypush::ws::{FramesRead, Options, read_frames};

use pieces::Cuts;

fuzz_target!(|data: &[u8]| {
    let Some((mut cuts, rest)) = Cuts::take(data) else {
        return;
    };
    let Some((&[limits, handshake], rest)) = rest.split_first_chunk::<2>() else {
        return;
    };
    let options = options(limits);
    let (leftover, client) = rest.split_at(usize::from(handshake % 32).min(rest.len()));
    let eof: &[&[u8]] = if cuts.times_out { &[] } else { &[b""] };
    let mut reads = cuts.split(client);
    reads.extend(eof);
    let cut = read_frames(leftover, &reads, &options);
    // An empty read is the end of stream: no bytes, no read.
    let one_read: &[&[u8]] = if client.is_empty() { &[] } else { &[client] };
    let whole = read_frames(leftover, &[one_read, eof].concat(), &options);

    for message in &cut.messages {
        assert!(
            message.len() <= options.max_message,
            "{} bytes",
            message.len()
        );
    }
    assert_eq!(cut.messages, whole.messages);
    assert_eq!(cut.failed, whole.failed);
    assert_eq!(cut.ended, whole.ended);
    check_close(&cut);
});

fn options(limits: u8) -> Options {
    // The defaults come from parsing an empty command line: once, not per input.
    static DEFAULTS: OnceLock<tinypush::Config> = OnceLock::new();
    let config = DEFAULTS.get_or_init(tinypush::Config::default);
    let mut options = Options::from_config(config, &Arc::new(Metrics::default()));
    if limits & 0x80 == 0 {
        options.max_frame = usize::from(limits & 0x0f) * 16 + 1;
        options.max_message = options.max_frame * 4;
    }
    options
}

/// After a protocol error the last bytes written are our close frame,
/// unmasked: 0x88, the length, the code, the reason.
fn check_close(read: &FramesRead) {
    let Some(frame) = &read.failed else {
        return;
    };
    let code = u16::from(frame.code).to_be_bytes();
    let reason = frame.reason.as_bytes();
    let mut want = vec![0x88, (2 + reason.len()) as u8, code[0], code[1]];
    want.extend_from_slice(reason);
    assert!(
        read.written.ends_with(&want),
        "close {:?} but wrote {:?}",
        frame,
        read.written
    );
}
