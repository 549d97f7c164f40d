//! Durable publishing with group commit: one thread writes what every
//! publisher sent meanwhile in one transaction, and one `fsync` answers
//! them all.
//!
//! ```text
//! publisher 1 ─┐                          store-commit thread
//! publisher 2 ─┼─► queue ─► take all waiting: [news "a", news "b", sport "c"]
//! publisher 3 ─┘            number under each topic's lock: news 41, 42; sport 7
//!   (each waits              one write transaction, one fsync      (~200 µs here)
//!    for its reply)          keep each in its topic, schedule the fan-out
//!                            reply 200 {"id":41}, {"id":42}, {"id":7}
//! ```
//!
//! A sync costs the same for one message as for sixteen, so the more
//! publishers wait, the more each commit carries: the rate grows with them
//! instead of being one sync per publish.
//!
//! Only this thread numbers durable messages, in queue order, so a topic's
//! ids on disk follow each other. A message is kept (shown to subscribers,
//! replayed) only once it is on disk: no one ever sees an id that a crash
//! could take back. If the write fails, the numbers are taken back and
//! every publisher of the batch gets 503: nothing was acknowledged, and no
//! id is used twice.
//!
//! While a publish waits here its topic counts as busy (`writing`), so it
//! is not forgotten meanwhile: the next lookup of the name would read a
//! last id from disk that this write has not reached yet.
//!
//! The same thread lets go of messages past the TTL in every topic, once a
//! minute (topics being published to also evict their own on each commit).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam_channel::{Receiver, RecvTimeoutError, SendTimeoutError, Sender, bounded};
use log::{debug, error, warn};

use super::fanout::Fanout;
use super::message::{Encodings, Published, Receipt};
use super::topic::Topic;
use crate::clock;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::store::{Bounds, Record, Store};

/// Publishes waiting for the writer; a publisher past it waits to queue.
const QUEUE: usize = 4096;
/// Most messages in one transaction.
const MAX_BATCH: usize = 1024;
/// Longest a publisher waits to queue, and again for its reply.
const REPLY_WAIT: Duration = Duration::from_secs(10);
/// How often every topic's expired messages are let go.
const EXPIRE_EVERY: Duration = Duration::from_secs(60);

/// The refusal when the disk write failed.
const NOT_WRITTEN: Error = Error::Unavailable("the message could not be written to disk");
/// The refusal when the write did not end in time.
const TOO_SLOW: Error = Error::Unavailable("the disk is too slow; try again");
/// The refusal once the writer thread has ended (it panicked).
const STOPPED: Error =
    Error::Unavailable("the history store has stopped; the server needs a restart");
/// Most body bytes in one transaction: a burst of large messages is
/// written in several, not held all at once.
const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;

/// One publish waiting for its write. It counts in its topic's `writing`
/// while it lives: however it ends (written, refused, or dropped with a
/// writer that panicked), dropping it gives the count back.
struct Request {
    topic: Arc<Topic>,
    data: Bytes,
    reply: Sender<Result<Receipt>>,
}

impl Drop for Request {
    fn drop(&mut self) {
        self.topic.lock().writing -= 1;
    }
}

/// The publishers' end of the writer thread.
pub(super) struct Committer {
    queue: Sender<Request>,
    /// The last write failed (or the writer stopped): `/healthz` says so.
    failing: Arc<AtomicBool>,
}

/// What the writer thread holds.
struct Writer {
    failing: Arc<AtomicBool>,
    store: Arc<Store>,
    bounds: Bounds,
    fanout: Arc<Fanout>,
    metrics: Arc<Metrics>,
    requests: Receiver<Request>,
}

impl Committer {
    /// Starts the `store-commit` thread; it ends once every `Committer`
    /// handle is dropped.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn start(
        store: Arc<Store>,
        bounds: Bounds,
        fanout: Arc<Fanout>,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Committer> {
        let (queue, requests) = bounded(QUEUE);
        let failing = Arc::new(AtomicBool::new(false));
        let writer = Writer {
            failing: Arc::clone(&failing),
            store,
            bounds,
            fanout,
            metrics,
            requests,
        };
        thread::Builder::new()
            .name("store-commit".into())
            .spawn(move || writer.run())?;
        Ok(Committer { queue, failing })
    }

    /// Whether writes reach the disk: the last one did, and the writer runs.
    pub fn healthy(&self) -> bool {
        !self.failing.load(Ordering::Relaxed)
    }

