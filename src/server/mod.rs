//! The listening socket, the accept loop, and a thread per connection.
//!
//! ```text
//! accept thread ──spawn──► conn-127.0.0.1:50312  (one per connection, small stack)
//!      │                   conn-127.0.0.1:50318
//!      ├─ over the cap, or no thread to be had: 503 + Retry-After, close
//!      └─ its address over --max-connections-per-ip: 429 + Retry-After, close
//! ```
//!
//! The accept loop never dies. When `accept` fails, most often because the
//! process is out of file descriptors (EMFILE), the pending connection stays
//! in the kernel's queue; we log (at most once a second), wait a moment for
//! other connections to close, and try again.

pub mod conns;
mod open;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use socket2::{Domain, SockRef, Socket, Type};

use crate::access::Access;
use crate::config::{Anonymous, Config, LISTEN_BACKLOG, RESERVED_FDS};
use crate::connection;
use crate::endpoints::App;
use crate::error::{Error, Result};
use crate::http::exchange::{Shared, write_error};
use crate::hub::Hub;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::threads::ThreadBudget;
use crate::watcher::Watcher;
use crate::ws;
use conns::Connections;

/// How long the accept loop pauses after a failed `accept`.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// At most one "accept failed" log line per this interval.
const ACCEPT_LOG_EVERY: Duration = Duration::from_secs(1);

/// A bound, not yet running server.
pub struct Server {
    listener: Arc<TcpListener>,
    conns: Arc<Connections>,
    shared: Arc<Shared>,
    app: Arc<App>,
    addr: SocketAddr,
}

/// Starts a graceful shutdown from any thread (a signal handler, a test).
#[derive(Clone)]
pub struct ShutdownHandle {
    listener: Arc<TcpListener>,
    conns: Arc<Connections>,
}

impl Server {
    /// Binds the listening socket and starts the watcher.
    ///
    /// # Errors
    /// When the address cannot be bound or the watcher cannot start.
    pub fn bind(config: Config) -> Result<Server> {
        let listener = Arc::new(listen(config.addr)?);
        let addr = listener.local_addr()?;
        let conns = Connections::new(connection_cap(config.http.max_connections));
        // Measured before any other thread starts: one starting meanwhile
        // would add its mappings to the count.
        let http = &config.http;
        let threads = ThreadBudget::from_machine(http.thread_stack_bytes, http.max_threads);
        let metrics = Arc::new(Metrics::default());
        let access = open::access(&config.access, &metrics)?;
        let history = open::history(&config.topics, &metrics)?;
        let hub = Hub::new(&config.topics, history, Arc::clone(&metrics))
            .map_err(|e| Error::Startup(format!("cannot start the history's threads: {e}")))?;
        let shared = Arc::new(Shared {
            threads,
            watcher: Watcher::start()?,
            shutdown: conns.shutdown_signal().clone(),
            limits: Limits::new(&config.access, Arc::clone(&metrics)),
            metrics,
            config,
        });
        let ws = &shared.config.ws;
        let ws_timer = ws::start_timer(
            ws.ping_interval,
            ws.timeout,
            conns.shutdown_signal().clone(),
        )?;
        Ok(Server {
            listener,
            conns,
            shared,
            app: Arc::new(App {
                hub,
                access,
                ws_timer,
            }),
            addr,
        })
    }

    /// The address actually bound (the real port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The thread budget: how many connection and writer threads run.
    pub fn thread_budget(&self) -> Arc<ThreadBudget> {
        Arc::clone(&self.shared.threads)
    }

    /// The access policy, for re-reading the auth file (on SIGHUP).
    pub fn access(&self) -> Arc<Access> {
        Arc::clone(&self.app.access)
    }

