//! A history on disk for a test: a fresh `--data-dir`, the binary serving
//! it, stopped cleanly, and its replay read as NDJSON.
//!
//! ```text
//! DataDir::new("restart")          /tmp/tinypush-durable-restart-PID-N, removed on drop
//! serve(&dir, &["--topic-history", "10"])   tinypush serve --data-dir DIR ...
//! stop(server)                     SIGTERM, exit code 0
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::child::ChildServer;
use super::streams::{StreamReader, open_stream};

/// A fresh folder for one test's history, removed afterwards.
pub struct DataDir(pub PathBuf);

impl DataDir {
    pub fn new(name: &str) -> DataDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "tinypush-durable-{name}-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        DataDir(dir)
    }

    pub fn arg(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temp path")
    }

    pub fn file(&self) -> PathBuf {
        self.0.join("history.redb")
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `tinypush serve --data-dir DIR ARGS`, listening.
pub fn serve(dir: &DataDir, args: &[&str]) -> ChildServer {
    let mut all = vec!["--data-dir", dir.arg()];
    all.extend_from_slice(args);
    ChildServer::start(&all)
}

/// Stops the server with SIGTERM and expects a clean exit.
pub fn stop(mut server: ChildServer) {
    server.signal("TERM");
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
}

/// `GET /topics/TOPIC/stream?since=CURSOR`, head read.
pub fn ndjson_since(addr: SocketAddr, topic: &str, since: &str) -> StreamReader {
    let raw = format!("GET /topics/{topic}/stream?since={since} HTTP/1.1\r\nHost: t\r\n\r\n");
    open_stream(addr, raw.as_bytes())
}
