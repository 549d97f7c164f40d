//! One ask of each probe: `GET /healthz` on the kept connection, or on a
//! fresh one.
//!
//! ```text
//! kept   (127.0.0.253)  GET /healthz HTTP/1.1 … (keep-alive)   latency = write → body read
//!                       (a new connection's first answer counts as its connect)
//! fresh  (127.0.0.254)  connect, GET /healthz … Connection: close   latency = connect → close
//! ```

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::http::{connect_from, read_head, status_of};

/// Where the keep-alive probe connects from.
pub const KEPT_FROM: [u8; 4] = [127, 0, 0, 253];
/// Where the fresh-connection probe connects from.
pub const FRESH_FROM: [u8; 4] = [127, 0, 0, 254];
/// Longest we wait for one answer before counting it as a miss.
const GIVE_UP: Duration = Duration::from_secs(2);

/// What one ask gave.
pub struct Asked {
    /// The answer's status.
    pub status: u16,
    /// How long the answer took (see the module doc for where it starts).
    pub took: Duration,
    /// How long a connect took, when this ask made one.
    pub connect: Option<Duration>,
    /// Whether the kept connection had been closed by the server and was made again.
    pub reconnected: bool,
}

/// One `GET /healthz` on the kept connection, connecting (and asking once,
/// untimed) first when there is none. When the server has closed it (EOF or reset on the ask), it is
/// made again once and the ask repeated on it; the answer's time is that
/// of the repeated ask, the connect being the fresh probe's business.
///
/// # Errors
/// The connect fails, the answer does not come within 2 s, or it is malformed.
pub fn kept(addr: SocketAddr, conn: &mut Option<BufReader<TcpStream>>) -> io::Result<Asked> {
    let (mut connect, mut reconnected) = (None, false);
    loop {
        let reader = match conn {
            Some(reader) => reader,
            None => {
                let start = Instant::now();
                let stream = connect_from(KEPT_FROM, addr, None)?;
                stream.set_read_timeout(Some(GIVE_UP))?;
                let mut reader = BufReader::new(stream);
                // The first answer on a new connection waits for the server
                // to start its thread, which is the fresh probe's measure:
                // it counts as part of the connect here.
                let (status, _) = ask_on(&mut reader)?;
                connect = Some(start.elapsed());
                if status != 200 {
                    let took = start.elapsed();
                    return Ok(Asked {
                        status,
                        took,
                        connect,
                        reconnected,
                    });
                }
                conn.insert(reader)
            }
        };
        match ask_on(reader) {
            Ok((status, took)) => {
                return Ok(Asked {
                    status,
                    took,
                    connect,
                    reconnected,
                });
            }
            // Closed by the server since the last ask: once, on a new connection.
            Err(e) if connect.is_none() && closed(&e) => {
                *conn = None;
                reconnected = true;
            }
            Err(e) => {
                *conn = None;
                return Err(e);
            }
        }
    }
}

/// A request on an open connection; its status and time, body read.
fn ask_on(reader: &mut BufReader<TcpStream>) -> io::Result<(u16, Duration)> {
    let start = Instant::now();
    reader
        .get_mut()
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: faults\r\n\r\n")?;
    if reader.fill_buf()?.is_empty() {
        return Err(ErrorKind::UnexpectedEof.into());
    }
    let (status, length) = read_head(reader)?;
    let mut body = vec![0; length.unwrap_or(0)];
    reader.read_exact(&mut body)?;
    Ok((status, start.elapsed()))
}

/// Whether an error says the peer closed the connection.
fn closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::UnexpectedEof
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
    )
}

/// One `GET /healthz` on a fresh connection, timed from before the connect
/// to the close after the answer.
///
/// # Errors
/// The connect fails, the answer does not come within 2 s, or it is malformed.
pub fn fresh(addr: SocketAddr) -> io::Result<Asked> {
    let start = Instant::now();
    let mut stream = connect_from(FRESH_FROM, addr, None)?;
    let connect = start.elapsed();
    stream.set_read_timeout(Some(GIVE_UP))?;
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: faults\r\nConnection: close\r\n\r\n")?;
    let mut reply = Vec::new();
    // Read to the end: the server closes after the answer (Connection: close).
    stream.read_to_end(&mut reply)?;
    Ok(Asked {
        status: status_of(&reply)?,
        took: start.elapsed(),
        connect: Some(connect),
        reconnected: false,
    })
}