    /// A handle that can stop this server.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            listener: Arc::clone(&self.listener),
            conns: Arc::clone(&self.conns),
        }
    }

    /// Accepts connections until shutdown, then waits for open ones to end,
    /// at most the drain time.
    pub fn run(self) {
        let url = format!("http://{}", self.addr);
        info!("listening on {url}");
        info!("try: curl -N {}/stream", try_url(self.addr));
        let anonymous = self.app.access.anonymous();
        if !self.addr.ip().is_loopback() && anonymous == Anonymous::ReadWrite {
            warn!(
                "listening beyond loopback and anonymous clients may publish: anyone who can reach {url} can (--auth-file, --publish-token, --anonymous read)"
            );
        }
        let conns = &self.conns;
        let mut last_log: Option<Instant> = None;
        loop {
            match self.listener.accept() {
                Ok(_) if conns.shutting_down() => break,
                Ok((stream, peer)) => self.admit(stream, peer),
                Err(_) if conns.shutting_down() => break,
                Err(e) => {
                    if last_log.is_none_or(|t| t.elapsed() >= ACCEPT_LOG_EVERY) {
                        warn!(
                            "accept failed ({e}); {} connections open; backing off",
                            conns.open()
                        );
                        last_log = Some(Instant::now());
                    }
                    // Waiting on the shutdown signal rather than sleeping lets
                    // a shutdown interrupt the pause.
                    let _ = conns.shutdown_signal().recv_timeout(ACCEPT_BACKOFF);
                }
            }
        }
        let open = conns.open();
        info!("shutting down: {open} connections open");
        if conns.drained(self.shared.config.http.drain_timeout) {
            info!("all connections closed");
        } else {
            warn!("drain time over; {} connections cut", conns.open());
        }
        self.shared.watcher.stop();
    }

    fn admit(&self, stream: TcpStream, peer: SocketAddr) {
        let stream = Arc::new(stream);
        let Some(mut ticket) = self.conns.admit(&stream) else {
            debug!("{peer} refused: {} connections open", self.conns.open());
            refuse(
                &stream,
                &Error::Unavailable("server at its connection limit"),
            );
            return;
        };
        match self.shared.limits.admit(peer.ip()) {
            Ok(place) => ticket.hold(place),
            Err(e) => {
                debug!("{peer} refused: {e}");
                return refuse(&stream, &e);
            }
        }
        // A thread past the budget could abort the whole process (see threads.rs).
        let Some(permit) = self.shared.threads.try_acquire_connection() else {
            debug!(
                "{peer} refused: {} threads running",
                self.shared.threads.used()
            );
            refuse(&stream, &Error::Unavailable("server at its thread limit"));
            return;
        };
        let (shared, app) = (Arc::clone(&self.shared), Arc::clone(&self.app));
        let spawned = thread::Builder::new()
            .name(format!("conn-{peer}"))
            .stack_size(self.shared.config.http.thread_stack_bytes)
            .spawn({
                let stream = Arc::clone(&stream);
                move || {
                    let _permit = permit;
                    connection::handle(stream, peer, &shared, &app, ticket);
                }
            });
        if let Err(e) = spawned {
            // The closure, and with it the ticket and permit, was dropped: the places are free.
            warn!("{peer} refused: cannot start a thread: {e}");
            refuse(&stream, &Error::Unavailable("server cannot start a thread"));
        }
    }
}

impl ShutdownHandle {
    /// Stops accepting and tells every open stream to end. Idempotent.
    pub fn shutdown(&self) {
        self.conns.shutdown();
        // On Linux, shutting down a listening socket wakes a blocked `accept`
        // with an error; the accept loop then sees the flag and ends.
        let _ = SockRef::from(&*self.listener).shutdown(Shutdown::Read);
    }
}

/// Binds with a real listen backlog: std's `bind` asks for 128, and a burst
/// of connects past it drops SYNs, stalling those clients for a second.
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

/// The configured cap, lowered to fit the open-files limit: one descriptor
/// per connection, and a few kept for everything else.
fn connection_cap(configured: usize) -> usize {
    let Ok((soft, _)) = rlimit::getrlimit(rlimit::Resource::NOFILE) else {
        return configured;
    };
    let fit = usize::try_from(soft.saturating_sub(RESERVED_FDS))
        .unwrap_or(usize::MAX)
        .max(1);
    if fit < configured {
        warn!("open-files limit {soft} caps connections at {fit} (asked for {configured})");
    }
    configured.min(fit)
}

/// Answers 503 or 429 and closes, from the accept thread: the reply is
/// small and the socket new, so the write does not block.
fn refuse(stream: &TcpStream, e: &Error) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = write_error(&mut &*stream, e, false, None, &[]);
    let _ = (&*stream).flush();
    // FIN after the reply, so the client reads it before the close.
    let _ = stream.shutdown(Shutdown::Write);
    // Closing with unread bytes (a request already sent) would be a reset,
    // which can destroy the reply: drop what has come, without waiting.
    if stream.set_nonblocking(true).is_ok() {
        let mut scratch = [0u8; 4096];
        for _ in 0..16 {
            if !matches!((&*stream).read(&mut scratch), Ok(1..)) {
                break;
            }
        }
    }
}

/// An address a user can paste into curl: a wildcard bind is reachable on loopback.
fn try_url(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("http://127.0.0.1:{}", addr.port())
    } else {
        format!("http://{addr}")
    }
}
