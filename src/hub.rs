//! Topics: publish once, hand the message to every subscriber, keep a
//! history for those who come back.
//!
//! ```text
//! publish("news", "hello")            subscribe("news", since: Some(40))
//!   │ lock topic                        │ lock topic (the same lock)
//!   │ id = last_id + 1 = 42             │ gap?   history starts after 41 → none
//!   │ history.push(42)  (ring, 1000)    │ replay: history after 40 → [41, 42]
//!   │ for each subscriber:              │ register a bounded queue (256)
//!   │     try_send(Arc<message>)        │ unlock
//!   │     full? drop that subscriber    └─► replay first, then the queue: live
//!   │ unlock
//! ```
//!
//! Because publishing and subscribing take the same lock, a subscriber's
//! replay ends exactly where its live queue begins: no gap, no duplicate,
//! even while others publish. `try_send` never waits: a subscriber whose
//! queue is full is removed, and dropping its `Sender` is its signal (it
//! drains what it has, then sees the channel disconnected). It can come back
//! with its last id. So a slow client never slows the publisher or anyone else.
//!
//! A cursor the history cannot serve gets a [`Gap`] first: the oldest
//! messages were evicted, or the cursor is beyond the last id (the server
//! restarted and ids began again at 1). A topic forgotten for being idle
//! leaves its last id behind, so if it comes back its ids go on from there
//! and old cursors still get an honest gap. Not kept: anything across
//! restarts.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};
use log::info;
use tungstenite::{Bytes, Utf8Bytes};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::metrics::Metrics;

/// One published message, shared by the history and every subscriber's queue.
#[derive(Debug)]
pub struct Published {
    /// The topic's sequence number, from 1.
    pub id: u64,
    /// The topic's name.
    pub topic: Arc<str>,
    /// When it was published, in milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The body; cheap to clone into a WebSocket frame.
    pub data: Utf8Bytes,
    /// Its bytes in each subscriber format, made by the first subscriber
    /// that needs them and shared by the rest: a thousand subscribers cost
    /// one encoding, not a thousand.
    pub encoded: Encodings,
}

/// Lazily made encodings of one message (see `topics.rs` for the formats).
#[derive(Debug, Default)]
pub struct Encodings {
    /// The Server-Sent Events event.
    pub sse: OnceLock<Bytes>,
    /// The JSON object, without a line end (NDJSON adds `\n`; WebSocket
    /// `format=json` frames carry it as is).
    pub json: OnceLock<Utf8Bytes>,
}

/// Messages a subscriber asked for that the history no longer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// The first missing id (the cursor + 1).
    pub from: u64,
    /// The last missing id, or `None` when the cursor is beyond the last id:
    /// ids began again (a restart), so what came after it is unknown.
    pub to: Option<u64>,
}

/// What `publish` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// The message's id.
    pub id: u64,
    /// Live subscribers it was handed to.
    pub receivers: usize,
}

/// A live subscription; dropping it unsubscribes.
pub struct Subscription {
    /// Sent first when the history cannot serve the cursor.
    pub gap: Option<Gap>,
    /// The messages after the cursor still in the history, oldest first.
    pub replay: Vec<Arc<Published>>,
    /// Live messages after the replay. Disconnected (after the queued ones)
    /// when the subscriber was dropped for falling behind.
    pub live: Receiver<Arc<Published>>,
    topic: Arc<Topic>,
    key: u64,
    hub: Arc<Hub>,
}

/// Every topic, and the limits on them.
pub struct Hub {
    topics: Mutex<Topics>,
    subscribers: AtomicUsize,
    next_key: AtomicU64,
    last_sweep: Mutex<Instant>,
    history: usize,
    history_bytes: usize,
    max_topics: usize,
    max_subscribers: usize,
    queue: usize,
    idle: Duration,
    metrics: Arc<Metrics>,
}

struct Topics {
    live: HashMap<Arc<str>, Arc<Topic>>,
    // The last id of each forgotten topic, so ids never go backwards.
    forgotten: HashMap<Arc<str>, u64>,
}

struct Topic {
    name: Arc<str>,
    state: Mutex<TopicState>,
}

