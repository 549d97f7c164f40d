//! Where a multi-topic subscriber is: each topic's last id as written to
//! it, in the order of the URL, and the composite cursor that resumes all
//! of them at once.
//!
//! ```text
//! subscribed /topics/a,b,c    a:40,b:7,c:0   (each subscription's start)
//! writes message a 41         a:41,b:7,c:0   → that event's `id:` line
//! writes message c 1          a:41,b:7,c:1
//! reconnects with Last-Event-ID: a:41,b:7,c:1 → a after 41, b after 7, c after 1
//! ```
//!
//! A position moves when its message's bytes are made for this subscriber,
//! which is always in the order they go out (see `outbox/mod.rs`): so the
//! cursor in an event covers exactly the events before it and itself.

use std::fmt::Write;
use std::sync::Arc;

use crate::hub::Published;

/// Each topic's position, in the order of the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Positions {
    topics: Vec<(Arc<str>, u64)>,
}

impl Positions {
    /// Every topic at its start.
    pub fn new(starts: impl IntoIterator<Item = (Arc<str>, u64)>) -> Positions {
        Positions {
            topics: starts.into_iter().collect(),
        }
    }

    /// Moves `m`'s topic to `m`'s id. A topic not in the list is ignored
    /// (the hub offers only the topics subscribed).
    pub fn advance(&mut self, m: &Published) {
        let found = self.topics.iter_mut().find(|(t, _)| *t == m.topic);
        if let Some((_, id)) = found {
            *id = m.id;
        }
    }

    /// The composite cursor: `a:41,b:7,c:0`.
    pub fn cursor(&self) -> String {
        let mut out = String::with_capacity(self.topics.len() * 8);
        for (i, (topic, id)) in self.topics.iter().enumerate() {
            let comma = if i == 0 { "" } else { "," };
            let _ = write!(out, "{comma}{topic}:{id}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(topic: &str, id: u64) -> Published {
        Published {
            id,
            topic: topic.into(),
            time_ms: 0,
            data: "x".into(),
            encoded: Default::default(),
        }
    }

    #[test]
    fn positions_move_per_topic_in_url_order() {
        let mut p = Positions::new([("a".into(), 40), ("b".into(), 7), ("c".into(), 0)]);
        assert_eq!(p.cursor(), "a:40,b:7,c:0");
        p.advance(&message("a", 41));
        assert_eq!(p.cursor(), "a:41,b:7,c:0");
        p.advance(&message("c", 1));
        p.advance(&message("z", 9));
        assert_eq!(p.cursor(), "a:41,b:7,c:1");
    }
}