    /// Publishes `data` to `topic` once it is on disk. The caller has
    /// counted the write in the topic's `writing`; the request gives it
    /// back when it is dropped.
    ///
    /// # Errors
    /// 503 when the write failed or took too long, or the writer stopped.
    pub fn publish(&self, topic: Arc<Topic>, data: Bytes) -> Result<Receipt> {
        let (reply, answer) = bounded(1);
        let request = Request { topic, data, reply };
        match self.queue.send_timeout(request, REPLY_WAIT) {
            Ok(()) => {}
            Err(SendTimeoutError::Timeout(_)) => return Err(TOO_SLOW),
            Err(SendTimeoutError::Disconnected(_)) => return Err(STOPPED),
        }
        match answer.recv_timeout(REPLY_WAIT) {
            Ok(receipt) => receipt,
            // It may still be written; the publisher cannot know, and a
            // retry is a duplicate at worst, never a loss.
            Err(RecvTimeoutError::Timeout) => Err(TOO_SLOW),
            Err(RecvTimeoutError::Disconnected) => Err(STOPPED),
        }
    }
}

/// Marks the store failing if the writer thread ends in a panic.
struct OnPanic(Arc<AtomicBool>);

impl Drop for OnPanic {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

impl Writer {
    fn run(self) {
        let _failing_on_panic = OnPanic(Arc::clone(&self.failing));
        let mut next_expiry = Instant::now();
        loop {
            if Instant::now() >= next_expiry {
                self.expire();
                next_expiry = Instant::now() + EXPIRE_EVERY;
            }
            let first = match self.requests.recv_timeout(EXPIRE_EVERY) {
                Ok(request) => request,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            self.commit(self.batch(first));
        }
    }

    /// `first` and what waits behind it, up to [`MAX_BATCH`] messages and
    /// [`MAX_BATCH_BYTES`].
    fn batch(&self, first: Request) -> Vec<Request> {
        let mut bytes = first.data.len();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
            let Ok(next) = self.requests.try_recv() else {
                break;
            };
            bytes += next.data.len();
            batch.push(next);
        }
        batch
    }

    /// Numbers, writes and keeps one batch, and answers its publishers.
    fn commit(&self, batch: Vec<Request>) {
        let messages: Vec<Arc<Published>> = batch.iter().map(number).collect();
        let records: Vec<Record<'_>> = messages
            .iter()
            .map(|m| Record {
                topic: &m.topic,
                id: m.id,
                time_ms: m.time_ms,
                data: &m.data,
            })
            .collect();
        let written = self.store.append(&records, self.bounds, clock::now_ms());
        match &written {
            Ok(()) => {
                self.metrics.store_commits.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => error!("{} messages not written to disk: {e}", batch.len()),
        }
        self.failing.store(written.is_err(), Ordering::Relaxed);
        for (request, message) in batch.into_iter().zip(messages) {
            let answer = match written {
                Ok(()) => Ok(self.keep(&request.topic, message)),
                Err(_) => {
                    request.topic.lock().unnumber();
                    Err(NOT_WRITTEN)
                }
            };
            // A publisher that gave up waiting no longer listens.
            let _ = request.reply.try_send(answer);
        }
    }

    /// Keeps a written message in its topic and has it fanned out.
    fn keep(&self, topic: &Arc<Topic>, message: Arc<Published>) -> Receipt {
        let mut state = topic.lock();
        let receipt = Receipt {
            id: message.id,
            receivers: state.subscribers.len(),
        };
        state.keep(message, self.bounds);
        let schedule = state.take_schedule();
        drop(state);
        if schedule {
            self.fanout.schedule(Arc::clone(topic));
        }
        self.metrics.published.fetch_add(1, Ordering::Relaxed);
        receipt
    }

    /// Lets go of messages past the TTL on disk.
    fn expire(&self) {
        match self.store.expire(self.bounds, clock::now_ms()) {
            Ok(0) => {}
            Ok(n) => debug!("{n} messages past the TTL let go"),
            Err(e) => warn!("expired messages not let go: {e}"),
        }
    }
}

/// Gives the request's message its id and time, under its topic's lock.
fn number(request: &Request) -> Arc<Published> {
    let mut state = request.topic.lock();
    let (id, time_ms) = state.number();
    Arc::new(Published {
        id,
        topic: Arc::clone(&request.topic.name),
        time_ms,
        data: request.data.clone(),
        encoded: Encodings::default(),
    })
}
