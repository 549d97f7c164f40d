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
//! could hold. The bounds are `store::Bounds`, the same on disk: count,
//! bytes (the newest stays even alone over them) and age.
//!
//! A durable publish numbers its message here, but keeps it (and so shows
//! it to anyone) only once it is on disk; a failed write takes the numbers
//! back (`commit.rs`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;

use super::message::{Encodings, Gap, Published, Replay, Since};
use super::sink::Sink;
use crate::clock;
use crate::store::{Bounds, Loaded};

/// A topic: its name and its state behind one lock.
pub(super) struct Topic {
    pub name: Arc<str>,
    state: Mutex<TopicState>,
}

/// What publish and subscribe change, under the topic's lock.
pub(super) struct TopicState {
    /// The last id kept: subscribers see ids up to here.
    pub last_id: u64,
    /// Where this history's ids began (see [`Start::base`]).
    base: u64,
    /// The last id handed out: ahead of `last_id` while a durable write
    /// of those messages is under way (`commit.rs`).
    numbered: u64,
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
    /// Publishes waiting for their durable write: the topic is not idle.
    pub writing: usize,
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

/// Where a topic's ids and history begin: nothing for a new topic, what
/// the disk holds for a durable one.
#[derive(Default)]
pub(super) struct Start {
    pub last_id: u64,
    /// The ids of this history began after it (0, or a floor: in memory
    /// the time the topic was made, a replaced file's): `since=0` asks for
    /// what came after it; ids at or below it are from an earlier history.
    pub base: u64,
    pub last_time_ms: u64,
    pub history: Vec<Arc<Published>>,
}

impl Start {
    /// Where a topic begins in memory: with `after_now`, after the time it
    /// is made in microseconds, above any id an earlier run (or this topic
    /// before it was forgotten) can have given; else at 0.
    pub fn in_memory(after_now: bool) -> Start {
        let base = if after_now { clock::now_us() } else { 0 };
        Start {
            last_id: base,
            base,
            ..Start::default()
        }
    }

