//! The JSON and CRI encoders on records built from arbitrary bytes.
//!
//! JSON: the output is one valid JSON object (checked by serde_json) with exactly the
//! documented keys; `log`, `id` and `namespace` decode to the input with each byte that
//! is not part of valid UTF-8 replaced by U+FFFD; no raw control byte or DEL is left;
//! the time is the record's; `record_len`/`escaped_len` equal what is written; a RESP
//! command carrying the record frames it exactly; `prefix_within` keeps to its budget,
//! is maximal and never splits a UTF-8 sequence.
//! CRI: exactly one line, `<time> <stream> <P|F> <content>\n`, whose content gives the
//! chunk back (minus the `\n`, and a `\r` before it, of a complete line); `line_len`
//! equals what is written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use shim_logs_fuzz::encode::cri;
use shim_logs_fuzz::encode::json::{self, Identity};
use shim_logs_fuzz::encode::resp::{self, Arg, End};
use shim_logs_fuzz::record::{Record, Stream};
use shim_logs_fuzz::{lossy_per_byte, Cursor, VecOut};

/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`, computed by counting days (independent of `clock`).
fn rfc3339(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let mut days = secs / 86_400;
    let leap = |y: u64| (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let mut y = 1970;
    while days >= if leap(y) { 366 } else { 365 } {
        days -= if leap(y) { 366 } else { 365 };
        y += 1;
    }
    let lengths = [
        31,
        if leap(y) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let mut m = 0;
    while days >= lengths[m] {
        days -= lengths[m];
        m += 1;
    }
    let s = secs % 86_400;
    format!(
        "{y:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        m + 1,
        days + 1,
        s / 3600,
        s / 60 % 60,
        s % 60,
        ns % 1_000_000_000
    )
}

/// Length of the unit `prefix_within` steps over at `s[i]`: a valid UTF-8 sequence, or 1.
fn unit(s: &[u8], i: usize) -> usize {
    (1..=4)
        .find(|&k| s.get(i..i + k).is_some_and(|t| std::str::from_utf8(t).is_ok()))
        .unwrap_or(1)
}

fn check_json(rec: &Record, ident: Option<&Identity>) -> Vec<u8> {
    let mut o = VecOut::default();
    json::record(rec, ident, &mut o);
    let out = o.0;
    assert_eq!(out.len(), json::record_len(rec, ident), "record_len");
    assert!(
        out.iter().all(|&b| b >= 0x20 && b != 0x7f),
        "raw control byte in {:?}",
        String::from_utf8_lossy(&out)
    );
    let v: Value =
        serde_json::from_slice(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&out)));
    let obj = v.as_object().expect("a JSON object");
    let mut keys = 4;
    assert_eq!(obj["log"].as_str(), Some(lossy_per_byte(rec.line).as_str()), "log");
    assert_eq!(obj["stream"].as_str(), std::str::from_utf8(rec.stream.name()).ok());
    assert_eq!(obj["time"].as_str(), Some(rfc3339(rec.time_ns).as_str()), "time");
    assert_eq!(obj["seq"].as_u64(), Some(rec.seq), "seq");
    if rec.partial {
        assert_eq!(obj["partial"], Value::Bool(true));
        keys += 1;
    } else {
        assert!(!obj.contains_key("partial"));
    }
    if let Some(i) = ident {
        assert_eq!(obj["id"].as_str(), Some(lossy_per_byte(i.id).as_str()), "id");
        assert_eq!(obj["namespace"].as_str(), Some(lossy_per_byte(i.namespace).as_str()));
        keys += 2;
    }
    assert_eq!(obj.len(), keys, "keys {:?}", obj.keys().collect::<Vec<_>>());
    out
}

fn check_cri(rec: &Record) {
    let mut o = VecOut::default();
    cri::line(rec, &mut o);
    let out = o.0;
    assert_eq!(out.len(), cri::line_len(rec), "line_len");
    assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1, "not one line: {out:?}");
    assert!(out.ends_with(b"\n"));
    let time = rfc3339(rec.time_ns);
    assert_eq!(&out[..30], time.as_bytes(), "time");
    let rest = &out[30..out.len() - 1];
    let head = [b" ", rec.stream.name(), b" "].concat();
    let rest = rest.strip_prefix(&head[..]).expect("stream field");
    let (tag, content) = rest.split_at(2);
    assert_eq!(tag, if rec.partial { b"P " } else { b"F " });
    // Decode back: a complete line gets its newline again.
    let mut back = content.to_vec();
    let mut want = rec.line.to_vec();
    if !rec.partial {
        back.push(b'\n');
        if want.ends_with(b"\r\n") {
            want.remove(want.len() - 2);
        }
    }
    assert_eq!(back, want, "CRI content does not decode back");
}

fuzz_target!(|data: &[u8]| {
    let mut c = Cursor::new(data);
    let flags = c.u8();
    let time_ns = c.u64();
    let seq = c.u64();
    let budget = c.u16() as usize;
    let (id_len, ns_len) = ((c.u8() % 80) as usize, (c.u8() % 80) as usize);
    let id = c.bytes(id_len);
    let namespace = c.bytes(ns_len);
    let body = c.rest();
    let stream = if flags & 1 == 0 { Stream::Stdout } else { Stream::Stderr };
    let partial = flags & 2 != 0;
    let ident = Identity { id, namespace };
    let ident = (flags & 4 != 0).then_some(&ident);

    // JSON takes any bytes, newlines inside included.
    let rec = Record {
        stream,
        time_ns,
        seq,
        partial,
        line: body,
    };
    let record = check_json(&rec, ident);

    let mut o = VecOut::default();
    json::escape(body, &mut o);
    assert_eq!(o.0.len(), json::escaped_len(body), "escaped_len");

    // A RESP command carrying the record as JSON frames it exactly.
    let args = [Arg::B(b"PUBLISH"), Arg::B(id), Arg::Json(&rec, ident)];
    let total = resp::args_len(&args);
    let mut buf = vec![0u8; total];
    assert_eq!(resp::write_args(&args, &mut buf), Some(total));
    assert_eq!(resp::command_end(&buf), End::Complete(total));
    assert!(
        buf.ends_with(&[&record[..], b"\r\n"].concat()),
        "RESP payload is not the record"
    );
    if total > 0 {
        assert_eq!(resp::write_args(&args, &mut buf[..total - 1]), None);
    }

    // prefix_within: within budget, maximal, and cut between units.
    let p = json::prefix_within(body, budget);
    assert!(p <= body.len());
    assert!(json::escaped_len(&body[..p]) <= budget, "over budget");
    if p < body.len() {
        assert!(json::escaped_len(&body[..p + unit(body, p)]) > budget, "not maximal");
    }
    assert_eq!(
        lossy_per_byte(&body[..p]) + &lossy_per_byte(&body[p..]),
        lossy_per_byte(body),
        "prefix splits a UTF-8 sequence"
    );

    // CRI takes what framing hands out: a partial chunk has no newline, a complete
    // one ends with its only newline.
    let mut line: Vec<u8> = body.iter().copied().filter(|&b| b != b'\n').collect();
    if !partial {
        line.push(b'\n');
    }
    let rec = Record { line: &line, ..rec };
    check_cri(&rec);
});
