//! The durable history: every topic's messages and last id, on disk in one
//! redb file (`DATA_DIR/history.redb`), so a restart loses nothing that was
//! acknowledged and ids go on from where they were.
//!
//! Two tables, both B-trees, written in one transaction per commit:
//!
//! ```text
//! messages   ("news", 41) → (1763755200000, b"hello")    (topic, id) → (time, body)
//!            ("news", 42) → (1763755200005, b"world")    a topic's messages sit together, oldest first
//! topics     "news" → (42, 1763755200005, 2, 10)         last id, last time, messages held, bytes held
//! ```
//!
//! A commit ([`Store::append`]) inserts a batch of messages, lets each
//! touched topic's oldest go past the bounds (the same [`Bounds`] as in
//! memory), and returns once redb has called `fsync`. redb writes every page
//! with a checksum and flips between two commit slots: after a crash it
//! opens the last commit whose checksum holds, so a torn last write is
//! rolled back, never half kept. Pages freed by evicted messages are reused
//! by later commits, so the file stays as large as the history it holds.
//!
//! A topic's row in `topics` outlives its messages (all evicted by age, say):
//! its last id is what keeps ids from ever going back.
//!
//! Every page is checked when the file is opened. A file damaged beyond
//! what redb repairs (cut short, overwritten) is not a reason to stay down:
//! it is set aside as `history.redb.damaged-SECS`, and a new file starts
//! whose ids begin after a floor, the time of the reset in microseconds
//! (`floor → 1763755200000000`), above any id the lost file can have given
//! (that would take a message a microsecond since it began). So
//! ids still never go back, and a returning subscriber's cursor falls
//! below the new history: it gets a gap event naming what was lost.
//!
//! Left out: compaction (the file does not shrink after a burst of large
//! messages), and any format but this one.

mod bounds;
mod file;
mod rows;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

pub use bounds::Bounds;
use rows::{Meta, evict, read_meta, write_meta};

/// The file in the data dir.
pub const FILE_NAME: &str = "history.redb";

/// (topic, id) → (time in ms since the Unix epoch, body).
const MESSAGES: TableDefinition<(&str, u64), (u64, &[u8])> = TableDefinition::new("messages");
/// topic → (last id, last time, messages held, bytes held).
const TOPICS: TableDefinition<&str, (u64, u64, u64, u64)> = TableDefinition::new("topics");

/// The open history file.
pub struct Store {
    db: Database,
    file: PathBuf,
    floor: u64,
}

/// One message to write.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Its topic.
    pub topic: &'a str,
    /// Its id in the topic.
    pub id: u64,
    /// When it was published, in ms since the Unix epoch.
    pub time_ms: u64,
    /// The body.
    pub data: &'a [u8],
}

/// One message read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Its id in the topic.
    pub id: u64,
    /// When it was published, in ms since the Unix epoch.
    pub time_ms: u64,
    /// The body.
    pub data: Vec<u8>,
}

/// A topic as the disk holds it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    /// The last id ever given (0: never published).
    pub last_id: u64,
    /// The file's floor: its ids began after it (0 unless a damaged file
    /// was replaced).
    pub base: u64,
    /// The time of that message.
    pub last_time_ms: u64,
    /// The history within the bounds, oldest first.
    pub messages: Vec<Stored>,
}

impl Store {
    /// Opens (or creates) the history in `dir`, repairing it if the last
    /// run ended in a crash, and replacing it if it is damaged beyond that.
    ///
    /// # Errors
    /// One line saying why the folder or file cannot be used: no
    /// permission, another process holds it, a format from another version.
    pub fn open(dir: &Path) -> Result<Store, String> {
        let file = dir.join(FILE_NAME);
        let (db, floor) = file::open(dir, &file)?;
        Ok(Store { db, file, floor })
    }

