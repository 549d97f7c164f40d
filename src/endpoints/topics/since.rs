//! The `since` grammar: where a subscription starts. One grammar for every
//! transport: `?since=` on `/sse`, `/stream` and `/ws`, and the
//! `Last-Event-ID` header on `/sse` (a reconnecting EventSource sends it
//! with its original URL, so it wins over `since`; an empty one counts as
//! none).
//!
//! ```text
//! since=41                  after id 41 (0 to 9007199254740991)
//! since=0, since=all        the whole history
//! since=latest              the newest message held, then live
//! since=10m, 2h, 90s, 1h30m the messages published in that window, then live
//! since=a:41,b:7,c:0        after those ids, per topic; a topic left out starts live
//! Last-Event-ID: a:41,b:7   the same, as a multi-topic SSE stream's id: lines write it
//! ```
//!
//! A form that is not a composite applies to every topic of the
//! subscription. The value may be percent-encoded (`a%3A41%2Cb%3A7`, as
//! JavaScript's `encodeURIComponent` writes it). Refused with a 400 and
//! its one-line reason: anything else, an id past 9007199254740991, a
//! composite that names a topic twice or one the subscription does not have.

use std::collections::HashSet;

use percent_encoding::percent_decode_str;

use crate::endpoints::params::cursor_text;
use crate::error::{Error, Result};
use crate::http::request::Request;
use crate::hub::{MAX_ID, Since, valid_topic};

/// Not one of the forms.
pub const NOT_A_CURSOR: Error = Error::BadRequest(
    "since and Last-Event-ID take N, all, latest, a duration like 10m, or topic:id pairs like a:41,b:7",
);
/// A number past [`MAX_ID`].
pub const ID_TOO_BIG: Error =
    Error::BadRequest("ids in since and Last-Event-ID must be from 0 to 9007199254740991");
/// `a:1,a:2`.
pub const TOPIC_TWICE: Error = Error::BadRequest("since names a topic twice");
/// A composite naming a topic the URL does not.
pub const TOPIC_UNKNOWN: Error =
    Error::BadRequest("since names a topic that is not in the subscription");

/// A cursor as the client wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// One start for every topic: `N`, `all`, `latest`, a duration.
    Every(Since),
    /// `topic:id` pairs, in the order written.
    PerTopic(Vec<(String, u64)>),
}

/// The cursor a request carries: `Last-Event-ID` when `header` (SSE) and
/// not empty, else `?since=`; `None` when neither.
///
/// # Errors
/// 400 when the value is not one of the forms.
pub fn requested(req: &Request, header: bool) -> Result<Option<Cursor>> {
    let Some(text) = cursor_text(req, header) else {
        return Ok(None);
    };
    let text = percent_decode_str(text)
        .decode_utf8()
        .map_err(|_| NOT_A_CURSOR)?;
    parse(&text).map(Some)
}

/// Parses one cursor.
///
/// # Errors
/// `NOT_A_CURSOR`, `ID_TOO_BIG` or `TOPIC_TWICE` (400).
pub fn parse(text: &str) -> Result<Cursor> {
    if text.contains(':') {
        return per_topic(text).map(Cursor::PerTopic);
    }
    let every = match text {
        "all" => Since::After(0),
        "latest" => Since::Latest,
        _ if is_digits(text) => Since::After(id(text)?),
        _ => Since::Window(humantime::parse_duration(text).map_err(|_| NOT_A_CURSOR)?),
    };
    Ok(Cursor::Every(every))
}

impl Cursor {
    /// Where each of `topics` starts, in their order: `None` for a topic a
    /// composite leaves out (it starts live).
    ///
    /// # Errors
    /// `TOPIC_UNKNOWN` (400) for a composite naming a topic not in `topics`.
    pub fn starts<T: AsRef<str>>(&self, topics: &[T]) -> Result<Vec<Option<Since>>> {
        match self {
            Cursor::Every(since) => Ok(vec![Some(*since); topics.len()]),
            Cursor::PerTopic(pairs) => {
                let named = |name: &str| topics.iter().any(|t| t.as_ref() == name);
                if !pairs.iter().all(|(name, _)| named(name)) {
                    return Err(TOPIC_UNKNOWN);
                }
                let start = |topic: &T| {
                    let pair = pairs.iter().find(|(name, _)| name == topic.as_ref());
                    pair.map(|(_, id)| Since::After(*id))
                };
                Ok(topics.iter().map(start).collect())
            }
        }
    }
}

