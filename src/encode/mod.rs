//! Encoders: records to bytes for each sink (pure).
//!
//! `resp` builds Redis commands, `json` the JSON record (Docker json-file
//! fields plus ours), `cri` kubelet's CRI log line. Each computes the exact
//! length first, so a caller can check room (or a rotation bound) before
//! writing, and then writes through an `Out` or into a slice, all or nothing.

pub mod cri;
pub mod json;
pub mod resp;

/// A sink for encoded pieces.
pub trait Out {
    fn put(&mut self, b: &[u8]);
}

/// An `Out` over a slice the caller has checked is large enough.
pub struct SliceOut<'a> {
    pub buf: &'a mut [u8],
    pub pos: usize,
}

impl Out for SliceOut<'_> {
    fn put(&mut self, b: &[u8]) {
        self.buf[self.pos..self.pos + b.len()].copy_from_slice(b);
        self.pos += b.len();
    }
}

#[cfg(test)]
impl Out for std::vec::Vec<u8> {
    fn put(&mut self, b: &[u8]) {
        self.extend_from_slice(b);
    }
}
