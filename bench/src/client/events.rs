//! The `data:` lines of a Server-Sent Events body, each with the last
//! event id seen.
//!
//! ```text
//! id: 7\n                kept: the last event id is now 7
//! data: s42:1250000000\n → (Some(7), "s42:1250000000")
//! \n                     ignored (the event ends; our messages are one line)
//! : keepalive\n          ignored (a comment)
//! ```
//!
//! As in a browser, the last id holds until another `id:` line comes; an
//! id that is not a number counts as none. Lines may end in LF or CRLF, and
//! may arrive split across reads: the unfinished tail waits for the next
//! bytes. Not handled: multi-line data (the bench never publishes a newline).

/// Splits a body into lines and hands on each `data:` field.
#[derive(Debug, Default)]
pub struct DataLines {
    pending: Vec<u8>,
    id: Option<u64>,
}

impl DataLines {
    /// Adds `bytes` and calls `on_data` with the last event id and the
    /// value of each complete `data:` line (without the one optional space
    /// after the colon).
    pub fn feed(&mut self, bytes: &[u8], on_data: &mut impl FnMut(Option<u64>, &[u8])) {
        self.pending.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(offset) = self.pending[start..].iter().position(|&b| b == b'\n') {
            let mut line = &self.pending[start..start + offset];
            start += offset + 1;
            if let Some(stripped) = line.strip_suffix(b"\r") {
                line = stripped;
            }
            if let Some(value) = line.strip_prefix(b"data:") {
                on_data(self.id, value.strip_prefix(b" ").unwrap_or(value));
            } else if let Some(value) = line.strip_prefix(b"id:") {
                let value = value.strip_prefix(b" ").unwrap_or(value);
                self.id = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
            }
        }
        self.pending.drain(..start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(pieces: &[&[u8]]) -> Vec<(Option<u64>, String)> {
        let mut lines = DataLines::default();
        let mut got = Vec::new();
        for piece in pieces {
            lines.feed(piece, &mut |id, v| {
                got.push((id, String::from_utf8_lossy(v).into_owned()))
            });
        }
        got
    }

    fn values(pieces: &[&[u8]]) -> Vec<String> {
        events(pieces).into_iter().map(|(_, v)| v).collect()
    }

    #[test]
    fn data_lines_only() {
        let body: &[u8] = b"id: 1\ndata: s1:5\n\n: keepalive\n\nid: 2\r\ndata:s2:6\r\n\r\n";
        assert_eq!(values(&[body]), ["s1:5", "s2:6"]);
    }

    #[test]
    fn the_last_id_holds() {
        let body: &[u8] = b"data: a\n\nid: 7\ndata: b\n\ndata: c\n\nid:x\ndata: d\n\n";
        let ids: Vec<Option<u64>> = events(&[body]).into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, [None, Some(7), Some(7), None]);
    }

    #[test]
    fn split_lines_wait() {
        assert_eq!(values(&[b"da", b"ta: w", b"1\n", b"data: s1"]), ["w1"]);
    }
}
