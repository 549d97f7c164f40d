//! Finding a topic, or making it with its ids and history read from
//! where they live: nothing (memory), the store (`--data-dir`), or Redis
//! (`--redis`).
//!
//! ```text
//! topic("news")   in the map?  yes → it
//!                              no  → read its history (no map lock held: a slow
//!                                    disk or Redis stalls no other lookup)
//!                                    → lock the map, insert (or take the one
//!                                      another thread inserted meanwhile)
//! ```

use std::sync::{Arc, MutexGuard};

use super::registry::Registry;
use super::topic::{Start, Topic, TopicState};
use super::{BAD_TOPIC, Hub, valid_topic};
use crate::clock;
use crate::error::{Error, Result};

impl Hub {
    /// Runs `f` on a topic (found or created) under its lock. A topic swept
    /// away between the lookup and the lock is looked up again, so nothing
    /// is published to, or subscribed on, a topic no one else can reach.
    pub(super) fn with_topic<T>(
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
    pub(super) fn topic(&self, name: &str) -> Result<Arc<Topic>> {
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
    pub(super) fn load(&self, name: &Arc<str>) -> Result<Start> {
        if let Some(cluster) = &self.cluster {
            return self.load_from(cluster, name);
        }
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

    pub(super) fn registry(&self) -> MutexGuard<'_, Registry> {
        // Each update is one insert or retain: a panic cannot leave it torn.
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }
}
