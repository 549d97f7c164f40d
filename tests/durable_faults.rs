//! A history on disk that cannot be used as it is: a file cut short or
//! overwritten (set aside, ids go on above the old ones), a folder another
//! server holds or that cannot be made (one line, exit 1).
//!
//! ```text
//! history.redb cut to half its length → ERROR … is damaged (…): set aside as
//!     history.redb.damaged-1796013697; a new history starts, ids after 1796013697086124
//! ```

mod support;

use std::path::Path;

use support::*;

/// Publishes 50 messages, stops, damages the file with `damage`, starts
/// again: the file is set aside, ids go on above the old ones, and an old
/// cursor gets a gap.
fn damaged_file_is_set_aside(name: &str, damage: impl FnOnce(&std::fs::File, u64)) {
    let dir = DataDir::new(name);
    let server = serve(&dir, &[]);
    let mut c = connect(server.addr);
    for i in 1..=50 {
        let body = format!("message {i}, long enough to fill some pages");
        publish_ok(&mut c, "news", &body);
    }
    drop(c);
    stop(server);
    let len = std::fs::metadata(dir.file()).expect("file").len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.file())
        .expect("open");
    damage(&file, len);
    drop(file);

    // The new file's floor is the time of the reset, in microseconds.
    let before_reset = tinypush::clock::now_us();
    let mut server = serve(&dir, &[]);
    let line = server.wait_log("is damaged");
    assert!(line.contains("set aside as"), "{line}");
    let (id, _) = publish_ok(&mut connect(server.addr), "news", "fresh");
    assert!(
        id > before_reset,
        "id {id} is not above the reset's time {before_reset} µs"
    );
    let mut r = ndjson_since(server.addr, "news", "10");
    let gap = r.json().expect("a gap first");
    assert_eq!(gap["event"], "gap", "{gap}");
    assert_eq!(
        (gap["from"].as_u64(), gap["to"].as_u64()),
        (Some(11), Some(id - 1))
    );
    assert_eq!(ndjson_message(&mut r), (id, "fresh".into()));
    let aside = std::fs::read_dir(&dir.0)
        .expect("dir")
        .filter_map(|e| e.ok())
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("history.redb.damaged-")
        });
    assert!(aside, "the damaged file is kept for a look");
}

#[test]
fn a_file_cut_short_is_set_aside_and_ids_still_go_forward() {
    damaged_file_is_set_aside("cut", |file, len| {
        file.set_len(len / 2).expect("truncate");
    });
}

#[test]
fn a_file_overwritten_is_set_aside_and_ids_still_go_forward() {
    damaged_file_is_set_aside("overwritten", |file, len| {
        use std::os::unix::fs::FileExt;
        // Everything after the header pages: every table page is hit.
        let junk = vec![0xA5; (len - 8192) as usize];
        file.write_all_at(&junk, 8192).expect("overwrite");
    });
}

#[test]
fn a_data_dir_in_use_or_unusable_is_one_line_and_exit_1() {
    let dir = DataDir::new("held");
    let _holder = serve(&dir, &[]);
    let (code, log) = refused(&["--data-dir", dir.arg()], &[]);
    assert_eq!(code, Some(1), "{log}");
    let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "{log}");
    assert!(errors[0].contains("another process has it open"), "{log}");

    // A folder that cannot be made: its parent is a file.
    let blocker = DataDir::new("blocker");
    std::fs::write(&blocker.0, b"not a folder").expect("write");
    let inside = Path::new(blocker.arg()).join("data");
    let (code, log) = refused(&["--data-dir", inside.to_str().expect("UTF-8")], &[]);
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("cannot use") && log.contains("history.redb"),
        "{log}"
    );
    let _ = std::fs::remove_file(&blocker.0);
}
