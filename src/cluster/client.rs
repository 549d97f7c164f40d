//! This node's side of Redis: the publish script, and reading a topic's
//! stream (its history on first use, the messages of a hole), over at most
//! 16 connections with timeouts (`pool.rs`).
//!
//! ```text
//! EVALSHA <publish.lua> 3 tinypush:{news}:id tinypush:{news}:stream tinypush:{news}:meta hi …
//!   → [42, 1763755200000]
//! XREVRANGE tinypush:{news}:stream + - COUNT <history>   (a topic's history, newest first)
//! XRANGE tinypush:{news}:stream 43-0 44-0           (a hole)
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redis::{Client, Connection, Script};

use super::pool::{self, CONNECTIONS, Pool, WAIT};
use super::url::redacted;
use crate::metrics::Metrics;
use crate::store::{Bounds, Stored};

/// The channel every node listens on.
pub const CHANNEL: &str = "tinypush:messages";
/// Longest a Redis call may take before it counts as a failure.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest TTL handed to Redis, in ms (about 285 years).
const MAX_TTL_MS: u64 = 1 << 53;

/// This node's side of Redis.
pub struct Cluster {
    client: Client,
    /// This node's name on the channel: a random number.
    pub node: u64,
    script: Script,
    pool: Pool,
    /// The listener is subscribed.
    listening: AtomicBool,
    /// The last call on a pooled connection was answered.
    answering: AtomicBool,
    pub(super) metrics: Arc<Metrics>,
}

/// A topic as Redis holds it.
#[derive(Debug, Default)]
pub struct Held {
    /// The topic's counter (0: never published).
    pub last_id: u64,
    /// Its stream within the bounds, oldest first.
    pub messages: Vec<Stored>,
}

impl Cluster {
    /// Connects to `url` and checks that Redis answers.
    ///
    /// # Errors
    /// One line: a bad URL, or Redis not answering.
    pub fn connect(url: &str, metrics: Arc<Metrics>) -> Result<Cluster, String> {
        let shown = redacted(url);
        let client = Client::open(url).map_err(|e| format!("bad --redis URL {shown}: {e}"))?;
        let cluster = Cluster {
            client,
            node: crate::clock::random(),
            script: Script::new(include_str!("publish.lua")),
            pool: Pool::new(CONNECTIONS, WAIT),
            listening: AtomicBool::new(true),
            answering: AtomicBool::new(true),
            metrics,
        };
        cluster
            .call(|con| redis::cmd("PING").query::<String>(con))
            .map_err(|e| format!("cannot reach Redis at {shown}: {e}"))?;
        Ok(cluster)
    }

    /// The client, for the listener's own connection.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Whether Redis is there: the listener is subscribed and the last
    /// call was answered.
    pub fn reachable(&self) -> bool {
        self.listening.load(Ordering::Relaxed) && self.answering.load(Ordering::Relaxed)
    }

    /// Notes that the listener lost its subscription.
    pub fn lost(&self) {
        self.listening.store(false, Ordering::Relaxed);
    }

    /// Notes that the listener is subscribed again: pooled connections,
    /// dead with the old Redis, are dropped first, so that none serves a
    /// publish once Redis counts as back.
    pub fn back(&self) {
        self.reset_pool();
        self.answering.store(true, Ordering::Relaxed);
        self.listening.store(true, Ordering::Relaxed);
    }

    /// Publishes `body` to `topic` through the script; `floor` is the last
    /// id this node has seen of it. Returns the message's id and time.
    ///
    /// # Errors
    /// When Redis does not answer.
    pub fn publish(
        &self,
        topic: &str,
        body: &[u8],
        floor: u64,
        bounds: Bounds,
    ) -> redis::RedisResult<(u64, u64)> {
        let started = Instant::now();
        // PEXPIRE refuses what would overflow Redis's clock.
        let ttl_ms =
            u64::try_from(bounds.ttl.as_millis()).map_or(MAX_TTL_MS, |t| t.min(MAX_TTL_MS));
        let answer = self.call(|con| {
            self.script
                .key(format!("tinypush:{{{topic}}}:id"))
                .key(format!("tinypush:{{{topic}}}:stream"))
                .key(format!("tinypush:{{{topic}}}:meta"))
                .arg(body)
                .arg(self.node)
                .arg(floor)
                .arg(bounds.messages)
                .arg(bounds.bytes)
                .arg(ttl_ms)
                .arg(CHANNEL)
                .arg(topic)
                .invoke::<(u64, u64)>(con)
        });
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.metrics.redis_rtt_us.store(micros, Ordering::Relaxed);
        answer
    }

