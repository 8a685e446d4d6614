//! The RESP reply reader fed in random chunk sizes.
//!
//! Mode 0 (first byte even): arbitrary bytes; the replies and the verdict must not
//! depend on how the bytes were cut. Mode 1 (odd): well-formed RESP2/RESP3 replies
//! built from the input; the reader must report exactly one reply per top-level value,
//! with the right error word, and no protocol error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shim_logs_fuzz::reply::{ErrWord, ProtoError, Reader, Reply};
use shim_logs_fuzz::Cursor;

/// Feed `data` cut at `sizes` (cycled; 0 counts as 1); return the replies and the verdict.
fn run(data: &[u8], sizes: &[u8]) -> (Vec<Reply>, Result<(), ProtoError>) {
    let mut r = Reader::NEW;
    let mut out = Vec::new();
    let mut rest = data;
    let mut k = 0;
    while !rest.is_empty() {
        let n = if sizes.is_empty() {
            rest.len()
        } else {
            (sizes[k % sizes.len()] as usize).max(1).min(rest.len())
        };
        k += 1;
        let res = r.feed(&rest[..n], &mut |x| out.push(x));
        if res.is_err() {
            return (out, res);
        }
        rest = &rest[n..];
    }
    (out, Ok(()))
}

/// Build one well-formed value into `out`; return the error word it carries, if any.
fn value(c: &mut Cursor, depth: usize, out: &mut Vec<u8>) -> Option<Vec<u8>> {
    let kind = c.u8() % 16;
    build(c, kind, depth, out)
}

/// A value without nesting.
fn leaf(c: &mut Cursor, out: &mut Vec<u8>) -> Option<Vec<u8>> {
    let kind = c.u8() % 7;
    build(c, kind, 6, out)
}

/// Build a value of `kind` (0..=6 never nest).
fn build(c: &mut Cursor, kind: u8, depth: usize, out: &mut Vec<u8>) -> Option<Vec<u8>> {
    let small = |c: &mut Cursor| (c.u8() % 4) as usize;
    match kind {
        0 => {
            let n = small(c) * 3;
            let s = c.bytes(n);
            let s: Vec<u8> = s
                .iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b'.' } else { b })
                .collect();
            out.push(b'+');
            out.extend_from_slice(&s);
            out.extend_from_slice(b"\r\n");
            None
        }
        1 => {
            // A simple error: "-WORD message". The reader keeps 24 bytes of the line,
            // the first word of that, 16 bytes of the word, '?' for unprintable bytes.
            let n = (c.u8() % 24) as usize;
            let word = c.bytes(n);
            let word: Vec<u8> = word
                .iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b'x' } else { b })
                .collect();
            let mut line = word.clone();
            if c.u8() & 1 == 1 {
                line.extend_from_slice(b" Some explanation");
            }
            out.push(b'-');
            out.extend_from_slice(&line);
            out.extend_from_slice(b"\r\n");
            let kept = &line[..line.len().min(24)];
            let w = kept.split(|&b| b == b' ').next().unwrap_or(b"");
            let w: Vec<u8> = w[..w.len().min(16)]
                .iter()
                .map(|&b| if b.is_ascii_graphic() { b } else { b'?' })
                .collect();
            Some(if w.is_empty() { b"ERR".to_vec() } else { w })
        }
        2 => {
            out.extend_from_slice(format!(":{}\r\n", c.u64() as i64).as_bytes());
            None
        }
        3 | 4 => {
            // Bulk strings, blob errors and verbatim strings, with any bytes inside.
            let t = [b'$', b'!', b'='][(c.u8() % 3) as usize];
            let n = c.u16() as usize % 300;
            let body = c.bytes(n);
            out.push(t);
            out.extend_from_slice(body.len().to_string().as_bytes());
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(body);
            out.extend_from_slice(b"\r\n");
            (t == b'!').then(|| b"ERR".to_vec())
        }
        5 => {
            out.extend_from_slice([&b"$-1\r\n"[..], b"*-1\r\n", b"_\r\n", b"#t\r\n"][small(c)]);
            None
        }
        6 => {
            out.extend_from_slice(
                [
                    &b",3.14\r\n"[..],
                    b",inf\r\n",
                    b"(12345678901234567890123\r\n",
                    b"%0\r\n",
                ][small(c)],
            );
            None
        }
        7 => {
            // An attribute, then the value it decorates.
            let n = small(c);
            out.extend_from_slice(format!("|{n}\r\n").as_bytes());
            let mut err = None;
            for _ in 0..2 * n {
                let e = leaf(c, out);
                err = err.or(e);
            }
            let e = if depth < 5 {
                value(c, depth + 1, out)
            } else {
                leaf(c, out)
            };
            err.or(e)
        }
        _ if depth >= 6 => leaf(c, out),
        k => {
            let t = [b'*', b'~', b'>', b'%'][(k % 4) as usize];
            let n = small(c) + 1;
            out.extend_from_slice(format!("{}{n}\r\n", t as char).as_bytes());
            let items = if t == b'%' { 2 * n } else { n };
            let mut err = None;
            for _ in 0..items {
                let e = value(c, depth + 1, out);
                err = err.or(e);
            }
            err
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut c = Cursor::new(data);
    let mode = c.u8();
    let nsizes = (c.u8() % 8) as usize;
    let sizes = c.bytes(nsizes).to_vec();
    if mode & 1 == 0 {
        let stream = c.rest();
        let whole = run(stream, &[]);
        let cut = run(stream, &sizes);
        assert_eq!(whole, cut, "chunking changed the outcome (sizes {sizes:?})");
        // A reset reader behaves like a new one.
        let mut r = Reader::NEW;
        let _ = r.feed(stream, &mut |_| {});
        r.reset();
        let mut again = Vec::new();
        let res = r.feed(stream, &mut |x| again.push(x));
        assert_eq!((again, res), whole);
        return;
    }
    let mut bytes = Vec::new();
    let mut want = Vec::new();
    for _ in 0..16 {
        if c.is_empty() {
            break;
        }
        match value(&mut c, 0, &mut bytes) {
            None => want.push(Reply::Ok),
            Some(w) => want.push(Reply::Err(ErrWord::from(&w))),
        }
    }
    let (got, res) = run(&bytes, &sizes);
    assert_eq!(
        res,
        Ok(()),
        "well-formed replies refused: {:?}",
        String::from_utf8_lossy(&bytes)
    );
    assert_eq!(got, want, "replies for {:?}", String::from_utf8_lossy(&bytes));
});