    /// Where a durable (or Redis) topic begins: what was read back.
    pub fn from_disk(name: &Arc<str>, loaded: Loaded) -> Start {
        let history = loaded
            .messages
            .into_iter()
            .filter_map(|m| Published::read_back(name, m));
        Start {
            last_id: loaded.last_id,
            base: loaded.base,
            last_time_ms: loaded.last_time_ms,
            history: history.collect(),
        }
    }
}

impl Topic {
    /// A topic whose ids go on after `start.last_id`, holding its history.
    pub fn new(name: Arc<str>, start: Start) -> Topic {
        let history_bytes = start.history.iter().map(|m| m.data.len()).sum();
        Topic {
            name,
            state: Mutex::new(TopicState {
                last_id: start.last_id,
                base: start.base.min(start.last_id),
                numbered: start.last_id,
                last_time_ms: start.last_time_ms,
                history: start.history.into(),
                history_bytes,
                subscribers: HashMap::new(),
                unsent: Vec::new(),
                scheduled: false,
                writing: 0,
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
    /// Numbers and stamps a new message and keeps it: publishing in memory.
    pub fn append(&mut self, topic: &Arc<str>, data: Bytes, bounds: Bounds) -> Arc<Published> {
        let (id, time_ms) = self.number();
        let message = Arc::new(Published {
            id,
            topic: Arc::clone(topic),
            time_ms,
            data,
            encoded: Encodings::default(),
        });
        self.keep(Arc::clone(&message), bounds);
        message
    }

    /// The next id and time, under the lock, so ids and times go forward
    /// together.
    pub fn number(&mut self) -> (u64, u64) {
        self.numbered += 1;
        // The wall clock may step back (NTP); message times may not.
        self.last_time_ms = clock::now_ms().max(self.last_time_ms);
        (self.numbered, self.last_time_ms)
    }

    /// Takes back the ids handed out since the last message kept: their
    /// write failed, so no one has seen them.
    pub fn unnumber(&mut self) {
        self.numbered = self.last_id;
    }

    /// Keeps a numbered message in the history (letting the oldest go past
    /// the bounds) and, when anyone listens, among the unsent.
    pub fn keep(&mut self, message: Arc<Published>, bounds: Bounds) {
        self.last_id = message.id;
        self.history_bytes += message.data.len();
        self.history.push_back(Arc::clone(&message));
        while bounds.over(self.history.len(), self.history_bytes) {
            self.pop_oldest();
        }
        self.expire(bounds, message.time_ms);
        if !self.subscribers.is_empty() {
            self.unsent.push(message);
        }
        self.last_used = Instant::now();
    }

    /// Whether the caller must hand the topic to the fan-out threads: it
    /// has unsent messages and no thread has it yet (now one will).
    pub fn take_schedule(&mut self) -> bool {
        let schedule = !self.unsent.is_empty() && !self.scheduled;
        self.scheduled |= schedule;
        schedule
    }

    /// What a subscriber starting at `since` is sent before live messages.
    pub fn replay(&mut self, since: Since, bounds: Bounds) -> Replay {
        let now = clock::now_ms();
        self.expire(bounds, now);
        let all = || self.history.iter().cloned().collect::<Vec<_>>();
        let (gap, messages): (_, Vec<_>) = match since {
            Since::After(cursor) => match self.gap_after(cursor) {
                Some(gap) => (Some(gap), all()),
                None => {
                    let after = self.history.iter().filter(|m| m.id > cursor);
                    (None, after.cloned().collect())
                }
            },
            Since::Latest => (None, self.history.back().cloned().into_iter().collect()),
            Since::Window(window) => {
                let from = now.saturating_sub(u64::try_from(window.as_millis()).unwrap_or(now));
                let inside = self.history.iter().filter(|m| m.time_ms >= from);
                (None, inside.cloned().collect())
            }
        };
        let start = messages
            .first()
            .map_or(self.last_id, |m| m.id.saturating_sub(1));
        Replay {
            gap,
            messages,
            start,
        }
    }

    /// The ids after `cursor` that the history cannot give back: evicted
    /// (or from an earlier run, whose ids all lie below this one's), or
    /// unknown because the cursor is beyond the last id.
    fn gap_after(&self, cursor: u64) -> Option<Gap> {
        // 0 is "everything": everything this history ever had.
        let cursor = if cursor == 0 { self.base } else { cursor };
        let oldest = self.history.front().map_or(self.last_id + 1, |m| m.id);
        if cursor > self.last_id {
            Some(Gap {
                from: cursor.saturating_add(1),
                to: None,
            })
        } else if cursor + 1 < oldest {
            Some(Gap {
                from: cursor + 1,
                to: Some(oldest - 1),
            })
        } else {
            None
        }
    }

    /// Lets go of the messages past the TTL at `now_ms`.
    fn expire(&mut self, bounds: Bounds, now_ms: u64) {
        while self
            .history
            .front()
            .is_some_and(|m| bounds.expired(m.time_ms, now_ms))
        {
            self.pop_oldest();
        }
    }

    fn pop_oldest(&mut self) {
        if let Some(old) = self.history.pop_front() {
            self.history_bytes -= old.data.len();
        }
    }

    /// Whether the topic has no subscribers, no write under way, and has
    /// not been used for `idle`.
    pub fn is_idle(&self, idle: std::time::Duration) -> bool {
        self.subscribers.is_empty() && self.writing == 0 && self.last_used.elapsed() >= idle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_never_goes_back_as_ids_go_forward() {
        let topic = Topic::new("t".into(), Start::default());
        let mut state = topic.lock();
        let bounds = Bounds {
            messages: 10,
            bytes: 1 << 20,
            ttl: std::time::Duration::from_secs(3600),
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
