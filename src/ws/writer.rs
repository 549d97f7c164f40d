//! The writing side of a WebSocket: one thread `select!`ing over everything
//! that can make it write, taking the protocol lock only to write a frame.

use std::io;
use std::net::Shutdown;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender, after, at, never, select, tick};
use log::{debug, info};
use tungstenite::Message;
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;

use super::{CLOSE_WAIT, Inner, Options};
use crate::hub::Published;

/// Stack of the writer thread: it only formats frames.
const WRITER_STACK: usize = 64 * 1024;

/// The channels the writer listens on.
pub(super) struct Channels {
    /// Messages from `Connection::send` and `try_send`.
    pub queue: Receiver<Message>,
    /// A close someone asked for.
    pub close_rx: Receiver<CloseFrame>,
    /// Disconnects when the reader has ended.
    pub reader_done: Receiver<()>,
    /// Disconnects when the server shuts down.
    pub shutdown: Receiver<()>,
    /// Held, never sent on: dropped when the writer ends (`Connection::closed`).
    pub _alive: Sender<()>,
}

struct Writer {
    inner: Arc<Inner>,
    channels: Channels,
    options: Options,
}

/// How the writing ended.
enum Ending {
    /// Send this close frame, then wait for the client's reply.
    Close(CloseFrame),
    /// A close is already under way (the reader failed the connection):
    /// just wait for the reader, bounded.
    Closing,
    /// The client is gone: nothing more can be sent.
    Gone,
}

/// Starts the writer thread, named `ws-write-{id}`.
pub(super) fn spawn(
    id: u64,
    inner: Arc<Inner>,
    channels: Channels,
    options: Options,
) -> io::Result<JoinHandle<()>> {
    let writer = Writer {
        inner,
        channels,
        options,
    };
    thread::Builder::new()
        .name(format!("ws-write-{id}"))
        .stack_size(WRITER_STACK)
        .spawn(move || writer.run())
}

impl Writer {
    fn run(mut self) {
        let peer = self.inner.peer;
        let ending = self.serve();
        if let Ending::Close(frame) = &ending {
            debug!(
                "{peer} websocket closing: {} {}",
                u16::from(frame.code),
                frame.reason
            );
            self.inner.write_close(frame.clone());
        }
        if !matches!(ending, Ending::Gone) {
            // The close handshake: the reader sees the client's reply, or
            // the client's end of stream, and ends.
            select! {
                recv(self.channels.reader_done) -> _ => {}
                recv(after(CLOSE_WAIT)) -> _ => debug!("{peer} websocket: no close reply"),
            }
        }
        // Ends the TCP connection and wakes a reader blocked in `read`.
        let _ = self.inner.stream.shutdown(Shutdown::Both);
    }

    /// Writes until the connection should end.
    fn serve(&mut self) -> Ending {
        let ping = tick(self.options.ping_interval);
        let heartbeat = self.options.heartbeat.map_or_else(never, tick);
        let (live, render) = match self.options.push.take() {
            Some(push) => {
                // The gap and the replay go out before any live message, in
                // order; each replayed message is let go once it is sent.
                let gap = push.gap.into_iter();
                let replay = push.replay.into_iter().map(|m| (push.render)(&m));
                if let Err(e) = gap
                    .chain(replay)
                    .try_for_each(|message| self.inner.write(message))
                {
                    return self.write_failed(&e);
                }
                (push.live, push.render)
            }
            None => (never(), render_nothing as fn(&Published) -> Message),
        };
        let c = &self.channels;
        loop {
            let heard = *self.inner.heard.lock().unwrap_or_else(|p| p.into_inner());
            let silent = at(heard + self.options.timeout);
            let sent = select! {
                recv(c.queue) -> message => match message {
                    Ok(message) => self.inner.write(message),
                    Err(_) => return Ending::Gone,
                },
                recv(live) -> message => match message {
                    Ok(message) => self.inner.write(render(&message)),
                    // The hub dropped this subscriber for falling behind.
                    Err(_) => return self.interrupt(CloseCode::Policy, "client too slow"),
                },
                recv(heartbeat) -> _ => self.inner.write(Message::text("heartbeat")),
                recv(ping) -> _ => self.inner.write(Message::Ping(Default::default())),
                recv(silent) -> _ => return self.interrupt(CloseCode::Away, "client silent"),
                recv(c.close_rx) -> frame => return frame.map_or(Ending::Gone, Ending::Close),
                recv(c.shutdown) -> _ => return self.interrupt(CloseCode::Away, "server shutting down"),
                recv(c.reader_done) -> _ => return Ending::Gone,
            };
            if let Err(e) = sent {
                return self.write_failed(&e);
            }
        }
    }

    /// A write failed: the client is gone, unless the reader has just failed
    /// the connection (then the write was refused, and the close goes on).
    fn write_failed(&self, e: &tungstenite::Error) -> Ending {
        debug!("{} websocket write failed: {e}", self.inner.peer);
        if self.inner.start_closing() {
            Ending::Gone
        } else {
            Ending::Closing
        }
    }

    /// A close the writer decides on itself; logged like `Connection::close`.
    fn interrupt(&self, code: CloseCode, reason: &'static str) -> Ending {
        if !self.inner.start_closing() {
            // Someone else's close came first: send theirs if it is waiting
            // (a `Connection::close`), else the reader has failed the
            // connection and its close frame is out already.
            return self
                .channels
                .close_rx
                .try_recv()
                .map_or(Ending::Closing, Ending::Close);
        }
        info!(
            "{} websocket interrupted: {} {reason}",
            self.inner.peer,
            u16::from(code)
        );
        Ending::Close(CloseFrame {
            code,
            reason: reason.into(),
        })
    }
}

/// The renderer of a connection with no subscription; never called.
fn render_nothing(_: &Published) -> Message {
    Message::text("")
}
