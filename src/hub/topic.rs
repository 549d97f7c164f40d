//! One topic: its last id, its history ring, its subscribers and the
//! messages not yet handed to them, all behind one lock.
//!
//! ```text
//! publish "hello"        lock → id = last_id + 1 = 42, time = max(now, last time)
//!                        history.push(42), evict the oldest past 1000 messages or 1 MiB
//!                        unsent.push(42) → a fan-out thread offers it (fanout.rs)
//! subscribe since=40     lock → gap? replay 41, 42 → register its sink, after 42 → unlock
//! ```
//!
//! Because both take this lock, a subscriber's replay ends exactly where its
//! live messages begin: it is offered only ids after the last one its replay
//! could hold. The history keeps the newest message even when it alone is
//! over the byte cap, so `latest` always has something to give.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;

use super::message::{Encodings, Gap, Published};
use super::sink::Sink;
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
    pub subscribers: HashMap<u64, Subscriber>,
    /// Numbered but not yet offered to the subscribers, oldest first.
    pub unsent: Vec<Arc<Published>>,
    /// A fan-out thread has this topic (queued or passing over it).
    pub scheduled: bool,
    pub last_used: Instant,
    // Swept out of the map: whoever finds it must look the name up again.
    pub retired: bool,
}

/// One subscriber: its sink, and the last id it has from its replay.
pub(super) struct Subscriber {
    pub sink: Arc<dyn Sink>,
    /// Offered only messages after this id.
    pub after: u64,
}

/// How much history a topic keeps.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bounds {
    pub messages: usize,
    pub bytes: usize,
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
                unsent: Vec::new(),
                scheduled: false,
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
    /// times go forward together), keeps it in the history and, when
    /// anyone listens, among the unsent.
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
        if !self.subscribers.is_empty() {
            self.unsent.push(Arc::clone(&message));
        }
        self.last_used = Instant::now();
        message
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
