//! A publisher on one keep-alive connection: `POST /topics/{t}`, one at a
//! time, each waiting for its reply.
//!
//! ```text
//! → POST /topics/bench HTTP/1.1\r\nHost: …\r\nContent-Length: 14\r\n\r\ns42:1250000000
//! ← HTTP/1.1 200 OK\r\n…\r\n{"id":43,"topic":"bench","receivers":1000}
//! ```
//!
//! For fan-out, [`Publisher::publish_paced`] keeps to a schedule whatever
//! the server's pace: requests go out pipelined at their times, and the
//! replies, which HTTP/1.1 sends in request order, are read by a task of
//! their own. A busy server then makes messages late, not fewer, and their
//! lateness shows in the delivery times (no coordinated omission).
//!
//! A server may close a keep-alive connection that sat idle (tinypush after
//! 30 s, while 10,000 subscribers connect): a publish that finds the reused
//! connection closed is sent once more on a new one.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::time::{MissedTickBehavior, interval, timeout};

use super::http::{Conn, Framing, IO_TIMEOUT};

/// Publishes over one kept-alive connection.
pub struct Publisher {
    addr: SocketAddr,
    conn: Option<Conn>,
}

impl Publisher {
    /// Opens the connection now, so it is there before any subscriber.
    ///
    /// # Errors
    /// The connect fails.
    pub async fn connect(addr: SocketAddr) -> io::Result<Publisher> {
        Ok(Publisher {
            addr,
            conn: Some(Conn::open(addr).await?),
        })
    }

    /// Publishes `body` to `topic` and waits for the 200.
    ///
    /// # Errors
    /// The connection fails twice, or the server answers other than 200.
    pub async fn publish(&mut self, topic: &str, body: &[u8]) -> io::Result<()> {
        let reused = self.conn.is_some();
        match self.try_publish(topic, body).await {
            Err(e) if reused && e.kind() != io::ErrorKind::Other => {
                self.conn = None;
                self.try_publish(topic, body).await
            }
            other => other,
        }
    }

    async fn try_publish(&mut self, topic: &str, body: &[u8]) -> io::Result<()> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => self.conn.insert(Conn::open(self.addr).await?),
        };
        let request = request(self.addr, topic, body);
        let answered = async {
            conn.send(&request).await?;
            let head = conn.read_head().await?;
            conn.read_body(head.framing).await?;
            Ok::<_, io::Error>(head)
        }
        .await;
        let head = answered.inspect_err(|_| self.conn = None)?;
        if head.close || head.framing == Framing::UntilClose {
            self.conn = None;
        }
        if head.status != 200 {
            // `Other`: the server answered, so a retry would get the same.
            return Err(io::Error::other(format!(
                "publish got HTTP {}",
                head.status
            )));
        }
        Ok(())
    }
}

impl Publisher {
    /// Publishes `messages` bodies to `topic`, `rate` a second, without
    /// waiting for replies; `body(seq)` is called at each message's send time.
    /// Returns once every reply has come.
    ///
    /// # Errors
    /// A write or read fails, a reply is not a 200, or the replies stall
    /// (each has the I/O timeout after the one before).
    pub async fn publish_paced(
        mut self,
        topic: &str,
        messages: usize,
        rate: u32,
        body: impl Fn(usize) -> Vec<u8>,
    ) -> io::Result<()> {
        let conn = match self.conn.take() {
            Some(conn) => conn,
            None => Conn::open(self.addr).await?,
        };
        let (mut replies, mut requests) = conn.split();
        let reading = tokio::spawn(async move {
            for _ in 0..messages {
                let head = replies.read_head().await?;
                replies.read_body(head.framing).await?;
                if head.status != 200 {
                    return Err(io::Error::other(format!(
                        "publish got HTTP {}",
                        head.status
                    )));
                }
            }
            Ok(())
        });
        let mut ticks = interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
        // A late tick (a busy client) is caught up at once: the count stays fixed.
        ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
        for seq in 0..messages {
            ticks.tick().await;
            let request = request(self.addr, topic, &body(seq));
            let written = timeout(IO_TIMEOUT, requests.write_all(&request)).await;
            written
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "publish write stalled"))??;
        }
        reading.await.map_err(io::Error::other)?
    }
}

/// `POST /topics/{topic}` with `body`.
fn request(addr: SocketAddr, topic: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST /topics/{topic} HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}
