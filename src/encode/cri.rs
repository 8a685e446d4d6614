//! kubelet's CRI log line (pure): `<RFC 3339 nanos, UTC> <stream> <P|F> <content>\n`.
//!
//! `F` ends a line, `P` marks a chunk of a cut line or a fragment at EOF. The
//! content is the chunk without its `\n`; a `\r` right before the `\n` is
//! dropped too, as containerd's CRI logger does. The time has a fixed width,
//! so lines sort and parse without surprises.

use super::Out;
use crate::clock;
use crate::record::Record;

/// Return the content of `rec` as it appears in the line.
fn content<'a>(rec: &Record<'a>) -> &'a [u8] {
    let mut c = rec.line;
    if !rec.partial {
        c = c.strip_suffix(b"\n").unwrap_or(c);
        c = c.strip_suffix(b"\r").unwrap_or(c);
    }
    c
}

/// Return the exact size of the line for `rec`, newline included.
pub fn line_len(rec: &Record) -> usize {
    clock::NANOS_LEN + 1 + rec.stream.name().len() + 3 + content(rec).len() + 1
}

/// Write the line for `rec`.
pub fn line(rec: &Record, out: &mut dyn Out) {
    let mut t = [0u8; clock::NANOS_LEN];
    clock::rfc3339_nanos(rec.time_ns, &mut t);
    out.put(&t);
    out.put(b" ");
    out.put(rec.stream.name());
    out.put(if rec.partial { b" P " } else { b" F " });
    out.put(content(rec));
    out.put(b"\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::LINE_MAX;
    use crate::record::Stream;
    extern crate std;
    use std::vec::Vec;

    fn enc(line_bytes: &[u8], stream: Stream, partial: bool) -> Vec<u8> {
        let t = (20_790u64 * 86_400 + 18 * 3600 + 41 * 60) * 1_000_000_000 + 123_456_789;
        let r = Record {
            stream,
            time_ns: t,
            seq: 0,
            partial,
            line: line_bytes,
        };
        let mut v = Vec::new();
        line(&r, &mut v);
        assert_eq!(v.len(), line_len(&r));
        v
    }

    /// Frame `data` (one stream, no end of file) and encode its chunks.
    fn framed(data: &[u8]) -> Vec<u8> {
        let mut f = crate::frame::Frame::NEW;
        let chunks = crate::frame::tests::feed(&mut f, data, false);
        chunks
            .iter()
            .flat_map(|(b, partial)| enc(b, Stream::Stdout, *partial))
            .collect()
    }

    #[test]
    fn line_of_exactly_the_buffer_size_and_one_byte_over() {
        let t = b"2026-12-03T18:41:00.123456789Z stdout ";
        let x = [b'x'; LINE_MAX];
        // LINE_MAX bytes with the newline: one full record.
        let mut line = x[..LINE_MAX - 1].to_vec();
        line.push(b'\n');
        assert_eq!(framed(&line), [&t[..], b"F ", &line].concat());
        // One byte over: a partial record of LINE_MAX bytes, then the newline alone.
        let mut line = x.to_vec();
        line.push(b'\n');
        let want = [&t[..], b"P ", &x, b"\n", t, b"F \n"].concat();
        assert_eq!(framed(&line), want);
        // Cut before a UTF-8 character that would not fit, never inside it.
        let mut line = x[..LINE_MAX - 1].to_vec();
        line.extend_from_slice("é\n".as_bytes());
        let want = [&t[..], b"P ", &x[..LINE_MAX - 1], b"\n", t, "F é\n".as_bytes()].concat();
        assert_eq!(framed(&line), want);
    }

    #[test]
    fn full_partial_crlf_nul() {
        assert_eq!(
            enc(b"hello\n", Stream::Stdout, false),
            b"2026-12-03T18:41:00.123456789Z stdout F hello\n"
        );
        assert_eq!(
            enc(b"part", Stream::Stderr, true),
            b"2026-12-03T18:41:00.123456789Z stderr P part\n"
        );
        assert_eq!(
            enc(b"dos\r\n", Stream::Stdout, false),
            b"2026-12-03T18:41:00.123456789Z stdout F dos\n"
        );
        assert_eq!(
            enc(b"a\0b\xff\n", Stream::Stdout, false),
            b"2026-12-03T18:41:00.123456789Z stdout F a\0b\xff\n"
        );
        assert_eq!(
            enc(b"\n", Stream::Stdout, false),
            b"2026-12-03T18:41:00.123456789Z stdout F \n"
        );
    }
}
