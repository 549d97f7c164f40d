//! A topic's rows: its line in `topics`, and letting its oldest messages
//! go, one B-tree removal each, while the history is past its bounds.
//!
//! ```text
//! topics   "news" → (42, 1763755200005, 1001, 5005)   over 1000 messages
//! messages ("news", 1) removed                         → (42, …, 1000, 5000)
//! ```

use std::io;

use redb::{ReadableTable, Table};

use super::bounds::Bounds;

/// A topic's row in `topics`.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Meta {
    pub last_id: u64,
    pub last_time_ms: u64,
    pub held: u64,
    pub bytes: u64,
}

/// Removes `topic`'s oldest messages while the history is past `bounds`.
pub(super) fn evict(
    messages: &mut Table<(&str, u64), (u64, &[u8])>,
    topic: &str,
    meta: &mut Meta,
    bounds: Bounds,
    now_ms: u64,
) -> io::Result<()> {
    loop {
        let oldest = {
            let mut range = messages
                .range((topic, 0)..=(topic, u64::MAX))
                .map_err(io::Error::other)?;
            match range.next() {
                None => return Ok(()),
                Some(entry) => {
                    let (key, value) = entry.map_err(io::Error::other)?;
                    let (time_ms, data) = value.value();
                    (key.value().1, time_ms, data.len() as u64)
                }
            }
        };
        let (id, time_ms, len) = oldest;
        let count = usize::try_from(meta.held).unwrap_or(usize::MAX);
        let bytes = usize::try_from(meta.bytes).unwrap_or(usize::MAX);
        if !bounds.over(count, bytes) && !bounds.expired(time_ms, now_ms) {
            return Ok(());
        }
        messages.remove((topic, id)).map_err(io::Error::other)?;
        meta.held = meta.held.saturating_sub(1);
        meta.bytes = meta.bytes.saturating_sub(len);
    }
}

pub(super) fn read_meta(
    topics: &impl ReadableTable<&'static str, (u64, u64, u64, u64)>,
    topic: &str,
) -> io::Result<Meta> {
    let row = topics.get(topic).map_err(io::Error::other)?;
    Ok(row.map_or(Meta::default(), |row| {
        let (last_id, last_time_ms, held, bytes) = row.value();
        Meta {
            last_id,
            last_time_ms,
            held,
            bytes,
        }
    }))
}

pub(super) fn write_meta(
    topics: &mut Table<&str, (u64, u64, u64, u64)>,
    topic: &str,
    meta: Meta,
) -> io::Result<()> {
    let row = (meta.last_id, meta.last_time_ms, meta.held, meta.bytes);
    topics.insert(topic, row).map_err(io::Error::other)?;
    Ok(())
}
