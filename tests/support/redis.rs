//! A real `redis-server` for the cluster tests, on a free port of
//! 127.0.0.1, with its own folder, spoken to over a raw socket (RESP): a
//! command is an array of bulk strings, a reply one typed line or more.
//!
//! ```text
//! → *1\r\n$4\r\nPING\r\n
//! ← +PONG\r\n
//!
//! RedisServer::start()           redis-server --port P --bind 127.0.0.1 --save '' ...
//! redis.url()                    redis://127.0.0.1:P/0
//! redis.restart_empty()          SIGKILL, start again on P: no data
//! redis.restart_with_data()      SHUTDOWN SAVE, start again on P: dump.rdb loaded
//! node(&redis.url(), &[])        tinypush serve --redis redis://127.0.0.1:P/0 ...
//!
//! node ──► Link (port L) ──► redis-server (port P)
//! link.cut()                     every connection through it ends, new ones close
//! link.mend()                    forwards again: one node lost Redis, the others not
//! ```
//!
//! Its output goes to `redis.log` in its folder (never an unread pipe,
//! which would stall it once full), shown when it fails to start. No
//! persistence of its own (`--save ''`, no AOF): only `SHUTDOWN SAVE`
//! writes `dump.rdb`, which a start on the same folder loads.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::child::ChildServer;
use super::{READ_TIMEOUT, wait_until};

/// How long `redis-server` may take to answer its first PING, or to exit.
const REDIS_START_LIMIT: Duration = Duration::from_secs(10);

/// A `redis-server` child process on its own port and folder; killed, and
/// its folder removed, on drop.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
}

/// One RESP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`
    Simple(String),
    /// `-ERR unknown command`
    Error(String),
    /// `:42`
    Integer(i64),
    /// `$5\r\nhello` (`None`: `$-1`, the null bulk string)
    Bulk(Option<String>),
}

impl RedisServer {
    /// Starts `redis-server` on a free port with a fresh folder and waits
    /// (at most 10 s) until it answers `PING`.
    ///
    /// # Panics
    ///
    /// If `redis-server` is not installed (`make cluster-test` installs
    /// it), exits, or does not answer in time.
    pub fn start() -> RedisServer {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("tinypush-redis-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("make the redis folder");
        let mut redis = RedisServer {
            child: None,
            port: free_port(),
            dir,
        };
        redis.start_again();
        redis
    }

    /// `redis://127.0.0.1:P/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Starts `redis-server` again on the same port and folder (loading
    /// `dump.rdb` if one is there) and waits until it answers `PING`.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "redis-server is already running");
        let log = File::create(self.dir.join("redis.log")).expect("redis.log");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run redis-server ({e}): make cluster-test"));
        self.child = Some(child);
        let answered = wait_until(REDIS_START_LIMIT, || self.ping() || !self.is_running());
        assert!(
            answered && self.is_running(),
            "redis-server on port {} did not answer PING; its log:\n{}",
            self.port,
            self.log()
        );
    }

    /// Whether it answers `+PONG` to a `PING` now.
    pub fn ping(&self) -> bool {
        matches!(self.try_command(&["PING"]), Ok(Reply::Simple(s)) if s == "PONG")
    }

    /// Kills it (SIGKILL) and reaps it: what it held in memory is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            child.wait().expect("reap redis-server");
        }
    }

    /// Asks it to `SHUTDOWN SAVE` (write `dump.rdb`, then exit) and waits
    /// (at most 10 s) for it to exit.
    pub fn stop_saving(&mut self) {
        // On success the server closes the connection without a reply.
        let reply = self.try_command(&["SHUTDOWN", "SAVE"]);
        assert!(reply.is_err(), "SHUTDOWN SAVE answered {reply:?}");
        let exited = wait_until(REDIS_START_LIMIT, || !self.is_running());
        assert!(exited, "redis-server still running after SHUTDOWN SAVE");
        self.child = None;
        assert!(self.dir.join("dump.rdb").exists(), "no dump.rdb written");
    }

    /// Kills it and starts it again on the same port with no data.
    pub fn restart_empty(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(self.dir.join("dump.rdb"));
        self.start_again();
    }

    /// Shuts it down saving its data, and starts it again on the same port
    /// and folder, which loads that data.
    pub fn restart_with_data(&mut self) {
        self.stop_saving();
        self.start_again();
    }

    /// Sends one command and reads its reply.
    ///
    /// # Panics
    ///
    /// If the server cannot be reached, or the reply is not RESP.
    pub fn command(&self, args: &[&str]) -> Reply {
        self.try_command(args)
            .unwrap_or_else(|e| panic!("redis {args:?}: {e}"))
    }

    /// Sends one command and reads its reply; an error when the connection
    /// fails or ends before a reply.
    pub fn try_command(&self, args: &[&str]) -> std::io::Result<Reply> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        stream.set_write_timeout(Some(READ_TIMEOUT))?;
        stream.write_all(&resp_command(args))?;
        read_reply(&mut BufReader::new(stream))
    }

    /// Whether the process is running now.
    fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => child.try_wait().expect("try_wait redis-server").is_none(),
            None => false,
        }
    }

    /// What it has written to its log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A cluster node: `tinypush serve --redis URL ARGS` as a child process
