//! The well-behaved side of the never-read case: readers that read
//! everything (resuming with `since=` when dropped as too slow), and
//! publishers at full speed.
//!
//! ```text
//! reader     GET /topics/load/{sse|ws}   ← every message; on `event: error` / close 1008:
//!            GET /topics/load/…?since=LAST (counted), until a message past the last ack
//! publisher  POST /topics/load (1 KiB)   → ack (id, body), back to back on keep-alive
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use super::{BODY_BYTES, DROP_LIMIT, Outcome, PUBLISHERS, TOPIC};
use crate::http::Client;
use crate::subscribe::{self, Item, Transport};

/// Resumes a well-behaved reader may need (each one is reported).
const MAX_RESUMES: usize = 100;

/// What a reader got, and how often it had to resume.
pub type Received = Result<(Vec<(u64, String)>, usize), String>;

/// Reads until a message after the last acknowledged one (the end marker)
/// comes, or a read times out. Dropped as too slow, it resumes from its
/// last id, as the server asks; a gap is a failure.
pub fn read_all(
    addr: SocketAddr,
    transport: Transport,
    feed: std::io::Result<subscribe::Feed>,
    last: &AtomicU64,
) -> Received {
    let fail = |what: String, got: &Vec<(u64, String)>| {
        format!("{transport:?} reader: {what} after {} messages", got.len())
    };
    let mut feed = feed.map_err(|e| e.to_string())?;
    let (mut got, mut resumes) = (Vec::new(), 0);
    loop {
        match feed.next() {
            Ok(Item::Message(id, data)) => {
                // Past the last acknowledged id: the end marker.
                let last = last.load(Ordering::Relaxed);
                if last != 0 && id > last {
                    return Ok((got, resumes));
                }
                got.push((id, data));
            }
            Ok(Item::Other) => {}
            Ok(Item::Dropped(why)) if resumes < MAX_RESUMES => {
                resumes += 1;
                let since = got.last().map_or(0, |m: &(u64, String)| m.0);
                feed = subscribe::open(
                    addr,
                    [127, 0, 0, 1],
                    transport,
                    TOPIC,
                    &format!("since={since}"),
                    DROP_LIMIT,
                )
                .map_err(|e| fail(format!("resume after {why}: {e}"), &got))?;
            }
            Ok(other) => return Err(fail(format!("{other:?}"), &got)),
            Err(e) => return Err(fail(e.to_string(), &got)),
        }
    }
}

pub fn check_reader(i: usize, got: Received, acks: &[(u64, String)], out: &mut Outcome) {
    match got {
        Ok((got, resumes)) => {
            out.figure(format!(
                "reader {i}: {} messages, resumed {resumes}×",
                got.len()
            ));
            out.require(
                got == acks,
                format!(
                    "reader {i} got {} messages, not the {} acked in order",
                    got.len(),
                    acks.len()
                ),
            );
        }
        Err(e) => out.fail(e),
    }
}

/// Every publisher's acks, sorted by id, or the first error.
pub fn publish_all(addr: SocketAddr, each: usize) -> Result<Vec<(u64, String)>, String> {
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| thread::spawn(move || publish_many(addr, p, each)))
        .collect();
    let mut acks = Vec::new();
    for p in publishers {
        acks.extend(p.join().map_err(|_| "publisher panicked".to_string())??);
    }
    acks.sort();
    Ok(acks)
}

fn publish_many(addr: SocketAddr, p: usize, each: usize) -> Result<Vec<(u64, String)>, String> {
    let mut client = Client::connect([127, 0, 0, 1], addr).map_err(|e| e.to_string())?;
    let mut acks = Vec::with_capacity(each);
    for i in 0..each {
        let mut body = format!("p{p}-{i}-");
        body.extend(std::iter::repeat_n('x', BODY_BYTES - body.len()));
        let id = client
            .publish(TOPIC, &body)
            .map_err(|e| format!("publisher {p}, message {i}: {e}"))?;
        acks.push((id, body));
    }
    Ok(acks)
}
