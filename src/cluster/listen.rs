//! The listener: one Redis connection in SUBSCRIBE mode, on the
//! `redis-listen` thread, handing every message on the channel to the hub
//! in the order Redis published it.
//!
//! ```text
//! SUBSCRIBE tinypush:messages
//! ← message tinypush:messages "7\nnews\n42\n1763755200000\nhi"   → inbox.receive(news 42)
//! ← (the connection breaks)                                      redis: lost; reconnecting
//!   wait 100 ms, 200, 400 … at most 2 s, each ± a random half     (jitter: nodes don't all
//!   SUBSCRIBE again                                                 come back at once)
//!   inbox.resync(): every topic fetches what it missed from its stream
//! ```
//!
//! Subscribing comes before the resync, so nothing published in between
//! is missed: it is either in the stream when the resync reads it, or on
//! the channel after (the hub skips ids it already has).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::thread;
use std::time::Duration;

use log::{info, warn};

use super::client::{CHANNEL, Cluster};
use crate::clock;

/// How long a read on the channel waits before the listener checks that
/// the hub still exists.
const READ_WAIT: Duration = Duration::from_secs(1);
/// Quiet reads (of [`READ_WAIT`]) before the listener pings Redis.
const PING_AFTER_QUIET: u32 = 5;
/// The first wait before reconnecting, doubled each failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// A message as it came over the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// The node that published it.
    pub node: u64,
    /// Its topic.
    pub topic: String,
    /// Its id in the topic.
    pub id: u64,
    /// Its time, from Redis's clock, in ms since the Unix epoch.
    pub time_ms: u64,
    /// The body.
    pub data: Vec<u8>,
}

/// Where the listener hands messages (the hub).
pub trait Inbox: Send + Sync {
    /// A message from the channel, in the order Redis published it;
    /// false when what it needed from Redis could not be read (the
    /// listener then reconnects and resyncs).
    fn receive(&self, message: Remote) -> bool;
    /// The listener has (re)subscribed: fetch what was published while it
    /// was away.
    fn resync(&self);
}

/// Starts the `redis-listen` thread; it ends once `inbox` is gone.
///
/// # Errors
/// When the thread cannot be started.
pub fn listen(cluster: Arc<Cluster>, inbox: Weak<dyn Inbox>) -> std::io::Result<()> {
    thread::Builder::new()
        .name("redis-listen".into())
        .spawn(move || run(&cluster, &inbox))
        .map(drop)
}

fn run(cluster: &Cluster, inbox: &Weak<dyn Inbox>) {
    let mut failures = 0u32;
    loop {
        match subscribe_and_read(cluster, inbox, failures) {
            Ok(()) => return,
            Err(e) => {
                if cluster.reachable() || failures == 0 {
                    warn!("redis: lost ({e}); reconnecting");
                }
                cluster.lost();
                failures = failures.saturating_add(1);
            }
        }
        if inbox.strong_count() == 0 {
            return;
        }
        thread::sleep(backoff(failures));
    }
}

/// Subscribes, resyncs, and hands messages over until the connection
/// breaks (`Err`) or the hub is gone (`Ok`).
fn subscribe_and_read(
    cluster: &Cluster,
    inbox: &Weak<dyn Inbox>,
    failures: u32,
) -> redis::RedisResult<()> {
    let mut con = cluster
        .client()
        .get_connection_with_timeout(READ_WAIT * 2)?;
    // A Redis that hangs must not hang the subscribe either.
    con.set_read_timeout(Some(READ_WAIT))?;
    con.set_write_timeout(Some(READ_WAIT * 2))?;
    let mut pubsub = con.as_pubsub();
    pubsub.subscribe(CHANNEL)?;
    cluster.back();
    if failures > 0 {
        info!("redis: back after {failures} failed attempts");
        let m = &cluster.metrics;
        m.redis_reconnects.fetch_add(1, Ordering::Relaxed);
    }
    match inbox.upgrade() {
        Some(inbox) => inbox.resync(),
        None => return Ok(()),
    }
    let mut quiet = 0;
    loop {
        let message = match pubsub.get_message() {
            Ok(message) => message,
            Err(e) if e.is_timeout() => {
                if inbox.strong_count() == 0 {
                    return Ok(());
                }
                // A silent channel may be a dead connection (a peer gone
                // without a FIN): a ping must come back.
                quiet += 1;
                if quiet % PING_AFTER_QUIET == 0 {
                    pubsub.ping::<()>()?;
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        quiet = 0;
        let Some(remote) = parse(message.get_payload_bytes()) else {
            warn!("redis: a message on {CHANNEL} not from tinypush, skipped");
            continue;
        };
        match inbox.upgrade() {
            Some(inbox) if inbox.receive(remote) => {}
            Some(_) => return Err(std::io::Error::other("a hole could not be filled").into()),
            None => return Ok(()),
        }
    }
}

/// `node\ntopic\nid\ntime\nbody` (the body may hold line breaks: it is
/// last); `None` for anything else. (The hub checks what it takes: an id
/// in range, a UTF-8 body.)
fn parse(payload: &[u8]) -> Option<Remote> {
    let mut parts = payload.splitn(5, |b| *b == b'\n');
    let mut field = || std::str::from_utf8(parts.next()?).ok().map(str::to_string);
    let node = field()?.parse().ok()?;
    let topic = field()?;
    let id = field()?.parse().ok()?;
    let time_ms = field()?.parse().ok()?;
    let data = parts.next()?.to_vec();
    Some(Remote {
        node,
        topic,
        id,
        time_ms,
        data,
    })
}

/// The wait before attempt `failures + 1`: doubling from 100 ms up to 2 s,
/// then anywhere from half to the whole of it.
fn backoff(failures: u32) -> Duration {
    let doubled = FIRST_BACKOFF.saturating_mul(1 << failures.min(5));
    let full = doubled.min(MAX_BACKOFF);
    let half = full / 2;
    let spread = u32::try_from(half.as_millis()).unwrap_or(1).max(1);
    let jitter = u32::try_from(clock::random() % u64::from(spread)).unwrap_or(0);
    half + Duration::from_millis(u64::from(jitter))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_message_is_taken_apart_with_line_breaks_in_its_body() {
        let m = parse(b"7\nnews\n42\n1763755200000\nhi\nthere").unwrap();
        assert_eq!(
            m,
            Remote {
                node: 7,
                topic: "news".into(),
                id: 42,
                time_ms: 1_763_755_200_000,
                data: b"hi\nthere".to_vec(),
            }
        );
        assert_eq!(parse(b"7\nnews\nx\n1\nhi"), None);

        assert_eq!(parse(b"hello"), None);
    }

    #[test]
    fn backoff_doubles_to_two_seconds_with_jitter() {
        for failures in 0..10 {
            let full = (FIRST_BACKOFF * (1 << failures.min(5))).min(MAX_BACKOFF);
            let wait = backoff(failures);
            assert!(wait >= full / 2 && wait <= full, "{failures}: {wait:?}");
        }
    }
}
