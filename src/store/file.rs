//! Opening the history file: every page checked, and a file damaged beyond
//! repair set aside for a new one whose ids begin after a floor.
//!
//! ```text
//! history.redb                      opened, checked; a torn last commit rolled back
//! history.redb.damaged-1763755200   a file that failed the check, kept for a look
//! settings: floor → 1763755200000000   the new file's ids begin after this
//! ```
//!
//! The new file is made beside the damaged one and renamed over it, so a
//! crash in the middle never leaves an empty history whose ids would begin
//! again at 1.

use std::io;
use std::path::{Path, PathBuf};

use log::error;
use redb::{Database, DatabaseError, ReadableDatabase, StorageError, TableDefinition};

use crate::clock;

/// Memory redb may use to cache pages (its default is 1 GiB).
const CACHE_BYTES: usize = 16 * 1024 * 1024;
/// `floor` → the id every topic's ids begin after (set when a damaged file was replaced).
const SETTINGS: TableDefinition<&str, u64> = TableDefinition::new("settings");

/// Opens `file` in `dir` (made if missing); returns it and its id floor.
///
/// # Errors
/// One line saying why the folder or file cannot be used.
pub(super) fn open(dir: &Path, file: &Path) -> Result<(Database, u64), String> {
    let why = |e: &dyn std::fmt::Display| format!("cannot use {}: {e}", file.display());
    std::fs::create_dir_all(dir).map_err(|e| why(&e))?;
    let db = match open_db(file) {
        Err(DatabaseError::Storage(damage)) if is_damage(&damage) => {
            let floor = clock::now_us();
            let aside = replace(file, floor).map_err(|e| why(&e))?;
            error!(
                "{} is damaged ({damage}): set aside as {}; a new history starts, ids after {floor}",
                file.display(),
                aside.display()
            );
            open_db(file).map_err(|e| why(&e))?
        }
        Err(DatabaseError::DatabaseAlreadyOpen) => {
            return Err(why(&"another process has it open"));
        }
        Err(e) => return Err(why(&e)),
        Ok(db) => db,
    };
    let floor = read_floor(&db).map_err(|e| why(&e))?;
    Ok((db, floor))
}

/// Opens the file with redb, every page checked (an altered file fails to
/// open rather than being trusted).
fn open_db(file: &Path) -> Result<Database, DatabaseError> {
    Database::builder()
        .set_cache_size(CACHE_BYTES)
        .set_check_integrity_on_open(true)
        .create(file)
}

/// Whether an error opening the file says its content is damaged (rather
/// than the file being out of reach): a failed check, or a page that the
/// layout promises but the file is too short to hold.
fn is_damage(e: &StorageError) -> bool {
    match e {
        StorageError::Corrupted(_) => true,
        StorageError::Io(e) => e.kind() == io::ErrorKind::UnexpectedEof,
        _ => false,
    }
}

/// Replaces a damaged file with a new one whose ids begin after `floor`,
/// keeping the damaged one as `NAME.damaged-SECS` (returned). Each step
/// leaves a file that is either the damaged one (found damaged again at
/// the next start) or the new one with its floor, never an empty history
/// without a floor:
///
/// ```text
/// history.redb.new              made, floor written and synced
/// history.redb.damaged-SECS     a second name for the damaged file (a hard link)
/// history.redb.new → history.redb   one rename replaces it; then the folder is synced
/// ```
fn replace(file: &Path, floor: u64) -> io::Result<PathBuf> {
    let named = |suffix: &str| {
        let mut name = file.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    let fresh = named(".new");
    // Left by a start that crashed while making it.
    let _ = std::fs::remove_file(&fresh);
    let db = open_db(&fresh).map_err(io::Error::other)?;
    write_floor(&db, floor)?;
    drop(db);
    // A second damage in the same second must not overwrite the first's copy.
    let secs = floor / 1_000_000;
    let aside = (1..1000)
        .map(|n| match n {
            1 => named(&format!(".damaged-{secs}")),
            n => named(&format!(".damaged-{secs}-{n}")),
        })
        .find(|p| !p.exists())
        .ok_or_else(|| io::Error::other("no free name to set the damaged file aside"))?;
    if std::fs::hard_link(file, &aside).is_err() {
        std::fs::copy(file, &aside)?;
    }
    std::fs::rename(&fresh, file)?;
    if let Some(dir) = file.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(aside)
}

fn write_floor(db: &Database, floor: u64) -> io::Result<()> {
    let tx = db.begin_write().map_err(io::Error::other)?;
    tx.open_table(SETTINGS)
        .map_err(io::Error::other)?
        .insert("floor", floor)
        .map_err(io::Error::other)?;
    tx.commit().map_err(io::Error::other)
}

fn read_floor(db: &Database) -> io::Result<u64> {
    let tx = db.begin_read().map_err(io::Error::other)?;
    match tx.open_table(SETTINGS) {
        Ok(t) => Ok(t
            .get("floor")
            .map_err(io::Error::other)?
            .map_or(0, |v| v.value())),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(0),
        Err(e) => Err(io::Error::other(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::TempDir;

    #[test]
    fn a_second_damage_in_the_same_second_keeps_the_first_copy() {
        let dir = TempDir::new();
        std::fs::create_dir_all(&dir.0).unwrap();
        let file = dir.0.join("history.redb");
        let floor = 1_796_013_697_086_124;
        let first = dir.0.join("history.redb.damaged-1796013697");
        std::fs::write(&first, b"the first damaged file").unwrap();
        std::fs::write(&file, b"the second").unwrap();
        let aside = replace(&file, floor).unwrap();
        assert_eq!(aside, dir.0.join("history.redb.damaged-1796013697-2"));
        assert_eq!(std::fs::read(&first).unwrap(), b"the first damaged file");
        assert_eq!(std::fs::read(&aside).unwrap(), b"the second");
    }
}
