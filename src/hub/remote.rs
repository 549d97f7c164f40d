//! The hub with Redis (`--redis`): publishing goes through Redis, and
//! messages come back from it, to every node, through the listener.
//!
//! ```text
//! publish("news", "hi")   floor = news's last id here → cluster.publish → 200 {"id":42}
//! receive(news 42)        last id 41 → keep 42, fan out
//! receive(news 45)        last id 42 → a hole: read 43, 44 from the stream,
//!                                      keep 43, 44, 45 in order
//! receive(news 44)        last id 45 → already kept, skipped
//! resync()                after a reconnect: every live topic puts its count
//!                         back if Redis lost it, and reads what its stream
//!                         holds after its last id
//! ```
//!
//! Only the listener thread keeps remote messages, so a topic's ids are
//! kept in order. A topic a message names that this node has not used yet
//! is made first, its history read from the stream (it already holds the
//! message, which is then skipped): so every node can replay any topic.
//! If the stream cannot be read (Redis just went away), the message waits
//! for the resync that follows the reconnect.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use log::warn;

use super::message::{Encodings, Published, Receipt};
use super::topic::{Start, Topic};
use super::{BAD_TOPIC, Hub, valid_topic};
use crate::cluster::{Cluster, Inbox, Remote};
use crate::error::{Error, Result};
use crate::store::Stored;

/// The refusal while Redis is away.
pub(super) const AWAY: Error = Error::Unavailable("Redis unreachable; try again");

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
        let (id, _) = cluster
            .publish(name, data, floor, self.bounds)
            .map_err(|e| {
                warn!("publish to {name} through Redis failed: {e}");
                AWAY
            })?;
        self.metrics.published.fetch_add(1, Ordering::Relaxed);
        let receivers = topic.lock().subscribers.len();
        Ok(Receipt { id, receivers })
    }

    /// A topic's counter and history as Redis holds them.
    pub(super) fn load_from(&self, cluster: &Cluster, name: &Arc<str>) -> Result<Start> {
        let held = cluster.load(name, self.bounds).map_err(|e| {
            warn!("history of {name} not read from Redis: {e}");
            AWAY
        })?;
        let loaded = crate::store::Loaded {
            last_id: held.last_id,
            base: 0,
            last_time_ms: held.messages.last().map_or(0, |m| m.time_ms),
            messages: held.messages,
        };
        Ok(Start::from_disk(name, loaded))
    }

    /// Keeps `messages` (in id order) that come after `topic`'s last id,
    /// and has them fanned out.
    fn keep_remote(&self, topic: &Arc<Topic>, messages: Vec<Stored>) {
        let mut state = topic.lock();
        for m in messages {
            if m.id <= state.last_id {
                continue;
            }
            let message = Arc::new(Published {
                id: m.id,
                topic: Arc::clone(&topic.name),
                time_ms: m.time_ms,
                data: Bytes::from(m.data),
                encoded: Encodings::default(),
            });
            state.keep(message, self.bounds);
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
    fn receive(&self, remote: Remote) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        if remote.node != cluster.node {
            self.metrics.redis_received.fetch_add(1, Ordering::Relaxed);
        }
        if !valid_topic(&remote.topic) {
            warn!("{BAD_TOPIC}: {:?} from Redis, skipped", remote.topic);
            return;
        }
        // Made (its history read) if this node has not used it yet.
        let Ok(topic) = self.topic(&remote.topic) else {
            return;
        };
        let last_id = topic.lock().last_id;
        if remote.id <= last_id {
            return;
        }
        let mut messages = Vec::new();
        if remote.id > last_id + 1 {
            match self.fill(cluster, &topic, Some(remote.id - 1)) {
                Some(missing) => messages = missing,
                None => return,
            }
        }
        messages.push(Stored {
            id: remote.id,
            time_ms: remote.time_ms,
            data: remote.data,
        });
        self.keep_remote(&topic, messages);
    }

    fn resync(&self) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        let live: Vec<Arc<Topic>> = self.registry().live.values().cloned().collect();
        for topic in live {
            // Redis may have come back empty: put the count back first.
            let last_id = topic.lock().last_id;
            if let Err(e) = cluster.raise(&topic.name, last_id) {
                warn!("topic {}: count not put back in Redis: {e}", topic.name);
            }
            if let Some(missing) = self.fill(cluster, &topic, None) {
                self.keep_remote(&topic, missing);
            }
        }
    }
}
