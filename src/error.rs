//! One error type for everything above the byte-level writers.
//!
//! Two families: the client sent something wrong (each maps to the status
//! code it gets, through [`Error::status`]), or the peer went away (`Io`),
//! which is normal for a push server and gets no response at all.

use std::fmt;
use std::io;

/// What went wrong while serving one request.
#[derive(Debug)]
pub enum Error {
    /// The request is malformed or a parameter is out of range; the text says how.
    BadRequest(&'static str),
    /// The request head grew past the configured byte limit.
    HeadTooLarge(usize),
    /// The request head has more header lines than allowed.
    TooManyHeaders(usize),
    /// The client did not finish its request in time.
    Timeout,
    /// The declared or received body is over the byte limit.
    BodyTooLarge(usize),
    /// A body-carrying method came with neither Content-Length nor chunked coding.
    LengthRequired,
    /// The request needs a token and carries none; the text says for what.
    Unauthorized(&'static str),
    /// The request carries a token that matches none the server knows.
    InvalidToken,
    /// A publish body that is not UTF-8 text.
    NotText,
    /// The request's origin may not use this resource (a WebSocket from another site).
    Forbidden(&'static str),
    /// The request's token may not do this to this topic; the text names both.
    OutOfScope(String),
    /// No route and no static file for this path.
    NotFound,
    /// The path exists but not for this method; holds the `Allow` value.
    MethodNotAllowed(&'static str),
    /// The request line names an HTTP version other than 1.0 or 1.1.
    VersionNotSupported,
    /// A WebSocket upgrade for a protocol version other than 13.
    UpgradeRequired,
    /// The server cannot take this connection now (connection cap, no thread).
    Unavailable(&'static str),
    /// This client is past one of its limits (connections from its address,
    /// publishes per second); it may try again after `retry_after_secs`.
    TooMany {
        /// The limit, on one line.
        why: &'static str,
        /// Seconds until the client may try again (`Retry-After`).
        retry_after_secs: u64,
    },
    /// Reading or writing the socket failed; usually the peer hung up.
    Io(io::Error),
    /// The server cannot start; the text says why (a data dir it cannot use).
    Startup(String),
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The status code the client should see, or `None` when the peer is gone.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::BadRequest(_) => Some(400),
            Error::Unauthorized(_) | Error::InvalidToken => Some(401),
            Error::Forbidden(_) | Error::OutOfScope(_) => Some(403),
            Error::NotFound => Some(404),
            Error::MethodNotAllowed(_) => Some(405),
            Error::Timeout => Some(408),
            Error::LengthRequired => Some(411),
            Error::NotText => Some(415),
            Error::BodyTooLarge(_) => Some(413),
            Error::UpgradeRequired => Some(426),
            Error::TooMany { .. } => Some(429),
            Error::HeadTooLarge(_) | Error::TooManyHeaders(_) => Some(431),
            Error::VersionNotSupported => Some(505),
            Error::Unavailable(_) => Some(503),
            Error::Io(_) | Error::Startup(_) => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadRequest(why) => f.write_str(why),
            Error::HeadTooLarge(max) => write!(f, "request head over {max} bytes"),
            Error::TooManyHeaders(max) => write!(f, "more than {max} header lines"),
            Error::Timeout => f.write_str("request not received in time"),
            Error::BodyTooLarge(max) => write!(f, "request body over {max} bytes"),
            Error::LengthRequired => f.write_str("a body needs Content-Length or chunked coding"),
            Error::Unauthorized(why) => f.write_str(why),
            Error::InvalidToken => f.write_str("unknown token"),
            Error::NotText => f.write_str("message body must be UTF-8 text"),
            Error::Forbidden(why) => f.write_str(why),
            Error::OutOfScope(why) => f.write_str(why),
            Error::NotFound => f.write_str("not found"),
            Error::MethodNotAllowed(allow) => write!(f, "method not allowed; use {allow}"),
            Error::VersionNotSupported => f.write_str("only HTTP/1.0 and HTTP/1.1 are served"),
            Error::UpgradeRequired => f.write_str("only WebSocket version 13 is supported"),
            Error::Unavailable(why) | Error::TooMany { why, .. } => f.write_str(why),
            Error::Io(e) => write!(f, "i/o: {e}"),
            Error::Startup(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Error {}

/// Whether an I/O error is a timeout we set: a read or write past
/// `SO_RCVTIMEO`/`SO_SNDTIMEO` (Unix reports `WouldBlock`), or a deadline of
/// our own (`TimedOut`). The one place that decides it.
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}
