//! Incremental RESP reply reader (pure): one reply per command sent.
//!
//! Bytes from the socket are fed in any chunk size; each complete top-level
//! reply is reported as `Reply::Ok` or `Reply::Err(word)`. Bulk payloads are
//! skipped, not stored, so a reply of any size costs no memory; nesting is a
//! fixed stack of counts. Anything that is not RESP is a protocol error, and
//! the connection is then dropped by the caller.

/// Deepest nesting of aggregate replies accepted.
const MAX_DEPTH: usize = 8;
/// Bytes kept of a header or error line (enough for the error word and a length).
const LINE_KEEP: usize = 24;

/// The first word of an error reply (`NOAUTH`, `WRONGTYPE`, `ERR`, ...).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ErrWord {
    buf: [u8; 16],
    len: u8,
}

impl ErrWord {
    pub const NONE: ErrWord = ErrWord { buf: [0; 16], len: 0 };

    /// Keep the first 16 bytes of `w`.
    pub fn from(w: &[u8]) -> ErrWord {
        let mut e = ErrWord::NONE;
        let n = w.len().min(16);
        e.buf[..n].copy_from_slice(&w[..n]);
        e.len = n as u8;
        e
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Reply {
    Ok,
    Err(ErrWord),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ProtoError {
    /// A byte that does not start any RESP type.
    BadType,
    /// A length or count that is not a number in range.
    BadLength,
    /// A line not ended by `\r\n`, or a bulk not followed by it.
    BadTerminator,
    /// Aggregates nested deeper than we track.
    TooDeep,
}

impl ProtoError {
    /// Return the message for this error.
    pub fn text(self) -> &'static [u8] {
        match self {
            ProtoError::BadType => b"protocol error: unknown reply type",
            ProtoError::BadLength => b"protocol error: bad length in reply",
            ProtoError::BadTerminator => b"protocol error: missing CRLF in reply",
            ProtoError::TooDeep => b"protocol error: reply nested too deep",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum St {
    Type,
    /// Inside a header or simple line of this type byte.
    Line(u8),
    /// Expecting the `\n` of a line.
    Lf(u8),
    /// Skipping this many payload bytes, then `\r\n`.
    Bulk(u64),
    BulkCr,
    BulkLf,
}

pub struct Reader {
    st: St,
    stack: [u64; MAX_DEPTH],
    depth: usize,
    line: [u8; LINE_KEEP],
    line_len: usize,
    /// Error of the current top-level reply, if any element was an error.
    err: Option<ErrWord>,
}

impl Reader {
    pub const NEW: Reader = Reader {
        st: St::Type,
        stack: [0; MAX_DEPTH],
        depth: 0,
        line: [0; LINE_KEEP],
        line_len: 0,
        err: None,
    };

    /// Forget any partial reply (after a reconnect).
    pub fn reset(&mut self) {
        *self = Reader::NEW;
    }

    /// Feed bytes; call `f` for each complete top-level reply.
    pub fn feed(&mut self, data: &[u8], f: &mut dyn FnMut(Reply)) -> Result<(), ProtoError> {
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            match self.st {
                St::Type => {
                    if !b"+-:$*_#,(!=%~>|".contains(&b) {
                        return Err(ProtoError::BadType);
                    }
                    self.line_len = 0;
                    self.st = St::Line(b);
                    i += 1;
                }
                St::Line(t) => {
                    // Take the run up to '\r' in one step.
                    let rest = &data[i..];
                    let n = rest.iter().position(|&c| c == b'\r').unwrap_or(rest.len());
                    if rest[..n].contains(&b'\n') {
                        return Err(ProtoError::BadTerminator);
                    }
                    let keep = n.min(LINE_KEEP - self.line_len);
                    self.line[self.line_len..self.line_len + keep].copy_from_slice(&rest[..keep]);
                    self.line_len += keep;
                    i += n;
                    if n < rest.len() {
                        self.st = St::Lf(t);
                        i += 1;
                    }
                }
                St::Lf(t) => {
                    if b != b'\n' {
                        return Err(ProtoError::BadTerminator);
                    }
                    i += 1;
                    self.line_done(t, f)?;
                }
                St::Bulk(left) => {
                    let take = (data.len() - i).min(left.min(usize::MAX as u64) as usize);
                    i += take;
                    let left = left - take as u64;
                    self.st = if left == 0 { St::BulkCr } else { St::Bulk(left) };
                }
                St::BulkCr => {
                    if b != b'\r' {
                        return Err(ProtoError::BadTerminator);
                    }
                    i += 1;
                    self.st = St::BulkLf;
                }
                St::BulkLf => {
                    if b != b'\n' {
                        return Err(ProtoError::BadTerminator);
                    }
                    i += 1;
                    self.st = St::Type;
                    self.value_done(f);
                }
            }
        }
        Ok(())
    }

    /// Parse the kept line as a signed length (-1 allowed).
    fn length(&self) -> Result<Option<u64>, ProtoError> {
        let s = &self.line[..self.line_len];
        if s == b"-1" {
            return Ok(None);
        }
        if s.is_empty() || s.len() > 18 || !s.iter().all(u8::is_ascii_digit) {
            return Err(ProtoError::BadLength);
        }
        Ok(Some(s.iter().fold(0u64, |v, &c| v * 10 + (c - b'0') as u64)))
    }

    fn line_done(&mut self, t: u8, f: &mut dyn FnMut(Reply)) -> Result<(), ProtoError> {
        self.st = St::Type;
        match t {
            b'-' => {
                self.note_error();
                self.value_done(f);
            }
            b'+' | b':' | b'_' | b'#' | b',' | b'(' => self.value_done(f),
            b'$' | b'!' | b'=' => {
                if t == b'!' {
                    let mut w = ErrWord::NONE;
                    w.buf[..3].copy_from_slice(b"ERR");
                    w.len = 3;
                    self.err.get_or_insert(w);
                }
                match self.length()? {
                    None => self.value_done(f),
                    Some(n) => self.st = St::Bulk(n),
                }
                if self.st == St::Bulk(0) {
                    self.st = St::BulkCr;
                }
            }
            _ => {
                // Aggregates: '*', '~', '>' count elements, '%' and '|' pairs.
                let n = match self.length()? {
                    None | Some(0) => {
                        if t != b'|' {
                            self.value_done(f);
                        }
                        return Ok(());
                    }
                    Some(n) if t == b'%' || t == b'|' => n.checked_mul(2).ok_or(ProtoError::BadLength)?,
                    Some(n) => n,
                };
                if self.depth >= MAX_DEPTH {
                    return Err(ProtoError::TooDeep);
                }
                // An attribute ('|') is extra data before a reply: its elements
                // plus the reply itself complete one value.
                self.stack[self.depth] = if t == b'|' { n + 1 } else { n };
                self.depth += 1;
            }
        }
        Ok(())
    }

    fn note_error(&mut self) {
        if self.err.is_some() {
            return;
        }
        let s = &self.line[..self.line_len];
        let word = s.split(|&c| c == b' ').next().unwrap_or(b"");
        let mut w = ErrWord::NONE;
        let n = word.len().min(w.buf.len());
        for (d, &c) in w.buf.iter_mut().zip(&word[..n]) {
            *d = if c.is_ascii_graphic() { c } else { b'?' };
        }
        w.len = n as u8;
        if n == 0 {
            w.buf[..3].copy_from_slice(b"ERR");
            w.len = 3;
        }
        self.err = Some(w);
    }

    /// One value finished: pop finished aggregates; report a finished top level.
    fn value_done(&mut self, f: &mut dyn FnMut(Reply)) {
        while self.depth > 0 {
            self.stack[self.depth - 1] -= 1;
            if self.stack[self.depth - 1] > 0 {
                return;
            }
            self.depth -= 1;
        }
        match self.err.take() {
            Some(w) => f(Reply::Err(w)),
            None => f(Reply::Ok),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    fn replies(input: &[u8], chunk: usize) -> Result<Vec<Reply>, ProtoError> {
        let mut r = Reader::NEW;
        let mut out = Vec::new();
        for c in input.chunks(chunk.max(1)) {
            r.feed(c, &mut |x| out.push(x))?;
        }
        Ok(out)
    }

    fn word(w: &[u8]) -> Reply {
        let mut e = ErrWord::NONE;
        e.buf[..w.len()].copy_from_slice(w);
        e.len = w.len() as u8;
        Reply::Err(e)
    }

    const MIX: &[u8] = b"+OK\r\n:1\r\n-NOAUTH Authentication required.\r\n$5\r\nhello\r\n$-1\r\n*2\r\n$1\r\na\r\n*1\r\n:2\r\n*0\r\n-WRONGTYPE Operation\r\n$0\r\n\r\n*-1\r\n";

    #[test]
    fn every_chunk_size() {
        let want = [
            Reply::Ok,
            Reply::Ok,
            word(b"NOAUTH"),
            Reply::Ok,
            Reply::Ok,
            Reply::Ok,
            Reply::Ok,
            word(b"WRONGTYPE"),
            Reply::Ok,
            Reply::Ok,
        ];
        for chunk in 1..=MIX.len() {
            assert_eq!(replies(MIX, chunk).unwrap(), want, "chunk {}", chunk);
        }
    }

    #[test]
    fn error_inside_array_marks_reply() {
        assert_eq!(replies(b"*2\r\n+OK\r\n-ERR x\r\n", 3).unwrap(), [word(b"ERR")]);
    }

    #[test]
    fn huge_bulk_is_skipped_not_stored() {
        let mut r = Reader::NEW;
        let mut n = 0;
        r.feed(b"$536870912\r\n", &mut |_| n += 1).unwrap();
        let zeros = [0u8; 4096];
        for _ in 0..(536870912 / 4096) {
            r.feed(&zeros, &mut |_| n += 1).unwrap();
        }
        assert_eq!(n, 0);
        r.feed(b"\r\n:1\r\n", &mut |_| n += 1).unwrap();
        assert_eq!(n, 2);
    }

    #[test]
    fn garbage() {
        assert_eq!(replies(b"HTTP/1.1 200 OK\r\n", 4), Err(ProtoError::BadType));
        assert_eq!(replies(b"$abc\r\n", 4), Err(ProtoError::BadLength));
        assert_eq!(replies(b"$3\r\nabcd\r\n", 4), Err(ProtoError::BadTerminator));
        assert_eq!(replies(b"+OK\n", 4), Err(ProtoError::BadTerminator));
        assert_eq!(
            replies(b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n", 4),
            Err(ProtoError::TooDeep)
        );
    }

    #[test]
    fn resp3_map_and_attribute() {
        assert_eq!(
            replies(b"%1\r\n+a\r\n:1\r\n|1\r\n+k\r\n+v\r\n+OK\r\n", 2).unwrap(),
            [Reply::Ok, Reply::Ok]
        );
    }
}
