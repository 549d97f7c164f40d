//! The store on a real file: what is written comes back after reopening,
//! within the bounds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;

/// A fresh folder under the system's temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("tinypush-store-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const BOUNDS: Bounds = Bounds {
    messages: 3,
    bytes: 1 << 20,
    ttl: Duration::from_secs(60),
};
const NOW: u64 = 1_763_755_200_000;

fn record(topic: &'static str, id: u64, data: &'static str) -> Record<'static> {
    Record {
        topic,
        id,
        time_ms: NOW + id,
        data: data.as_bytes(),
    }
}

fn ids(loaded: &Loaded) -> Vec<u64> {
    loaded.messages.iter().map(|m| m.id).collect()
}

#[test]
fn what_is_written_is_read_back_after_reopening() {
    let dir = TempDir::new();
    let store = Store::open(&dir.0).unwrap();
    assert_eq!(store.load("news", BOUNDS, NOW).unwrap(), Loaded::default());
    let batch = [
        record("news", 1, "hello"),
        record("sport", 1, "goal"),
        record("news", 2, "world"),
    ];
    store.append(&batch, BOUNDS, NOW).unwrap();
    drop(store);
    let store = Store::open(&dir.0).unwrap();
    let news = store.load("news", BOUNDS, NOW).unwrap();
    assert_eq!((news.last_id, news.last_time_ms), (2, NOW + 2));
    assert_eq!(
        news.messages[0],
        Stored {
            id: 1,
            time_ms: NOW + 1,
            data: b"hello".to_vec()
        }
    );
    assert_eq!(ids(&news), [1, 2]);
    assert_eq!(ids(&store.load("sport", BOUNDS, NOW).unwrap()), [1]);
}

#[test]
fn the_oldest_go_past_the_count_and_byte_caps_but_the_last_id_stays() {
    let dir = TempDir::new();
    let store = Store::open(&dir.0).unwrap();
    for id in 1..=5 {
        store
            .append(&[record("t", id, "12345")], BOUNDS, NOW)
            .unwrap();
    }
    assert_eq!(ids(&store.load("t", BOUNDS, NOW).unwrap()), [3, 4, 5]);
    assert_eq!(store.messages_held().unwrap(), 3);
    let small = Bounds { bytes: 6, ..BOUNDS };
    store
        .append(&[record("t", 6, "123456")], small, NOW)
        .unwrap();
    let t = store.load("t", small, NOW).unwrap();
    assert_eq!((ids(&t), t.last_id), (vec![6], 6));
    // Even alone over the byte cap, the newest stays.
    store
        .append(&[record("t", 7, "1234567")], small, NOW)
        .unwrap();
    assert_eq!(ids(&store.load("t", small, NOW).unwrap()), [7]);
}

#[test]
fn messages_past_the_ttl_are_not_read_and_are_swept() {
    let dir = TempDir::new();
    let store = Store::open(&dir.0).unwrap();
    store
        .append(&[record("a", 1, "x"), record("b", 1, "y")], BOUNDS, NOW)
        .unwrap();
    store.append(&[record("a", 2, "z")], BOUNDS, NOW).unwrap();
    let later = NOW + 60_001 + 1;
    assert_eq!(ids(&store.load("a", BOUNDS, later).unwrap()), [2]);
    assert_eq!(store.expire(BOUNDS, NOW).unwrap(), 0);
    assert_eq!(store.expire(BOUNDS, later).unwrap(), 2);
    assert_eq!(store.messages_held().unwrap(), 1);
    let b = store.load("b", BOUNDS, later).unwrap();
    assert_eq!((b.last_id, b.messages.len()), (1, 0));
}

#[test]
fn a_second_opener_is_refused_with_one_line() {
    let dir = TempDir::new();
    let _store = Store::open(&dir.0).unwrap();
    let Err(why) = Store::open(&dir.0) else {
        panic!("opened twice");
    };
    assert!(
        why.contains("history.redb") && why.contains("another process"),
        "{why}"
    );
    assert!(!why.contains('\n'));
}
