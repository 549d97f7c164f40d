//! Where a replay begins for each [`Since`], on a topic whose messages
//! carry times of our choosing (an hour ago, a minute ago): the window's
//! edge without waiting for the clock.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::super::topic::{Start, Topic};
use super::*;
use crate::clock;
use crate::store::Bounds;

const MINUTE_MS: u64 = 60_000;

const BOUNDS: Bounds = Bounds {
    messages: 100,
    bytes: 1 << 20,
    ttl: Duration::from_secs(24 * 3600),
};

/// A topic holding messages 11, 12, 13 published these many minutes ago.
fn topic_aged(minutes_ago: [u64; 3]) -> Topic {
    let now = clock::now_ms();
    let name: Arc<str> = "t".into();
    let history = (11..).zip(minutes_ago).map(|(id, ago)| {
        Arc::new(Published {
            id,
            topic: Arc::clone(&name),
            time_ms: now - ago * MINUTE_MS,
            data: Bytes::from(format!("m{id}")),
            encoded: Encodings::default(),
        })
    });
    let start = Start {
        last_id: 13,
        base: 0,
        last_time_ms: now,
        history: history.collect(),
    };
    Topic::new(name, start)
}

fn replayed(topic: &Topic, since: Since) -> (Option<Gap>, Vec<u64>, u64) {
    let replay = topic.lock().replay(since, BOUNDS);
    (replay.gap, ids(&replay.messages), replay.start)
}

#[test]
fn a_window_replays_what_was_published_inside_it() {
    let topic = topic_aged([90, 30, 1]);
    let hour = Since::Window(Duration::from_secs(3600));
    assert_eq!(replayed(&topic, hour), (None, vec![12, 13], 11));
    let two_minutes = Since::Window(Duration::from_secs(120));
    assert_eq!(replayed(&topic, two_minutes), (None, vec![13], 12));
    let a_second = Since::Window(Duration::from_secs(1));
    assert_eq!(replayed(&topic, a_second), (None, vec![], 13));
}

#[test]
fn latest_is_the_newest_held_and_after_is_the_cursor() {
    let topic = topic_aged([90, 30, 1]);
    assert_eq!(replayed(&topic, Since::Latest), (None, vec![13], 12));
    assert_eq!(replayed(&topic, Since::After(11)), (None, vec![12, 13], 11));
    assert_eq!(replayed(&topic, Since::After(13)), (None, vec![], 13));
    let gap = Gap {
        from: 6,
        to: Some(10),
    };
    assert_eq!(
        replayed(&topic, Since::After(5)),
        (Some(gap), vec![11, 12, 13], 10)
    );
}

#[test]
fn messages_past_the_ttl_are_not_replayed_and_leave_a_gap() {
    let topic = topic_aged([25 * 60, 23 * 60, 1]);
    let gap = Gap {
        from: 1,
        to: Some(11),
    };
    assert_eq!(
        replayed(&topic, Since::After(0)),
        (Some(gap), vec![12, 13], 11)
    );
    let empty = topic_aged([26 * 60, 25 * 60, 24 * 60 + 1]);
    assert_eq!(replayed(&empty, Since::Latest), (None, vec![], 13));
}
