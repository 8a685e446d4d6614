//! The JSON record (pure): Docker json-file fields plus ours.
//!
//! `{"log":"line\n","stream":"stdout","time":"2026-12-03T18:41:00.123456789Z","seq":42}`
//! with `"partial":true` added for a chunk of a cut line (or a fragment at EOF),
//! and `"id"`/`"namespace"` for Redis. Escaping is by table: `"` and `\` are
//! backslashed, `\n`, `\r`, `\t` use their short forms, other control bytes
//! and DEL become `\u00XX`, and invalid UTF-8 becomes U+FFFD, so every record
//! is valid JSON whatever the container wrote.

use super::Out;
use crate::clock;
use crate::json::utf8_len;
use crate::record::Record;

/// The replacement for a byte that is not part of valid UTF-8.
const REPLACEMENT: &[u8] = "\u{fffd}".as_bytes();

/// How byte `c` (below 0x80) is written: 0 = as is, 2 = two-byte escape, 6 = `\u00XX`.
const fn class(c: u8) -> u8 {
    match c {
        b'"' | b'\\' | b'\n' | b'\r' | b'\t' => 2,
        0..=0x1f | 0x7f => 6,
        _ => 0,
    }
}

/// Escaped size of every ASCII byte, as a table.
const ASCII: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut i = 0;
    while i < 128 {
        t[i] = class(i as u8);
        i += 1;
    }
    t
};

/// Return the escaped length of `s` (without quotes).
pub fn escaped_len(s: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if c < 0x80 {
            n += match ASCII[c as usize] {
                0 => 1,
                k => k as usize,
            };
            i += 1;
        } else {
            match utf8_len(&s[i..]) {
                0 => {
                    n += REPLACEMENT.len();
                    i += 1;
                }
                k => {
                    n += k;
                    i += k;
                }
            }
        }
    }
    n
}

/// Write `s` escaped (without quotes).
pub fn escape(s: &[u8], out: &mut dyn Out) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut run = 0; // start of bytes that pass as they are
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        let (skip, rep): (usize, &[u8]) = if c < 0x80 {
            match ASCII[c as usize] {
                0 => {
                    i += 1;
                    continue;
                }
                2 => (
                    1,
                    match c {
                        b'"' => b"\\\"",
                        b'\\' => b"\\\\",
                        b'\n' => b"\\n",
                        b'\r' => b"\\r",
                        _ => b"\\t",
                    },
                ),
                _ => {
                    out.put(&s[run..i]);
                    out.put(&[b'\\', b'u', b'0', b'0', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]]);
                    i += 1;
                    run = i;
                    continue;
                }
            }
        } else {
            match utf8_len(&s[i..]) {
                0 => (1, REPLACEMENT),
                k => {
                    i += k;
                    continue;
                }
            }
        };
        out.put(&s[run..i]);
        out.put(rep);
        i += skip;
        run = i;
    }
    out.put(&s[run..]);
}

/// The container identity added to records sent to Redis.
#[derive(Clone, Copy)]
pub struct Identity<'a> {
    pub id: &'a [u8],
    pub namespace: &'a [u8],
}

/// Return the exact size of `record(rec, ident)`, without a trailing newline.
pub fn record_len(rec: &Record, ident: Option<&Identity>) -> usize {
    let mut n = b"{\"log\":\"".len() + escaped_len(rec.line);
    n += b"\",\"stream\":\"".len() + rec.stream.name().len();
    n += b"\",\"time\":\"".len() + clock::NANOS_LEN;
    n += b"\",\"seq\":".len() + itoa::Buffer::new().format(rec.seq).len();
    if rec.partial {
        n += b",\"partial\":true".len();
    }
    if let Some(i) = ident {
        n += b",\"id\":\"".len() + escaped_len(i.id) + b"\",\"namespace\":\"".len() + escaped_len(i.namespace) + 1;
    }
    n + 1
}

/// Write the JSON object for `rec` (no trailing newline).
pub fn record(rec: &Record, ident: Option<&Identity>, out: &mut dyn Out) {
    let mut t = [0u8; clock::NANOS_LEN];
    clock::rfc3339_nanos(rec.time_ns, &mut t);
    out.put(b"{\"log\":\"");
    escape(rec.line, out);
    out.put(b"\",\"stream\":\"");
    out.put(rec.stream.name());
    out.put(b"\",\"time\":\"");
    out.put(&t);
    out.put(b"\",\"seq\":");
    out.put(itoa::Buffer::new().format(rec.seq).as_bytes());
    if rec.partial {
        out.put(b",\"partial\":true");
    }
    if let Some(i) = ident {
        out.put(b",\"id\":\"");
        escape(i.id, out);
        out.put(b"\",\"namespace\":\"");
        escape(i.namespace, out);
        out.put(b"\"");
    }
    out.put(b"}");
}

