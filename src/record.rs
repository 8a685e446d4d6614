//! A record: one line chunk with its stream, receive time, sequence number and
//! partial flag. It is what every sink and encoder takes.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Stream {
    Stdout = 0,
    Stderr = 1,
}

impl Stream {
    pub fn name(self) -> &'static [u8] {
        match self {
            Stream::Stdout => b"stdout",
            Stream::Stderr => b"stderr",
        }
    }
    /// Return the bit of this stream in an endpoint's stream mask.
    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    pub stream: Stream,
    /// Receive time, nanoseconds since the Unix epoch (UTC).
    pub time_ns: u64,
    /// One counter across both streams, from 0 for each logger process.
    pub seq: u64,
    /// True for every chunk of a cut line but the last, and a fragment at EOF.
    pub partial: bool,
    pub line: &'a [u8],
}
