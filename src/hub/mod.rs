//! Topics: publish once, hand the message to every subscriber, keep a
//! history for those who come back.
//!
//! ```text
//! publish("news", "hello")            subscribe("news", since: Some(40))
//!   │ lock topic                        │ lock topic (the same lock)
//!   │ id = last_id + 1 = 42             │ gap?   history starts after 41 → none
//!   │ history.push(42)  (ring, 1000)    │ replay: history after 40 → [41, 42]
//!   │ unsent.push(42)                   │ register its sink, offered ids > 42
//!   │ unlock → 200 {"id":42}            │ unlock
//!   ▼                                   └─► replay first, then the sink: live
//! fanout-0: for each subscriber:
//!     sink.offer([42, …])  (all unsent since its last pass)
//!     too slow? drop it
//! ```
//!
//! Because publishing and subscribing take the same lock, a subscriber's
//! replay ends exactly where its live messages begin: no gap, no duplicate,
//! even while others publish. An offer never waits: a subscriber whose
//! backlog is full is removed, and its sink tells it so (it sends what it
//! has, then a notice that it was dropped). It can come back with its last
//! id. So a slow client never slows the publisher or anyone else.
//!
//! A cursor the history cannot serve gets a [`Gap`] first: the oldest
//! messages were evicted (count, bytes, age), or the cursor is beyond the
//! last id. With a store (`--data-dir`), a publish is numbered and kept only
//! once it is on disk (`commit.rs`), and a topic's ids and history are read
//! back when it is first used, so ids go on across restarts. In memory, a
//! topic numbers after the time it is first used, in microseconds, so a
//! cursor from an earlier run falls below the new history: a gap too.
//!
//! Files: `message.rs` (what is handed around), `sink.rs` (where a
//! subscriber's messages go), `topic.rs` (one topic: ids, history, the
//! unsent), `commit.rs` (durable publishing, one sync for many),
//! `fanout.rs` (the threads that hand messages over),
//! `registry.rs` (the map of topics, forgetting idle ones),
//! `lookup.rs` (finding a topic, or making it with its history read from
//! disk or Redis), `remote.rs` (publishing through Redis with `--redis`,
//! and keeping what other nodes publish in id order), `subscription.rs`. The hub knows nothing of HTTP or WebSocket: the
//! endpoints turn its messages into wire bytes.

mod commit;
mod fanout;
mod lookup;
mod message;
mod registry;
mod remote;
mod sink;
mod subscription;
#[cfg(test)]
mod tests;
mod topic;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;

pub use message::{
    BAD_TOPIC, Encodings, Gap, MAX_ID, Published, Receipt, Replay, Since, valid_topic,
};
pub use sink::{Offer, Sink};
pub use subscription::Subscription;

use crate::cluster::{Cluster, Inbox};
use crate::config::TopicConfig;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::store::{Bounds, Store};
use commit::Committer;
use fanout::Fanout;
use registry::Registry;
use topic::Subscriber;

/// Every topic, and the limits on them.
pub struct Hub {
    registry: Mutex<Registry>,
    subscribers: Arc<AtomicUsize>,
    next_key: AtomicU64,
    bounds: Bounds,
    max_topics: usize,
    max_subscribers: usize,
    idle: Duration,
    metrics: Arc<Metrics>,
    fanout: Arc<Fanout>,
    /// The durable history, when there is one (`--data-dir`).
    store: Option<Arc<Store>>,
    /// Writes durable publishes; `None` in memory mode.
    committer: Option<Committer>,
    /// Redis, shared with the other nodes (`--redis`).
    cluster: Option<Arc<Cluster>>,
    /// In memory mode, a new topic's ids begin after the time it is made,
    /// in microseconds (see `TopicConfig::ids_after_start`).
    ids_after_start: bool,
}

