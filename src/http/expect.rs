//! `Expect: 100-continue`: a client with a body asks first whether the
//! server wants it, and sends the body only after the go-ahead (curl asks
//! for bodies over 1 KiB and for `-T`):
//!
//! ```text
//! POST /topics/news HTTP/1.1\r\n
//! Content-Length: 5000\r\n
//! Expect: 100-continue\r\n
//! \r\n
//!                                  HTTP/1.1 100 Continue\r\n\r\n
//! (the 5,000 bytes)
//!                                  HTTP/1.1 200 OK\r\n …
//! ```
//!
//! The go-ahead goes out when the handler first asks for the body, after it
//! has decided that the request may go on: a publish without the token it
//! needs gets its 401 at once, and the body is never sent. An answer given
//! before the body was read says `Connection: close`, and the connection
//! ends there (RFC 9110, section 10.1.1): the client's unsent bytes would
//! otherwise be taken for its next request. Without the header, the body is
//! read before routing (`connection.rs`).

use std::io::Write;

use super::body::{self, Framing};
use super::inbound::Inbound;
use super::request::Request;
use crate::config::HttpConfig;
use crate::error::Result;

/// The request's body, as a handler finds it.
#[derive(Debug)]
pub enum Body {
    /// Read in full before routing.
    Read(Vec<u8>),
    /// Not sent yet, to be delimited so: the client waits for the
    /// go-ahead. The connection's keep-alive is held back (the answer
    /// closes) until the body is read.
    Awaiting(Framing),
    /// Read in part, then refused (too large, badly framed, too slow).
    Broken,
}

impl Body {
    /// Whether the body is still unsent (the handler never asked for it).
    pub fn awaiting(&self) -> bool {
        matches!(self, Body::Awaiting(_))
    }

    /// Whether some of the body may still be on its way: unsent, or cut
    /// short by an error. The connection then ends with a lingering close.
    pub fn unfinished(&self) -> bool {
        matches!(self, Body::Awaiting(_) | Body::Broken)
    }

    /// Takes the body (a second call gets an empty one). One still unsent
    /// gets the go-ahead on `out` first, then is read in full from
    /// `inbound`.
    ///
    /// # Errors
    /// 413 past the cap, 400 for bad chunk framing, 408 when too slow, `Io`
    /// when the client hangs up; the connection then closes.
    pub fn take(
        &mut self,
        inbound: &mut Inbound,
        out: &mut impl Write,
        config: &HttpConfig,
    ) -> Result<Vec<u8>> {
        match std::mem::replace(self, Body::Read(Vec::new())) {
            Body::Read(bytes) => Ok(bytes),
            Body::Broken => Ok(Vec::new()),
            Body::Awaiting(framing) => {
                *self = Body::Broken;
                out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
                let bytes = body::read_body(inbound, framing, config)?;
                *self = Body::Read(Vec::new());
                Ok(bytes)
            }
        }
    }
}

/// Whether the client waits for a go-ahead before sending a body framed so.
pub fn wants_go_ahead(req: &Request, framing: Framing) -> bool {
    framing != Framing::Empty && req.is_http11() && req.header_has_token("Expect", "100-continue")
}
