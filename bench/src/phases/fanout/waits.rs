//! The waits between a fan-out rep's stages: for the server's memory to
//! settle, for every subscriber to be warmed up, for deliveries to drain.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::{Instant, sleep};

use super::subscriber::Crowd;
use super::{DRAIN_LIMIT, WARM_UP_LIMIT};
use crate::client::publisher::Publisher;
use crate::proc::{self, Status};
use crate::stats::count;

/// Samples the server's RSS every 250 ms until two samples agree within 1 %
/// (at most 3 s): a new connection's memory is not all touched at accept.
pub async fn settle(pid: u32) -> std::io::Result<Status> {
    let mut last = proc::status(pid)?;
    for _ in 0..12 {
        sleep(Duration::from_millis(250)).await;
        let now = proc::status(pid)?;
        let steady =
            now.rss_kib.abs_diff(last.rss_kib) * 100 <= last.rss_kib && now.threads == last.threads;
        last = now;
        if steady {
            break;
        }
    }
    Ok(last)
}

/// Publishes warm-up messages until every connected subscriber has one.
pub async fn warm_up(
    publisher: &mut Publisher,
    crowd: &Crowd,
    connected: usize,
) -> Result<Option<String>, String> {
    let deadline = Instant::now() + WARM_UP_LIMIT;
    let mut k = 0u64;
    while Instant::now() < deadline {
        let body = format!("w{k}");
        publisher
            .publish(&crowd.topic, body.as_bytes())
            .await
            .map_err(|e| format!("warm-up publish: {e}"))?;
        k += 1;
        for _ in 0..25 {
            let ready =
                crowd.warmed.load(Ordering::Relaxed) + crowd.cut_off.load(Ordering::Relaxed);
            if ready >= connected {
                return Ok(None);
            }
            sleep(Duration::from_millis(10)).await;
        }
    }
    let missing = connected.saturating_sub(crowd.warmed.load(Ordering::Relaxed));
    Ok(Some(format!(
        "{} subscribers got no warm-up message within 15 s",
        count(missing)
    )))
}

/// Waits until `expected` deliveries, 1 s without progress, or [`DRAIN_LIMIT`].
pub async fn drain(crowd: &Crowd, expected: u64) {
    let deadline = Instant::now() + DRAIN_LIMIT;
    let (mut last, mut last_change) = (0, Instant::now());
    while Instant::now() < deadline {
        let delivered = crowd.delivered.load(Ordering::Relaxed);
        if delivered >= expected {
            return;
        }
        if delivered != last {
            (last, last_change) = (delivered, Instant::now());
        } else if last_change.elapsed() > Duration::from_secs(1) {
            return;
        }
        sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the server's threads are back to `threads_before` and its
/// RSS has stopped falling for 6 s (longer than tinypush's 1-s look for a
/// burst of ended threads), at most 20 s; the last sample.
pub async fn after_close(pid: u32, threads_before: u64) -> std::io::Result<Status> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = proc::status(pid)?;
    let mut lowest_since = Instant::now();
    while Instant::now() < deadline {
        sleep(Duration::from_millis(500)).await;
        let now = proc::status(pid)?;
        if now.threads > threads_before || now.rss_kib < last.rss_kib {
            lowest_since = Instant::now();
        }
        last = now;
        if lowest_since.elapsed() >= Duration::from_secs(6) {
            break;
        }
    }
    Ok(last)
}
