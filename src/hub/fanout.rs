//! The fan-out threads: they hand published messages to subscribers, so a
//! publish is answered as soon as its message is numbered and kept.
//!
//! A publish appends to the topic's `unsent` list and, if no fan-out thread
//! has the topic yet, queues the topic. A thread takes it, takes everything
//! unsent (under the topic's lock), and offers that batch to each
//! subscriber outside the lock. Messages published meanwhile wait for the
//! next pass, which hands them over together:
//!
//! ```text
//! publish 41 ─► unsent [41]        ─► queue: news      fanout-0: pass [41]
//! publish 42 ─► unsent [42]                                      (10,000 sends)
//! publish 43 ─► unsent [42, 43]                         fanout-0: pass [42, 43]
//!                                                         one send of both each
//! ```
//!
//! So when publishes come faster than one pass over the subscribers, each
//! pass carries more of them and a subscriber gets them in one `send`: the
//! cost per message falls as the load rises, instead of the backlog
//! growing. One thread at a time has a topic, so every subscriber gets
//! its messages in id order.
//!
//! A subscriber that came after a message was numbered got it in its
//! replay; each carries the id its replay ended at and is offered only
//! later ones.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use log::{info, warn};

use super::message::Published;
use super::sink::{Offer, Sink};
use super::topic::Topic;
use crate::metrics::Metrics;

/// How long an idle fan-out thread waits before looking for work again.
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// The queue of topics with unsent messages, and the threads serving it.
pub(super) struct Fanout {
    queue: Mutex<Queue>,
    ready: Condvar,
    /// Fan-out threads running; with none, publishers deliver themselves.
    threads: AtomicUsize,
    subscribers: Arc<AtomicUsize>,
    metrics: Arc<Metrics>,
}

struct Queue {
    /// Each topic at most once (its `scheduled` flag), so no longer than
    /// the topic cap.
    topics: VecDeque<Arc<Topic>>,
    stopped: bool,
}

/// One subscriber as a pass sees it.
type Entry = (u64, u64, Arc<dyn Sink>);

impl Fanout {
    /// Starts `threads` fan-out threads (`fanout-0`, …).
    pub fn start(
        threads: usize,
        subscribers: Arc<AtomicUsize>,
        metrics: Arc<Metrics>,
    ) -> Arc<Fanout> {
        let fanout = Arc::new(Fanout {
            queue: Mutex::new(Queue {
                topics: VecDeque::new(),
                stopped: false,
            }),
            ready: Condvar::new(),
            threads: AtomicUsize::new(0),
            subscribers,
            metrics,
        });
        for i in 0..threads {
            let shared = Arc::clone(&fanout);
            let started = thread::Builder::new()
                .name(format!("fanout-{i}"))
                .stack_size(64 * 1024)
                .spawn(move || shared.run());
            match started {
                Ok(_) => {
                    fanout.threads.fetch_add(1, Ordering::AcqRel);
                }
                Err(e) => warn!("fanout-{i} not started ({e}): publishers deliver themselves"),
            }
        }
        fanout
    }

    /// Has `topic`'s unsent messages delivered: by a fan-out thread, or
    /// here when none runs. The caller has just set its `scheduled` flag.
    pub fn schedule(&self, topic: Arc<Topic>) {
        if self.threads.load(Ordering::Acquire) == 0 {
            self.deliver(&topic, &mut Vec::new());
            return;
        }
        self.queue().topics.push_back(topic);
        self.ready.notify_one();
    }

    /// Ends the fan-out threads once the queue is empty.
    pub fn stop(&self) {
        self.queue().stopped = true;
        self.ready.notify_all();
    }

    fn run(&self) {
        let mut scratch = Vec::new();
        while let Some(topic) = self.next() {
            self.deliver(&topic, &mut scratch);
        }
        self.threads.fetch_sub(1, Ordering::AcqRel);
    }

    /// The next topic to serve; `None` once stopped and nothing waits.
    fn next(&self) -> Option<Arc<Topic>> {
        let mut queue = self.queue();
        loop {
            if let Some(topic) = queue.topics.pop_front() {
                return Some(topic);
            }
            if queue.stopped {
                return None;
            }
            queue = self
                .ready
                .wait_timeout(queue, IDLE_WAIT)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Passes over the topic's subscribers until nothing is unsent.
    fn deliver(&self, topic: &Topic, scratch: &mut Vec<Entry>) {
        loop {
            let batch = {
                let mut state = topic.lock();
                if state.unsent.is_empty() {
                    state.scheduled = false;
                    return;
                }
                scratch.extend(
                    state
                        .subscribers
                        .iter()
                        .map(|(key, s)| (*key, s.after, Arc::clone(&s.sink))),
                );
                std::mem::take(&mut state.unsent)
            };
            self.pass(topic, &batch, scratch);
            // Last: a sink's owner that sees its sink let go may rely on
            // the metrics being counted.
            scratch.clear();
        }
    }

    /// Offers `batch` to each subscriber in `entries`; removes the ones
    /// too slow or gone.
    fn pass(&self, topic: &Topic, batch: &[Arc<Published>], entries: &[Entry]) {
        let (mut delivered, mut too_slow) = (0, 0);
        let mut removed = Vec::new();
        for (key, after, sink) in entries {
            let fresh = &batch[batch.partition_point(|m| m.id <= *after)..];
            if fresh.is_empty() {
                continue;
            }
            match sink.offer(fresh) {
                Offer::Taken => delivered += fresh.len(),
                Offer::TooSlow => {
                    too_slow += 1;
                    removed.push(*key);
                }
                Offer::Gone => removed.push(*key),
            }
        }
        if !removed.is_empty() {
            let mut state = topic.lock();
            let gone = removed
                .iter()
                .filter(|key| state.subscribers.remove(key).is_some())
                .count();
            drop(state);
            self.subscribers.fetch_sub(gone, Ordering::Relaxed);
            let last = batch.last().map_or(0, |m| m.id);
            info!(
                "topic {}: {gone} subscribers dropped at id {last}",
                topic.name
            );
        }
        let m = &self.metrics;
        m.delivered.fetch_add(delivered as u64, Ordering::Relaxed);
        m.slow_consumers
            .fetch_add(too_slow as u64, Ordering::Relaxed);
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        // Every update is one push, pop or assignment.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}
