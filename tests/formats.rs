//! Formats and rotation (issue 5), on the release binary: the `cri` and `json` local
//! files are parsed back by an independent parser (`tests/tools/parse_logs.py`: Python's
//! `json` module, and a CRI parser written from kubelet's documented format), which must
//! rebuild both streams byte for byte; rotation must keep at most `max-files` files,
//! never pass `max-size`, and lose no line at a rotation.

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::process::Command;

const NS: &str = "default";

fn id() -> String {
    unique("fmt").replace('-', "_")
}

/// Line `i` of stream `tag`: numbered, with quotes, backslashes, tabs, NUL and other
/// control bytes, non-ASCII UTF-8, `\r\n` endings and 10 KiB lines mixed in.
fn line(tag: u8, i: usize) -> Vec<u8> {
    let mut l = numbered_line(tag, i);
    l.pop(); // the '\n'
    if i.is_multiple_of(7) {
        l.extend_from_slice("\t\"q\" \\ é ∑ 😀 \u{1}\u{0}\u{7f}".as_bytes());
    }
    if i % 1000 == 999 {
        l.extend((0..10_000).map(|k| b'a' + (k % 26) as u8));
    }
    if i % 50 == 3 {
        l.push(b'\r');
    }
    l.push(b'\n');
    l
}

fn stream(tag: u8, n: usize) -> Vec<u8> {
    (0..n).flat_map(|i| line(tag, i)).collect()
}

/// Feed both streams in alternating chunks that cut lines anywhere; close; exit 0.
fn run(root: &TempRoot, id: &str, out: &[u8], err: &[u8]) {
    let mut logger = Logger::spawn(root.path(), id, NS, &[]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    let (mut a, mut b) = (out.chunks(7919), err.chunks(6007));
    loop {
        let (x, y) = (a.next(), b.next());
        if x.is_none() && y.is_none() {
            break;
        }
        if let Some(x) = x {
            logger.write_stdout(x);
        }
        if let Some(y) = y {
            logger.write_stderr(y);
        }
    }
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
}

/// Run the independent parser; return (stdout, stderr, seqs).
fn parse(format: &str, file: &Path, dir: &Path) -> (Vec<u8>, Vec<u8>, Vec<u64>) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/parse_logs.py");
    let st = Command::new("python3")
        .arg(script)
        .arg(format)
        .arg(file)
        .arg(dir)
        .status()
        .expect("python3");
    assert!(st.success(), "{format} parser rejected {}", file.display());
    let seqs = fs::read_to_string(dir.join("seq"))
        .map(|s| s.lines().map(|l| l.parse().expect("seq")).collect())
        .unwrap_or_default();
    (
        fs::read(dir.join("stdout")).unwrap(),
        fs::read(dir.join("stderr")).unwrap(),
        seqs,
    )
}

