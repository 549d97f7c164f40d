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
//! `subscription.rs`. The hub knows nothing of HTTP or WebSocket: the
//! endpoints turn its messages into wire bytes.

mod commit;
mod fanout;
mod message;
mod registry;
mod sink;
mod subscription;
#[cfg(test)]
mod tests;
mod topic;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;

pub use message::{
    BAD_TOPIC, Encodings, Gap, MAX_ID, Published, Receipt, Replay, Since, valid_topic,
};
pub use sink::{Offer, Sink};
pub use subscription::Subscription;

use crate::clock;
use crate::config::TopicConfig;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::store::{Bounds, Store};
use commit::Committer;
use fanout::Fanout;
use registry::Registry;
use topic::{Start, Subscriber, Topic, TopicState};

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
    /// In memory mode, a new topic's ids begin after the time it is made,
    /// in microseconds (see `TopicConfig::ids_after_start`).
    ids_after_start: bool,
}

impl Hub {
    /// A hub with the config's limits; with a store, topics' histories
    /// are read from it and publishes written to it.
    ///
    /// # Errors
    /// When the store's writer thread cannot be started.
    pub fn new(
        config: &TopicConfig,
        store: Option<Store>,
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
        Ok(Arc::new(Hub {
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
            ids_after_start: config.ids_after_start,
        }))
    }

    /// Publishes `data` to `topic`, creating the topic if needed. The
    /// message is numbered and kept when this returns (and on disk, with a
    /// store); the fan-out threads hand it to the subscribers.
    ///
    /// # Errors
    /// 400 for a bad topic name, 503 when a new topic would pass the cap or
    /// the message could not be written to disk.
    pub fn publish(&self, topic: &str, data: String) -> Result<Receipt> {
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
        self.with_topic(topic, |_, state| state.replay(since, self.bounds))
    }

    /// Topics held now.
    pub fn topic_count(&self) -> usize {
        self.registry().live.len()
    }

    /// Whether the history on disk takes writes (always, in memory mode).
    pub fn store_healthy(&self) -> bool {
        self.committer.as_ref().is_none_or(Committer::healthy)
    }

    /// Subscribers now, over all topics.
    pub fn subscriber_count(&self) -> usize {
        self.subscribers.load(Ordering::Relaxed)
    }

    /// Runs `f` on a topic (found or created) under its lock. A topic swept
    /// away between the lookup and the lock is looked up again, so nothing
    /// is published to, or subscribed on, a topic no one else can reach.
    fn with_topic<T>(
        &self,
        name: &str,
        f: impl FnOnce(&Arc<Topic>, &mut TopicState) -> T,
    ) -> Result<T> {
        loop {
            let topic = self.topic(name)?;
            let mut state = topic.lock();
            if !state.retired {
                return Ok(f(&topic, &mut state));
            }
        }
    }

    /// Finds or creates a topic. A new topic's history is read from disk
    /// without the map's lock: lookups of other topics do not wait for it.
    fn topic(&self, name: &str) -> Result<Arc<Topic>> {
        if !valid_topic(name) {
            return Err(BAD_TOPIC);
        }
        if let Some(topic) = self.registry().find(name) {
            return Ok(topic);
        }
        let name: Arc<str> = name.into();
        let read = self.load(&name)?;
        let limits = (self.max_topics, self.idle);
        self.registry()
            .find_or_create(name, limits, read, |name| self.load(name))
    }

    /// A topic's last id and history from the store; nothing in memory mode.
    fn load(&self, name: &Arc<str>) -> Result<Start> {
        let Some(store) = &self.store else {
            return Ok(Start::in_memory(self.ids_after_start));
        };
        let loaded = store
            .load(name, self.bounds, clock::now_ms())
            .map_err(|e| {
                log::error!("history of {name} not read: {e}");
                Error::Unavailable("the topic's history could not be read")
            })?;
        Ok(Start::from_disk(name, loaded))
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        // Each update is one insert or retain: a panic cannot leave it torn.
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.fanout.stop();
    }
}