/// `a:41,b:7,c:0`.
fn per_topic(text: &str) -> Result<Vec<(String, u64)>> {
    let mut seen = HashSet::new();
    let mut pairs = Vec::new();
    for pair in text.split(',') {
        let (topic, n) = pair.split_once(':').ok_or(NOT_A_CURSOR)?;
        if !valid_topic(topic) || !is_digits(n) {
            return Err(NOT_A_CURSOR);
        }
        let n = id(n)?;
        if !seen.insert(topic) {
            return Err(TOPIC_TWICE);
        }
        pairs.push((topic.to_string(), n));
    }
    Ok(pairs)
}

/// Only ASCII digits, at least one (`u64::from_str` would also take `+5`).
fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// An id from 0 to [`MAX_ID`]; `text` is digits.
fn id(text: &str) -> Result<u64> {
    match text.parse::<u64>() {
        Ok(n) if n <= MAX_ID => Ok(n),
        _ => Err(ID_TOO_BIG),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    use crate::endpoints::params::get as req;

    fn every(since: Since) -> Cursor {
        Cursor::Every(since)
    }

    fn reason(e: Error) -> &'static str {
        match e {
            Error::BadRequest(why) => why,
            other => panic!("not a 400: {other:?}"),
        }
    }

    #[test]
    fn each_form() {
        assert_eq!(parse("41").unwrap(), every(Since::After(41)));
        assert_eq!(parse("0").unwrap(), every(Since::After(0)));
        assert_eq!(parse("all").unwrap(), every(Since::After(0)));
        assert_eq!(parse("latest").unwrap(), every(Since::Latest));
        assert_eq!(
            parse("9007199254740991").unwrap(),
            every(Since::After(MAX_ID))
        );
        let window = |secs| every(Since::Window(Duration::from_secs(secs)));
        assert_eq!(parse("10m").unwrap(), window(600));
        assert_eq!(parse("2h").unwrap(), window(7200));
        assert_eq!(parse("90s").unwrap(), window(90));
        assert_eq!(parse("1h30m").unwrap(), window(5400));
        assert_eq!(
            parse("a:41,b:7,c:0").unwrap(),
            Cursor::PerTopic(vec![("a".into(), 41), ("b".into(), 7), ("c".into(), 0)])
        );
        assert_eq!(
            parse("news:5").unwrap(),
            Cursor::PerTopic(vec![("news".into(), 5)])
        );
    }

    #[test]
    fn refusals_say_why() {
        let not_a_cursor = reason(NOT_A_CURSOR);
        for bad in [
            "",
            "banana",
            "-1",
            "+5",
            "4.5",
            "10 parsecs",
            "a:",
            ":4",
            "a:x",
            "a:-1",
            "a:1,",
            "a:1,,b:2",
            "a:1:2",
            "a b:1",
            "Latest",
            "ALL",
        ] {
            assert_eq!(reason(parse(bad).unwrap_err()), not_a_cursor, "{bad:?}");
        }
        let too_big = reason(ID_TOO_BIG);
        for bad in [
            "9007199254740992",
            "18446744073709551616",
            "a:9007199254740992",
        ] {
            assert_eq!(reason(parse(bad).unwrap_err()), too_big, "{bad:?}");
        }
        assert_eq!(
            reason(parse("a:1,a:2").unwrap_err()),
            "since names a topic twice"
        );
    }

    #[test]
    fn starts_per_topic() {
        let topics = ["a", "b", "c"];
        assert_eq!(
            parse("latest").unwrap().starts(&topics).unwrap(),
            [Some(Since::Latest); 3]
        );
        assert_eq!(
            parse("c:3,a:41").unwrap().starts(&topics).unwrap(),
            [Some(Since::After(41)), None, Some(Since::After(3))]
        );
        assert_eq!(
            reason(parse("a:1,d:2").unwrap().starts(&topics).unwrap_err()),
            "since names a topic that is not in the subscription"
        );
    }

    #[test]
    fn last_event_id_wins_and_empty_counts_as_none() {
        let cursor = |target, header, sse| requested(&req(target, header), sse).unwrap();
        assert_eq!(cursor("/t", None, true), None);
        assert_eq!(
            cursor("/t?since=4", None, true),
            Some(every(Since::After(4)))
        );
        let resumed = Some(Cursor::PerTopic(vec![("a".into(), 9)]));
        assert_eq!(cursor("/t?since=4", Some("a:9"), true), resumed);
        assert_eq!(
            cursor("/t?since=4", Some("a:9"), false),
            Some(every(Since::After(4)))
        );
        assert_eq!(
            cursor("/t?since=4", Some(" "), true),
            Some(every(Since::After(4)))
        );
        assert_eq!(cursor("/t?since=a%3A9", None, false), resumed);
        assert!(requested(&req("/t?since=", None), false).is_err());
        assert!(requested(&req("/t?since=%ff", None), false).is_err());
    }
}
