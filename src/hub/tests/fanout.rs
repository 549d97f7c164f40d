//! Fan-out passes: what a subscriber is offered, and when.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crossbeam_channel::{Receiver, Sender, bounded};

use super::{WAIT, hub, ids, subscribe_with};
use crate::hub::{Offer, Published, Sink};

/// A sink that holds its first offer until told to go on, and reports the
/// ids of every offer.
struct Gate {
    offers: Sender<Vec<u64>>,
    go: Receiver<()>,
}

impl Sink for Gate {
    fn offer(&self, messages: &[Arc<Published>]) -> Offer {
        let _ = self.offers.send(ids(messages));
        let _ = self.go.recv_timeout(WAIT);
        Offer::Taken
    }
}

#[test]
fn messages_published_during_a_pass_go_out_together_in_the_next() {
    let h = hub(|_| {});
    let (offers, offered) = bounded(8);
    let (go_tx, go) = bounded(8);
    let _sub = h
        .subscribe("t", None, Arc::new(Gate { offers, go }))
        .unwrap();
    h.publish("t", "1".into()).unwrap();
    // The fan-out thread is inside the offer of 1: publish three more.
    assert_eq!(offered.recv_timeout(WAIT).unwrap(), [1]);
    for i in 2..=4 {
        h.publish("t", i.to_string()).unwrap();
    }
    go_tx.send(()).unwrap();
    assert_eq!(offered.recv_timeout(WAIT).unwrap(), [2, 3, 4]);
    go_tx.send(()).unwrap();
    assert_eq!(h.metrics.published.load(Ordering::Relaxed), 4);
}

#[test]
fn a_subscriber_joining_between_publish_and_pass_gets_each_id_once() {
    let h = hub(|_| {});
    let (offers, offered) = bounded(8);
    let (go_tx, go) = bounded(8);
    let _first = h
        .subscribe("t", None, Arc::new(Gate { offers, go }))
        .unwrap();
    h.publish("t", "1".into()).unwrap();
    assert_eq!(offered.recv_timeout(WAIT).unwrap(), [1]);
    // 2 is unsent while the pass over 1 is held; the late subscriber's
    // replay has it, so its live messages start at 3.
    h.publish("t", "2".into()).unwrap();
    let (late, live) = subscribe_with(&h, "t", Some(1), 16).unwrap();
    assert_eq!(ids(&late.replay), [2]);
    h.publish("t", "3".into()).unwrap();
    go_tx.send(()).unwrap();
    go_tx.send(()).unwrap();
    // A 2 offered again would come first.
    assert_eq!(live.recv_timeout(WAIT).unwrap().id, 3);
}
