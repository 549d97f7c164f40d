//! The hub with Redis (`--redis`): publishing goes through Redis, and
//! messages come back from it, to every node, through the listener.
//!
//! ```text
//! publish("news", "hi")   floor = news's last id here → cluster.publish → 42;
//!                         keep 42 here at once (after 41 and before, read
//!                         from the stream if not heard yet) → 200 {"id":42}
//! receive(news 42)        last id 41 → keep 42, fan out
//! receive(news 45)        last id 42 → a hole: read 43, 44 from the stream,
//!                                      keep 43, 44, 45 in order
//! receive(news 44)        last id 45 → already kept, skipped
//! resync()                after a reconnect: every live topic puts its count
//!                         back if Redis lost it, and reads what its stream
//!                         holds after its last id
//! ```
//!
//! Messages are kept under the topic's lock, in id order, skipping ids
//! already kept: the listener keeps what the channel brings, and a
//! subscriber whose cursor is ahead of this node (it read a newer message
//! on another node) first has the stream read up to now (`catch_up`). A topic a message names that this node has not used yet
//! is made first, its history read from the stream (it already holds the
//! message, which is then skipped): so every node can replay any topic.
//! If the stream cannot be read (Redis just went away), the listener
//! reconnects, and the resync that follows reads what was missed.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use log::warn;

use super::message::{Published, Receipt, Since};
use super::topic::{Start, Topic};
use super::{Hub, MAX_ID, valid_topic};
use crate::cluster::{self, Cluster, Inbox, Remote};
use crate::error::{Error, Result};
use crate::store::Stored;

/// Why a publish is refused while Redis is away.
const AWAY_WHY: &str = "Redis unreachable; try again";
/// The refusal while Redis is away.
pub(super) const AWAY: Error = Error::Unavailable(AWAY_WHY);
/// The refusal when Redis answered with an error (the log says which).
const REFUSED: Error = Error::Unavailable("Redis refused the publish; see the server log");
/// The refusal when every connection to Redis stayed in use (`cluster/pool.rs`).
const BUSY: Error = Error::Unavailable("every connection to Redis is busy; try again");

impl Hub {
    /// Publishes through Redis; the message comes back on the channel.
    pub(super) fn publish_through(
        &self,
        cluster: &Cluster,
        name: &str,
        data: &[u8],
    ) -> Result<Receipt> {
        let (topic, floor) =
            self.with_topic(name, |topic, state| (Arc::clone(topic), state.last_id))?;
        let (id, time_ms) = cluster
            .publish(name, data, floor, self.bounds)
            .map_err(|e| {
                warn!("publish to {name} through Redis failed: {e}");
                if cluster::is_busy(&e) {
                    BUSY
                } else if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() {
                    AWAY
                } else {
                    REFUSED
                }
            })?;
        self.metrics.published.fetch_add(1, Ordering::Relaxed);
        let (receivers, last_id) = {
            let state = topic.lock();
            (state.subscribers.len(), state.last_id)
        };
        // Kept here at once (what came before it first), not a channel
        // trip later: a publisher that then reads this node sees it.
        let before = if id > last_id + 1 {
            self.fill(cluster, &topic, Some(id - 1))
        } else {
            Some(Vec::new())
        };
        if let Some(mut messages) = before.filter(|_| id > last_id) {
            let data = data.to_vec();
            messages.push(Stored { id, time_ms, data });
            self.keep_remote(&topic, messages);
        }
        Ok(Receipt { id, receivers })
    }

    /// A topic's counter and history as Redis holds them.
    pub(super) fn load_from(&self, cluster: &Cluster, name: &Arc<str>) -> Result<Start> {
        let held = cluster.load(name, self.bounds).map_err(|e| {
            warn!("history of {name} not read from Redis: {e}");
            if cluster::is_busy(&e) { BUSY } else { AWAY }
        })?;
        let loaded = crate::store::Loaded {
            last_id: held.last_id.min(MAX_ID),
            base: 0,
            last_time_ms: held.messages.last().map_or(0, |m| m.time_ms),
            messages: held.messages,
        };
        Ok(Start::from_disk(name, loaded))
    }

