//! Bytes handed out in pieces, as a network delivers them: the fuzz input
//! itself says where the cuts fall, so a crash replays exactly.
//!
//! The first two bytes of an input are not wire bytes but choose the cuts:
//!
//! ```text
//! byte 0   the largest piece: (byte % 64) + 1 bytes ('a' = 34, '~' = 63)
//! byte 1   the seed of the cut positions; its low bit: the source ends
//!          with end of stream (0) or with a read timeout (1)
//! ```
//!
//! Every eighth read or so is `Interrupted` first, which readers must retry.

// Each target uses the part it needs.
#![allow(dead_code)]

use std::cell::Cell;
use std::io;
use std::rc::Rc;
use std::sync::OnceLock;
use std::time::Duration;

use tinypush::config::HttpConfig;
use tinypush::http::inbound::Source;

/// An HTTP target's input: the cuts, then one byte choosing the limits,
/// then the wire bytes; `None` when too short.
pub fn http_input(data: &[u8]) -> Option<(Cuts, u8, &[u8])> {
    let (cuts, rest) = Cuts::take(data)?;
    let (&limits, wire) = rest.split_first()?;
    Some((cuts, limits, wire))
}

/// The server's HTTP settings as `tinypush serve` has them with no flags:
/// parsed once, not per input.
pub fn http_defaults() -> HttpConfig {
    static DEFAULTS: OnceLock<HttpConfig> = OnceLock::new();
    DEFAULTS
        .get_or_init(|| tinypush::Config::default().http)
        .clone()
}

/// How an input is cut into pieces.
#[derive(Debug, Clone)]
pub struct Cuts {
    state: u32,
    most: usize,
    /// The source ends with a timeout rather than end of stream.
    pub times_out: bool,
}

impl Cuts {
    /// Takes the two control bytes off the front of `data`; `None` when
    /// there are fewer than two.
    pub fn take(data: &[u8]) -> Option<(Cuts, &[u8])> {
        let (&[most, seed], rest) = data.split_first_chunk::<2>()?;
        let cuts = Cuts {
            // Never zero: xorshift would stay there.
            state: 0x9e37_79b9 ^ u32::from(seed),
            most: usize::from(most % 64) + 1,
            times_out: seed & 1 == 1,
        };
        Some((cuts, rest))
    }

    fn next(&mut self) -> u32 {
        // xorshift32: cheap, and the same cuts for the same seed.
        self.state ^= self.state << 13;
        self.state ^= self.state >> 17;
        self.state ^= self.state << 5;
        self.state
    }

    /// The length of the next piece, 1 to the largest, at most `left`.
    pub fn piece(&mut self, left: usize) -> usize {
        (self.next() as usize % self.most + 1).min(left)
    }

    /// `data` cut into pieces, none empty.
    pub fn split<'a>(&mut self, mut data: &'a [u8]) -> Vec<&'a [u8]> {
        let mut pieces = Vec::new();
        while !data.is_empty() {
            let (piece, rest) = data.split_at(self.piece(data.len()));
            pieces.push(piece);
            data = rest;
        }
        pieces
    }
}

/// A [`Source`] over bytes in memory, read in pieces.
pub struct Pieces<'a> {
    rest: &'a [u8],
    cuts: Cuts,
    given: Rc<Cell<usize>>,
}

impl<'a> Pieces<'a> {
    /// Hands out `data` cut as `cuts` says.
    pub fn new(data: &'a [u8], cuts: Cuts) -> Self {
        Pieces {
            rest: data,
            cuts,
            given: Rc::default(),
        }
    }

    /// A count of the bytes handed out so far, to read after the source
    /// has been moved into its reader.
    pub fn given(&self) -> Rc<Cell<usize>> {
        Rc::clone(&self.given)
    }
}

impl Source for Pieces<'_> {
    fn read_within(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        assert!(
            !timeout.is_zero(),
            "a zero timeout blocks forever on a socket"
        );
        if self.cuts.next().is_multiple_of(8) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        if self.rest.is_empty() {
            return if self.cuts.times_out {
                Err(io::ErrorKind::WouldBlock.into())
            } else {
                Ok(0)
            };
        }
        let n = self.cuts.piece(self.rest.len()).min(buf.len());
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        self.given.set(self.given.get() + n);
        Ok(n)
    }
}
