//! The tokens a server knows and what each may do: a [`Policy`] of
//! [`Grant`]s, made from the auth file (`file.rs`) and `--publish-token`.
//!
//! ```text
//! Grant { secret: "s3cret", publish: ["alerts-*"], subscribe: ["*"] }
//!   publish to alerts-disk   yes
//!   publish to news          no (403)
//!   subscribe to news        yes
//! ```
//!
//! Finding a request's grant compares its token with every secret, in
//! constant time each and without stopping at a match ([`Policy::identify`]),
//! so the time taken tells neither which secret matched nor how much of a
//! guess was right. Only a secret's length can show (`subtle` compares
//! slices of different lengths at once), and lengths are not secrets.

use std::fmt;

use subtle::{ConditionallySelectable, ConstantTimeEq};

use super::pattern::Pattern;
use crate::config::Anonymous;

/// What a request asks to do with a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Publish to it (POST, PUT, or text over its WebSocket).
    Publish,
    /// Subscribe to it (SSE, NDJSON, poll, WebSocket).
    Subscribe,
}

impl Action {
    /// The verb and its preposition, for a reason line: `publish to`.
    pub fn verb(self) -> &'static str {
        match self {
            Action::Publish => "publish to",
            Action::Subscribe => "subscribe to",
        }
    }
}

/// One token and the topics it may publish and subscribe to.
#[derive(Clone, PartialEq, Eq)]
pub struct Grant {
    secret: Box<[u8]>,
    publish: Vec<Pattern>,
    subscribe: Vec<Pattern>,
}

impl Grant {
    /// A token with its two lists of patterns.
    pub fn new(secret: &str, publish: Vec<Pattern>, subscribe: Vec<Pattern>) -> Grant {
        Grant {
            secret: secret.as_bytes().into(),
            publish,
            subscribe,
        }
    }

    /// A token that may publish and subscribe to every topic
    /// (`--publish-token`).
    pub fn everything(secret: &str) -> Grant {
        let all = || vec![Pattern::new("*").expect("* is a pattern")];
        Grant::new(secret, all(), all())
    }

    /// Whether this token may do `action` to `topic`.
    pub fn may(&self, action: Action, topic: &str) -> bool {
        let patterns = match action {
            Action::Publish => &self.publish,
            Action::Subscribe => &self.subscribe,
        };
        patterns.iter().any(|p| p.matches(topic))
    }

    /// Whether its `subscribe` list names some topics but not all.
    pub fn narrows_subscribe(&self) -> bool {
        !self.subscribe.is_empty() && !self.subscribe.iter().any(Pattern::is_everything)
    }

    /// Whether this grant and `other` have the same secret (for the auth
    /// file's check; not constant time).
    pub fn same_secret(&self, other: &Grant) -> bool {
        self.secret == other.secret
    }
}

/// Written without the secret, so that no `{:?}` can leak it.
impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grant")
            .field("secret", &super::token::REDACTED)
            .field("publish", &self.publish)
            .field("subscribe", &self.subscribe)
            .finish()
    }
}

/// Every token the server knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    grants: Vec<Grant>,
}

impl Policy {
    /// A policy of these grants.
    pub fn new(grants: Vec<Grant>) -> Policy {
        Policy { grants }
    }

    /// This policy with one more grant, placed last.
    pub fn with(mut self, grant: Grant) -> Policy {
        self.grants.push(grant);
        self
    }

    /// How many tokens it knows.
    pub fn len(&self) -> usize {
        self.grants.len()
    }

    /// Whether it knows no token at all.
    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
    }

    /// How many grants have a `subscribe` list naming some topics but not
    /// all.
    pub(super) fn narrow_subscribe_lists(&self) -> usize {
        self.grants.iter().filter(|g| g.narrows_subscribe()).count()
    }

    /// A warning when `anonymous` clients may subscribe to every topic
    /// while some grants' `subscribe` lists name fewer: those lists then
    /// allow nothing anonymous does not.
    pub fn idle_subscribe_lists(&self, anonymous: Anonymous) -> Option<String> {
        let flag = match anonymous {
            Anonymous::ReadWrite => "read-write",
            Anonymous::Read => "read",
            Anonymous::None => return None,
        };
        let (lists, them) = match self.narrow_subscribe_lists() {
            0 => return None,
            1 => (
                "the subscribe list of 1 token adds nothing".to_string(),
                "it",
            ),
            n => (
                format!("the subscribe lists of {n} tokens add nothing"),
                "them",
            ),
        };
        Some(format!(
            "anonymous clients may subscribe to every topic (--anonymous {flag}): {lists}; --anonymous none makes {them} count"
        ))
    }

    /// The grant whose secret is `token`. Every secret is compared, each in
    /// constant time, and the match is picked without a branch; should two
    /// match (the auth file refuses that, but `--publish-token` may repeat
    /// one of its secrets), the last one counts.
    pub fn identify(&self, token: &[u8]) -> Option<&Grant> {
        // The index plus one of the matching grant; 0 for none.
        let mut found: u32 = 0;
        for (i, grant) in self.grants.iter().enumerate() {
            let place = u32::try_from(i + 1).unwrap_or(u32::MAX);
            found.conditional_assign(&place, grant.secret.ct_eq(token));
        }
        let index = usize::try_from(found.checked_sub(1)?).ok()?;
        self.grants.get(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(list: &[&str]) -> Vec<Pattern> {
        list.iter().map(|p| Pattern::new(p).unwrap()).collect()
    }

    #[test]
    fn a_grant_answers_by_its_patterns() {
        let g = Grant::new("s3cret", patterns(&["alerts-*"]), patterns(&["*"]));
        assert!(g.may(Action::Publish, "alerts-disk"));
        assert!(!g.may(Action::Publish, "news"));
        assert!(g.may(Action::Subscribe, "news"));
        let none = Grant::new("x", vec![], vec![]);
        assert!(!none.may(Action::Subscribe, "news"));
        assert!(Grant::everything("t").may(Action::Publish, "any"));
    }

    #[test]
    fn identify_finds_the_matching_secret_only() {
        let policy = Policy::new(vec![
            Grant::new("alpha", patterns(&["a"]), vec![]),
            Grant::new("beta", patterns(&["b"]), vec![]),
        ]);
        let found = |t: &str| policy.identify(t.as_bytes()).map(|g| g.publish.clone());
        assert_eq!(found("alpha"), Some(patterns(&["a"])));
        assert_eq!(found("beta"), Some(patterns(&["b"])));
        for wrong in ["alph", "alphaa", "Alpha", "", "gamma"] {
            assert_eq!(found(wrong), None, "{wrong}");
        }
        assert_eq!(Policy::default().identify(b"alpha"), None);
    }

    #[test]
    fn the_last_of_two_equal_secrets_counts() {
        let policy =
            Policy::new(vec![Grant::new("t", vec![], vec![])]).with(Grant::everything("t"));
        let grant = policy.identify(b"t").unwrap();
        assert!(grant.may(Action::Publish, "news"));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let text = format!("{:?}", Policy::new(vec![Grant::everything("s3cret")]));
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("REDACTED"), "{text}");
    }
}
