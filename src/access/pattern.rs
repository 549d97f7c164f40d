//! Topic patterns: `*` matches any run of topic characters, even none;
//! every other character matches itself.
//!
//! ```text
//! alerts-*   alerts-, alerts-disk, alerts-cpu-1      not: alert, news
//! *          every topic
//! a*b*c      abc, aXbYc, a-b-c                       not: ab, acb
//! news       news                                    not: news2
//! ```
//!
//! A pattern uses the topic alphabet (`[A-Za-z0-9_-]`) and `*`; anything
//! else (a space, `?`, `.`, a comma) is refused when the auth file is read,
//! so a typo cannot silently match nothing. Not supported: `?`, character
//! classes, alternatives.

use std::fmt;

/// One topic pattern of an auth file.
#[derive(Clone, PartialEq, Eq)]
pub struct Pattern(Box<str>);

impl Pattern {
    /// Checks `text` and keeps it.
    ///
    /// # Errors
    /// One line when `text` is empty or has a character that is neither
    /// `*` nor one a topic name may have.
    pub fn new(text: &str) -> Result<Pattern, String> {
        if text.is_empty() {
            return Err("an empty pattern (\"*\" is every topic)".into());
        }
        match text.chars().find(|c| !allowed(*c)) {
            Some(c) => Err(format!(
                "pattern {text:?} has {c:?}: only A-Z a-z 0-9 _ - and * may appear"
            )),
            None => Ok(Pattern(text.into())),
        }
    }

    /// Whether it matches every topic (`*`, or stars alone).
    pub fn is_everything(&self) -> bool {
        self.0.chars().all(|c| c == '*')
    }

    /// Whether `topic` matches.
    pub fn matches(&self, topic: &str) -> bool {
        glob(self.0.as_bytes(), topic.as_bytes())
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// A character a pattern may hold: the topic alphabet and `*`.
fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '*')
}

/// Wildcard matching with one remembered star: on a mismatch, the last `*`
/// takes one more character and matching resumes after it. Earlier stars
/// never need to be revisited (a later star can absorb whatever they
/// would), so the cost is at most the two lengths multiplied, and no
/// recursion.
fn glob(pattern: &[u8], topic: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // The last star seen, and where in the topic its match ends so far.
    let mut star: Option<(usize, usize)> = None;
    while t < topic.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == topic[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    star = Some((star_p, star_t + 1));
                    p = star_p + 1;
                    t = star_t + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, topic: &str) -> bool {
        Pattern::new(pattern).unwrap().matches(topic)
    }

    #[test]
    fn stars_match_any_run_even_none() {
        for topic in ["alerts-", "alerts-disk", "alerts-cpu-1"] {
            assert!(matches("alerts-*", topic), "{topic}");
        }
        assert!(!matches("alerts-*", "alert"));
        assert!(!matches("alerts-*", "news"));
        assert!(matches("*", "x"));
        assert!(matches("**", "x"));
        for topic in ["abc", "aXbYc", "a-b-c", "abbc", "abcbc"] {
            assert!(matches("a*b*c", topic), "{topic}");
        }
        for topic in ["ab", "acb", "abcd", "xabc"] {
            assert!(!matches("a*b*c", topic), "{topic}");
        }
        assert!(matches("*-log", "app-log"));
        assert!(matches("*-log", "app-log-log"));
        assert!(!matches("*-log", "app-logs"));
    }

    #[test]
    fn other_characters_match_themselves() {
        assert!(matches("news", "news"));
        assert!(!matches("news", "news2"));
        assert!(!matches("news", "new"));
        assert!(!matches("News", "news"));
        assert!(matches("a_b-C9", "a_b-C9"));
    }

    #[test]
    fn a_long_topic_against_many_stars_is_quick() {
        let topic = "a".repeat(64);
        let pattern = format!("{}b", "a*".repeat(32));
        assert!(!matches(&pattern, &topic));
    }

    #[test]
    fn only_the_topic_alphabet_and_stars() {
        assert!(Pattern::new("").unwrap_err().contains("empty pattern"));
        for bad in ["a b", "a?", "a.b", "a,b", "é", "a/b"] {
            let e = Pattern::new(bad).unwrap_err();
            assert!(e.contains("only A-Z a-z 0-9 _ - and *"), "{bad}: {e}");
        }
        assert_eq!(
            Pattern::new("a.b").unwrap_err(),
            "pattern \"a.b\" has '.': only A-Z a-z 0-9 _ - and * may appear"
        );
    }
}