/// Return the longest prefix of `s` whose escaped length is at most `budget`,
/// never splitting a UTF-8 sequence.
pub fn prefix_within(s: &[u8], budget: usize) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < s.len() {
        let (step, cost) = if s[i] < 0x80 {
            (1, ASCII[s[i] as usize].max(1) as usize)
        } else {
            match utf8_len(&s[i..]) {
                0 => (1, REPLACEMENT.len()),
                k => (k, k),
            }
        };
        if n + cost > budget {
            break;
        }
        n += cost;
        i += step;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::LINE_MAX;
    use crate::record::Stream;
    extern crate std;
    use std::vec::Vec;

    fn rec(line: &[u8], partial: bool) -> Record<'_> {
        // 2026-12-03T18:41:00.123456789Z
        let t = (20_790u64 * 86_400 + 18 * 3600 + 41 * 60) * 1_000_000_000 + 123_456_789;
        Record {
            stream: Stream::Stdout,
            time_ns: t,
            seq: 42,
            partial,
            line,
        }
    }

    fn enc(r: &Record, i: Option<&Identity>) -> Vec<u8> {
        let mut v = Vec::new();
        record(r, i, &mut v);
        assert_eq!(v.len(), record_len(r, i), "record_len");
        v
    }

    /// Frame `data` (one stream, no end of file) and encode its chunks, numbered from 42.
    fn framed(data: &[u8]) -> Vec<Vec<u8>> {
        let mut f = crate::frame::Frame::NEW;
        let chunks = crate::frame::tests::feed(&mut f, data, false);
        (0..)
            .zip(chunks.iter())
            .map(|(k, (b, partial))| {
                let mut r = rec(b, *partial);
                r.seq += k;
                enc(&r, None)
            })
            .collect()
    }

    #[test]
    fn line_of_exactly_the_buffer_size_and_one_byte_over() {
        let t = br#""stream":"stdout","time":"2026-12-03T18:41:00.123456789Z","seq":"#;
        let x = [b'x'; LINE_MAX];
        // LINE_MAX bytes with the newline: one record.
        let mut line = x[..LINE_MAX - 1].to_vec();
        line.push(b'\n');
        let want = [&br#"{"log":""#[..], &x[..LINE_MAX - 1], br#"\n","#, t, b"42}"].concat();
        assert_eq!(framed(&line), [want]);
        // One byte over: a partial record of LINE_MAX bytes, then the newline alone.
        let mut line = x.to_vec();
        line.push(b'\n');
        let first = [&br#"{"log":""#[..], &x, br#"","#, t, br#"42,"partial":true}"#].concat();
        let second = [&br#"{"log":"\n","#[..], t, b"43}"].concat();
        assert_eq!(framed(&line), [first, second]);
        // A 3-byte character across the buffer's end goes whole into the next record,
        // so the records decode back to the line (no U+FFFD for a valid line).
        let mut line = x[..LINE_MAX - 2].to_vec();
        line.extend_from_slice("€\n".as_bytes());
        let first = [
            &br#"{"log":""#[..],
            &x[..LINE_MAX - 2],
            br#"","#,
            t,
            br#"42,"partial":true}"#,
        ]
        .concat();
        let second = [&br#"{"log":""#[..], "€".as_bytes(), br#"\n","#, t, b"43}"].concat();
        assert_eq!(framed(&line), [first, second]);
    }

    #[test]
    fn docker_fields() {
        assert_eq!(
            enc(&rec(b"hello\n", false), None),
            br#"{"log":"hello\n","stream":"stdout","time":"2026-12-03T18:41:00.123456789Z","seq":42}"#
        );
    }

    #[test]
    fn partial_and_identity() {
        let id = Identity {
            id: b"c1",
            namespace: b"default",
        };
        assert_eq!(
            enc(&rec(b"cut", true), Some(&id)),
            br#"{"log":"cut","stream":"stdout","time":"2026-12-03T18:41:00.123456789Z","seq":42,"partial":true,"id":"c1","namespace":"default"}"#.to_vec()
        );
    }

    #[test]
    fn escapes() {
        let mut v = Vec::new();
        escape(b"a\"b\\c\r\n\t\x00\x1f\x7f\xff\xc3\xa9\xe2\x82", &mut v);
        assert_eq!(
            v,
            b"a\\\"b\\\\c\\r\\n\\t\\u0000\\u001f\\u007f\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd"
        );
        assert_eq!(escaped_len(b"a\"b\\c\r\n\t\x00\x1f\x7f\xff\xc3\xa9\xe2\x82"), v.len());
    }

    #[test]
    fn prefix_budget() {
        assert_eq!(prefix_within(b"abc", 2), 2);
        assert_eq!(prefix_within(b"a\x01b", 6), 1); // \u0001 does not fit after 'a'
        assert_eq!(prefix_within("é".as_bytes(), 1), 0); // never half a character
        assert_eq!(prefix_within(b"\xff", 3), 1);
    }
}
