//! Where the hub hands each subscriber its messages: a [`Sink`].
//!
//! A fan-out thread calls [`Sink::offer`] for every subscriber with the
//! messages published since its last pass, in id order, and never waits: a
//! sink takes them (writes them, or keeps them for its owner to write),
//! says it is too slow (its backlog is full: the hub drops it), or says it
//! is gone. What a sink does with a
//! message is the endpoints' business; the simplest sink is a bounded
//! channel, whose owner's thread wakes to write each message.

use std::sync::Arc;

use crossbeam_channel::{Sender, TrySendError};

use super::message::Published;

/// What [`Sink::offer`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Written, or kept to be written in order.
    Taken,
    /// The backlog is full: the subscriber is dropped (the sink tells its owner).
    TooSlow,
    /// The subscriber has gone away.
    Gone,
}

/// A subscriber's end of the hub.
pub trait Sink: Send + Sync {
    /// Takes `messages` (one or more, in id order, following the last ones
    /// offered) without blocking.
    fn offer(&self, messages: &[Arc<Published>]) -> Offer;
}

/// A bounded channel: its receiver's thread writes each message. When the
/// hub drops a subscriber, it drops this `Sender`; the receiver then drains
/// what it has and sees the channel disconnected: that is its signal.
impl Sink for Sender<Arc<Published>> {
    fn offer(&self, messages: &[Arc<Published>]) -> Offer {
        for m in messages {
            match self.try_send(Arc::clone(m)) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => return Offer::TooSlow,
                Err(TrySendError::Disconnected(_)) => return Offer::Gone,
            }
        }
        Offer::Taken
    }
}
