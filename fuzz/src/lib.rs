//! The pure modules of shim-logs, compiled for fuzzing (support crate of `fuzz/`).
//!
//! The binary is `no_std` with no library target, so its pure modules (no fd, no
//! libc) are included here by path: `crate::json`, `crate::url`, ... resolve exactly
//! as they do in the binary. The fuzz targets in `fuzz_targets/` use them, plus the
//! small helpers at the bottom of this file.
#![allow(dead_code)]
// The binary's modules are private there; made public here, some of their names draw
// lints meant for library APIs (`Parser::next`, `Fixed::from`, ...).
#![allow(clippy::should_implement_trait)]

#[path = "../../src/clock.rs"]
pub mod clock;
#[path = "../../src/config.rs"]
pub mod config;
#[path = "../../src/encode/mod.rs"]
pub mod encode;
#[path = "../../src/frame.rs"]
pub mod frame;
#[path = "../../src/json.rs"]
pub mod json;
#[path = "../../src/limits.rs"]
pub mod limits;
#[path = "../../src/record.rs"]
pub mod record;
#[path = "../../src/reply.rs"]
pub mod reply;
#[path = "../../src/url.rs"]
pub mod url;

/// An `Out` that collects everything into a vector.
#[derive(Default)]
pub struct VecOut(pub Vec<u8>);

impl encode::Out for VecOut {
    fn put(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
}

/// Decode `s` as the JSON encoder promises to: valid UTF-8 sequences as they are,
/// every other byte as one U+FFFD. Written against `core::str` (not `json::utf8_len`),
/// so it is an independent oracle.
pub fn lossy_per_byte(s: &[u8]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < s.len() {
        let mut took = 0;
        for k in 1..=4 {
            if let Some(Ok(t)) = s.get(i..i + k).map(std::str::from_utf8) {
                out.push_str(t);
                took = k;
                break;
            }
        }
        if took == 0 {
            out.push('\u{fffd}');
            i += 1;
        } else {
            i += took;
        }
    }
    out
}

/// A cursor over fuzz input that never fails: past the end it yields zeros.
pub struct Cursor<'a> {
    pub data: &'a [u8],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(data: &'a [u8]) -> Cursor<'a> {
        Cursor { data, pos: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    pub fn u64(&mut self) -> u64 {
        let mut v = [0u8; 8];
        for b in v.iter_mut() {
            *b = self.u8();
        }
        u64::from_le_bytes(v)
    }

    /// Take up to `n` bytes (fewer at the end of the input).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let end = (start + n).min(self.data.len());
        self.pos = end;
        &self.data[start..end]
    }

    /// Take everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        self.bytes(usize::MAX / 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lossy_oracle() {
        assert_eq!(lossy_per_byte(b"a\xe2\x82b"), "a\u{fffd}\u{fffd}b");
        assert_eq!(lossy_per_byte("é😀".as_bytes()), "é😀");
        assert_eq!(lossy_per_byte(b"\xed\xa0\x80"), "\u{fffd}\u{fffd}\u{fffd}");
    }
}
