//! RESP command encoder (pure): arrays of bulk strings.
//!
//! `PUBLISH ch line` becomes `*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$5\r\nline\n\r\n`.
//! `len` gives the exact size; `write` fills a slice or refuses without
//! writing anything. `command_end` finds where a queued command ends, which
//! is how acknowledgements are matched to commands without a side table.

use super::json::{self, Identity};
use super::{Out, SliceOut};
use crate::record::Record;

/// Return the number of decimal digits of `n`.
fn digits(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// One argument of a command: bytes, or a record encoded as JSON on the way.
#[derive(Clone, Copy)]
pub enum Arg<'a> {
    B(&'a [u8]),
    Json(&'a Record<'a>, Option<&'a Identity<'a>>),
}

impl Arg<'_> {
    fn len(&self) -> usize {
        match self {
            Arg::B(b) => b.len(),
            Arg::Json(r, i) => json::record_len(r, *i),
        }
    }
}

/// A command being assembled (at most 16 arguments).
pub struct ArgList<'a> {
    args: [Arg<'a>; 16],
    n: usize,
}

impl Default for ArgList<'_> {
    fn default() -> Self {
        ArgList::new()
    }
}

impl<'a> ArgList<'a> {
    pub fn new() -> ArgList<'a> {
        ArgList {
            args: [Arg::B(b""); 16],
            n: 0,
        }
    }
    pub fn push(&mut self, a: Arg<'a>) {
        self.args[self.n] = a;
        self.n += 1;
    }
    pub fn as_slice(&self) -> &[Arg<'a>] {
        &self.args[..self.n]
    }
}

/// Return the exact encoded size of a command made of `parts`.
#[cfg(test)]
pub fn len(parts: &[&[u8]]) -> usize {
    let mut n = 1 + digits(parts.len()) + 2;
    for p in parts {
        n += 1 + digits(p.len()) + 2 + p.len() + 2;
    }
    n
}

/// Return the exact encoded size of a command made of `args`.
pub fn args_len(args: &[Arg]) -> usize {
    let mut n = 1 + digits(args.len()) + 2;
    for a in args {
        let l = a.len();
        n += 1 + digits(l) + 2 + l + 2;
    }
    n
}

/// Encode `parts` into `out`; return the size, or `None` (nothing written) if it does not fit.
pub fn write(parts: &[&[u8]], out: &mut [u8]) -> Option<usize> {
    let mut args = [Arg::B(b""); 8];
    for (a, p) in args.iter_mut().zip(parts) {
        *a = Arg::B(p);
    }
    write_args(&args[..parts.len().min(8)], out)
}

/// Encode `args` into `out`; return the size, or `None` (nothing written) if it does not fit.
pub fn write_args(args: &[Arg], out: &mut [u8]) -> Option<usize> {
    let total = args_len(args);
    let out = out.get_mut(..total)?;
    let mut w = SliceOut { buf: out, pos: 0 };
    put_header(&mut w, b'*', args.len());
    for a in args {
        put_header(&mut w, b'$', a.len());
        match a {
            Arg::B(b) => w.put(b),
            Arg::Json(r, i) => json::record(r, *i, &mut w),
        }
        w.put(b"\r\n");
    }
    debug_assert_eq!(w.pos, total);
    Some(total)
}

