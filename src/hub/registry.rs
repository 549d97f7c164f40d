//! The map from names to topics: finding or creating one, and forgetting
//! idle ones so the map stays under its cap.
//!
//! A topic with no subscribers and no publish for `--topic-idle` may be
//! forgotten. Its last id is remembered (up to [`MAX_FORGOTTEN`] names), so
//! if it comes back its ids go on from there and old cursors still get an
//! honest gap.
//!
//! Forgetting means a sweep over every topic under the map lock, which
//! stalls every lookup while it runs. So a sweep runs when a new topic is
//! created and a minute has passed, or when a new topic meets the cap; and
//! a sweep at the cap that frees nothing blocks the next one for
//! [`FRUITLESS_BACKOFF`]. A client sending random names at the cap then
//! costs one map lookup each, not a sweep each.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::info;

use super::topic::{Start, Topic};
use crate::error::{Error, Result};

/// How often creating a topic also sweeps idle ones (besides at the cap).
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// After a sweep at the cap that freed nothing, no sweep for this long.
pub(super) const FRUITLESS_BACKOFF: Duration = Duration::from_secs(1);
/// Forgotten topics whose last id we remember; past it, an arbitrary one
/// is dropped (a topic that comes back after that numbers from where a
/// new topic does: the run's start, or the disk).
pub(super) const MAX_FORGOTTEN: usize = 100_000;

/// Every live topic, and the last ids of forgotten ones.
pub(super) struct Registry {
    pub live: HashMap<Arc<str>, Arc<Topic>>,
    // The last id of each forgotten topic, so ids never go backwards.
    forgotten: HashMap<Arc<str>, u64>,
    last_sweep: Instant,
    // Set by a sweep at the cap that freed nothing.
    fruitless_until: Option<Instant>,
    /// Sweeps run so far (the tests count them).
    pub sweeps: u64,
}

impl Registry {
    pub fn new() -> Registry {
        Registry {
            live: HashMap::new(),
            forgotten: HashMap::new(),
            last_sweep: Instant::now(),
            fruitless_until: None,
            sweeps: 0,
        }
    }

    /// Every forgotten topic's last id.
    pub fn forgotten(&self) -> Vec<(Arc<str>, u64)> {
        let each = self.forgotten.iter();
        each.map(|(name, id)| (Arc::clone(name), *id)).collect()
    }

    /// The live topic `name`, if there is one.
    pub fn find(&self, name: &str) -> Option<Arc<Topic>> {
        self.live.get(name).cloned()
    }

    /// Finds `name`, or creates it from `read` when there is room
    /// (forgetting idle topics to make room if a sweep is allowed). `read`
    /// was taken without this lock; if the topic was made, written to and
    /// forgotten meanwhile, it is stale and `reload` reads it again.
    ///
    /// # Errors
    /// 503 at the cap, or `reload`'s error.
    pub fn find_or_create(
        &mut self,
        name: Arc<str>,
        (cap, idle): (usize, Duration),
        read: Start,
        reload: impl FnOnce(&Arc<str>) -> Result<Start>,
    ) -> Result<Arc<Topic>> {
        if let Some(topic) = self.live.get(&name) {
            return Ok(Arc::clone(topic));
        }
        let now = Instant::now();
        let at_cap = self.live.len() >= cap;
        let backing_off = self.fruitless_until.is_some_and(|t| now < t);
        if (at_cap && !backing_off) || now >= self.last_sweep + SWEEP_EVERY {
            let freed = self.sweep(idle);
            self.fruitless_until = (at_cap && freed == 0).then(|| now + FRUITLESS_BACKOFF);
        }
        if self.live.len() >= cap {
            return Err(Error::Unavailable("too many topics"));
        }
        let forgotten = self.forgotten.remove(&name).unwrap_or(0);
        let mut start = if forgotten > read.last_id {
            reload(&name)?
        } else {
            read
        };
        start.last_id = start.last_id.max(forgotten);
        let topic = Arc::new(Topic::new(Arc::clone(&name), start));
        self.live.insert(name, Arc::clone(&topic));
        Ok(topic)
    }

    /// Forgets topics with no subscribers, unused for `idle`, remembering
    /// their last ids. Returns how many it forgot.
    fn sweep(&mut self, idle: Duration) -> usize {
        self.sweeps += 1;
        self.last_sweep = Instant::now();
        let before = self.live.len();
        let mut retired = Vec::new();
        self.live.retain(|name, topic| {
            let mut state = topic.lock();
            let forget = state.is_idle(idle);
            if forget {
                // Under the topic lock: anyone who found this topic before
                // the sweep sees the flag once they hold the lock.
                state.retired = true;
                retired.push((Arc::clone(name), state.last_id));
            }
            !forget
        });
        for (name, last_id) in retired {
            if self.forgotten.len() >= MAX_FORGOTTEN {
                let any = self.forgotten.keys().next().cloned();
                if let Some(any) = any {
                    self.forgotten.remove(&any);
                }
            }
            self.forgotten.insert(name, last_id);
        }
        let freed = before - self.live.len();
        if freed > 0 {
            info!("forgot {freed} idle topics");
        }
        freed
    }
}
