//! Where the hub hands each subscriber its messages: a [`Sink`].
//!
//! The hub calls [`Sink::offer`] for every subscriber, in id order, under
//! the topic's lock, and never waits: a sink takes the message (writes it,
//! or keeps it for its owner to write), says it is too slow (its backlog is
//! full: the hub drops it), or says it is gone. What a sink does with a
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
    /// Takes `message`, which follows the last one offered, without blocking.
    fn offer(&self, message: &Arc<Published>) -> Offer;
}

/// A bounded channel: its receiver's thread writes each message. When the
/// hub drops a subscriber, it drops this `Sender`; the receiver then drains
/// what it has and sees the channel disconnected: that is its signal.
impl Sink for Sender<Arc<Published>> {
    fn offer(&self, message: &Arc<Published>) -> Offer {
        match self.try_send(Arc::clone(message)) {
            Ok(()) => Offer::Taken,
            Err(TrySendError::Full(_)) => Offer::TooSlow,
            Err(TrySendError::Disconnected(_)) => Offer::Gone,
        }
    }
}
