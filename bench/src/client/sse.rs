//! An SSE subscriber: `GET /topics/{t}/sse`, a 200 head, then an open body
//! (chunked from every server here) whose `data:` lines are the messages.
//!
//! ```text
//! → GET /topics/bench/sse HTTP/1.1\r\nHost: …\r\nAccept: text/event-stream\r\n\r\n
//! ← HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n
//! ← 18\r\nid: 1\ndata: s0:1250000000\n\n\r\n
//! ```

use std::io;
use std::net::SocketAddr;

use super::chunked::Dechunker;
use super::events::DataLines;
use super::http::{Conn, Framing};

/// An open SSE stream.
pub struct SseReader {
    conn: Conn,
    chunks: Option<Dechunker>,
    body: Vec<u8>,
    lines: DataLines,
}

impl SseReader {
    /// Connects, asks for `path` and reads the head.
    ///
    /// # Errors
    /// The connect fails, or the answer is not a 200 within the I/O timeout.
    pub async fn open(addr: SocketAddr, path: &str) -> io::Result<SseReader> {
        let mut conn = Conn::open(addr).await?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
        conn.send(request.as_bytes()).await?;
        let head = conn.read_head().await?;
        if head.status != 200 {
            return Err(io::Error::other(format!("HTTP {}", head.status)));
        }
        Ok(SseReader {
            conn,
            chunks: (head.framing == Framing::Chunked).then(Dechunker::default),
            body: Vec::new(),
            lines: DataLines::default(),
        })
    }

    /// Waits for more of the body and calls `on_data` for each complete
    /// `data:` line in it (with the last event id, if any); the number of body bytes read, `None` once the
    /// stream has ended. Cancel-safe: nothing is lost if dropped while waiting.
    ///
    /// # Errors
    /// The read fails, or the chunked framing is broken.
    pub async fn read(
        &mut self,
        on_data: &mut impl FnMut(Option<u64>, &[u8]),
    ) -> io::Result<Option<usize>> {
        loop {
            // Bytes may already wait in `buf` (those read with the head).
            self.body.clear();
            match &mut self.chunks {
                Some(chunks) => {
                    let used = chunks.feed(&self.conn.buf, &mut self.body)?;
                    self.conn.buf.drain(..used);
                    if chunks.done() {
                        return Ok(None);
                    }
                }
                None => self.body.append(&mut self.conn.buf),
            }
            if !self.body.is_empty() {
                self.lines.feed(&self.body, on_data);
                return Ok(Some(self.body.len()));
            }
            if self.conn.fill().await? == 0 {
                return Ok(None);
            }
        }
    }
}
