//! One topic: its last id, its history ring, and its subscribers' queues,
//! all behind one lock.
//!
//! ```text
//! publish "hello"        lock → id = last_id + 1 = 42, time = max(now, last time)
//!                        history.push(42), evict the oldest past 1000 messages or 1 MiB
//!                        offer(Arc<message>) to each sink; one too slow is dropped
//! subscribe since=40     lock → gap? replay 41, 42 → register a queue → unlock
//! ```
//!
//! Because both take this lock, a subscriber's replay ends exactly where its
//! live queue begins. The history keeps the newest message even when it
//! alone is over the byte cap, so `latest` always has something to give.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;

use super::message::{Encodings, Gap, Published};
use super::sink::{Offer, Sink};
use crate::clock;

/// A topic: its name and its state behind one lock.
pub(super) struct Topic {
    pub name: Arc<str>,
    state: Mutex<TopicState>,
}

/// What publish and subscribe change, under the topic's lock.
pub(super) struct TopicState {
    pub last_id: u64,
    // The time stamped on the last message: the next is never earlier.
    last_time_ms: u64,
    history: VecDeque<Arc<Published>>,
    history_bytes: usize,
    /// By key: a subscriber leaving is one removal, not a scan of thousands.
    pub subscribers: HashMap<u64, Arc<dyn Sink>>,
    pub last_used: Instant,
    // Swept out of the map: whoever finds it must look the name up again.
    pub retired: bool,
}

/// How much history a topic keeps.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bounds {
    pub messages: usize,
    pub bytes: usize,
}

/// What handing one message to the subscribers did.
pub(super) struct Fanout {
    pub receivers: usize,
    /// Subscribers removed: too slow, or already gone.
    pub removed: usize,
    /// Of those, the ones removed for a full queue.
    pub too_slow: usize,
}

impl Topic {
    /// A new topic whose ids go on after `last_id`.
    pub fn new(name: Arc<str>, last_id: u64) -> Topic {
        Topic {
            name,
            state: Mutex::new(TopicState {
                last_id,
                last_time_ms: 0,
                history: VecDeque::new(),
                history_bytes: 0,
                subscribers: HashMap::new(),
                last_used: Instant::now(),
                retired: false,
            }),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, TopicState> {
        // Publish and subscribe finish each update before unlocking.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl TopicState {
    /// Numbers and stamps the next message, under the lock (so ids and
    /// times go forward together), and keeps it in the history.
    pub fn append(&mut self, topic: &Arc<str>, data: Bytes, bounds: Bounds) -> Arc<Published> {
        self.last_id += 1;
        // The wall clock may step back (NTP); message times may not.
        self.last_time_ms = clock::now_ms().max(self.last_time_ms);
        let message = Arc::new(Published {
            id: self.last_id,
            topic: Arc::clone(topic),
            time_ms: self.last_time_ms,
            data,
            encoded: Encodings::default(),
        });
        self.history_bytes += message.data.len();
        self.history.push_back(Arc::clone(&message));
        while self.history.len() > bounds.messages
            || (self.history_bytes > bounds.bytes && self.history.len() > 1)
        {
            let Some(old) = self.history.pop_front() else {
                break;
            };
            self.history_bytes -= old.data.len();
        }
        self.last_used = Instant::now();
        message
    }

    /// Offers `message` to every subscriber without waiting. One too slow
    /// to take it is removed (its sink has told its owner).
    pub fn fan_out(&mut self, message: &Arc<Published>) -> Fanout {
        let before = self.subscribers.len();
        let mut too_slow = 0;
        self.subscribers
            .retain(|_, sink| match sink.offer(message) {
                Offer::Taken => true,
                Offer::TooSlow => {
                    too_slow += 1;
                    false
                }
                Offer::Gone => false,
            });
        Fanout {
            receivers: self.subscribers.len(),
            removed: before - self.subscribers.len(),
            too_slow,
        }
    }

    /// The gap, if any, and the history after `cursor`.
    pub fn replay_after(&self, cursor: u64) -> (Option<Gap>, Vec<Arc<Published>>) {
        let oldest = self.history.front().map_or(self.last_id + 1, |m| m.id);
        let all = || self.history.iter().cloned().collect();
        if cursor > self.last_id {
            // Ids began again since this cursor was handed out.
            let gap = Gap {
                from: cursor.saturating_add(1),
                to: None,
            };
            (Some(gap), all())
        } else if cursor + 1 < oldest {
            let gap = Gap {
                from: cursor + 1,
                to: Some(oldest - 1),
            };
            (Some(gap), all())
        } else {
            let after = self.history.iter().filter(|m| m.id > cursor);
            (None, after.cloned().collect())
        }
    }

    /// Whether the topic has no subscribers and has not been used for `idle`.
    pub fn is_idle(&self, idle: std::time::Duration) -> bool {
        self.subscribers.is_empty() && self.last_used.elapsed() >= idle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_never_goes_back_as_ids_go_forward() {
        let topic = Topic::new("t".into(), 0);
        let mut state = topic.lock();
        let bounds = Bounds {
            messages: 10,
            bytes: 1 << 20,
        };
        // As if the clock stepped back an hour after the last publish.
        let later = clock::now_ms() + 3_600_000;
        state.last_time_ms = later;
        let m = state.append(&topic.name, Bytes::from("x"), bounds);
        assert_eq!((m.id, m.time_ms), (1, later));
        let next = state.append(&topic.name, Bytes::from("y"), bounds);
        assert!(next.time_ms >= m.time_ms);
    }
}