    /// Raises `topic`'s counter to `last_id` if it is lower: after Redis
    /// lost its data, a node that knows a topic puts its count back, so
    /// that a node that does not know it cannot publish below it.
    ///
    /// # Errors
    /// When Redis does not answer.
    pub fn raise(&self, topic: &str, last_id: u64) -> redis::RedisResult<()> {
        const RAISE: &str = "if tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(ARGV[1]) \
            then redis.call('SET', KEYS[1], ARGV[1]) end return 0";
        self.call(|con| {
            redis::cmd("EVAL")
                .arg(RAISE)
                .arg(1)
                .arg(format!("tinypush:{{{topic}}}:id"))
                .arg(last_id)
                .query::<i64>(con)
                .map(drop)
        })
    }

    /// `topic`'s counter and the newest `bounds.messages` of its stream.
    ///
    /// # Errors
    /// When Redis does not answer.
    pub fn load(&self, topic: &str, bounds: Bounds) -> redis::RedisResult<Held> {
        self.call(|con| {
            let last_id: Option<u64> = redis::cmd("GET")
                .arg(format!("tinypush:{{{topic}}}:id"))
                .query(con)?;
            let newest: Vec<(String, Vec<Vec<u8>>)> = redis::cmd("XREVRANGE")
                .arg(format!("tinypush:{{{topic}}}:stream"))
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(bounds.messages)
                .query(con)?;
            let mut messages: Vec<Stored> = newest.iter().filter_map(entry).collect();
            messages.reverse();
            let last_id = last_id
                .unwrap_or(0)
                .max(messages.last().map_or(0, |m| m.id));
            Ok(Held { last_id, messages })
        })
    }

    /// `topic`'s stream entries with ids `from..=to`, oldest first.
    ///
    /// # Errors
    /// When Redis does not answer.
    pub fn range(
        &self,
        topic: &str,
        from: u64,
        to: Option<u64>,
    ) -> redis::RedisResult<Vec<Stored>> {
        self.call(|con| {
            let end = to.map_or("+".to_string(), |to| format!("{to}-0"));
            let entries: Vec<(String, Vec<Vec<u8>>)> = redis::cmd("XRANGE")
                .arg(format!("tinypush:{{{topic}}}:stream"))
                .arg(format!("{from}-0"))
                .arg(end)
                .query(con)?;
            Ok(entries.iter().filter_map(entry).collect())
        })
    }

    /// Runs `f` on the newest idle connection, or a new one; a
    /// connection that failed is not kept. Whether the call was answered
    /// counts toward [`reachable`](Self::reachable) until the next call.
    fn call<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> redis::RedisResult<T>,
    ) -> redis::RedisResult<T> {
        if !self.listening.load(Ordering::Relaxed) {
            // The listener is reconnecting: Redis is away, and each caller
            // would wait out a connect timeout to learn it again.
            let away = std::io::Error::new(std::io::ErrorKind::NotConnected, "Redis is away");
            return Err(away.into());
        }
        let Some(mut lease) = self.pool.lease() else {
            return Err(pool::busy());
        };
        let con = match &mut lease.con {
            Some(con) => con,
            empty => empty.insert(
                self.open()
                    .inspect_err(|_| self.answering.store(false, Ordering::Relaxed))?,
            ),
        };
        let answer = f(con);
        match &answer {
            Ok(_) => self.answering.store(true, Ordering::Relaxed),
            Err(e) if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() => {
                // The others were opened to the same Redis: likely dead too.
                lease.discard();
                self.reset_pool();
                self.answering.store(false, Ordering::Relaxed);
            }
            Err(_) => {}
        }
        answer
    }

    /// A new connection with read and write timeouts.
    fn open(&self) -> redis::RedisResult<Connection> {
        let con = self.client.get_connection_with_timeout(CALL_TIMEOUT)?;
        con.set_read_timeout(Some(CALL_TIMEOUT))?;
        con.set_write_timeout(Some(CALL_TIMEOUT))?;
        Ok(con)
    }

    /// Closes every idle pooled connection (after Redis went away and came
    /// back, each would fail once).
    pub fn reset_pool(&self) {
        self.pool.clear();
    }
}

/// One stream entry, `["42-0", ["t", "1763755200000", "d", "hi"]]`, as a
/// message; `None` for an entry not written by the script. (The hub
/// checks what it takes: an id in range, a UTF-8 body.)
fn entry((id, fields): &(String, Vec<Vec<u8>>)) -> Option<Stored> {
    let id = id.strip_suffix("-0")?.parse().ok()?;
    let [t, time, d, data] = fields.as_slice() else {
        return None;
    };
    let time_ms = std::str::from_utf8(time).ok()?.parse().ok()?;
    (t == b"t" && d == b"d").then(|| Stored {
        id,
        time_ms,
        data: data.clone(),
    })
}
