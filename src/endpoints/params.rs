//! Reading what a request asks for: numbers in the query string, and the
//! `/event` demo's cursor, a plain id.
//!
//! ```text
//! GET /stream?count=3&interval_ms=200      count 3, a line every 200 ms
//! GET /event?since=41                      events after 41
//! Last-Event-ID: 41                        the same, sent by a reconnecting
//!                                          browser (it wins over since=)
//! ```
//!
//! A value out of range is a 400 whose one line says the range. Topic
//! subscriptions take a richer cursor: `topics/since.rs`.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::http::request::Request;
use crate::hub::MAX_ID;

/// Longest interval or timeout a demo may be asked for, in milliseconds.
pub const MAX_MS: u64 = 3_600_000;

/// A numeric query parameter in `min..=max`, or 400 with `why`.
pub fn number(
    req: &Request,
    name: &str,
    default: u64,
    (min, max): (u64, u64),
    why: &'static str,
) -> Result<u64> {
    match req.query(name) {
        None => Ok(default),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(Error::BadRequest(why)),
        },
    }
}

/// A duration parameter in milliseconds, 1 to [`MAX_MS`], or 400 with `why`.
pub fn millis(req: &Request, name: &str, default: u64, why: &'static str) -> Result<Duration> {
    number(req, name, default, (1, MAX_MS), why).map(Duration::from_millis)
}

/// The `/event` subscriber's cursor: the last id it has seen.
/// `Last-Event-ID` (when `header` is true: SSE, whose browser sends it on
/// reconnect) wins over `?since=N`; an empty header counts as none.
///
/// # Errors
/// 400 when the cursor is not a whole number from 0 to [`MAX_ID`].
pub fn cursor(req: &Request, header: bool) -> Result<Option<u64>> {
    const WHY: &str = "since and Last-Event-ID must be whole numbers from 0 to 9007199254740991";
    match cursor_text(req, header) {
        None => Ok(None),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if n <= MAX_ID => Ok(Some(n)),
            _ => Err(Error::BadRequest(WHY)),
        },
    }
}

/// The cursor as the request carries it: `Last-Event-ID` when `header`
/// (SSE) and not empty, else `?since=`; `None` when neither.
pub fn cursor_text(req: &Request, header: bool) -> Option<&str> {
    let from_header = header
        .then(|| req.header("Last-Event-ID").map(str::trim))
        .flatten()
        .filter(|v| !v.is_empty());
    from_header.or_else(|| req.query("since"))
}

/// A GET of `target`, with `Last-Event-ID` when given: for unit tests.
#[cfg(test)]
pub fn get(target: &str, last_event_id: Option<&str>) -> Request {
    crate::http::request::test_get(target, last_event_id.map(|v| ("Last-Event-ID", v)))
}

#[cfg(test)]
mod tests {
    use super::get as req;
    use super::*;

    #[test]
    fn cursors() {
        assert_eq!(cursor(&req("/t", None), true).unwrap(), None);
        assert_eq!(cursor(&req("/t?since=4", None), true).unwrap(), Some(4));
        assert_eq!(
            cursor(&req("/t?since=4", Some("9")), true).unwrap(),
            Some(9)
        );
        assert_eq!(
            cursor(&req("/t?since=4", Some("9")), false).unwrap(),
            Some(4)
        );
        assert_eq!(
            cursor(&req("/t?since=4", Some(" ")), true).unwrap(),
            Some(4)
        );
        let top = format!("/t?since={MAX_ID}");
        assert_eq!(cursor(&req(&top, None), false).unwrap(), Some(MAX_ID));
        for bad in [
            "/t?since=-1",
            "/t?since=x",
            "/t?since=9007199254740992",
            "/t?since=",
        ] {
            assert!(
                matches!(cursor(&req(bad, None), false), Err(Error::BadRequest(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn numbers_in_range() {
        let r = req("/stream?count=3&interval_ms=0", None);
        assert_eq!(number(&r, "count", 5, (0, 10), "w").unwrap(), 3);
        assert_eq!(number(&r, "missing", 5, (0, 10), "w").unwrap(), 5);
        assert!(millis(&r, "interval_ms", 1000, "w").is_err());
    }
}
