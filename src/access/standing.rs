//! A decision an open connection keeps: a stream's right to go on
//! receiving, a WebSocket's right to publish what its client sends.
//!
//! ```text
//! upgrade   Bearer w-s3cret-1, publish to alerts-a      → allowed, generation 0
//! message   generation still 0                          → allowed (one atomic load)
//! SIGHUP    the file no longer holds w-s3cret-1         → generation 1
//! message   generation 1 ≠ 0: decided again            → refused: close 1008 "token revoked"
//! ```
//!
//! The token is kept (an open connection holds its secret anyway, in its
//! request), so the second decision is made exactly as the first was.
//!
//! A stream decides again each time it wakes; a reload wakes it by
//! disconnecting the receiver it waits on (`Access::reloads`): a
//! broadcast that carries no message, the way shutdown reaches every
//! stream.

use std::sync::{Mutex, PoisonError};

use crossbeam_channel::{Receiver, Sender, bounded};

use super::policy::Action;
use crate::error::{Error, Result};

/// A decision for one connection, made again after each reload
/// ([`super::Access::standing`], [`super::Access::recheck`]).
pub struct Standing {
    pub(super) token: Option<String>,
    pub(super) action: Action,
    pub(super) topics: Vec<String>,
    /// The reload generation the decision was made in.
    pub(super) generation: u64,
    pub(super) decided: Result<()>,
}

/// Why a permission an open connection had is withdrawn, for its error
/// event or close frame: a token the policy no longer knows was revoked.
pub fn withdrawn(e: &Error) -> String {
    match e {
        Error::InvalidToken => "token revoked".to_string(),
        other => other.to_string(),
    }
}

/// A broadcast without a message: [`Bell::ring`] disconnects every receiver
/// [`Bell::listen`] handed out, and sets up the next round.
pub(super) struct Bell(Mutex<(Sender<()>, Receiver<()>)>);

impl Default for Bell {
    fn default() -> Bell {
        Bell(Mutex::new(bounded(0)))
    }
}

impl Bell {
    /// A receiver that disconnects at the next ring.
    pub(super) fn listen(&self) -> Receiver<()> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .1
            .clone()
    }

    /// Wakes every listener: the only sender of their channel is dropped.
    pub(super) fn ring(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = bounded(0);
    }
}
