//! Line framing (pure): bytes of one stream in, line chunks out.
//!
//! Each stream owns one `Frame`: reads land in its free tail, `next` hands out
//! complete lines (with their `\n`), a full buffer without a newline is handed
//! out as a partial chunk (never inside a UTF-8 character: an incomplete one at
//! the end waits for the next chunk), and at end of file the pending fragment
//! is handed out flagged partial. Chunks are contiguous, so the raw bytes of a whole read
//! can be written out at once.

use crate::limits::LINE_MAX;

/// One chunk: `buf[start..end]`, and whether it ends without `\n`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Chunk {
    pub start: usize,
    pub end: usize,
    pub partial: bool,
}

#[repr(C)]
pub struct Frame {
    /// Start of the bytes not yet handed out.
    start: usize,
    /// End of the bytes read.
    len: usize,
    /// How far `start..len` is known to hold no `\n`.
    scanned: usize,
    pub buf: [u8; LINE_MAX],
}

impl Frame {
    pub const NEW: Frame = Frame {
        buf: [0; LINE_MAX],
        start: 0,
        len: 0,
        scanned: 0,
    };

    /// Move the pending fragment to the front and return the free tail to read into.
    pub fn space(&mut self) -> &mut [u8] {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.len, 0);
            self.len -= self.start;
            self.scanned -= self.start;
            self.start = 0;
        }
        &mut self.buf[self.len..]
    }

    /// Record that `n` bytes were read into the free tail.
    pub fn commit(&mut self, n: usize) {
        self.len = (self.len + n).min(LINE_MAX);
    }

    /// The bytes held: the pending fragment and what was read after it.
    pub fn held(&self) -> &[u8] {
        &self.buf[self.start..self.len]
    }

    /// Keep `held()[from..]` and then `more`, which hold no newline, as the
    /// pending fragment (they fit the buffer).
    pub fn keep(&mut self, from: usize, more: &[u8]) {
        let a = self.start + from;
        let n = self.len - a;
        self.buf.copy_within(a..self.len, 0);
        self.buf[n..n + more.len()].copy_from_slice(more);
        self.start = 0;
        self.len = n + more.len();
        self.scanned = self.len;
    }

    /// Return the bytes of a chunk.
    pub fn bytes(&self, c: Chunk) -> &[u8] {
        &self.buf[c.start..c.end]
    }

    /// Return the next chunk: a line, a full-buffer piece, or (at `eof`) the fragment.
    pub fn next(&mut self, eof: bool) -> Option<Chunk> {
        let from = self.scanned.max(self.start);
        let chunk = match find_newline(&self.buf[from..self.len]) {
            Some(i) => Chunk {
                start: self.start,
                end: from + i + 1,
                partial: false,
            },
            None if self.len > self.start && eof => Chunk {
                start: self.start,
                end: self.len,
                partial: true,
            },
            None if self.start == 0 && self.len == LINE_MAX => Chunk {
                start: 0,
                end: utf8_cut(&self.buf),
                partial: true,
            },
            None => {
                self.scanned = self.len;
                return None;
            }
        };
        self.start = chunk.end;
        self.scanned = chunk.end;
        Some(chunk)
    }

    /// Return the number of bytes waiting for their newline.
    pub fn pending(&self) -> usize {
        self.len - self.start
    }
}

/// Return where to cut the full buffer `s`: its length, or the start of a UTF-8
/// character that begins in the last three bytes and would run past the end.
///
/// NOTE(compat): a character split across two chunks would become two U+FFFD in
/// JSON records, so a long line of valid UTF-8 is cut between characters, as
/// its chunks then decode back to the line. Invalid bytes are cut anywhere.
fn utf8_cut(s: &[u8]) -> usize {
    let n = s.len();
    // The last byte that is not a continuation byte, within the last three.
    let mut i = n - 1;
    while s[i] & 0xc0 == 0x80 && i + 3 > n {
        i -= 1;
    }
    // A lead byte's top bits give its character's length.
    let need = s[i].leading_ones() as usize;
    if (2..=4).contains(&need) && s[i] <= 0xf4 && i + need > n {
        i
    } else {
        n
    }
}

