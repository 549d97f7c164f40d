//! One thread keeps every WebSocket's clock, so an idle connection needs no
//! writer thread of its own: it pings each client every `--ws-ping-interval`,
//! closes a client silent for `--ws-timeout` (1001) or one its watch
//! condemns (1008; `Connection::watch`), retries a writer that
//! could not be started, and at shutdown closes every connection (1001).
//!
//! ```text
//! ws-timer, every min(ping, timeout − ping) / 4 (20 ms to 1 s):
//!   for each connection:
//!     closing?                         → its writer handles it (none after 2 s: end it)
//!     heard nothing for the timeout?   → close 1001 "client silent"
//!     its watch says close?            → close 1008 with the reason
//!     ping due?                        → 89 00, sent at once or queued
//!     frames wait and no writer runs?  → start one
//! ```
//!
//! The silence deadline is measured from when the reader last got bytes,
//! read at each scan, so a client that answered the last ping is never
//! closed; a scan is at most a quarter of the shorter interval late.

use std::io;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, select};
use log::debug;
use tungstenite::protocol::frame::coding::CloseCode;

use super::connection::Connection;
use super::inner::CLOSE_WAIT;
use super::on_demand;
use super::timer::Timer;

/// Shortest and longest pause between scans.
const MIN_PERIOD: Duration = Duration::from_millis(20);
const MAX_PERIOD: Duration = Duration::from_secs(1);

/// Starts the `ws-timer` thread, scanning often enough for connections
/// that ping every `ping_interval` and time out after `timeout`; it ends
/// when `shutdown` disconnects, closing every connection with 1001.
///
/// # Errors
/// When the thread cannot be spawned.
pub fn start_timer(
    ping_interval: Duration,
    timeout: Duration,
    shutdown: Receiver<()>,
) -> io::Result<Arc<Timer>> {
    // A ping sent late by a scan leaves the client less time to answer
    // before the silence deadline: scan often next to the margin between them.
    let margin = timeout.saturating_sub(ping_interval);
    let period = (ping_interval.min(margin) / 4).clamp(MIN_PERIOD, MAX_PERIOD);
    let timer = Arc::new(Timer::new());
    let shared = Arc::clone(&timer);
    thread::Builder::new()
        .name("ws-timer".into())
        .stack_size(64 * 1024)
        .spawn(move || run(&shared, period, &shutdown))?;
    Ok(timer)
}

fn run(timer: &Timer, period: Duration, shutdown: &Receiver<()>) {
    loop {
        select! {
            recv(shutdown) -> _ => break,
            default(period) => scan(timer, Instant::now()),
        }
    }
    let live = timer.live();
    debug!("ws-timer: closing {} websockets", live.len());
    for inner in live {
        Connection::from_inner(inner).close(CloseCode::Away, "server shutting down");
    }
}

fn scan(timer: &Timer, now: Instant) {
    for inner in timer.live() {
        if inner.closing() {
            // Its writer finishes the close within CLOSE_WAIT; with none
            // running by then (no thread to be had), the socket ends here.
            let stalled = inner.closing_for().is_some_and(|t| t > CLOSE_WAIT * 2);
            if stalled && !inner.outbox().writer_running {
                let _ = inner.stream.shutdown(std::net::Shutdown::Both);
            }
            continue;
        }
        if now >= inner.last_heard() + inner.kit.timeout {
            Connection::from_inner(inner).close(CloseCode::Away, "client silent");
            continue;
        }
        if Connection::from_inner(Arc::clone(&inner)).close_if_watched() {
            continue;
        }
        if inner.ping_due(now) {
            Connection::from_inner(Arc::clone(&inner)).ping();
        }
        let mut outbox = inner.outbox();
        if outbox.owned && !outbox.writer_running {
            on_demand::ensure(&inner, &mut outbox);
        }
    }
}
