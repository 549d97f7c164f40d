//! A live subscription: the replay it starts with, and its removal from the
//! topic when it is dropped. Live messages go to the sink it was made with.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::message::{Gap, Published};
use super::topic::Topic;

/// A live subscription; dropping it unsubscribes.
pub struct Subscription {
    /// Sent first when the history cannot serve the cursor.
    pub gap: Option<Gap>,
    /// The messages after the cursor still in the history, oldest first;
    /// the sink gets what follows them.
    pub replay: Vec<Arc<Published>>,
    /// The id the subscriber is at before its replay (see [`Replay::start`]).
    ///
    /// [`Replay::start`]: super::Replay::start
    pub start: u64,
    pub(super) topic: Arc<Topic>,
    pub(super) key: u64,
    // The hub's count of subscribers, given back on drop.
    pub(super) count: Arc<AtomicUsize>,
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
        let removed = usize::from(state.subscribers.remove(&self.key).is_some());
        state.last_used = Instant::now();
        drop(state);
        // Zero when publish already removed it as too slow (and counted that).
        self.count.fetch_sub(removed, Ordering::Relaxed);
    }
}
