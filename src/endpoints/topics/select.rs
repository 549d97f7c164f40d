//! What a subscribe request selects: the topics its path names, where each
//! of them starts (`since`, see `since.rs`), and whether it only polls.
//!
//! ```text
//! /topics/news/sse                       one topic, live
//! /topics/a,b,c/stream?since=a:41,b:7    a after 41, b after 7, c live
//! /topics/a,b/sse?poll=1                 the whole history of a and b, then the body ends
//! ```
//!
//! Up to [`MAX_TOPICS`] topics, each named once, each a valid topic name.
//! Each topic is its own subscription in the hub (one `subscribe` each,
//! so each counts against the subscriber cap), all sharing one sink.

use std::sync::Arc;

use super::since;
use crate::error::{Error, Result};
use crate::http::request::Request;
use crate::hub::{BAD_TOPIC, Hub, Since, Sink, Subscription, valid_topic};

/// The most topics one connection subscribes to.
pub const MAX_TOPICS: usize = 32;

/// A subscribe request's topics and starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The topics, in the order of the URL.
    pub topics: Vec<Arc<str>>,
    /// Where each starts; `None` is live.
    pub starts: Vec<Option<Since>>,
    /// `poll=1`: send the history and end the body.
    pub poll: bool,
}

impl Selection {
    /// Reads `list` (the path's `a,b,c`), the cursor (`Last-Event-ID` too
    /// when `header`) and `poll`. Polling without a cursor means the whole
    /// history.
    ///
    /// # Errors
    /// 400 for a bad topic list, cursor or `poll`.
    pub fn read(req: &Request, list: &str, header: bool) -> Result<Selection> {
        let topics = topics(list)?;
        let poll = match req.query("poll") {
            None | Some("0") => false,
            Some("1") => true,
            Some(_) => return Err(Error::BadRequest("poll must be 0 or 1")),
        };
        let cursor = since::requested(req, header)?;
        let starts = match cursor {
            Some(cursor) => cursor.starts(&topics)?,
            None if poll => vec![Some(Since::After(0)); topics.len()],
            None => vec![None; topics.len()],
        };
        Ok(Selection {
            topics,
            starts,
            poll,
        })
    }

    /// Whether it names more than one topic (and so speaks in JSON objects
    /// and composite cursors).
    pub fn is_multi(&self) -> bool {
        self.topics.len() > 1
    }

    /// Subscribes `sink` to every topic, each from its start, in order.
    ///
    /// # Errors
    /// The hub's refusal (503 past a cap); the topics subscribed before it
    /// are let go.
    pub fn subscribe(&self, hub: &Hub, sink: &Arc<dyn Sink>) -> Result<Vec<Subscription>> {
        let each = self.topics.iter().zip(&self.starts);
        each.map(|(topic, since)| hub.subscribe(topic, *since, Arc::clone(sink)))
            .collect()
    }
}

/// The topics of `a,b,c`.
///
/// # Errors
/// 400 past [`MAX_TOPICS`], for a bad name, or for a name given twice.
pub fn topics(list: &str) -> Result<Vec<Arc<str>>> {
    let names: Vec<&str> = list.split(',').collect();
    if names.len() > MAX_TOPICS {
        return Err(Error::BadRequest("at most 32 topics on one connection"));
    }
    if !names.iter().all(|name| valid_topic(name)) {
        return Err(BAD_TOPIC);
    }
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(Error::BadRequest("a topic is named twice"));
        }
    }
    Ok(names.into_iter().map(Arc::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(e: Error) -> &'static str {
        match e {
            Error::BadRequest(why) => why,
            other => panic!("not a 400: {other:?}"),
        }
    }

    fn req(target: &str) -> Request {
        crate::http::request::test_get(target, None)
    }

    #[test]
    fn topic_lists() {
        assert_eq!(topics("news").unwrap(), [Arc::from("news")]);
        let abc: Vec<Arc<str>> = vec!["a".into(), "b".into(), "c".into()];
        assert_eq!(topics("a,b,c").unwrap(), abc);
        let names = |n: usize| (0..n).map(|i| format!("t{i}")).collect::<Vec<_>>();
        assert_eq!(topics(&names(32).join(",")).unwrap().len(), 32);
        assert_eq!(
            reason(topics(&names(33).join(",")).unwrap_err()),
            "at most 32 topics on one connection"
        );
        assert_eq!(
            reason(topics("a,b,a").unwrap_err()),
            "a topic is named twice"
        );
        for bad in ["a,,b", "a,", ",a", "a,b c", ""] {
            assert_eq!(
                reason(topics(bad).unwrap_err()),
                reason(BAD_TOPIC),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn poll_without_a_cursor_is_the_whole_history() {
        let s = Selection::read(&req("/t?poll=1"), "a,b", false).unwrap();
        assert_eq!(s.starts, [Some(Since::After(0)); 2]);
        assert!(s.poll && s.is_multi());
        let s = Selection::read(&req("/t?poll=0&since=b:3"), "a,b", false).unwrap();
        assert_eq!(s.starts, [None, Some(Since::After(3))]);
        assert!(!s.poll);
        let s = Selection::read(&req("/t?poll=1&since=latest"), "a", false).unwrap();
        assert_eq!(s.starts, [Some(Since::Latest)]);
        assert!(!s.is_multi());
        let bad = Selection::read(&req("/t?poll=yes"), "a", false).unwrap_err();
        assert_eq!(reason(bad), "poll must be 0 or 1");
    }
}
