//! The publish rate: with `--publish-rate 100 --publish-burst 100`, one
//! address publishes at full speed for 3 s while another publishes 20 a
//! second.
//!
//! ```text
//! 127.0.0.62  POST /topics/rate-fast, back to back   200 … 200 (the burst, then 100 a second)
//!                                                   HTTP/1.1 429 … Retry-After: 1 …  (the rest)
//! 127.0.0.63  POST /topics/rate-calm, every 50 ms    200, all of them
//! ```
//!
//! Must hold: the fast one gets 429s, each with `Retry-After`, and at most
//! rate × t + burst acks in its t seconds (at least the burst); the calm
//! one gets every publish acked.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use super::Outcome;
use crate::http::{bad, connect_from, status_of};

const RATE: f64 = 100.0;
const BURST: usize = 100;
const FOR: Duration = Duration::from_secs(3);
const CALM_EVERY: Duration = Duration::from_millis(50);

/// What one publisher got.
#[derive(Default)]
struct Tally {
    acked: usize,
    refused: usize,
    without_retry_after: usize,
    other: Vec<String>,
    secs: f64,
}

/// Runs the fast and the calm publisher side by side; notes the figures.
pub fn run(addr: SocketAddr, out: &mut Outcome) {
    let calm = thread::spawn(move || publish([127, 0, 0, 63], addr, "rate-calm", CALM_EVERY));
    let fast = publish([127, 0, 0, 62], addr, "rate-fast", Duration::ZERO);
    let calm = calm.join().unwrap_or_default();
    let allowed = (RATE * fast.secs) as usize + BURST;
    out.figure(format!(
        "full-speed publisher: {} acked, {}× 429 ({} without Retry-After) in {:.2} s (allowed ≤ {allowed}); \
         20/s publisher: {} acked, {} refused",
        fast.acked, fast.refused, fast.without_retry_after, fast.secs, calm.acked, calm.refused
    ));
    out.require(fast.refused > 0, "the full-speed publisher got no 429");
    out.require(fast.without_retry_after == 0, "a 429 without Retry-After");
    out.require(
        (BURST..=allowed).contains(&fast.acked),
        format!(
            "full-speed publisher: {} acked, not within {BURST}..={allowed}",
            fast.acked
        ),
    );
    out.require(
        calm.refused == 0 && calm.acked > 0,
        "the 20/s publisher was refused",
    );
    for t in [&fast, &calm] {
        out.require(
            t.other.is_empty(),
            format!("publish: {:?}", t.other.first()),
        );
    }
}

/// Publishes to `topic` from `source` every `every` (back to back when
/// zero) for [`FOR`], on keep-alive, connecting again when the server closes.
fn publish(source: [u8; 4], addr: SocketAddr, topic: &str, every: Duration) -> Tally {
    let mut tally = Tally::default();
    let mut conn: Option<BufReader<TcpStream>> = None;
    let start = Instant::now();
    while start.elapsed() < FOR && tally.other.len() < 5 {
        let reader = match conn.take() {
            Some(reader) => conn.insert(reader),
            None => match connect_from(source, addr, None) {
                // A stalled server fails the case instead of hanging it.
                Ok(s) => match s.set_read_timeout(Some(Duration::from_secs(10))) {
                    Ok(()) => conn.insert(BufReader::new(s)),
                    Err(e) => {
                        tally.other.push(format!("read timeout: {e}"));
                        continue;
                    }
                },
                Err(e) => {
                    tally.other.push(format!("connect: {e}"));
                    continue;
                }
            },
        };
        match post(reader, topic) {
            Ok((200, _, keep)) => {
                tally.acked += 1;
                tally.secs = start.elapsed().as_secs_f64();
                if !keep {
                    conn = None;
                }
            }
            Ok((429, retry_after, keep)) => {
                tally.refused += 1;
                tally.without_retry_after += usize::from(!retry_after);
                if !keep {
                    conn = None;
                }
            }
            Ok((status, _, _)) => tally.other.push(format!("status {status}")),
            Err(e) => {
                tally.other.push(e.to_string());
                conn = None;
            }
        }
        thread::sleep(every);
    }
    tally
}

/// One publish: the status, whether a `Retry-After` came, and whether the
/// connection stays open.
fn post(reader: &mut BufReader<TcpStream>, topic: &str) -> io::Result<(u16, bool, bool)> {
    let request =
        format!("POST /topics/{topic} HTTP/1.1\r\nHost: faults\r\nContent-Length: 2\r\n\r\nhi");
    reader.get_mut().write_all(request.as_bytes())?;
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = status_of(line.as_bytes())?;
    let (mut length, mut retry_after, mut keep) = (None, false, true);
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(bad("connection ended inside a response head"));
        }
        if line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        match lower.split_once(':') {
            Some(("content-length", v)) => length = v.trim().parse().ok(),
            Some(("retry-after", _)) => retry_after = true,
            Some(("connection", v)) => keep = !v.contains("close"),
            _ => {}
        }
    }
    let mut body = vec![0; length.ok_or_else(|| bad("no Content-Length"))?];
    reader.read_exact(&mut body)?;
    Ok((status, retry_after, keep))
}
