//! One subscriber's bytes for one message. Mostly they are the message's
//! shared encoding (`wire.rs`), the same bytes for every subscriber of that
//! format. A multi-topic SSE event is the exception: its `id:` is this
//! subscriber's own composite cursor (`position.rs`), so its event is
//! three parts, and only the first is its own:
//!
//! ```text
//! 64\r\nid: a:41,b:7,c:0\ndata:   {"event":"message","id":41,"topic":"a","time":1763755200000,"data":"hello"}  \n\n\r\n
//! ╰─ own: size, id ────────────╯  ╰─ shared: the JSON object, made once per message ────────────────────────╯  ╰static╯
//! ```
//!
//! The three go out in one `writev`/`sendmsg` with the other messages, so
//! the JSON object is never copied per subscriber. It is one line
//! (serde_json escapes line breaks), so it is one `data:` field.

use std::io::{self, IoSlice, Write};

use bytes::Bytes;

use super::position::Positions;
use super::wire::{Framing, json_object};
use crate::http::chunked::write_all_vectored;
use crate::hub::Published;

/// How one subscriber's messages are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framer {
    /// SSE or NDJSON.
    pub framing: Framing,
    /// In HTTP/1.1 chunks (else raw: HTTP/1.0).
    pub chunked: bool,
    /// Several topics: SSE events carry the composite cursor.
    pub multi: bool,
}

/// A message's bytes for one subscriber.
#[derive(Debug, Clone)]
pub enum Framed {
    /// The shared encoding, whole.
    Shared(Bytes),
    /// Own head, shared JSON object, static tail.
    Headed([Bytes; 3]),
}

impl Framed {
    /// The parts, in order.
    pub fn parts(&self) -> &[Bytes] {
        match self {
            Framed::Shared(whole) => std::slice::from_ref(whole),
            Framed::Headed(parts) => parts,
        }
    }

    /// Writes every part, in one `writev` when `w` has one.
    ///
    /// # Errors
    /// When `w` fails.
    pub fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        let mut slices = [IoSlice::new(&[]); 3];
        for (slice, part) in slices.iter_mut().zip(self.parts()) {
            *slice = IoSlice::new(part);
        }
        write_all_vectored(w, &mut slices[..self.parts().len()])
    }
}

impl Framer {
    /// Parts each message is framed in: see [`Framed`].
    pub fn parts_per_message(self) -> usize {
        if self.headed() { 3 } else { 1 }
    }

    /// The message's shared encoding; only when not [`headed`](Self::headed).
    pub fn shared(self, m: &Published) -> Bytes {
        self.framing.message(m, self.chunked)
    }

    /// `m`'s bytes for this subscriber, its position (when several topics)
    /// moved to `m` first: the cursor in an SSE event includes the event.
    pub fn frame(self, m: &Published, positions: Option<&mut Positions>) -> Framed {
        let Some(positions) = positions else {
            return Framed::Shared(self.shared(m));
        };
        positions.advance(m);
        if !self.headed() {
            return Framed::Shared(self.shared(m));
        }
        let json = json_object(m).clone();
        let id = format!("id: {}\ndata: ", positions.cursor());
        let (head, tail): (String, &'static [u8]) = if self.chunked {
            let len = id.len() + json.len() + 2;
            (format!("{len:x}\r\n{id}"), b"\n\n\r\n")
        } else {
            (id, b"\n\n")
        };
        Framed::Headed([head.into(), json, Bytes::from_static(tail)])
    }

    /// A multi-topic SSE stream: events with a head of their own.
    fn headed(self) -> bool {
        self.multi && self.framing == Framing::Sse
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(topic: &str, id: u64, data: &str) -> Published {
        Published {
            id,
            topic: topic.into(),
            time_ms: 1_763_755_200_000,
            data: data.to_string().into(),
            encoded: Default::default(),
        }
    }

    fn written(f: Framed) -> String {
        let mut out = Vec::new();
        f.write_to(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn abc() -> Positions {
        Positions::new([("a".into(), 40), ("b".into(), 7), ("c".into(), 0)])
    }

    #[test]
    fn a_multi_topic_sse_event_carries_the_composite_cursor() {
        let framer = Framer {
            framing: Framing::Sse,
            chunked: true,
            multi: true,
        };
        let mut positions = abc();
        let m = message("a", 41, "hi");
        let json = "{\"event\":\"message\",\"id\":41,\"topic\":\"a\",\"time\":1763755200000,\"data\":\"hi\"}";
        let event = format!("id: a:41,b:7,c:0\ndata: {json}\n\n");
        assert_eq!(
            written(framer.frame(&m, Some(&mut positions))),
            format!("{:x}\r\n{event}\r\n", event.len())
        );
        let raw = Framer {
            chunked: false,
            ..framer
        };
        let c = message("c", 1, "yo");
        assert!(
            written(raw.frame(&c, Some(&mut positions))).starts_with("id: a:41,b:7,c:1\ndata: {")
        );
        // The JSON object is the message's own, shared with NDJSON.
        assert!(m.encoded.json.get().is_some());
    }

    #[test]
    fn ndjson_and_single_topic_bytes_are_the_shared_ones() {
        let nd = Framer {
            framing: Framing::Ndjson,
            chunked: true,
            multi: true,
        };
        let mut positions = abc();
        let m = message("b", 8, "hi");
        let framed = nd.frame(&m, Some(&mut positions));
        assert_eq!(framed.parts(), [Framing::Ndjson.message(&m, true)]);
        assert_eq!(positions.cursor(), "a:40,b:8,c:0");
        let sse = Framer {
            framing: Framing::Sse,
            chunked: true,
            multi: false,
        };
        assert_eq!(
            written(sse.frame(&m, None)),
            "10\r\nid: 8\ndata: hi\n\n\r\n"
        );
    }
}
