//! One SSE stream at full speed: a subscriber, and a publisher sending
//! 64 KiB messages back to back (each waiting for its 200).
//!
//! ```text
//! publisher   POST /topics/t  (64 KiB "s…xxxx")  → 200, and again, for the stream time
//! subscriber  GET /topics/t/sse                  ← id: N / data: s…xxxx, counted in body bytes
//! ```
//!
//! MB/s is decoded body bytes (10^6 a MB) the subscriber read in the window.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Instant, sleep};

use super::{Outcome, Settings, Target, gone};
use crate::client::publisher::Publisher;
use crate::client::sse::SseReader;
use crate::proc::Window;
use crate::table::{Format, Row, Value};

/// Size of each message.
const MESSAGE_BYTES: usize = 64 * 1024;

/// The row this phase fills.
pub fn rows() -> Vec<Row> {
    let label = "one SSE stream, 64 KiB messages back to back: MB/s";
    vec![Row::new("stream", 4, label, Format::Tenths)]
}

/// Reads the stream until `stop`, adding its body bytes to `bytes`; why it
/// ended, if the server ended it first.
async fn count_bytes(
    mut reader: SseReader,
    bytes: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let mut ignore = |_: Option<u64>, _: &[u8]| {};
    loop {
        tokio::select! {
            _ = stop.changed() => return Ok(()),
            read = reader.read(&mut ignore) => match read {
                Ok(Some(n)) => bytes.fetch_add(n as u64, Ordering::Relaxed),
                Ok(None) => return Err("the server ended the stream".to_string()),
                Err(e) => return Err(e.to_string()),
            },
        };
    }
}

/// Runs one rep.
pub async fn run(t: Target, s: &Settings, tag: &str) -> Result<Outcome, String> {
    let topic = format!("bench-{tag}");
    let mut publisher = Publisher::connect(t.addr)
        .await
        .map_err(|e| format!("publisher connect: {e}"))?;
    let reader = SseReader::open(t.addr, &format!("/topics/{topic}/sse"))
        .await
        .map_err(|e| format!("subscribe: {e}"))?;
    let bytes = Arc::new(AtomicU64::new(0));
    let (stop, stopped) = watch::channel(false);
    let reading = tokio::spawn(count_bytes(reader, Arc::clone(&bytes), stopped));
    // A warm-up message first: some servers subscribe after the head is out.
    publisher
        .publish(&topic, b"w0")
        .await
        .map_err(|e| format!("warm-up publish: {e}"))?;
    let warm_by = Instant::now() + Duration::from_secs(5);
    while bytes.load(Ordering::Relaxed) == 0 && Instant::now() < warm_by {
        sleep(Duration::from_millis(10)).await;
    }
    let mut body = vec![b'x'; MESSAGE_BYTES];
    body[0] = b's';
    let (start_bytes, window) = (
        bytes.load(Ordering::Relaxed),
        Window::open(t.pid).map_err(gone)?,
    );
    let deadline = Instant::now() + s.stream;
    while Instant::now() < deadline {
        publisher
            .publish(&topic, &body)
            .await
            .map_err(|e| format!("publish: {e}"))?;
    }
    let read = bytes.load(Ordering::Relaxed) - start_bytes;
    let measured = window.close().map_err(gone)?;
    let _ = stop.send(true);
    let ended = reading.await.map_err(|e| e.to_string())?;
    let notes = ended
        .err()
        .map(|why| format!("the stream ended early: {why}"));
    Ok(Outcome {
        values: vec![Value {
            key: "stream".into(),
            nums: vec![read as f64 / measured.secs / 1e6],
            idle: Some(measured.idle),
        }],
        window_notes: notes.into_iter().collect(),
        ..Outcome::default()
    })
}