impl Hub {
    /// A hub with the config's limits; with a store, topics' histories
    /// are read from it and publishes written to it; with a cluster, both
    /// go through Redis and a listener thread brings every message back.
    ///
    /// # Errors
    /// When the store's writer or the Redis listener cannot be started.
    pub fn new(
        config: &TopicConfig,
        (store, cluster): (Option<Store>, Option<Cluster>),
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Arc<Hub>> {
        let subscribers = Arc::new(AtomicUsize::new(0));
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let fanout = Fanout::start(cores, Arc::clone(&subscribers), Arc::clone(&metrics));
        let bounds = Bounds {
            messages: config.history,
            bytes: config.history_bytes,
            ttl: config.history_ttl,
        };
        let store = store.map(Arc::new);
        let committer = match &store {
            None => None,
            Some(store) => Some(Committer::start(
                Arc::clone(store),
                bounds,
                Arc::clone(&fanout),
                Arc::clone(&metrics),
            )?),
        };
        let hub = Arc::new(Hub {
            registry: Mutex::new(Registry::new()),
            subscribers,
            next_key: AtomicU64::new(1),
            bounds,
            max_topics: config.max_topics,
            max_subscribers: config.max_subscribers,
            idle: config.idle,
            metrics,
            fanout,
            store,
            committer,
            cluster: cluster.map(Arc::new),
            ids_after_start: config.ids_after_start,
        });
        if let Some(cluster) = &hub.cluster {
            let inbox: Weak<dyn Inbox> = Arc::downgrade(&hub) as Weak<Hub>;
            crate::cluster::listen(Arc::clone(cluster), inbox)?;
        }
        Ok(hub)
    }

    /// Publishes `data` to `topic`, creating the topic if needed. The
    /// message is numbered and kept when this returns (and on disk, with a
    /// store); the fan-out threads hand it to the subscribers.
    ///
    /// # Errors
    /// 400 for a bad topic name, 503 when a new topic would pass the cap or
    /// the message could not be written to disk.
    pub fn publish(&self, topic: &str, data: String) -> Result<Receipt> {
        if let Some(cluster) = &self.cluster {
            return self.publish_through(cluster, topic, data.as_bytes());
        }
        let data = Bytes::from(data);
        if let Some(committer) = &self.committer {
            let topic = self.with_topic(topic, |topic, state| {
                state.writing += 1;
                Arc::clone(topic)
            })?;
            return committer.publish(topic, data);
        }
        let (receipt, unsent) = self.with_topic(topic, |topic, state| {
            let message = state.append(&topic.name, data, self.bounds);
            let receipt = Receipt {
                id: message.id,
                receivers: state.subscribers.len(),
            };
            (receipt, state.take_schedule().then(|| Arc::clone(topic)))
        })?;
        if let Some(topic) = unsent {
            self.fanout.schedule(topic);
        }
        self.metrics.published.fetch_add(1, Ordering::Relaxed);
        Ok(receipt)
    }

    /// Subscribes `sink` to `topic`. With a cursor (`since`), the
    /// subscription holds the history it asks for, for the subscriber to
    /// send first; the sink gets every message after that.
    ///
    /// # Errors
    /// 400 for a bad topic name, 503 past the topic or subscriber cap.
    pub fn subscribe(
        &self,
        topic: &str,
        since: Option<Since>,
        sink: Arc<dyn Sink>,
    ) -> Result<Subscription> {
        if let Some(cluster) = &self.cluster {
            self.catch_up(cluster, topic, since)?;
        }
        if self.subscribers.fetch_add(1, Ordering::Relaxed) >= self.max_subscribers {
            self.subscribers.fetch_sub(1, Ordering::Relaxed);
            return Err(Error::Unavailable("too many subscribers"));
        }
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let subscribed = self.with_topic(topic, |topic, state| {
            let replay = match since {
                None => Replay {
                    start: state.last_id,
                    ..Replay::default()
                },
                Some(since) => state.replay(since, self.bounds),
            };
            let after = state.last_id;
            state.subscribers.insert(key, Subscriber { sink, after });
            state.last_used = Instant::now();
            (Arc::clone(topic), replay)
        });
        let (topic, replay) = match subscribed {
            Ok(found) => found,
            Err(e) => {
                self.subscribers.fetch_sub(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        Ok(Subscription {
            gap: replay.gap,
            replay: replay.messages,
            start: replay.start,
            topic,
            key,
            count: Arc::clone(&self.subscribers),
        })
    }

    /// The history a subscriber starting at `since` would be sent first,
    /// without subscribing (`poll=1`).
    ///
    /// # Errors
    /// 400 for a bad topic name, 503 when a new topic would pass the cap.
    pub fn history(&self, topic: &str, since: Since) -> Result<Replay> {
        if let Some(cluster) = &self.cluster {
            self.catch_up(cluster, topic, Some(since))?;
        }
        self.with_topic(topic, |_, state| state.replay(since, self.bounds))
    }

    /// Topics held now.
    pub fn topic_count(&self) -> usize {
        self.registry().live.len()
    }

    /// What is wrong, when writes to the history on disk fail or Redis is
    /// away; `None` when all is well.
    pub fn degraded(&self) -> Option<&'static str> {
        if !self.committer.as_ref().is_none_or(Committer::healthy) {
            return Some("writes to the history on disk fail (see the log)");
        }
        let away = self.cluster.as_ref().is_some_and(|c| !c.reachable());
        away.then_some("degraded: Redis unreachable")
    }

    /// Subscribers now, over all topics.
    pub fn subscriber_count(&self) -> usize {
        self.subscribers.load(Ordering::Relaxed)
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.fanout.stop();
    }
}
