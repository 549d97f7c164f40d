//! The two demo streams: `/stream` (chunked text) and `/event` (SSE).
//!
//! Each is one `select!` loop over its data, a deadline or a keepalive tick,
//! the client hanging up and the server shutting down:
//!
//! ```text
//! GET /stream?count=2&interval_ms=1000        GET /event
//!
//! 6\r\nstart\n\r\n                             f\r\nid: 1\ndata: 1\n\n\r\n
//! 7\r\nhoge:0\n\r\n          (1 s later)       f\r\nid: 2\ndata: 2\n\n\r\n   (1 s later)
//! 7\r\nhoge:1\n\r\n          (1 s later)       ...
//! 10\r\nmessage is over\n\r\n
//! 4\r\nbye\n\r\n
//! 0\r\n\r\n
//! ```
//!
//! `/stream` says `process timeout` instead of `message is over` when
//! `timeout_ms` passes first, and `bye` always comes last. `/event` counts on
//! from `Last-Event-ID` + 1 (or `since` + 1) when the browser reconnects.

use std::io;

use crossbeam_channel::{after, select, tick};

use super::params::{cursor, millis, number};
use crate::error::Result;
use crate::http::exchange::{Exchange, Outcome, require_get};
use crate::http::stream::{self, End, Opened};
use crate::sse::{Event, SseWriter};

/// Most lines `/stream` may be asked for.
pub const MAX_COUNT: u64 = 100_000;

/// `GET /stream?count=5&interval_ms=1000&timeout_ms=10000`.
pub fn stream(x: &mut Exchange) -> Result<Outcome> {
    require_get(x.req)?;
    let count = number(x.req, "count", 5, (0, MAX_COUNT), COUNT_WHY)?;
    let interval = millis(x.req, "interval_ms", 1000, INTERVAL_WHY)?;
    let timeout = millis(x.req, "timeout_ms", 10_000, TIMEOUT_WHY)?;
    let mut live = match stream::open(x, "text/plain; charset=utf-8")? {
        Opened::Live(live) => live,
        Opened::HeadOnly(outcome) => return Ok(outcome),
    };
    let ticks = tick(interval);
    let deadline = after(timeout);
    let ended = (|| -> io::Result<End> {
        live.body.chunk(b"start\n")?;
        let mut sent = 0;
        let last = loop {
            if sent == count {
                break Some("message is over\n");
            }
            select! {
                recv(ticks) -> _ => {
                    live.body.chunk(format!("hoge:{sent}\n").as_bytes())?;
                    sent += 1;
                }
                recv(deadline) -> _ => break Some("process timeout\n"),
                recv(live.closed()) -> _ => return Ok(End::Gone),
                recv(live.shutdown()) -> _ => break None,
            }
        };
        if let Some(line) = last {
            live.body.chunk(line.as_bytes())?;
        }
        live.body.chunk(b"bye\n")?;
        Ok(End::Done)
    })();
    Ok(live.finish(ended))
}

/// `GET /event?interval_ms=1000`, resuming after `Last-Event-ID` or `since`.
pub fn event(x: &mut Exchange) -> Result<Outcome> {
    require_get(x.req)?;
    let interval = millis(x.req, "interval_ms", 1000, INTERVAL_WHY)?;
    let first = cursor(x.req, true)?.map_or(1, |last| last + 1);
    let keepalive = tick(x.shared.config.http.stream_keepalive);
    let mut live = match stream::open(x, "text/event-stream")? {
        Opened::Live(live) => live,
        Opened::HeadOnly(outcome) => return Ok(outcome),
    };
    let ticks = tick(interval);
    let (closed, shutdown) = (live.closed().clone(), live.shutdown().clone());
    let mut sse = SseWriter::new(&mut live.body);
    let ended = (|| -> io::Result<End> {
        // The first event at once, so a new page shows a number right away.
        sse.send(&Event::data(first.to_string()).id(first))?;
        for n in first + 1.. {
            select! {
                recv(ticks) -> _ => sse.send(&Event::data(n.to_string()).id(n))?,
                recv(keepalive) -> _ => sse.comment("keepalive")?,
                recv(closed) -> _ => return Ok(End::Gone),
                recv(shutdown) -> _ => return Ok(End::Done),
            }
        }
        Ok(End::Done)
    })();
    Ok(live.finish(ended))
}

const COUNT_WHY: &str = "count must be a whole number from 0 to 100000";
const INTERVAL_WHY: &str = "interval_ms must be a whole number from 1 to 3600000";
const TIMEOUT_WHY: &str = "timeout_ms must be a whole number from 1 to 3600000";
