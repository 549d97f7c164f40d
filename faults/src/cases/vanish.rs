//! Clients that vanish mid-frame and mid-chunk, 300 of each, from four
//! threads at once; half hang up with a FIN, half with an RST.
//!
//! ```text
//! WS:    GET /topics/vanish/ws … Upgrade → 101; then 81 E4 MASK + 40 of 100 payload bytes, gone
//! chunk: POST /topics/vanish … Transfer-Encoding: chunked\r\n\r\n  then one of
//!          10\r\nabcdefgh           (inside a chunk's bytes)
//!          1                        (inside a chunk-size line)
//!          5\r\nhello\r\n           (a whole chunk, no last chunk)
//!        and gone
//! ```
//!
//! Must hold: none of it is published (an SSE subscriber of the topic gets
//! only the marker published afterwards, and the published counter is 1);
//! every connection's thread ends (threads back to the baseline); the
//! /healthz probes hold throughout.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use super::{Ctx, Outcome, Watch};
use crate::http::{Client, connect_from, metric, reset, source};
use crate::procfs;
use crate::report::Row;
use crate::subscribe::{self, Item, Transport};

const EACH: usize = 300;
const THREADS: usize = 4;
const TOPIC: &str = "vanish";
const CUTS: [&[u8]; 3] = [b"10\r\nabcdefgh", b"1", b"5\r\nhello\r\n"];

/// The server's RSS stays under this (about twice what was measured).
const RSS_BOUND_MIB: u64 = 64;

const MUST_HOLD: &str = "300 WS clients gone mid-frame, 300 chunked publishes gone mid-body (FIN or RST): \
    nothing published (subscriber sees only the marker, counter 1); threads back to baseline";

/// Runs the case.
pub fn run(ctx: &Ctx) -> Row {
    let started = Instant::now();
    let server = match super::start(&ctx.spec.with(&[]), "vanish", started) {
        Ok(s) => s,
        Err(row) => return *row,
    };
    let watch = Watch::start(&server, RSS_BOUND_MIB);
    let mut out = Outcome::default();
    let addr = server.addr;
    let timeout = Duration::from_secs(10);
    let feed = subscribe::open(addr, [127, 0, 0, 1], Transport::Sse, TOPIC, "", timeout);
    let workers: Vec<_> = (0..THREADS)
        .map(|t| thread::spawn(move || vanish_batch(addr, t)))
        .collect();
    let (mut errors, mut cut) = (Vec::new(), Vec::new());
    for w in workers {
        let (e, streams) = w
            .join()
            .unwrap_or_else(|_| (vec!["worker panicked".into()], Vec::new()));
        errors.extend(e);
        cut.extend(streams);
    }
    // All 600 are held mid-frame or mid-body by a server thread each; then
    // they all vanish at once.
    // The baseline was read before the kept-connection probe and the
    // subscriber connected: each holds a server thread too.
    let pid = server.pid();
    let base = watch.baseline() + 2;
    let all_in = base + 2 * EACH;
    // A connection's thread starts unannounced: wait until all are counted.
    let (held, _) = procfs::wait_thread_count(pid, Duration::from_secs(5), |n| n >= all_in);
    let held = held.unwrap_or(0);
    out.figure(format!(
        "{EACH} WS + {EACH} chunked held ({held} server threads, {all_in} expected), then cut"
    ));
    out.require(
        held >= all_in,
        format!("only {held} server threads before the cut, {all_in} expected"),
    );
    cut.into_iter().for_each(|(s, rst)| hang_up(s, rst));
    out.require(
        errors.is_empty(),
        format!(
            "{} set-ups failed, first: {:?}",
            errors.len(),
            errors.first()
        ),
    );
    // Every cut connection has ended once the threads are back: only then
    // can nothing more be published from them.
    let (left, took) = procfs::wait_threads(pid, base, Duration::from_secs(15));
    out.figure(format!(
        "cut connections' threads gone in {} ms ({left} threads)",
        took.as_millis()
    ));
    out.require(
        left <= base,
        format!("{left} server threads 15 s after the cut, {base} expected"),
    );
    check_nothing_published(addr, feed, &mut out);
    watch.finish(&mut out, Duration::from_secs(15));
    out.row("vanish", MUST_HOLD, started)
}

