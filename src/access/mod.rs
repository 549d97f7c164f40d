//! Who may publish and subscribe: tokens with topic patterns, read from the
//! auth file (`--auth-file`, `file.rs`) plus `--publish-token` (a token for
//! every topic), and what a request without a token may do
//! (`--anonymous`).
//!
//! ```text
//! POST /topics/news HTTP/1.1\r\n              (anonymous may only read)
//! Content-Length: 5\r\n\r\nhello
//!   → HTTP/1.1 401 Unauthorized\r\n
//!     WWW-Authenticate: Bearer\r\n …
//!     publishing needs Authorization: Bearer <token>\n
//!
//! GET /topics/news/sse?token=wrong HTTP/1.1\r\n
//!   → HTTP/1.1 401 Unauthorized\r\n
//!     WWW-Authenticate: Bearer error="invalid_token"\r\n …
//!     unknown token\n
//!
//! POST /topics/news HTTP/1.1\r\n              (the token may publish to alerts-* only)
//! Authorization: Bearer s3cret\r\n …
//!   → HTTP/1.1 403 Forbidden\r\n …
//!     this token may not publish to news\n
//! ```
//!
//! The rules, in order: with no token configured at all (no auth file, no
//! publish token), tokens are not read and anonymous decides. Otherwise a
//! token that matches no secret is a 401, whatever anonymous may do; a
//! request anonymous may make is allowed; one without a token is a 401;
//! and a token's grant must cover every topic named (`/topics/a,b/sse`
//! needs both), else a 403 naming the first topic refused. A token thus
//! adds to what anonymous may do, never takes away: a client could always
//! leave its token out.
//!
//! The policy is an `Arc` behind a lock, cloned by each request: SIGHUP
//! ([`Access::reload`]) reads the file first and holds the lock only to
//! swap the `Arc`, then bumps a generation number. A reload governs the
//! requests after it, and streams and WebSockets already open too: each
//! keeps its decision as a [`Standing`], which decides again when the
//! generation has moved (one atomic load otherwise), so a revoked token
//! stops publishing through a WebSocket and its subscriptions end. A
//! stream waiting for messages also `select!`s on [`Access::reloads`],
//! which a reload disconnects, so a quiet stream hears of it at once.
//!
//! Files: `token.rs` (where the token comes from, and its redaction in the
//! log), `policy.rs` (grants, the constant-time lookup), `pattern.rs`
//! (wildcards), `file.rs` (the TOML), `scrub.rs` (its errors without
//! values), `standing.rs` (a decision kept by an open connection).

mod file;
mod pattern;
mod policy;
mod scrub;
mod standing;
mod token;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use crossbeam_channel::Receiver;

pub use file::{parse, read, reread};
pub use pattern::Pattern;
pub use policy::{Action, Grant, Policy};
use standing::Bell;
pub use standing::{Standing, withdrawn};
pub use token::{REDACTED, presented, redacted};

use crate::config::{AccessConfig, Anonymous};
use crate::error::{Error, Result};
use crate::http::request::Request;
use crate::metrics::Metrics;

/// The server's access policy, replaceable while it runs.
pub struct Access {
    policy: RwLock<Arc<Policy>>,
    /// Bumped by each reload that installs a policy, after the swap.
    generation: AtomicU64,
    /// Rung after each such reload, waking streams that wait on something else.
    reloaded: Bell,
    file: Option<PathBuf>,
    publish_token: Option<String>,
    anonymous: Anonymous,
    metrics: Arc<Metrics>,
}

impl Access {
    /// Reads the auth file (if any) and adds the publish token (if any);
    /// returns the access and the number of tokens the file holds.
    ///
    /// # Errors
    /// One line naming the file and what is wrong with it.
    pub fn load(
        config: &AccessConfig,
        metrics: Arc<Metrics>,
    ) -> std::result::Result<(Access, usize), String> {
        let access = Access {
            policy: RwLock::new(Arc::default()),
            generation: AtomicU64::new(0),
            reloaded: Bell::default(),
            file: config.auth_file.clone(),
            publish_token: config.publish_token.clone(),
            anonymous: config.anonymous(),
            metrics,
        };
        let policy = match &access.file {
            Some(path) => read(path)?,
            None => Policy::default(),
        };
        let (policy, in_file) = access.build(policy);
        *access
            .policy
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(policy);
        Ok((access, in_file))
    }

    /// Reads the auth file again; on success the new tokens govern every
    /// request from now on, and the number the file holds is returned.
    /// `None` when there is no auth file to read.
    ///
    /// # Errors
    /// One line naming the file and the problem (an empty file, one that is
    /// not a regular file included); the policy in force stays.
    pub fn reload(&self) -> std::result::Result<Option<usize>, String> {
        let Some(path) = &self.file else {
            return Ok(None);
        };
        let (policy, tokens) = self.build(reread(path)?);
        // Only the swap holds the lock: readers wait for nothing longer.
        *self.policy.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(policy);
        // After the swap: whoever sees the new number reads the new policy.
        self.generation.fetch_add(1, Ordering::Release);
        self.reloaded.ring();
        Ok(Some(tokens))
    }

