//! One fan-out subscriber as a task: connect (a limited number at a time),
//! say so, then read until told to stop, timing every message.
//!
//! ```text
//! w7               warm-up message 7: marks this subscriber as receiving, not timed
//! s42:1250000000   message 42, published 1.25 s after the bench's epoch
//! ```
//!
//! Each subscriber keeps its own tally (no lock on the hot path); shared
//! counters only say how far the whole crowd has got, so the phase knows
//! when every one is warmed up and every message delivered.
//!
//! A crowd may be spread over several nodes of a cluster: subscriber `i`
//! goes to node `i % nodes`. Order is checked by the number in the body,
//! which the one publisher sets in the order it sends (and so the order
//! the server numbers them in). Where SSE events carry an id, the id minus
//! that number is kept too: it is the same for every subscriber, on every
//! node, when the server (or cluster) gives a message one id everywhere.
//!
//! ```text
//! id: 46\ndata: s42:1250000000\n\n      gap 4, on node 1 as on node 3
//! ```

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use tokio::sync::{Semaphore, mpsc, watch};

use crate::client::{Subscriber, Transport};
use crate::clock::now_nanos;

/// Subscriber connects in flight at once.
const CONNECTING: usize = 128;

/// What every subscriber of one phase shares.
pub struct Crowd {
    /// The server, or a cluster's nodes (subscribers spread over them).
    pub nodes: Vec<SocketAddr>,
    /// SSE or WS.
    pub transport: Transport,
    /// The topic.
    pub topic: String,
    /// Timed messages that will be published (`s0` … `s{messages-1}`).
    pub messages: usize,
    /// Connects in flight at most: a burst of 10,000 SYNs would overflow
    /// the server's accept queue and measure the kernel's retry timer.
    pub gate: Semaphore,
    /// Set at the first failed connect: later subscribers do not try, so a
    /// server at its limit fails fast instead of timing out 10,000 times.
    pub give_up: AtomicBool,
    /// Subscribers that have received a warm-up message.
    pub warmed: AtomicUsize,
    /// Timed messages delivered, all subscribers.
    pub delivered: AtomicU64,
    /// Subscribers whose stream ended or failed while they read.
    pub cut_off: AtomicUsize,
}

impl Crowd {
    /// A crowd for `topic` on `nodes`, waiting for `messages` timed messages.
    pub fn new(
        nodes: Vec<SocketAddr>,
        transport: Transport,
        topic: String,
        messages: usize,
    ) -> Crowd {
        Crowd {
            nodes,
            transport,
            topic,
            messages,
            gate: Semaphore::new(CONNECTING),
            give_up: AtomicBool::new(false),
            warmed: AtomicUsize::new(0),
            delivered: AtomicU64::new(0),
            cut_off: AtomicUsize::new(0),
        }
    }
}

/// What one subscriber saw.
#[derive(Debug, Default)]
pub struct Tally {
    /// The node it read from (0 for a lone server).
    pub node: usize,
    /// Whether it connected at all.
    pub connected: bool,
    /// Delivery time of each timed message, µs.
    pub latencies_us: Vec<u32>,
    /// Distinct timed messages received.
    pub delivered: u64,
    /// Messages that came after one with a higher number.
    pub out_of_order: u64,
    /// Why its stream ended before it was told to stop.
    pub cut_off: Option<String>,
    /// Id minus number of its first timed message with an id (SSE).
    pub id_gap: Option<i64>,
    /// Timed messages whose id minus number was not that gap.
    pub id_gap_changes: u64,
}

/// Subscriber `i`: connects, reports the result on `ready`, then reads until `stop`.
pub async fn run(
    crowd: Arc<Crowd>,
    i: usize,
    ready: mpsc::UnboundedSender<Result<(), String>>,
    stop: watch::Receiver<bool>,
) -> Tally {
    let node = i % crowd.nodes.len();
    let mut tally = match connect(&crowd, crowd.nodes[node]).await {
        Ok(sub) => {
            let _ = ready.send(Ok(()));
            let mut tally = read_until_stopped(sub, &crowd, stop).await;
            tally.connected = true;
            tally
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            Tally::default()
        }
    };
    tally.node = node;
    tally
}

