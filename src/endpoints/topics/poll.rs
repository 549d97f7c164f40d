//! `poll=1` on `/sse` and `/stream`: the history a subscription would
//! start with, as a whole answer. Same head, same framing as the live
//! stream (gaps, then messages), then the last chunk; the connection stays
//! open for the next request. Without a cursor it is the whole history.
//!
//! ```text
//! GET /topics/news/stream?since=1h&poll=1 HTTP/1.1\r\n
//!
//! HTTP/1.1 200 OK\r\n
//! Content-Type: application/x-ndjson\r\n … Transfer-Encoding: chunked\r\n\r\n
//! 4e\r\n{"event":"message","id":6,"topic":"news","time":1763755200000,"data":"hello"}\n\r\n
//! 4e\r\n{"event":"message","id":7,"topic":"news","time":1763755260000,"data":"again"}\n\r\n
//! 0\r\n\r\n
//! ```
//!
//! It reads the history with `Hub::history`: a poll is not a subscriber
//! and does not count against the subscriber cap. A topic a composite
//! cursor leaves out sends nothing (as a live one would start with
//! nothing), and stands at its newest id in the composite `id:` lines.

use super::framer::Framer;
use super::replay::{self, First};
use super::select::Selection;
use super::wire::Framing;
use crate::error::Result;
use crate::http::exchange::{Exchange, Outcome};
use crate::http::stream;
use crate::hub::{Hub, Since};

/// Answers `selection`'s history and ends the body.
///
/// # Errors
/// 400 for a bad topic name, 503 when a new topic would pass the cap.
pub fn answer(
    x: &mut Exchange,
    hub: &Hub,
    selection: &Selection,
    framing: Framing,
) -> Result<Outcome> {
    let framer = Framer {
        framing,
        chunked: x.req.is_http11(),
        multi: selection.is_multi(),
    };
    let mut first = Vec::with_capacity(selection.topics.len());
    for (topic, since) in selection.topics.iter().zip(&selection.starts) {
        first.push(match since {
            Some(since) => First::history(topic, hub.history(topic, *since)?),
            None => First::at_end(topic, hub.history(topic, Since::Latest)?),
        });
    }
    stream::whole(x, framing.content_type(), |body| {
        replay::write(body, framer, first).map(drop)
    })
}
