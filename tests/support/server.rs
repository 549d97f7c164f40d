//! The library's server inside the test process: [`start_server_with`]
//! binds 127.0.0.1 port 0, runs the accept loop on a thread named
//! `server-PORT` and hands back the address; dropping the [`TestServer`]
//! shuts it down. Each server gets a fresh static folder ([`static_dir`]),
//! so tests that write files there never see each other's.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use tinypush::{Config, Server, ShutdownHandle};

/// The contents of the static folder every test server gets.
pub const INDEX_HTML: &str = "<!doctype html><title>t</title>\n";

/// A server running on a named thread of this test process.
pub struct TestServer {
    pub addr: SocketAddr,
    pub handle: ShutdownHandle,
    pub static_dir: PathBuf,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

/// Starts a server with the default config, changed by `tweak`.
pub fn start_server_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
    let static_dir = static_dir();
    let mut config = Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        static_dir: static_dir.clone(),
        ..Config::default()
    };
    config.http.drain_timeout = Duration::from_secs(2);
    // Ids from 1, so tests can write them out; the binary's numbering
    // after its start time is tested through the binary (tests/durable.rs).
    config.topics.ids_after_start = false;
    tweak(&mut config);
    let server = Server::bind(config).expect("bind 127.0.0.1:0");
    let addr = server.local_addr();
    let handle = server.shutdown_handle();
    thread::Builder::new()
        .name(format!("server-{}", addr.port()))
        .spawn(move || server.run())
        .expect("spawn server thread");
    TestServer {
        addr,
        handle,
        static_dir,
    }
}

/// Starts a server with the default config.
pub fn start_server() -> TestServer {
    start_server_with(|_| {})
}

/// A fresh static folder with index.html, app.js, style.css, data.json,
/// logo.svg, a.png, favicon.ico, notes.txt, blob.bin and sub/index.html.
pub fn static_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("static-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let files: &[(&str, &[u8])] = &[
        ("index.html", INDEX_HTML.as_bytes()),
        ("app.js", b"console.log(1);\n"),
        ("style.css", b"body{}\n"),
        ("data.json", b"{\"a\":1}\n"),
        ("logo.svg", b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n"),
        ("a.png", b"\x89PNG\r\n\x1a\n"),
        ("favicon.ico", b"\x00\x00\x01\x00"),
        ("notes.txt", b"hello\n"),
        ("blob.bin", b"\x00\x01\x02"),
        ("sub/index.html", b"<p>sub</p>\n"),
    ];
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    dir
}