async fn connect(crowd: &Crowd, addr: SocketAddr) -> Result<Subscriber, String> {
    let _permit = crowd
        .gate
        .acquire()
        .await
        .map_err(|_| "gate closed".to_string())?;
    if crowd.give_up.load(Ordering::Relaxed) {
        return Err("not tried after an earlier failure".into());
    }
    let opened = Subscriber::open(addr, crowd.transport, &crowd.topic).await;
    opened.map_err(|e: io::Error| {
        crowd.give_up.store(true, Ordering::Relaxed);
        e.to_string()
    })
}

async fn read_until_stopped(
    mut sub: Subscriber,
    crowd: &Crowd,
    mut stop: watch::Receiver<bool>,
) -> Tally {
    let mut record = Record {
        tally: Tally::default(),
        seen: vec![false; crowd.messages],
        highest: None,
        warmed: false,
    };
    loop {
        let mut on_message = |id, body: &[u8]| record.message(id, body, crowd);
        let read = tokio::select! {
            _ = stop.changed() => break,
            read = sub.next(&mut on_message) => read,
        };
        let ended = match read {
            Ok(true) => continue,
            Ok(false) => "the server ended the stream".to_string(),
            Err(e) => e.to_string(),
        };
        crowd.cut_off.fetch_add(1, Ordering::Relaxed);
        record.tally.cut_off = Some(ended);
        break;
    }
    record.tally
}

/// A subscriber's running state.
struct Record {
    tally: Tally,
    seen: Vec<bool>,
    highest: Option<usize>,
    warmed: bool,
}

impl Record {
    fn message(&mut self, id: Option<u64>, body: &[u8], crowd: &Crowd) {
        match parse(body) {
            Some(Body::WarmUp) if !self.warmed => {
                self.warmed = true;
                crowd.warmed.fetch_add(1, Ordering::Relaxed);
            }
            Some(Body::Timed { seq, sent_ns }) if seq < self.seen.len() => {
                let micros = now_nanos().saturating_sub(sent_ns) / 1000;
                self.tally
                    .latencies_us
                    .push(u32::try_from(micros).unwrap_or(u32::MAX));
                if self.highest.is_some_and(|h| seq < h) {
                    self.tally.out_of_order += 1;
                }
                self.highest = self.highest.max(Some(seq));
                if let Some(id) = id {
                    let gap = id as i64 - seq as i64;
                    if *self.tally.id_gap.get_or_insert(gap) != gap {
                        self.tally.id_gap_changes += 1;
                    }
                }
                if !std::mem::replace(&mut self.seen[seq], true) {
                    self.tally.delivered += 1;
                    crowd.delivered.fetch_add(1, Ordering::Relaxed);
                }
            }
            _ => {}
        }
    }
}

/// A message body the bench published.
#[derive(Debug, PartialEq, Eq)]
enum Body {
    WarmUp,
    Timed { seq: usize, sent_ns: u64 },
}

fn parse(body: &[u8]) -> Option<Body> {
    match body.split_first()? {
        (b'w', _) => Some(Body::WarmUp),
        (b's', rest) => {
            let (seq, sent) = std::str::from_utf8(rest).ok()?.split_once(':')?;
            Some(Body::Timed {
                seq: seq.parse().ok()?,
                sent_ns: sent.parse().ok()?,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies() {
        assert_eq!(parse(b"w7"), Some(Body::WarmUp));
        assert_eq!(
            parse(b"s42:1250000000"),
            Some(Body::Timed {
                seq: 42,
                sent_ns: 1_250_000_000
            })
        );
        assert_eq!(parse(b"s42"), None);
        assert_eq!(parse(b"hello"), None);
        assert_eq!(parse(b""), None);
    }
}