/// Return the index of the first `\n` in `s`.
///
/// NOTE(speed): eight bytes per step (the classic zero-byte test on `word ^
/// 0x0a0a..`); a byte loop was the largest cost of the local-file path. The
/// test's false positives only ever sit above a true match, so the lowest
/// flagged byte is the first newline.
pub fn find_newline(s: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const NL: u64 = LO * b'\n' as u64;
    let mut words = s.chunks_exact(8);
    let mut at = 0;
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        let x = u64::from_le_bytes(b) ^ NL;
        let hit = x.wrapping_sub(LO) & !x & HI;
        if hit != 0 {
            return Some(at + (hit.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words.remainder().iter().position(|&b| b == b'\n').map(|p| at + p)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    /// Feed `data` through `f` as reads fit, taking every chunk: (bytes, partial).
    pub(crate) fn feed(f: &mut Frame, data: &[u8], eof: bool) -> Vec<(Vec<u8>, bool)> {
        let mut out = Vec::new();
        let mut data = data;
        loop {
            let space = f.space();
            let n = space.len().min(data.len());
            space[..n].copy_from_slice(&data[..n]);
            f.commit(n);
            data = &data[n..];
            let last = data.is_empty();
            while let Some(c) = f.next(eof && last) {
                out.push((f.bytes(c).to_vec(), c.partial));
            }
            if last {
                return out;
            }
        }
    }

    #[test]
    fn lines_and_fragment() {
        let mut f = Frame::NEW;
        assert_eq!(
            feed(&mut f, b"a\nbc\nde", false),
            [(b"a\n".to_vec(), false), (b"bc\n".to_vec(), false)]
        );
        assert_eq!(f.pending(), 2);
        assert_eq!(feed(&mut f, b"f\n", false), [(b"def\n".to_vec(), false)]);
        assert_eq!(feed(&mut f, b"tail", true), [(b"tail".to_vec(), true)]);
        assert_eq!(f.pending(), 0);
    }

    #[test]
    fn bytes_pass_untouched() {
        let mut f = Frame::NEW;
        let line = b"\0\r\xff\xfe x\r\n";
        assert_eq!(feed(&mut f, line, false), [(line.to_vec(), false)]);
    }

    #[test]
    fn exactly_buffer_size_line() {
        let mut f = Frame::NEW;
        let mut line = std::vec![b'x'; LINE_MAX - 1];
        line.push(b'\n');
        assert_eq!(feed(&mut f, &line, false), [(line.clone(), false)]);
    }

    #[test]
    fn one_byte_over_is_cut() {
        let mut f = Frame::NEW;
        let mut line = std::vec![b'x'; LINE_MAX];
        line.push(b'\n');
        let out = feed(&mut f, &line, false);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], (std::vec![b'x'; LINE_MAX], true));
        assert_eq!(out[1], (b"\n".to_vec(), false));
    }

    #[test]
    fn a_cut_never_splits_a_utf8_character() {
        // "é" is 2 bytes, "€" 3, "😀" 4: put each across the buffer's end.
        for (ch, pad) in [("é", 1), ("€", 1), ("€", 2), ("😀", 1), ("😀", 2), ("😀", 3)] {
            let mut f = Frame::NEW;
            let mut line = std::vec![b'x'; LINE_MAX - pad];
            line.extend_from_slice(ch.as_bytes());
            line.extend_from_slice(b"yz\n");
            let out = feed(&mut f, &line, false);
            assert_eq!(out.len(), 2, "{ch} {pad}");
            assert_eq!(out[0], (std::vec![b'x'; LINE_MAX - pad], true), "{ch} {pad}");
            assert_eq!(out[1].0, [ch.as_bytes(), b"yz\n"].concat(), "{ch} {pad}");
        }
        // A character that ends exactly at the buffer's end is kept whole in it.
        let mut f = Frame::NEW;
        let mut line = std::vec![b'x'; LINE_MAX - 3];
        line.extend_from_slice("€\n".as_bytes());
        let out = feed(&mut f, &line, false);
        assert_eq!(out[0].0.len(), LINE_MAX);
        assert!(out[0].1);
        // Invalid bytes (a lone continuation, a lead byte past U+10FFFF) are cut anywhere.
        for tail in [
            &[0x80u8, 0x80, 0x80][..],
            &[0xf5u8][..],
            &[0xf8u8][..],
            &[0xffu8, 0xff][..],
        ] {
            let mut f = Frame::NEW;
            let mut line = std::vec![b'x'; LINE_MAX - tail.len()];
            line.extend_from_slice(tail);
            line.push(b'\n');
            let out = feed(&mut f, &line, false);
            assert_eq!(out[0].0.len(), LINE_MAX, "{tail:?}");
        }
    }

    #[test]
    fn long_line_rebuilds() {
        let mut f = Frame::NEW;
        let mut line: Vec<u8> = (0..100 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
        line.push(b'\n');
        let out = feed(&mut f, &line, false);
        assert_eq!(out.iter().filter(|c| !c.1).count(), 1);
        assert!(out.last().map(|c| !c.1).unwrap());
        let joined: Vec<u8> = out.iter().flat_map(|c| c.0.clone()).collect();
        assert_eq!(joined, line);
    }

    #[test]
    fn only_newlines() {
        let mut f = Frame::NEW;
        let out = feed(&mut f, &[b'\n'; 10000], false);
        assert_eq!(out.len(), 10000);
    }

    #[test]
    fn find_newline_agrees_with_a_byte_loop() {
        // Every length up to three words, a newline at every place (or none), and
        // neighbours that trip a naive zero-byte test (0x0b, 0x8a, 0x09, 0x0a0a).
        for len in 0..24 {
            for nl in 0..=len {
                for fill in [b'x', 0x0b, 0x8a, 0x09, 0x00, 0xff] {
                    let mut v = std::vec![fill; len];
                    if nl < len {
                        v[nl] = b'\n';
                        if nl + 1 < len {
                            v[nl + 1] = b'\n';
                        }
                    }
                    let want = v.iter().position(|&b| b == b'\n');
                    assert_eq!(find_newline(&v), want, "len {len} nl {nl} fill {fill:#x}");
                }
            }
        }
    }
}
