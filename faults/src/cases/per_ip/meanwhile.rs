//! The other addresses while 127.0.0.60 crowds the server: a publisher on
//! 127.0.0.1 and a reader on 127.0.0.61, who must not notice.
//!
//! ```text
//! 127.0.0.1   POST /topics/per-ip  m0, m1, … every 20 ms      → acks (id, body)
//! 127.0.0.61  GET /topics/per-ip/sse                          ← the same, in order
//! 127.0.0.1   POST /topics/per-ip  end                        → the reader stops there
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use super::Outcome;
use crate::http::Client;
use crate::subscribe::{self, Item};

/// The topic both use.
pub const TOPIC: &str = "per-ip";
const PUBLISH_EVERY: Duration = Duration::from_millis(20);

/// Publishes every [`PUBLISH_EVERY`] from 127.0.0.1 until `stop`; the
/// acks, or the first error.
pub fn publish_until(addr: SocketAddr, stop: &AtomicBool) -> Result<Vec<(u64, String)>, String> {
    let mut client = Client::connect([127, 0, 0, 1], addr).map_err(|e| e.to_string())?;
    let mut acks = Vec::new();
    for i in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let body = format!("m{i}");
        let id = client
            .publish(TOPIC, &body)
            .map_err(|e| format!("message {i}: {e}"))?;
        acks.push((id, body));
        thread::sleep(PUBLISH_EVERY);
    }
    Ok(acks)
}

/// The reader got every acked message, in order, before an end marker.
pub fn check_reader(
    addr: SocketAddr,
    feed: std::io::Result<subscribe::Feed>,
    acks: Result<Vec<(u64, String)>, String>,
    out: &mut Outcome,
) {
    let acks = match acks {
        Ok(acks) => acks,
        Err(e) => return out.fail(format!("publisher: {e}")),
    };
    let marker = Client::connect([127, 0, 0, 1], addr).and_then(|mut c| c.publish(TOPIC, "end"));
    let (Ok(mut feed), Ok(end)) = (feed, marker) else {
        return out.fail("the reader could not subscribe, or the end marker was not acked");
    };
    let mut got = Vec::new();
    loop {
        match feed.next() {
            Ok(Item::Message(id, _)) if id == end => break,
            Ok(Item::Message(id, text)) => got.push((id, text)),
            Ok(Item::Other) => {}
            other => {
                return out.fail(format!(
                    "reader on 127.0.0.61: {other:?} after {} messages",
                    got.len()
                ));
            }
        }
    }
    out.figure(format!(
        "127.0.0.61 reader: {} of {} acked messages",
        got.len(),
        acks.len()
    ));
    out.require(
        got == acks,
        "the reader did not get every acked message in order",
    );
}
