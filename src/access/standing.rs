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
