//! The `data:` lines of a Server-Sent Events body.
//!
//! ```text
//! id: 7\n                ignored
//! data: s42:1250000000\n → "s42:1250000000"
//! \n                     ignored (the event ends; our messages are one line)
//! : keepalive\n          ignored (a comment)
//! ```
//!
//! Lines may end in LF or CRLF, and may arrive split across reads: the
//! unfinished tail waits for the next bytes. Not handled: multi-line data
//! (the bench never publishes a newline).

/// Splits a body into lines and hands on each `data:` field.
#[derive(Debug, Default)]
pub struct DataLines {
    pending: Vec<u8>,
}

impl DataLines {
    /// Adds `bytes` and calls `on_data` with the value of each complete
    /// `data:` line (without the one optional space after the colon).
    pub fn feed(&mut self, bytes: &[u8], on_data: &mut impl FnMut(&[u8])) {
        self.pending.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(offset) = self.pending[start..].iter().position(|&b| b == b'\n') {
            let mut line = &self.pending[start..start + offset];
            start += offset + 1;
            if let Some(stripped) = line.strip_suffix(b"\r") {
                line = stripped;
            }
            if let Some(value) = line.strip_prefix(b"data:") {
                on_data(value.strip_prefix(b" ").unwrap_or(value));
            }
        }
        self.pending.drain(..start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pieces: &[&[u8]]) -> Vec<String> {
        let mut lines = DataLines::default();
        let mut got = Vec::new();
        for piece in pieces {
            lines.feed(piece, &mut |v| {
                got.push(String::from_utf8_lossy(v).into_owned())
            });
        }
        got
    }

    #[test]
    fn data_lines_only() {
        let body: &[u8] = b"id: 1\ndata: s1:5\n\n: keepalive\n\nid: 2\r\ndata:s2:6\r\n\r\n";
        assert_eq!(values(&[body]), ["s1:5", "s2:6"]);
    }

    #[test]
    fn split_lines_wait() {
        assert_eq!(values(&[b"da", b"ta: w", b"1\n", b"data: s1"]), ["w1"]);
    }
}