    /// Before a replay from `since`: a cursor beyond this node's last id
    /// may come from another node that heard newer messages first; read
    /// them from the stream now, rather than call the cursor unknown.
    pub(super) fn catch_up(
        &self,
        cluster: &Cluster,
        name: &str,
        since: Option<Since>,
    ) -> Result<()> {
        let Some(Since::After(cursor)) = since else {
            return Ok(());
        };
        let (topic, last_id) =
            self.with_topic(name, |topic, state| (Arc::clone(topic), state.last_id))?;
        if cursor > last_id {
            // Unread, the cursor would look unknown: a gap and the whole
            // history again. Better a 503 the client retries.
            let missing = self.fill(cluster, &topic, None).ok_or(AWAY)?;
            self.keep_remote(&topic, missing);
        }
        Ok(())
    }

    /// Keeps `messages` (in id order) that come after `topic`'s last id,
    /// and has them fanned out.
    fn keep_remote(&self, topic: &Arc<Topic>, messages: Vec<Stored>) {
        let mut state = topic.lock();
        for m in messages {
            if m.id > state.last_id
                && let Some(message) = Published::read_back(&topic.name, m)
            {
                state.keep(message, self.bounds);
            }
        }
        let schedule = state.take_schedule();
        drop(state);
        if schedule {
            self.fanout.schedule(Arc::clone(topic));
        }
    }

    /// Reads what `topic`'s stream holds after its last id (up to `to`).
    fn fill(&self, cluster: &Cluster, topic: &Arc<Topic>, to: Option<u64>) -> Option<Vec<Stored>> {
        let after = topic.lock().last_id;
        match cluster.range(&topic.name, after + 1, to) {
            Ok(missing) => {
                let n = missing.len() as u64;
                self.metrics
                    .redis_holes_filled
                    .fetch_add(n, Ordering::Relaxed);
                Some(missing)
            }
            Err(e) => {
                warn!("topic {}: hole after {after} not filled: {e}", topic.name);
                None
            }
        }
    }
}

impl Inbox for Hub {
    fn receive(&self, remote: Remote) -> bool {
        let Some(cluster) = &self.cluster else {
            return true;
        };
        if remote.node != cluster.node {
            self.metrics.redis_received.fetch_add(1, Ordering::Relaxed);
        }
        if !valid_topic(&remote.topic) || !(1..=MAX_ID).contains(&remote.id) {
            warn!(
                "{:?} {} from Redis: not a topic and id, skipped",
                remote.topic, remote.id
            );
            return true;
        }
        // Made (its history read) if this node has not used it yet; a
        // topic not made (over the cap, or every Redis connection busy) has
        // no subscribers here to miss it, and is read whole when first used.
        let topic = match self.topic(&remote.topic) {
            Ok(topic) => topic,
            Err(Error::Unavailable(why)) if why == AWAY_WHY => return false,
            Err(_) => return true,
        };
        let last_id = topic.lock().last_id;
        if remote.id <= last_id {
            return true;
        }
        let mut messages = Vec::new();
        if remote.id > last_id + 1 {
            match self.fill(cluster, &topic, Some(remote.id - 1)) {
                Some(missing) => messages = missing,
                None => return false,
            }
        }
        messages.push(Stored {
            id: remote.id,
            time_ms: remote.time_ms,
            data: remote.data,
        });
        self.keep_remote(&topic, messages);
        true
    }

    fn resync(&self) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        let (live, forgotten) = {
            let registry = self.registry();
            let live: Vec<Arc<Topic>> = registry.live.values().cloned().collect();
            (live, registry.forgotten())
        };
        // Redis may have come back empty: put every count this node knows
        // back first, so that no node numbers below it.
        let known = live
            .iter()
            .map(|t| (Arc::clone(&t.name), t.lock().last_id))
            .chain(forgotten);
        for (name, last_id) in known {
            if let Err(e) = cluster.raise(&name, last_id) {
                warn!("topic {name}: count not put back in Redis: {e}");
                return;
            }
        }
        for topic in live {
            match self.fill(cluster, &topic, None) {
                Some(missing) => self.keep_remote(&topic, missing),
                // Redis is gone again: the next reconnect resyncs.
                None => return,
            }
        }
    }
}