    /// The history file's path.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Reads `topic`'s last id and its history within `bounds` at `now_ms`.
    ///
    /// # Errors
    /// When the file cannot be read.
    pub fn load(&self, topic: &str, bounds: Bounds, now_ms: u64) -> io::Result<Loaded> {
        let tx = self.db.begin_read().map_err(io::Error::other)?;
        let (messages, topics) = match (tx.open_table(MESSAGES), tx.open_table(TOPICS)) {
            (Ok(m), Ok(t)) => (m, t),
            // Nothing was ever written: the tables do not exist yet.
            (Err(redb::TableError::TableDoesNotExist(_)), _)
            | (_, Err(redb::TableError::TableDoesNotExist(_))) => {
                return Ok(Loaded {
                    last_id: self.floor,
                    base: self.floor,
                    ..Loaded::default()
                });
            }
            (Err(e), _) | (_, Err(e)) => return Err(io::Error::other(e)),
        };
        let Some(row) = topics.get(topic).map_err(io::Error::other)? else {
            return Ok(Loaded {
                last_id: self.floor,
                base: self.floor,
                ..Loaded::default()
            });
        };
        let (last_id, last_time_ms, _, _) = row.value();
        let last_id = last_id.max(self.floor);
        let mut held = Vec::new();
        for entry in messages
            .range((topic, 0)..=(topic, u64::MAX))
            .map_err(io::Error::other)?
        {
            let (key, value) = entry.map_err(io::Error::other)?;
            let (time_ms, data) = value.value();
            if !bounds.expired(time_ms, now_ms) {
                let id = key.value().1;
                let data = data.to_vec();
                held.push(Stored { id, time_ms, data });
            }
        }
        // Bounds lowered since these were written: keep the newest.
        let mut bytes: usize = held.iter().map(|m| m.data.len()).sum();
        let mut first = 0;
        while bounds.over(held.len() - first, bytes) {
            bytes -= held[first].data.len();
            first += 1;
        }
        held.drain(..first);
        Ok(Loaded {
            last_id,
            base: self.floor,
            last_time_ms,
            messages: held,
        })
    }

    /// Writes `records` in one transaction, lets each touched topic's oldest
    /// messages go past `bounds`, and returns once it is on disk.
    ///
    /// # Errors
    /// When the write or the sync fails; then none of `records` is kept.
    pub fn append(&self, records: &[Record<'_>], bounds: Bounds, now_ms: u64) -> io::Result<()> {
        let tx = self.db.begin_write().map_err(io::Error::other)?;
        {
            let mut messages = tx.open_table(MESSAGES).map_err(io::Error::other)?;
            let mut topics = tx.open_table(TOPICS).map_err(io::Error::other)?;
            let mut touched: HashMap<&str, Meta> = HashMap::new();
            for r in records {
                let meta = match touched.get_mut(r.topic) {
                    Some(meta) => meta,
                    None => touched
                        .entry(r.topic)
                        .or_insert(read_meta(&topics, r.topic)?),
                };
                messages
                    .insert((r.topic, r.id), (r.time_ms, r.data))
                    .map_err(io::Error::other)?;
                meta.last_id = r.id;
                meta.last_time_ms = r.time_ms;
                meta.held += 1;
                meta.bytes += r.data.len() as u64;
            }
            for (topic, meta) in &mut touched {
                evict(&mut messages, topic, meta, bounds, now_ms)?;
                write_meta(&mut topics, topic, *meta)?;
            }
        }
        tx.commit().map_err(io::Error::other)
    }

    /// Lets go of every message past the TTL, in every topic; returns how
    /// many. Writes (and syncs) only when there is something to remove.
    ///
    /// # Errors
    /// When the file cannot be read or written.
    pub fn expire(&self, bounds: Bounds, now_ms: u64) -> io::Result<u64> {
        let tx = self.db.begin_write().map_err(io::Error::other)?;
        let mut removed = 0;
        {
            let mut messages = tx.open_table(MESSAGES).map_err(io::Error::other)?;
            let mut topics = tx.open_table(TOPICS).map_err(io::Error::other)?;
            // Topics that hold messages; a row alone (its last id) stays.
            let mut holding = Vec::new();
            for entry in topics.iter().map_err(io::Error::other)? {
                let (name, row) = entry.map_err(io::Error::other)?;
                if row.value().2 > 0 {
                    holding.push(name.value().to_string());
                }
            }
            for name in &holding {
                let mut meta = read_meta(&topics, name)?;
                let held = meta.held;
                evict(&mut messages, name, &mut meta, bounds, now_ms)?;
                if meta.held != held {
                    removed += held - meta.held;
                    write_meta(&mut topics, name, meta)?;
                }
            }
        }
        if removed == 0 {
            tx.abort().map_err(io::Error::other)?;
        } else {
            tx.commit().map_err(io::Error::other)?;
        }
        Ok(removed)
    }

    /// Messages held over all topics (the tests count them).
    ///
    /// # Errors
    /// When the file cannot be read.
    pub fn messages_held(&self) -> io::Result<u64> {
        let tx = self.db.begin_read().map_err(io::Error::other)?;
        match tx.open_table(MESSAGES) {
            Ok(t) => t.len().map_err(io::Error::other),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(0),
            Err(e) => Err(io::Error::other(e)),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