    /// How many reloads have installed a policy.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The file's grants, then the publish token's; and how many the file
    /// holds.
    fn build(&self, policy: Policy) -> (Policy, usize) {
        let in_file = policy.len();
        let policy = match &self.publish_token {
            Some(token) => policy.with(Grant::everything(token)),
            None => policy,
        };
        (policy, in_file)
    }

    /// A warning when anonymous clients may subscribe to every topic while
    /// some tokens' `subscribe` lists name fewer: those lists then allow
    /// nothing anonymous does not.
    pub fn idle_subscribe_lists(&self) -> Option<String> {
        self.policy().idle_subscribe_lists(self.anonymous)
    }

    /// The policy in force now.
    fn policy(&self) -> Arc<Policy> {
        Arc::clone(&self.policy.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The auth file, if one was given.
    pub fn file(&self) -> Option<&std::path::Path> {
        self.file.as_deref()
    }

    /// What a request without a token may do.
    pub fn anonymous(&self) -> Anonymous {
        self.anonymous
    }

    /// Whether `req` may do `action` to every one of `topics`, counting a
    /// refusal in `/metrics` by its status.
    ///
    /// # Errors
    /// `Unauthorized` (401, no token), `InvalidToken` (401), `OutOfScope`
    /// (403).
    pub fn check<T: AsRef<str>>(&self, req: &Request, action: Action, topics: &[T]) -> Result<()> {
        let decided = self.decide(req, action, topics);
        if let Err(e) = &decided {
            let counter = match e.status() {
                Some(401) => &self.metrics.denied_401,
                _ => &self.metrics.denied_403,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        decided
    }

    /// [`Access::check`] without counting.
    ///
    /// # Errors
    /// As [`Access::check`].
    fn decide<T: AsRef<str>>(&self, req: &Request, action: Action, topics: &[T]) -> Result<()> {
        self.decide_for(token::presented(req).as_deref(), action, topics)
    }

    /// [`Access::decide`] for the token a request carried, if any.
    fn decide_for<T: AsRef<str>>(
        &self,
        token: Option<&str>,
        action: Action,
        topics: &[T],
    ) -> Result<()> {
        // Without tokens configured none is read, and the policy's lock
        // is not touched: every publish would pass through it.
        let configured = self.file.is_some() || self.publish_token.is_some();
        let policy = configured.then(|| self.policy());
        let grant = match (token, &policy) {
            (Some(token), Some(policy)) => Some(
                policy
                    .identify(token.as_bytes())
                    .ok_or(Error::InvalidToken)?,
            ),
            _ => None,
        };
        if anonymous_may(self.anonymous, action) {
            return Ok(());
        }
        let Some(grant) = grant else {
            return Err(Error::Unauthorized(match action {
                Action::Publish => "publishing needs Authorization: Bearer <token>",
                Action::Subscribe => "subscribing needs Authorization: Bearer <token> or ?token=",
            }));
        };
        match topics.iter().find(|t| !grant.may(action, t.as_ref())) {
            Some(topic) => Err(Error::OutOfScope(format!(
                "this token may not {} {}",
                action.verb(),
                topic.as_ref()
            ))),
            None => Ok(()),
        }
    }
}

impl Access {
    /// Decides whether `req` may do `action` to `topics` (as
    /// `Access::decide`) and keeps the decision for [`Access::recheck`].
    pub fn standing<T: AsRef<str>>(&self, req: &Request, action: Action, topics: &[T]) -> Standing {
        let token = token::presented(req).map(std::borrow::Cow::into_owned);
        // Read before the policy is: a reload in between shows as a change.
        let generation = self.generation();
        let decided = self.decide_for(token.as_deref(), action, topics);
        Standing {
            token,
            action,
            topics: topics.iter().map(|t| t.as_ref().to_string()).collect(),
            generation,
            decided,
        }
    }

    /// The decision `standing` holds, unless a reload came since: then it
    /// is made again, with the policy now in force, and kept.
    pub fn recheck<'s>(&self, standing: &'s mut Standing) -> &'s Result<()> {
        let now = self.generation();
        if now != standing.generation {
            standing.generation = now;
            let topics = &standing.topics;
            standing.decided = self.decide_for(standing.token.as_deref(), standing.action, topics);
        }
        &standing.decided
    }

    /// A receiver that disconnects at the next reload: a `select!` on it
    /// wakes then, and should take a new one before waiting again.
    pub fn reloads(&self) -> Receiver<()> {
        self.reloaded.listen()
    }
}

/// Whether a request without a token may do `action`.
fn anonymous_may(mode: Anonymous, action: Action) -> bool {
    match mode {
        Anonymous::ReadWrite => true,
        Anonymous::Read => action == Action::Subscribe,
        Anonymous::None => false,
    }
}

#[cfg(test)]
mod tests;