struct TopicState {
    last_id: u64,
    history: VecDeque<Arc<Published>>,
    history_bytes: usize,
    subscribers: Vec<(u64, Sender<Arc<Published>>)>,
    last_used: Instant,
    // Swept out of the map: whoever finds it must look the name up again.
    retired: bool,
}

/// The largest id or cursor: 2^53 - 1, the largest integer JavaScript
/// reads exactly, and far from overflowing when we add one.
pub const MAX_ID: u64 = (1 << 53) - 1;

/// Topic names: what a URL path segment can carry without escaping.
pub fn valid_topic(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

const BAD_TOPIC: Error = Error::BadRequest("topic name must be 1 to 64 of A-Z a-z 0-9 _ -");

/// How often creating a topic also sweeps idle ones (besides when at the cap).
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// Forgotten topics whose last id we remember; past it, an arbitrary one
/// is dropped (a topic that comes back after that starts at 1 again).
const MAX_FORGOTTEN: usize = 100_000;

impl Hub {
    /// An empty hub with the config's limits.
    pub fn new(config: &Config, metrics: Arc<Metrics>) -> Arc<Hub> {
        Arc::new(Hub {
            topics: Mutex::new(Topics {
                live: HashMap::new(),
                forgotten: HashMap::new(),
            }),
            subscribers: AtomicUsize::new(0),
            next_key: AtomicU64::new(1),
            last_sweep: Mutex::new(Instant::now()),
            history: config.topic_history,
            history_bytes: config.topic_history_bytes,
            max_topics: config.max_topics,
            max_subscribers: config.max_subscribers,
            queue: config.subscriber_queue,
            idle: config.topic_idle,
            metrics,
        })
    }

    /// Publishes `data` to `topic`, creating the topic if needed.
    ///
    /// # Errors
    /// 400 for a bad topic name, 503 when a new topic would pass the cap.
    pub fn publish(&self, topic: &str, data: String) -> Result<Receipt> {
        let time_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let data = Utf8Bytes::from(data);
        let (id, receivers, gone) = self.with_topic(topic, |topic, state| {
            state.last_id += 1;
            let message = Arc::new(Published {
                id: state.last_id,
                topic: Arc::clone(&topic.name),
                time_ms,
                data,
                encoded: Encodings::default(),
            });
            self.remember(state, &message);
            let before = state.subscribers.len();
            state
                .subscribers
                .retain(|(_, queue)| match queue.try_send(Arc::clone(&message)) {
                    Ok(()) => true,
                    // Too slow: dropping its Sender (removing it here) is its signal.
                    Err(TrySendError::Full(_)) => {
                        self.metrics.dropped.fetch_add(1, Ordering::Relaxed);
                        self.metrics.slow_consumers.fetch_add(1, Ordering::Relaxed);
                        false
                    }
                    Err(TrySendError::Disconnected(_)) => false,
                });
            (
                message.id,
                state.subscribers.len(),
                before - state.subscribers.len(),
            )
        })?;
        if gone > 0 {
            self.subscribers.fetch_sub(gone, Ordering::Relaxed);
            info!("topic {topic}: {gone} subscribers dropped at id {id}");
        }
        self.metrics.published.fetch_add(1, Ordering::Relaxed);
        self.metrics
            .delivered
            .fetch_add(receivers as u64, Ordering::Relaxed);
        Ok(Receipt { id, receivers })
    }

    /// Appends to the history, evicting the oldest past either cap.
    fn remember(&self, state: &mut TopicState, message: &Arc<Published>) {
        state.history_bytes += message.data.len();
        state.history.push_back(Arc::clone(message));
        while state.history.len() > self.history
            || (state.history_bytes > self.history_bytes && state.history.len() > 1)
        {
            let Some(old) = state.history.pop_front() else {
                break;
            };
            state.history_bytes -= old.data.len();
        }
        state.last_used = Instant::now();
    }

    /// Subscribes to `topic`. With a cursor (`since`: the last id seen, 0
    /// for everything), the history after it comes first, then live messages.
    ///
    /// # Errors
    /// 400 for a bad topic name, 503 past the topic or subscriber cap.
    pub fn subscribe(self: &Arc<Self>, topic: &str, since: Option<u64>) -> Result<Subscription> {
        if self.subscribers.fetch_add(1, Ordering::Relaxed) >= self.max_subscribers {
            self.subscribers.fetch_sub(1, Ordering::Relaxed);
            return Err(Error::Unavailable("too many subscribers"));
        }
        let (queue, live) = bounded(self.queue);
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let subscribed = self.with_topic(topic, |topic, state| {
            let (gap, replay) = match since {
                None => (None, Vec::new()),
                Some(cursor) => state.replay_after(cursor),
            };
            state.subscribers.push((key, queue));
            state.last_used = Instant::now();
            (Arc::clone(topic), gap, replay)
        });
        let (topic, gap, replay) = match subscribed {
            Ok(found) => found,
            Err(e) => {
                self.subscribers.fetch_sub(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        Ok(Subscription {
            gap,
            replay,
            live,
            topic,
            key,
            hub: Arc::clone(self),
        })
    }

    /// Topics held now.
    pub fn topic_count(&self) -> usize {
        self.topics().live.len()
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

    /// Finds or creates a topic.
    fn topic(&self, name: &str) -> Result<Arc<Topic>> {
        if !valid_topic(name) {
            return Err(BAD_TOPIC);
        }
        let mut topics = self.topics();
        if let Some(topic) = topics.live.get(name) {
            return Ok(Arc::clone(topic));
        }
        if topics.live.len() >= self.max_topics || self.sweep_due() {
            self.sweep(&mut topics);
        }
        if topics.live.len() >= self.max_topics {
            return Err(Error::Unavailable("too many topics"));
        }
        let name: Arc<str> = name.into();
        let last_id = topics.forgotten.remove(&name).unwrap_or(0);
        let topic = Arc::new(Topic {
            name: Arc::clone(&name),
            state: Mutex::new(TopicState {
                last_id,
                history: VecDeque::new(),
                history_bytes: 0,
                subscribers: Vec::new(),
                last_used: Instant::now(),
                retired: false,
            }),
        });
        topics.live.insert(name, Arc::clone(&topic));
        Ok(topic)
    }

    fn sweep_due(&self) -> bool {
        let mut last = self.last_sweep.lock().unwrap_or_else(|p| p.into_inner());
        if last.elapsed() < SWEEP_EVERY {
            return false;
        }
        *last = Instant::now();
        true
    }

    /// Forgets topics with no subscribers, unused for the idle time,
    /// remembering their last ids.
    fn sweep(&self, topics: &mut Topics) {
        let before = topics.live.len();
        let mut retired = Vec::new();
        topics.live.retain(|name, topic| {
            let mut state = topic.lock();
            let idle = state.subscribers.is_empty() && state.last_used.elapsed() >= self.idle;
            if idle {
                // Under the topic lock: anyone who found this topic before
                // the sweep sees the flag once they hold the lock.
                state.retired = true;
                retired.push((Arc::clone(name), state.last_id));
            }
            !idle
        });
        for (name, last_id) in retired {
            if topics.forgotten.len() >= MAX_FORGOTTEN {
                let any = topics.forgotten.keys().next().cloned();
                if let Some(any) = any {
                    topics.forgotten.remove(&any);
                }
            }
            topics.forgotten.insert(name, last_id);
        }
        if topics.live.len() < before {
            info!("forgot {} idle topics", before - topics.live.len());
        }
    }

    fn topics(&self) -> MutexGuard<'_, Topics> {
        // Each update is one insert or retain: a panic cannot leave it torn.
        self.topics.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Topic {
    fn lock(&self) -> MutexGuard<'_, TopicState> {
        // Publish and subscribe finish each update before unlocking.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl TopicState {
    /// The gap, if any, and the history after `cursor`.
    fn replay_after(&self, cursor: u64) -> (Option<Gap>, Vec<Arc<Published>>) {
        let oldest = self.history.front().map_or(self.last_id + 1, |m| m.id);
        let all = || self.history.iter().cloned().collect();
        if cursor > self.last_id {
            // Ids began again since this cursor was handed out.
            (
                Some(Gap {
                    from: cursor.saturating_add(1),
                    to: None,
                }),
                all(),
            )
        } else if cursor + 1 < oldest {
            (
                Some(Gap {
                    from: cursor + 1,
                    to: Some(oldest - 1),
                }),
                all(),
            )
        } else {
            (
                None,
                self.history
                    .iter()
                    .filter(|m| m.id > cursor)
                    .cloned()
                    .collect(),
            )
        }
    }
}

impl Subscription {
    /// The topic's name.
    pub fn topic(&self) -> &Arc<str> {
        &self.topic.name
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut state = self.topic.lock();
        let before = state.subscribers.len();
        state.subscribers.retain(|(key, _)| *key != self.key);
        let removed = before - state.subscribers.len();
        state.last_used = Instant::now();
        drop(state);
        // Zero when publish already removed it as too slow (and counted that).
        self.hub.subscribers.fetch_sub(removed, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(tweak: impl FnOnce(&mut Config)) -> Arc<Hub> {
        let mut config = Config::default();
        tweak(&mut config);
        Hub::new(&config, Arc::new(Metrics::default()))
    }

    fn ids(messages: &[Arc<Published>]) -> Vec<u64> {
        messages.iter().map(|m| m.id).collect()
    }

    #[test]
    fn ids_count_from_one_per_topic() {
        let h = hub(|_| {});
        assert_eq!(
            h.publish("a", "x".into()).unwrap(),
            Receipt {
                id: 1,
                receivers: 0
            }
        );
        assert_eq!(h.publish("a", "y".into()).unwrap().id, 2);
        assert_eq!(h.publish("b", "z".into()).unwrap().id, 1);
    }

    #[test]
    fn replay_then_live_without_gap_or_duplicate() {
        let h = hub(|_| {});
        for i in 0..5 {
            h.publish("t", format!("m{i}")).unwrap();
        }
        let sub = h.subscribe("t", Some(2)).unwrap();
        assert_eq!(sub.gap, None);
        assert_eq!(ids(&sub.replay), [3, 4, 5]);
        assert_eq!(h.publish("t", "live".into()).unwrap().receivers, 1);
        assert_eq!(sub.live.try_recv().unwrap().id, 6);
    }

    #[test]
    fn no_cursor_is_live_only_and_zero_is_everything() {
        let h = hub(|_| {});
        h.publish("t", "old".into()).unwrap();
        assert!(h.subscribe("t", None).unwrap().replay.is_empty());
        assert_eq!(ids(&h.subscribe("t", Some(0)).unwrap().replay), [1]);
    }

    #[test]
    fn evicted_history_gives_a_gap() {
        let h = hub(|c| c.topic_history = 3);
        for i in 0..10 {
            h.publish("t", format!("m{i}")).unwrap();
        }
        let sub = h.subscribe("t", Some(2)).unwrap();
        assert_eq!(
            sub.gap,
            Some(Gap {
                from: 3,
                to: Some(7)
            })
        );
        assert_eq!(ids(&sub.replay), [8, 9, 10]);
        assert_eq!(h.subscribe("t", Some(7)).unwrap().gap, None);
    }

    #[test]
    fn history_is_capped_in_bytes_but_keeps_the_newest() {
        let h = hub(|c| c.topic_history_bytes = 10);
        for body in ["aaaa", "bbbb", "cccc", "dddddddddddddddd"] {
            h.publish("t", body.into()).unwrap();
        }
        let sub = h.subscribe("t", Some(0)).unwrap();
        assert_eq!(
            sub.gap,
            Some(Gap {
                from: 1,
                to: Some(3)
            })
        );
        assert_eq!(ids(&sub.replay), [4]);
    }

    #[test]
    fn cursor_beyond_the_last_id_gives_an_open_gap_and_everything() {
        let h = hub(|_| {});
        h.publish("t", "after restart".into()).unwrap();
        let sub = h.subscribe("t", Some(500)).unwrap();
        assert_eq!(
            sub.gap,
            Some(Gap {
                from: 501,
                to: None
            })
        );
        assert_eq!(ids(&sub.replay), [1]);
    }

    #[test]
    fn a_forgotten_topic_comes_back_with_its_ids_going_on() {
        let h = hub(|c| {
            c.max_topics = 1;
            c.topic_idle = Duration::ZERO;
        });
        for _ in 0..3 {
            h.publish("a", "x".into()).unwrap();
        }
        // Needing room for "b" forgets idle "a"; "a" coming back forgets "b".
        h.publish("b", "x".into()).unwrap();
        assert_eq!(h.publish("a", "again".into()).unwrap().id, 4);
        let sub = h.subscribe("a", Some(1)).unwrap();
        assert_eq!(
            sub.gap,
            Some(Gap {
                from: 2,
                to: Some(3)
            })
        );
        assert_eq!(ids(&sub.replay), [4]);
    }

    #[test]
    fn full_queue_drops_only_that_subscriber() {
        let h = hub(|c| c.subscriber_queue = 2);
        let slow = h.subscribe("t", None).unwrap();
        let fast = h.subscribe("t", None).unwrap();
        for i in 0..5 {
            h.publish("t", format!("m{i}")).unwrap();
            fast.live.try_recv().unwrap();
        }
        assert_eq!(h.subscriber_count(), 1);
        assert_eq!(h.metrics.slow_consumers.load(Ordering::Relaxed), 1);
        // The slow one drains what it had, then learns it was dropped.
        assert_eq!(slow.live.recv().unwrap().id, 1);
        assert_eq!(slow.live.recv().unwrap().id, 2);
        assert!(slow.live.recv().is_err());
        drop(slow);
        assert_eq!(h.subscriber_count(), 1);
        drop(fast);
        assert_eq!(h.subscriber_count(), 0);
    }

    #[test]
    fn caps_and_names() {
        let h = hub(|c| {
            c.max_topics = 2;
            c.max_subscribers = 1;
        });
        assert!(matches!(
            h.publish("bad name", "x".into()),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            h.publish(&"x".repeat(65), "x".into()),
            Err(Error::BadRequest(_))
        ));
        h.publish("a", "x".into()).unwrap();
        h.publish("b", "x".into()).unwrap();
        assert!(matches!(
            h.publish("c", "x".into()),
            Err(Error::Unavailable(_))
        ));
        let _one = h.subscribe("a", None).unwrap();
        assert!(matches!(h.subscribe("a", None), Err(Error::Unavailable(_))));
        assert!(matches!(
            h.subscribe("bad name", None),
            Err(Error::Unavailable(_) | Error::BadRequest(_))
        ));
        assert_eq!(h.subscriber_count(), 1);
    }

    #[test]
    fn idle_empty_topics_are_forgotten_when_room_is_needed() {
        let h = hub(|c| {
            c.max_topics = 1;
            c.topic_idle = Duration::ZERO;
        });
        h.publish("a", "x".into()).unwrap();
        h.publish("b", "x".into()).unwrap();
        assert_eq!(h.topic_count(), 1);
        let _sub = h.subscribe("b", None).unwrap();
        assert!(matches!(
            h.publish("c", "x".into()),
            Err(Error::Unavailable(_))
        ));
    }

    /// Whoever looked a topic up just before a sweep forgot it still holds
    /// the old one; the sweep marks it under its lock, so `with_topic`
    /// (which checks the mark once it holds that lock) looks the name up
    /// again instead of publishing into, or subscribing on, a dead topic.
    #[test]
    fn a_swept_topic_is_marked_for_whoever_still_holds_it() {
        let h = hub(|c| {
            c.max_topics = 1;
            c.topic_idle = Duration::ZERO;
        });
        h.publish("a", "x".into()).unwrap();
        let stale = h.topic("a").unwrap();
        h.publish("b", "x".into()).unwrap();
        assert!(stale.lock().retired);
        let fresh = h.with_topic("a", |topic, _| Arc::clone(topic)).unwrap();
        assert!(!Arc::ptr_eq(&stale, &fresh));
        assert!(!fresh.lock().retired);
    }
}
