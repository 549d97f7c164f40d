//! What a stream subscriber gets before anything live, and all that a
//! `poll=1` gets: every topic's gap notice, then every topic's messages
//! from the history, topic after topic in the order of the URL, each framed
//! as the live stream frames it.
//!
//! ```text
//! GET /topics/a,b/sse?since=a:2,b:0          (history of a holds 8.., of b 1..)
//! event: gap\ndata: {"event":"gap","topic":"a","from":3,"to":7}\n\n
//! id: a:8,b:0\ndata: {"event":"message","id":8,"topic":"a",…}\n\n
//! id: a:8,b:1\ndata: {"event":"message","id":1,"topic":"b",…}\n\n
//! ```
//!
//! Each topic's position starts at its subscription's `start` (the id
//! before its replay, or its last id when nothing is replayed), so the
//! cursor written with the first event already misses nothing.

use std::io::{self, Write};
use std::sync::Arc;

use super::framer::Framer;
use super::position::Positions;
use crate::http::chunked::ChunkedWriter;
use crate::hub::{Gap, Published, Replay, Subscription};

/// One topic's part of what goes first.
pub struct First {
    topic: Arc<str>,
    gap: Option<Gap>,
    messages: Vec<Arc<Published>>,
    /// The id the subscriber is at before `messages`.
    start: u64,
}

/// Where a subscriber stands once its replay is written.
pub struct Written {
    /// Several topics: each one's position.
    pub positions: Option<Positions>,
    /// The last id written (one topic), for the notice of a drop.
    pub last_id: Option<u64>,
}

impl First {
    /// A live subscription's gap and replay, taken out of it.
    pub fn taken(sub: &mut Subscription) -> First {
        First {
            topic: Arc::clone(sub.topic()),
            gap: sub.gap.take(),
            messages: std::mem::take(&mut sub.replay),
            start: sub.start,
        }
    }

    /// What `Hub::history` found for `topic`.
    pub fn history(topic: &Arc<str>, replay: Replay) -> First {
        First {
            topic: Arc::clone(topic),
            gap: replay.gap,
            messages: replay.messages,
            start: replay.start,
        }
    }

    /// Nothing to send: `topic` positioned after the newest of `latest`
    /// (`Hub::history` with `Since::Latest`), as a live start would be.
    pub fn at_end(topic: &Arc<str>, latest: Replay) -> First {
        let last = latest.messages.last().map_or(latest.start, |m| m.id);
        First {
            topic: Arc::clone(topic),
            gap: None,
            messages: Vec::new(),
            start: last,
        }
    }
}

/// Writes every gap, then every message, to `body`.
///
/// # Errors
/// When a write fails: the client is gone.
pub fn write<W: Write>(
    body: &mut ChunkedWriter<W>,
    framer: Framer,
    first: Vec<First>,
) -> io::Result<Written> {
    let framing = framer.framing;
    for part in &first {
        if let Some(gap) = part.gap {
            body.chunk(&framing.gap(&part.topic, gap))?;
        }
    }
    let starts = first.iter().map(|p| (Arc::clone(&p.topic), p.start));
    let mut positions = framer.multi.then(|| Positions::new(starts));
    let mut last_id = None;
    for part in first {
        // Each message is let go once written: one that has left the
        // history meanwhile is not held for the life of the stream.
        for m in part.messages {
            framer.frame(&m, positions.as_mut()).write_to(body.raw())?;
            last_id = Some(m.id);
        }
    }
    Ok(Written { positions, last_id })
}