/// Rotation while a busy pipe is read in large pieces (no endpoint, raw): lines of up
/// to 6000 bytes, arriving 1 MiB at a time, so reads past the line buffer come near
/// every bound. Every file ends at a line boundary, passes `max-size` only to finish
/// a line begun before it, and the files put back together are the input.
#[test]
fn rotation_falls_between_lines_when_the_pipe_is_read_in_large_pieces() {
    const MAX: usize = 256 * 1024;
    let root = TempRoot::new();
    let id = id();
    let cfg = format!(r#"[{{"type":"file","data":{{"max-size":{MAX},"max-files":100}}}}]"#);
    root.write_config(NS, &id, &cfg);
    let mut input = Vec::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0.. {
        if input.len() > 4 << 20 {
            break;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = 11 + (x % 6000) as usize;
        let mut l = format!("O{i:08} ").into_bytes();
        l.resize(len - 1, b'a' + (i % 26) as u8);
        l.push(b'\n');
        input.extend(l);
    }
    let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    logger.grow_pipes(1 << 20);
    for piece in input.chunks(1 << 20) {
        logger.write_stdout(piece);
    }
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    let log = root.log_path(NS, &id);
    let mut all = Vec::new();
    for k in (0..100).rev() {
        let p = if k == 0 {
            log.clone()
        } else {
            log.with_extension(format!("log.{k}"))
        };
        let Ok(data) = fs::read(&p) else { continue };
        assert!(data.ends_with(b"\n"), "{} ends mid-line", p.display());
        // Past the bound only to finish a line begun before it (cut into chunks
        // by the line buffer), and by less than 64 KiB.
        let last = data[..data.len() - 1]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        assert!(
            last < MAX,
            "{}: its last line starts at {last}, past the bound",
            p.display()
        );
        assert!(
            data.len() <= MAX + (64 << 10),
            "{} is {} bytes",
            p.display(),
            data.len()
        );
        all.extend_from_slice(&data);
    }
    assert!(all.len() > MAX, "no rotation happened");
    assert!(all == input, "the files put back together are not the input");
}

/// What a CRI reader rebuilds: containerd drops a `\r` before `\n`.
fn without_cr(s: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len());
    for (k, &b) in s.iter().enumerate() {
        if b == b'\r' && s.get(k + 1) == Some(&b'\n') {
            continue;
        }
        v.push(b);
    }
    v
}

#[test]
fn cri_and_json_files_parse_back_to_both_streams() {
    let _serial = heavy();
    const N: usize = 50_000; // per stream: 100k lines in all
    let (out, err) = (stream(b'O', N), stream(b'E', N));
    for format in ["cri", "json"] {
        let root = TempRoot::new();
        let id = id();
        let cfg = format!(r#"[{{"type":"file","data":{{"format":"{format}","max-size":0}}}}]"#);
        root.write_config(NS, &id, &cfg);
        run(&root, &id, &out, &err);
        let (o, e, seqs) = parse(format, &root.log_path(NS, &id), root.path());
        if format == "cri" {
            assert!(o == without_cr(&out), "cri: stdout differs");
            assert!(e == without_cr(&err), "cri: stderr differs");
        } else {
            assert!(o == out, "json: stdout differs");
            assert!(e == err, "json: stderr differs");
            assert!(
                seqs.iter().enumerate().all(|(k, &s)| s == k as u64),
                "json: seq has gaps or is out of order"
            );
            assert!(seqs.len() >= 2 * N, "json: {} records", seqs.len());
        }
    }
}

#[test]
fn json_file_is_valid_whatever_the_bytes() {
    let root = TempRoot::new();
    let id = id();
    root.write_config(NS, &id, r#"[{"type":"file","data":{"format":"json"}}]"#);
    let mut input: Vec<u8> = (0u8..=255).collect();
    input.extend_from_slice(b"\xc3\x28 \xe2\x82 \xf0\x9f\x98 \xed\xa0\x80\n");
    run(&root, &id, &input, b"");
    let (o, _, _) = parse("json", &root.log_path(NS, &id), root.path());
    let text = String::from_utf8(o).expect("valid UTF-8 after the parser");
    assert!(text.contains('\u{fffd}'), "invalid bytes become U+FFFD");
    assert!(text.contains("\u{0}\u{1}"), "control bytes survive as escapes");
}

#[test]
fn rotation_bounds_files_and_size_and_loses_no_line() {
    let _serial = heavy();
    const MAX: u64 = 64 * 1024;
    const N: usize = 20_000;
    let root = TempRoot::new();
    let id = id();
    let cfg = format!(r#"[{{"type":"file","data":{{"max-size":{MAX},"max-files":3}}}}]"#);
    root.write_config(NS, &id, &cfg);
    let input = numbered_lines(b'O', 0..N);
    run(&root, &id, &input, b"");
    let log = root.log_path(NS, &id);
    let names: Vec<String> = root
        .files()
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| n.starts_with(&id) && n.contains(".log") && !n.contains("-sys"))
        .collect();
    assert!(names.len() <= 3, "at most max-files files: {names:?}");
    let mut all = Vec::new();
    for k in (0..3).rev() {
        let p = if k == 0 {
            log.clone()
        } else {
            log.with_extension(format!("log.{k}"))
        };
        if let Ok(data) = fs::read(&p) {
            assert!(data.len() as u64 <= MAX, "{} is {} bytes", p.display(), data.len());
            all.extend_from_slice(&data);
        }
    }
    // What is kept is the tail of the input, cut at a line boundary, with no gap.
    assert!(
        input.ends_with(&all),
        "kept files are not a contiguous tail of the input"
    );
    assert!(
        all.first() == Some(&b'O') && all.len() as u64 > MAX,
        "{} bytes kept",
        all.len()
    );
    let sys = root.read_sys_log(NS, &id);
    assert!(sys.contains(" rotations"), "{sys}");
}

#[test]
fn redis_json_records_carry_identity() {
    let root = TempRoot::new();
    let redis = RedisServer::start();
    let id = id();
    let url = format!("{}?cmd=rpush&format=json", redis.url("j"));
    root.write_config(NS, &id, &redis_config(&url, &url));
    run(&root, &id, b"one\n\"two\"\tthree\xff\n", b"err\n");
    let items = match redis.client().cmd(&[b"LRANGE", b"j", b"0", b"-1"]) {
        Reply::Array(Some(v)) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!(items.len(), 3);
    let want_id = format!(r#""id":"{id}","namespace":"{NS}"}}"#);
    for it in items {
        let Reply::Bulk(Some(b)) = it else { panic!() };
        let s = String::from_utf8(b).expect("utf8");
        assert!(s.starts_with(r#"{"log":""#) && s.ends_with(&want_id), "{s}");
        assert!(s.contains(r#""seq":"#) && s.contains(r#""time":"20"#), "{s}");
    }
}