/// Publishes a marker: the subscriber's first message must be it, and the
/// published counter 1.
fn check_nothing_published(
    addr: SocketAddr,
    feed: std::io::Result<subscribe::Feed>,
    out: &mut Outcome,
) {
    let marker = Client::connect([127, 0, 0, 1], addr).and_then(|mut c| c.publish(TOPIC, "marker"));
    match (feed, marker) {
        (Ok(mut feed), Ok(id)) => match feed.next() {
            Ok(Item::Message(got, text)) => out.require(
                got == id && text == "marker",
                format!("the subscriber's first message was {got} {text:?}, not the marker"),
            ),
            other => out.fail(format!("the subscriber got {other:?}")),
        },
        (feed, marker) => out.fail(format!(
            "subscriber {:?} / marker {:?}",
            feed.err(),
            marker.err()
        )),
    }
    let published = metric(addr, "messages_published_total").unwrap_or(u64::MAX);
    out.figure(format!("messages published: {published}"));
    out.require(
        published == 1,
        format!("{published} messages published, only the marker expected"),
    );
}

/// A connection to cut, and whether with an RST.
type Cut = (TcpStream, bool);

/// This thread's share: WS clients and chunked publishes, each stopped
/// part-way; returned open, to be cut together.
fn vanish_batch(addr: SocketAddr, t: usize) -> (Vec<String>, Vec<Cut>) {
    let (mut errors, mut cut) = (Vec::new(), Vec::new());
    for i in (t..EACH).step_by(THREADS) {
        let from = source(120, i, 100);
        let rst = i % 2 == 0;
        match half_frame(addr, from) {
            Ok(s) => cut.push((s, rst)),
            Err(e) => errors.push(format!("ws {i}: {e}")),
        }
        match cut_chunk(addr, from, CUTS[i % CUTS.len()]) {
            Ok(s) => cut.push((s, rst)),
            Err(e) => errors.push(format!("chunked {i}: {e}")),
        }
    }
    (errors, cut)
}

fn hang_up(stream: TcpStream, rst: bool) {
    if rst { reset(stream) } else { drop(stream) }
}

/// A WebSocket subscriber that has sent 40 bytes of a 100-byte text frame.
fn half_frame(addr: SocketAddr, from: [u8; 4]) -> std::io::Result<TcpStream> {
    let mut stream = connect_from(from, addr, None)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(
        format!(
            "GET /topics/{TOPIC}/ws HTTP/1.1\r\nHost: faults\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        )
        .as_bytes(),
    )?;
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    if !line.starts_with("HTTP/1.1 101") {
        return Err(crate::http::bad_owned(format!(
            "handshake answered {line:?}"
        )));
    }
    while line != "\r\n" {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(crate::http::bad("closed in the handshake"));
        }
    }
    // FIN + text, masked, 100 payload bytes; only 40 of them follow.
    let mut frame = vec![0x81, 0x80 | 100, 1, 2, 3, 4];
    frame.extend(std::iter::repeat_n(b'x' ^ 1, 40));
    stream.write_all(&frame)?;
    Ok(stream)
}

/// A chunked publish cut off after `cut`.
fn cut_chunk(addr: SocketAddr, from: [u8; 4], cut: &[u8]) -> std::io::Result<TcpStream> {
    let mut stream = connect_from(from, addr, None)?;
    let mut request = format!(
        "POST /topics/{TOPIC} HTTP/1.1\r\nHost: faults\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    request.extend_from_slice(cut);
    stream.write_all(&request)?;
    Ok(stream)
}
