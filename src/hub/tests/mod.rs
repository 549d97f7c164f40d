//! The hub's behaviour through its public calls: ids, replay and gaps,
//! caps, forgetting, slow subscribers.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, bounded};

use super::*;
use crate::config::{Config, TopicConfig};

mod fanout;
mod since;

/// How long a test waits for a fan-out thread.
const WAIT: Duration = Duration::from_secs(5);

fn hub(tweak: impl FnOnce(&mut TopicConfig)) -> Arc<Hub> {
    let mut config = Config::default().topics;
    config.ids_after_start = false;
    tweak(&mut config);
    Hub::new(&config, (None, None), Arc::new(Metrics::default())).expect("threads start")
}

/// Subscribes with a channel of `queue` places as the sink.
fn subscribe_with(
    h: &Hub,
    topic: &str,
    since: Option<u64>,
    queue: usize,
) -> Result<(Subscription, Receiver<Arc<Published>>)> {
    let (tx, rx) = bounded(queue);
    h.subscribe(topic, since.map(Since::After), Arc::new(tx))
        .map(|sub| (sub, rx))
}

/// Subscribes with a channel of 256 places; the subscription only.
fn subscribe(h: &Hub, topic: &str, since: Option<u64>) -> Result<Subscription> {
    subscribe_with(h, topic, since, 256).map(|(sub, _)| sub)
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
    let (sub, live) = subscribe_with(&h, "t", Some(2), 256).unwrap();
    assert_eq!(sub.gap, None);
    assert_eq!(ids(&sub.replay), [3, 4, 5]);
    assert_eq!(h.publish("t", "live".into()).unwrap().receivers, 1);
    assert_eq!(live.recv_timeout(WAIT).unwrap().id, 6);
}

#[test]
fn no_cursor_is_live_only_and_zero_is_everything() {
    let h = hub(|_| {});
    h.publish("t", "old".into()).unwrap();
    assert!(subscribe(&h, "t", None).unwrap().replay.is_empty());
    assert_eq!(ids(&subscribe(&h, "t", Some(0)).unwrap().replay), [1]);
}

#[test]
fn evicted_history_gives_a_gap() {
    let h = hub(|c| c.history = 3);
    for i in 0..10 {
        h.publish("t", format!("m{i}")).unwrap();
    }
    let sub = subscribe(&h, "t", Some(2)).unwrap();
    assert_eq!(
        sub.gap,
        Some(Gap {
            from: 3,
            to: Some(7)
        })
    );
    assert_eq!(ids(&sub.replay), [8, 9, 10]);
    assert_eq!(subscribe(&h, "t", Some(7)).unwrap().gap, None);
}

#[test]
fn history_is_capped_in_bytes_but_keeps_the_newest() {
    let h = hub(|c| c.history_bytes = 10);
    for body in ["aaaa", "bbbb", "cccc", "dddddddddddddddd"] {
        h.publish("t", body.into()).unwrap();
    }
    let sub = subscribe(&h, "t", Some(0)).unwrap();
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
    let sub = subscribe(&h, "t", Some(500)).unwrap();
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
        c.idle = Duration::ZERO;
    });
    for _ in 0..3 {
        h.publish("a", "x".into()).unwrap();
    }
    // Needing room for "b" forgets idle "a"; "a" coming back forgets "b".
    h.publish("b", "x".into()).unwrap();
    assert_eq!(h.publish("a", "again".into()).unwrap().id, 4);
    let sub = subscribe(&h, "a", Some(1)).unwrap();
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
    let h = hub(|_| {});
    let (slow, slow_live) = subscribe_with(&h, "t", None, 2).unwrap();
    let (fast, fast_live) = subscribe_with(&h, "t", None, 2).unwrap();
    for i in 0..5 {
        h.publish("t", format!("m{i}")).unwrap();
        fast_live.recv_timeout(WAIT).unwrap();
    }
    assert_eq!(h.subscriber_count(), 1);
    assert_eq!(h.metrics.slow_consumers.load(Ordering::Relaxed), 1);
    // The slow one drains what it had, then learns it was dropped.
    assert_eq!(slow_live.recv_timeout(WAIT).unwrap().id, 1);
    assert_eq!(slow_live.recv_timeout(WAIT).unwrap().id, 2);
    assert_eq!(
        slow_live.recv_timeout(WAIT).unwrap_err(),
        RecvTimeoutError::Disconnected
    );
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
    let _one = subscribe(&h, "a", None).unwrap();
    assert!(matches!(
        subscribe(&h, "a", None),
        Err(Error::Unavailable(_))
    ));
    assert!(matches!(
        subscribe(&h, "bad name", None),
        Err(Error::Unavailable(_) | Error::BadRequest(_))
    ));
    assert_eq!(h.subscriber_count(), 1);
}

#[test]
fn idle_empty_topics_are_forgotten_when_room_is_needed() {
    let h = hub(|c| {
        c.max_topics = 1;
        c.idle = Duration::ZERO;
    });
    h.publish("a", "x".into()).unwrap();
    h.publish("b", "x".into()).unwrap();
    assert_eq!(h.topic_count(), 1);
    let _sub = subscribe(&h, "b", None).unwrap();
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
        c.idle = Duration::ZERO;
    });
    h.publish("a", "x".into()).unwrap();
    let stale = h.topic("a").unwrap();
    h.publish("b", "x".into()).unwrap();
    assert!(stale.lock().retired);
    let fresh = h.with_topic("a", |topic, _| Arc::clone(topic)).unwrap();
    assert!(!Arc::ptr_eq(&stale, &fresh));
    assert!(!fresh.lock().retired);
}

#[test]
fn names_at_the_cap_cost_one_fruitless_sweep_not_one_each() {
    let h = hub(|c| {
        c.max_topics = 3;
        c.idle = Duration::ZERO;
    });
    let _subs: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|t| subscribe(&h, t, None).unwrap())
        .collect();
    let sweeps = h.registry().sweeps;
    for i in 0..100 {
        let refused = h.publish(&format!("random-{i}"), "x".into());
        assert!(matches!(refused, Err(Error::Unavailable(_))));
    }
    assert_eq!(h.registry().sweeps, sweeps + 1, "one sweep, then a backoff");
}

#[test]
fn a_sweep_that_frees_room_is_not_held_back() {
    let h = hub(|c| {
        c.max_topics = 1;
        c.idle = Duration::ZERO;
    });
    for i in 0..10 {
        // Each new name forgets the idle one before it, at once.
        assert_eq!(h.publish(&format!("t{i}"), "x".into()).unwrap().id, 1);
    }
    assert_eq!(h.topic_count(), 1);
}
