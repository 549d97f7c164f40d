//! The hub's end of a WebSocket subscriber, which exists before its
//! connection does: subscribing comes before the 101, so that a refusal can
//! still be a 503. Until [`WsSink::bind`] it keeps what it is offered;
//! after, it offers each message's frame (made once for every subscriber)
//! straight to the connection (`ws/deliver.rs`):
//!
//! ```text
//! offer([m7])  not bound yet  → kept (past the queue cap: too slow)
//! bind(conn)                  → gap notice, replay, what was kept: queued in order
//! offer([m8])  bound          → 81 05 "hello" sent now, or queued (full: close 1008)
//! ```
//!
//! One sink serves every topic of a multi-topic connection; fan-out
//! threads of different topics offer to it one at a time.
//!
//! Once bound, each offer first asks the connection's watch
//! (`ws::Connection::watch`; `ws.rs` has it ask whether the token was
//! revoked): when it gives a reason, the connection closes with 1008 and
//! that reason, and the hub drops the subscriber. The shared WebSocket
//! timer asks the same watch, so a quiet subscription closes too.

use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, Utf8Bytes};

use super::wire::json_object;
use crate::hub::{Offer, Published, Sink};
use crate::ws::{self, Offered};

/// The message as its frame's payload: bare text, or the JSON object.
fn payload(m: &Published, json: bool) -> &Bytes {
    if json { json_object(m) } else { &m.data }
}

/// The message for a WebSocket's queue.
pub fn message(m: &Published, json: bool) -> Message {
    match Utf8Bytes::try_from(payload(m, json).clone()) {
        Ok(text) => Message::Text(text),
        // Cannot happen: messages and their encodings are made from Strings.
        Err(_) => Message::Binary(payload(m, json).clone()),
    }
}

/// The message's whole frame, made once and shared by every subscriber.
fn frame(m: &Published, json: bool) -> &Bytes {
    let slot = if json {
        &m.encoded.ws_json
    } else {
        &m.encoded.ws_text
    };
    slot.get_or_init(|| ws::text_frame(payload(m, json).clone()))
}

/// The hub's end of a WebSocket subscriber: kept messages, then a
/// connection.
pub struct WsSink {
    json: bool,
    cap: usize,
    state: Mutex<Binding>,
}

enum Binding {
    /// No connection yet: what was offered meanwhile; `true` once too slow.
    Waiting(Vec<Arc<Published>>, bool),
    Bound(ws::Connection),
}

impl WsSink {
    /// A sink sending bare text, or the JSON objects when `json`; at most
    /// `cap` messages kept before the connection exists.
    pub fn new(json: bool, cap: usize) -> WsSink {
        WsSink {
            json,
            cap,
            state: Mutex::new(Binding::Waiting(Vec::new(), false)),
        }
    }

    fn state(&self) -> MutexGuard<'_, Binding> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `first`, then what was offered so far, and sends everything
    /// after through `conn`.
    pub fn bind(&self, conn: &ws::Connection, first: Vec<Message>) {
        let mut state = self.state();
        let Binding::Waiting(offered, too_slow) = &mut *state else {
            return;
        };
        let offered = offered.iter().map(|m| message(m, self.json));
        conn.enqueue(first.into_iter().chain(offered));
        if *too_slow {
            conn.close(CloseCode::Policy, "client too slow");
        }
        *state = Binding::Bound(conn.clone());
    }
}

impl Sink for WsSink {
    fn offer(&self, messages: &[Arc<Published>]) -> Offer {
        match &mut *self.state() {
            Binding::Waiting(offered, too_slow) if offered.len() + messages.len() > self.cap => {
                *too_slow = true;
                Offer::TooSlow
            }
            Binding::Waiting(offered, _) => {
                offered.extend(messages.iter().cloned());
                Offer::Taken
            }
            Binding::Bound(conn) => {
                if conn.close_if_watched() {
                    return Offer::Gone;
                }
                let frame = |i: usize| frame(&messages[i], self.json).clone();
                let message = |i: usize| message(&messages[i], self.json);
                match conn.offer(messages.len(), frame, message) {
                    Offered::Sent | Offered::Queued => Offer::Taken,
                    Offered::TooSlow => Offer::TooSlow,
                    Offered::Closed => Offer::Gone,
                }
            }
        }
    }
}
