//! The soak's subscribers: some stay the whole time, the rest join and
//! leave over and over, resuming each topic from the last id they saw.
//!
//! ```text
//! join   GET /topics/soak-3/{sse|stream|ws}?since=LAST   (LAST: this churner's last id there)
//!        first message LAST+1 (or a gap event, once the history has moved past LAST)
//!        then ids one by one, no hole, no repeat
//! leave  after 5–100 messages
//! ```
//!
//! Tallied: sessions, messages, gaps (allowed: the history holds 1,000
//! messages a topic), drops as too slow and errors (neither allowed).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::subscribe::{self, Item, Transport};

/// Topics the soak publishes to.
pub const TOPICS: usize = 8;
const TRANSPORTS: [Transport; 3] = [Transport::Sse, Transport::Ndjson, Transport::Ws];
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What subscribers saw.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Subscriptions opened.
    pub sessions: u64,
    /// Messages received.
    pub messages: u64,
    /// Gap events (the history had moved past the cursor).
    pub gaps: u64,
    /// Dropped as too slow.
    pub dropped: u64,
    /// Out-of-order ids, failed reads or connects, described.
    pub errors: Vec<String>,
}

impl Tally {
    /// Adds `other` to this one.
    pub fn add(&mut self, other: Tally) {
        self.sessions += other.sessions;
        self.messages += other.messages;
        self.gaps += other.gaps;
        self.dropped += other.dropped;
        self.errors.extend(other.errors);
    }
}

/// Joins and leaves until `stop`, from `127.0.0.{source}`.
pub fn churn(addr: SocketAddr, source: u8, stop: Arc<AtomicBool>) -> Tally {
    let mut tally = Tally::default();
    let mut cursors: HashMap<usize, u64> = HashMap::new();
    while !stop.load(Ordering::Relaxed) {
        let topic = fastrand::usize(..TOPICS);
        let transport = TRANSPORTS[fastrand::usize(..TRANSPORTS.len())];
        let since = cursors.get(&topic).copied();
        let wanted = fastrand::usize(5..=100);
        let session = Session {
            addr,
            source,
            transport,
            topic,
            since,
        };
        if let Some(last) = session.run(&mut tally, wanted, &stop) {
            cursors.insert(topic, last);
        }
        if tally.errors.len() > 20 {
            break;
        }
    }
    tally
}

/// Stays subscribed to `soak-0` until `stop`; then the tally.
pub fn stay(addr: SocketAddr, transport: Transport, stop: Arc<AtomicBool>) -> Tally {
    let mut tally = Tally::default();
    let session = Session {
        addr,
        source: 1,
        transport,
        topic: 0,
        since: None,
    };
    session.run(&mut tally, usize::MAX, &stop);
    tally
}

struct Session {
    addr: SocketAddr,
    source: u8,
    transport: Transport,
    topic: usize,
    since: Option<u64>,
}

impl Session {
    /// Reads `wanted` messages (or until `stop`), checking each id follows
    /// the one before; returns the last id seen.
    fn run(&self, tally: &mut Tally, wanted: usize, stop: &AtomicBool) -> Option<u64> {
        let query = self.since.map_or(String::new(), |n| format!("since={n}"));
        let topic = format!("soak-{}", self.topic);
        let what = format!("{:?} {topic} since {:?}", self.transport, self.since);
        tally.sessions += 1;
        let from = [127, 0, 0, self.source];
        let mut feed = match subscribe::open(
            self.addr,
            from,
            self.transport,
            &topic,
            &query,
            READ_TIMEOUT,
        ) {
            Ok(feed) => feed,
            Err(e) => {
                tally.errors.push(format!("{what}: {e}"));
                return self.since;
            }
        };
        let (mut last, mut got) = (self.since, 0);
        while got < wanted && !stop.load(Ordering::Relaxed) {
            match feed.next() {
                Ok(Item::Message(id, _)) => {
                    if last.is_some_and(|l| id != l + 1) {
                        tally.errors.push(format!("{what}: id {id} after {last:?}"));
                        return Some(id);
                    }
                    (last, got) = (Some(id), got + 1);
                    tally.messages += 1;
                }
                Ok(Item::Gap) if got == 0 => {
                    // The history has moved on: the next message starts afresh.
                    tally.gaps += 1;
                    last = None;
                }
                Ok(Item::Other) => {}
                Ok(Item::Dropped(why)) => {
                    tally.dropped += 1;
                    tally.errors.push(format!("{what}: dropped: {why}"));
                    return last;
                }
                Ok(Item::Gap) => tally
                    .errors
                    .push(format!("{what}: gap after {got} messages")),
                Err(e) => {
                    tally
                        .errors
                        .push(format!("{what}: {e} after {got} messages"));
                    return last;
                }
            }
        }
        last
    }
}