/// (see [`ChildServer`]), listening.
pub fn node(url: &str, args: &[&str]) -> ChildServer {
    let mut all = vec!["--redis", url];
    all.extend_from_slice(args);
    ChildServer::start(&all)
}

/// A TCP forwarder between one node and Redis, on a port of its own, that
/// the test can cut (every connection through it ends; new ones are closed
/// at once) and mend.
pub struct Link {
    pub port: u16,
    /// Whether it forwards, and the sockets it forwards between.
    state: Arc<Mutex<(bool, Vec<TcpStream>)>>,
}

impl Link {
    /// Forwards a port of its own to `redis_port`.
    pub fn to(redis_port: u16) -> Link {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the link");
        let port = listener.local_addr().expect("address").port();
        let state = Arc::new(Mutex::new((true, Vec::new())));
        let shared = Arc::clone(&state);
        let accept = move || {
            for client in listener.incoming().flatten() {
                // Held while connecting, so a cut cannot miss this one.
                let mut state = shared.lock().expect("link state");
                if !state.0 {
                    continue; // cut: the client is dropped, so closed
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", redis_port)) else {
                    continue;
                };
                for (from, to) in [(&client, &server), (&server, &client)] {
                    let (mut from, mut to) = (from.try_clone().unwrap(), to.try_clone().unwrap());
                    let pump = move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Both);
                    };
                    thread::Builder::new()
                        .name("link-pump".into())
                        .spawn(pump)
                        .expect("spawn");
                }
                state.1.extend([client, server]);
            }
        };
        thread::Builder::new()
            .name("link-accept".into())
            .spawn(accept)
            .expect("spawn");
        Link { port, state }
    }

    /// `redis://127.0.0.1:PORT/0`, this link's end.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Ends every connection through the link, and refuses new ones.
    pub fn cut(&self) {
        let mut state = self.state.lock().expect("link state");
        state.0 = false;
        for socket in state.1.drain(..) {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    /// Forwards new connections again.
    pub fn mend(&self) {
        self.state.lock().expect("link state").0 = true;
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.cut();
    }
}

/// A port no one listens on now: the kernel's pick for 127.0.0.1:0, let go.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// A command as RESP: `*N\r\n` then each argument as `$LEN\r\nBYTES\r\n`.
///
/// ```text
/// resp_command(&["GET", "k"]) = *2\r\n$3\r\nGET\r\n$1\r\nk\r\n
/// ```
pub fn resp_command(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    out
}

/// Reads one RESP reply (not an array: no command here answers one).
fn read_reply(r: &mut impl BufRead) -> std::io::Result<Reply> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let line = line.trim_end_matches("\r\n");
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, line.to_string());
    let (kind, rest) = line.split_at_checked(1).ok_or_else(bad)?;
    let number = || rest.parse::<i64>().map_err(|_| bad());
    Ok(match kind {
        "+" => Reply::Simple(rest.to_string()),
        "-" => Reply::Error(rest.to_string()),
        ":" => Reply::Integer(number()?),
        "$" if number()? < 0 => Reply::Bulk(None),
        "$" => {
            let mut bytes = vec![0; number()? as usize + 2];
            r.read_exact(&mut bytes)?;
            bytes.truncate(bytes.len() - 2);
            Reply::Bulk(Some(String::from_utf8_lossy(&bytes).into_owned()))
        }
        _ => return Err(bad()),
    })
}