/// Write `<kind><n>\r\n` in one piece.
#[inline(never)]
fn put_header(w: &mut SliceOut, kind: u8, n: usize) {
    // NOTE(speed): digits written backwards into a small array, one copy out.
    let mut h = [0u8; 24];
    let mut i = h.len() - 2;
    h[i] = b'\r';
    h[i + 1] = b'\n';
    let mut v = n;
    loop {
        i -= 1;
        h[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    i -= 1;
    h[i] = kind;
    w.put(&h[i..]);
}

/// Parse a decimal header line `<digits>\r\n` at `s`; return (value, bytes used).
fn header(s: &[u8]) -> Option<(usize, usize)> {
    // At most 12 digits, so `v` cannot overflow.
    let mut v: usize = 0;
    for (i, &c) in s.iter().enumerate().take(13) {
        if c.is_ascii_digit() {
            v = v * 10 + (c - b'0') as usize;
        } else {
            return (i > 0 && i <= 12 && c == b'\r' && s.get(i + 1) == Some(&b'\n')).then_some((v, i + 2));
        }
    }
    None
}

/// The answer of `command_end`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum End {
    /// A complete command of this many bytes starts the slice.
    Complete(usize),
    /// The slice holds only the beginning of a command.
    Incomplete,
    /// The bytes are not a command this encoder could have written.
    Invalid,
}

/// Find the end of the command at the start of `s`.
pub fn command_end(s: &[u8]) -> End {
    if s.is_empty() {
        return End::Incomplete;
    }
    if s[0] != b'*' {
        return End::Invalid;
    }
    let (n, mut pos) = match header(&s[1..]) {
        Some((n, used)) if n > 0 && n <= 64 => (n, 1 + used),
        Some(_) => return End::Invalid,
        None if s.len() < 16 && s[1..].iter().all(u8::is_ascii_digit) => return End::Incomplete,
        None if s.len() < 16 && s[1..].iter().all(|c| c.is_ascii_digit() || *c == b'\r') => return End::Incomplete,
        None => return End::Invalid,
    };
    for _ in 0..n {
        let rest = &s[pos..];
        if rest.is_empty() {
            return End::Incomplete;
        }
        if rest[0] != b'$' {
            return End::Invalid;
        }
        let (blen, used) = match header(&rest[1..]) {
            Some(h) => h,
            None if rest.len() < 16 => return End::Incomplete,
            None => return End::Invalid,
        };
        pos += 1 + used + blen + 2;
        if pos > s.len() {
            return End::Incomplete;
        }
        if &s[pos - 2..pos] != b"\r\n" {
            return End::Invalid;
        }
    }
    End::Complete(pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLISH: &[u8] = b"*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$5\r\nline\n\r\n";

    #[test]
    fn publish_exact_bytes() {
        let mut out = [0u8; 64];
        let parts: [&[u8]; 3] = [b"PUBLISH", b"ch", b"line\n"];
        assert_eq!(len(&parts), PUBLISH.len());
        let n = write(&parts, &mut out).unwrap();
        assert_eq!(&out[..n], PUBLISH);
    }

    #[test]
    fn all_or_nothing() {
        let mut out = [0xaau8; 64];
        let parts: [&[u8]; 3] = [b"PUBLISH", b"ch", b"line\n"];
        assert_eq!(write(&parts, &mut out[..PUBLISH.len() - 1]), None);
        assert!(out.iter().all(|&b| b == 0xaa));
    }

    #[test]
    fn auth_and_binary() {
        let mut out = [0u8; 64];
        let n = write(&[b"AUTH", b"u", b"p w"], &mut out).unwrap();
        assert_eq!(&out[..n], b"*3\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$3\r\np w\r\n");
        let n = write(&[b"PUBLISH", b"c", b"\0\r\n\xff"], &mut out).unwrap();
        assert_eq!(&out[..n], b"*3\r\n$7\r\nPUBLISH\r\n$1\r\nc\r\n$4\r\n\0\r\n\xff\r\n");
        let n = write(&[b"PUBLISH", b"c", b""], &mut out).unwrap();
        assert_eq!(&out[..n], b"*3\r\n$7\r\nPUBLISH\r\n$1\r\nc\r\n$0\r\n\r\n");
    }

    #[test]
    fn ten_byte_lengths() {
        let big = [b'x'; 10];
        assert_eq!(len(&[&big]), 4 + 5 + 10 + 2);
    }

    #[test]
    fn ends() {
        assert_eq!(command_end(PUBLISH), End::Complete(PUBLISH.len()));
        let mut two = [0u8; 128];
        two[..PUBLISH.len()].copy_from_slice(PUBLISH);
        two[PUBLISH.len()..2 * PUBLISH.len()].copy_from_slice(PUBLISH);
        assert_eq!(command_end(&two[..2 * PUBLISH.len()]), End::Complete(PUBLISH.len()));
        for cut in 0..PUBLISH.len() {
            assert_eq!(command_end(&PUBLISH[..cut]), End::Incomplete, "cut {}", cut);
        }
        assert_eq!(command_end(b"+OK\r\n"), End::Invalid);
        assert_eq!(command_end(b"*1\r\n$3\r\nabcX\n"), End::Invalid);
        assert_eq!(command_end(b"*0\r\n"), End::Invalid);
    }

    #[test]
    fn header_limits() {
        assert_eq!(header(b"5\r\n"), Some((5, 3)));
        assert_eq!(header(b"999999999999\r\n"), Some((999_999_999_999, 14)));
        assert_eq!(header(b"1000000000000\r\n"), None, "13 digits");
        for bad in [&b""[..], b"\r\n", b"5", b"5\r", b"5\n", b"-1\r\n", b"5\rx"] {
            assert_eq!(header(bad), None, "{bad:?}");
        }
        let mut out = [0u8; 64];
        let big = [b'x'; 1234];
        let mut w = SliceOut { buf: &mut out, pos: 0 };
        put_header(&mut w, b'$', big.len());
        put_header(&mut w, b'*', 0);
        assert_eq!(&out[..11], b"$1234\r\n*0\r\n");
    }
}
