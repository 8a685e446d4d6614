//! Bad input of every kind, fed to the real release binary (`make build` first): broken
//! configs and URLs, hostile identities, missing or odd descriptors, pathological pipe
//! contents, misbehaving Redis peers, and a local file that cannot be written. Each case
//! checks what the container sees (the readiness byte, pipes that never block and never
//! break while the logger lives), what the diagnostics file says (one clear line about
//! the problem), and that the local file holds exactly the data, in order. Secrets are
//! grepped for in everything the binary wrote. The harness is in `common/` (`spawn` for
//! chosen descriptors, `peer` for a scripted Redis).

mod common;

use common::faults::{check_at_least_once, vm_hwm_kib};
use common::peer::{Mode, Peer, HUGE};
use common::spawn::{fd_flags, spawn_plan, FdPlan, Plan};
use common::*;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

const NS: &str = "hostile";

/// A container id nobody else uses.
fn id() -> String {
    unique("ctr").replace('-', "_")
}

/// The warn and error messages of a sys log (time and level stripped), after checking
/// that every line is well formed.
fn problems(sys: &str) -> Vec<String> {
    check_sys_log(sys).unwrap_or_else(|e| panic!("{e}\n{sys}"));
    sys.lines()
        .filter(|l| matches!(l.split(' ').nth(1), Some("warn" | "error")))
        .map(|l| l.splitn(3, ' ').nth(2).unwrap_or("").to_owned())
        .collect()
}

/// Assert that exactly one warn/error message contains every one of `needles`, and
/// return it.
fn one_problem(sys: &str, needles: &[&str], what: &str) -> String {
    let p = problems(sys);
    let hits: Vec<&String> = p.iter().filter(|m| needles.iter().all(|n| m.contains(n))).collect();
    assert_eq!(
        hits.len(),
        1,
        "{what}: expected one message with {needles:?}, got {hits:?}\nsys log:\n{sys}"
    );
    hits[0].clone()
}

/// Write `n_out` stdout and `n_err` stderr numbered lines (cut across writes), close
/// both pipes, expect exit 0, and check the local file holds exactly those lines.
fn feed_and_finish(logger: &mut Logger, root: &TempRoot, id: &str, n_out: usize, n_err: usize) {
    write_interleaved(logger, 0..n_out, 0..n_err);
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0, "exit code");
    let data = root.read_log(NS, id);
    check_merged(&data, n_out, n_err).unwrap_or_else(|e| panic!("local file: {e}"));
}

/// The sequence numbers of stream `tag` among `payloads`, each checked byte for byte.
fn seqs_of(payloads: &[Vec<u8>], tag: u8) -> Vec<usize> {
    payloads
        .iter()
        .filter(|p| p.first() == Some(&tag))
        .map(|p| {
            let i: usize = p
                .get(2..12)
                .and_then(|d| std::str::from_utf8(d).ok())
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("not a numbered line: {:?}", String::from_utf8_lossy(p)));
            assert_eq!(*p, numbered_line(tag, i), "line {i} of {} altered", tag as char);
            i
        })
        .collect()
}

/// Wait (stall-bounded) until `peer` has acknowledged at least `n` PUBLISH commands.
fn wait_published(peer: &Peer, n: usize) {
    wait_count(&|| peer.payloads(b"PUBLISH").len(), n);
}

/// Wait (stall-bounded) until `count()` reaches `n`.
fn wait_count(count: &dyn Fn() -> usize, n: usize) {
    let ok = wait_progress(|| {
        let k = count();
        (k >= n, k)
    });
    assert!(ok, "only {} of {n} lines published", count());
}

/// A real redis-server and a subscriber to its channel `c`: the endpoint for the tests
/// where the local side is what is broken and delivery must go on.
struct RealEndpoint {
    sub: Subscriber,
    redis: RedisServer,
}

impl RealEndpoint {
    fn start() -> RealEndpoint {
        let redis = RedisServer::start();
        let sub = Subscriber::subscribe(&redis, &["c"]);
        RealEndpoint { sub, redis }
    }

    fn url(&self) -> String {
        self.redis.url("c")
    }

    fn count(&self) -> usize {
        self.sub.count("c")
    }

    fn payloads(&self) -> Vec<Vec<u8>> {
        self.sub.payloads("c")
    }
}

/// Write stdout and stderr lines 0..n each in batches of 20, waiting for `ep` to have
/// received each batch, so that the endpoint never needs its spool: two batches of
/// commands stay well under the 8 KiB out-buffer.
fn write_paced(logger: &mut Logger, ep: &RealEndpoint, n: usize) {
    for k in (0..n).step_by(20) {
        let r = k..(k + 20).min(n);
        logger.write_stdout(&numbered_lines(b'O', r.clone()));
        logger.write_stderr(&numbered_lines(b'E', r.clone()));
        assert!(logger.is_running(), "the logger died: {:?}", logger.wait_status(TICK));
        wait_count(&|| ep.count(), 2 * r.end);
    }
}

/// Check that `payloads` hold stdout lines 0..n_out and stderr lines 0..n_err, each
/// stream in order, repeats allowed only as resent runs (at-least-once).
fn check_delivered(payloads: &[Vec<u8>], n_out: usize, n_err: usize) {
    for (tag, n) in [(b'O', n_out), (b'E', n_err)] {
        check_at_least_once(&seqs_of(payloads, tag), n)
            .unwrap_or_else(|e| panic!("stream {}: {e} ({} payloads)", tag as char, payloads.len()));
    }
}

/// Start a logger on `root` whose config file holds exactly `bytes`.
fn with_config_bytes(root: &TempRoot, id: &str, bytes: &[u8]) -> Logger {
    let p = root.config_path(NS, id);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, bytes).unwrap();
    Logger::spawn(root.path(), id, NS, &[])
}

/// Files in `<root>/logs/<ns>/` whose name ends with `suffix`.
fn log_dir_files(root: &TempRoot, suffix: &str) -> Vec<PathBuf> {
    let dir = root.path().join("logs").join(NS);
    let mut v: Vec<PathBuf> = fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.to_string_lossy().ends_with(suffix));
    v
}

/// Bytes process `pid` has read so far (`rchar` of /proc/PID/io).
fn rchar(pid: u32) -> u64 {
    let io = fs::read_to_string(format!("/proc/{pid}/io")).expect("read /proc io");
    io.lines()
        .find_map(|l| l.strip_prefix("rchar:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("rchar in /proc io")
}

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

// ---------------------------------------------------------------------------------------
// Config

/// Each broken config: the logger still signals ready, keeps the local file exact, and
/// reports the fault in one located error line, and no endpoint is used.
#[test]
fn broken_configs_mean_local_file_only_with_one_located_error() {
    let long_url = format!(
        r#"[{{"type":"redis","data":{{"stdout":"redis://127.0.0.1/{}"}}}}]"#,
        "c".repeat(2000)
    );
    let huge_url = format!(
        r#"[{{"type":"redis","data":{{"stdout":"redis://127.0.0.1/{}"}}}}]"#,
        "c".repeat(100 * 1024)
    );
    // Nesting inside a value the parser must skip (an unknown type's data).
    let deep_prefix = r#"[{"type":"kafka","data":{"x":"#;
    let deep = format!("{deep_prefix}{}{}}}}}]", "[".repeat(40), "]".repeat(40));
    let deep_col = (deep_prefix.len() + 29 + 1) as u64;
    // (what, config bytes, message, line:col)
    type Case<'a> = (&'a str, Vec<u8>, &'a str, Option<(u64, u64)>);
    let cases: Vec<Case> = vec![
        ("empty file", b"".to_vec(), "unexpected end of input", Some((1, 1))),
        (
            "whitespace only",
            b" \n\t\n".to_vec(),
            "unexpected end of input",
            Some((3, 1)),
        ),
        ("an object", b"{}".to_vec(), "config must be a JSON array", Some((1, 1))),
        ("1 MiB of [", vec![b'['; 1 << 20], "larger than 8192 bytes", None),
        (
            "deep nesting",
            deep.into_bytes(),
            "nesting too deep",
            Some((1, deep_col)),
        ),
        (
            "duplicate type",
            br#"[{"type":"redis","type":"redis","data":{}}]"#.to_vec(),
            "duplicate key",
            Some((1, 19)),
        ),
        (
            "duplicate stdout",
            br#"[{"type":"redis","data":{"stdout":"redis://h/a","stdout":"redis://h/b"}}]"#.to_vec(),
            "duplicate key",
            Some((1, 50)),
        ),
        (
            "a number for a URL",
            br#"[{"type":"redis","data":{"stdout":6379}}]"#.to_vec(),
            "URL must be a string",
            Some((1, 35)),
        ),
        (
            "a number for type",
            br#"[{"type":1,"data":{}}]"#.to_vec(),
            "\"type\" must be a string",
            Some((1, 10)),
        ),
        (
            "an array for data",
            br#"[{"type":"redis","data":["redis://h/c"]}]"#.to_vec(),
            "\"data\" must be an object",
            Some((1, 25)),
        ),
        (
            "invalid UTF-8",
            b"[{\"type\":\"redis\",\"data\":{\"stdout\":\"redis://h/\xff\"}}]".to_vec(),
            "invalid UTF-8",
            Some((1, 46)),
        ),
        (
            "a NUL between values",
            b"[\0]".to_vec(),
            "expected a value",
            Some((1, 2)),
        ),
        (
            "a NUL in a string",
            b"[{\"type\":\"re\0dis\"}]".to_vec(),
            "control character in string",
            Some((1, 13)),
        ),
        ("a 2 KiB URL", long_url.into_bytes(), "URL too long", Some((1, 35))),
        ("a 100 KiB URL", huge_url.into_bytes(), "larger than 8192 bytes", None),
        (
            "trailing garbage",
            b"[] x".to_vec(),
            "trailing characters",
            Some((1, 4)),
        ),
        ("a second array", b"[][]".to_vec(), "trailing characters", Some((1, 3))),
        (
            "a byte order mark",
            b"\xef\xbb\xbf[]".to_vec(),
            "expected a value",
            Some((1, 1)),
        ),
        (
            "max-size beyond u64",
            br#"[{"type":"file","data":{"max-size":99999999999999999999999}}]"#.to_vec(),
            "bad value for a file option",
            Some((1, 36)),
        ),
        (
            "five endpoints",
            format!(
                "[{}]",
                (0..5)
                    .map(|i| format!(r#"{{"type":"redis","data":{{"stdout":"redis://h/c{i}"}}}}"#))
                    .collect::<Vec<_>>()
                    .join(",")
            )
            .into_bytes(),
            "too many distinct endpoints",
            Some((1, 225)),
        ),
    ];
    for (what, bytes, text, at) in cases {
        let root = TempRoot::new();
        let id = id();
        let mut logger = with_config_bytes(&root, &id, &bytes);
        assert_eq!(logger.wait_ready(), Ready::Byte, "{what}: readiness");
        feed_and_finish(&mut logger, &root, &id, 150, 100);
        let sys = root.read_sys_log(NS, &id);
        let file = format!("{id}-logs.json");
        let m = one_problem(&sys, &[&file, text, "local file only"], what);
        if let Some((line, col)) = at {
            assert!(
                m.contains(&format!("{file}:{line}:{col}: ")),
                "{what}: not located at {line}:{col}: {m}"
            );
        }
        assert_eq!(
            problems(&sys).len(),
            1,
            "{what}: more than one problem reported:\n{sys}"
        );
        assert!(
            !sys.contains(" endpoint "),
            "{what}: an endpoint was configured:\n{sys}"
        );
    }
}

/// Each bad URL rejects the whole config with the URL's own message, located at it.
#[test]
fn bad_urls_are_refused_with_their_reason_and_location() {
    let cases = [
        ("no scheme", "127.0.0.1:6379/c", "URL must start with redis://"),
        ("another scheme", "rediss://127.0.0.1/c", "URL must start with redis://"),
        ("no host", "redis:///c", "URL has no host"),
        ("no host before a port", "redis://:6379/c", "URL has no host"),
        ("port 0", "redis://127.0.0.1:0/c", "URL port must be 1 to 65535"),
        ("port 70000", "redis://127.0.0.1:70000/c", "URL port must be 1 to 65535"),
        (
            "port not a number",
            "redis://127.0.0.1:http/c",
            "URL port must be 1 to 65535",
        ),
        (
            "IPv6 without brackets",
            "redis://::1:6379/c",
            "URL host is not IPv4, [IPv6] or a DNS name",
        ),
        (
            "bad IPv6",
            "redis://[::g]/c",
            "URL host is not IPv4, [IPv6] or a DNS name",
        ),
        (
            "IPv4 out of range",
            "redis://10.0.0.256/c",
            "URL host is not IPv4, [IPv6] or a DNS name",
        ),
        ("%zz", "redis://127.0.0.1/%zz", "URL has a bad %-escape"),
        ("% at the end", "redis://:pw%@127.0.0.1/c", "URL has a bad %-escape"),
        (
            "user without password",
            "redis://bob@127.0.0.1/c",
            "URL has a user but no :password",
        ),
        ("empty channel", "redis://127.0.0.1/", "URL has no /channel"),
        ("no slash", "redis://127.0.0.1", "URL has no /channel"),
        (
            "unknown option",
            "redis://127.0.0.1/c?timeout=5",
            "URL has an unknown ?option",
        ),
        ("bad cmd", "redis://127.0.0.1/c?cmd=set", "URL option value is invalid"),
        (
            "maxlen with publish",
            "redis://127.0.0.1/c?maxlen=5",
            "URL option value is invalid",
        ),
        (
            "a space",
            "redis://127.0.0.1/c d",
            "URL has a control or space character",
        ),
        (
            "a tab escaped in JSON",
            "redis://127.0.0.1/c\\td",
            "URL has a control or space character",
        ),
        (
            "a 300-byte channel",
            &format!("redis://127.0.0.1/{}", "c".repeat(300)),
            "URL component too long",
        ),
    ];
    for (what, url, text) in cases {
        let root = TempRoot::new();
        let id = id();
        let config = redis_config(url, "redis://127.0.0.1:6379/err");
        let mut logger = with_config_bytes(&root, &id, config.as_bytes());
        assert_eq!(logger.wait_ready(), Ready::Byte, "{what}: readiness");
        feed_and_finish(&mut logger, &root, &id, 100, 50);
        let sys = root.read_sys_log(NS, &id);
        // Located at the value's opening quote: 1-based, that is the URL's 0-based index.
        let stdout_at = config.find(url).expect("the URL in the config") as u64;
        let m = one_problem(&sys, &[text, "local file only"], what);
        assert!(
            m.contains(&format!("-logs.json:1:{stdout_at}: ")),
            "{what}: not located at the stdout value (col {stdout_at}): {m}"
        );
        assert_eq!(problems(&sys).len(), 1, "{what}:\n{sys}");
    }
}

/// A name that is not in /etc/hosts is never looked up elsewhere: the endpoint is
/// reported unreachable once, the lines are kept in its spool, nothing blocks.
#[test]
fn unresolvable_host_is_reported_once_and_lines_are_kept() {
    let root = TempRoot::new();
    let id = id();
    let url = "redis://no-such-host.invalid:6379/c";
    root.write_config(NS, &id, &redis_config(url, url));
    let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
    let start = Instant::now();
    assert_eq!(logger.wait_ready(), Ready::Byte);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "ready took {:?}",
        start.elapsed()
    );
    feed_and_finish(&mut logger, &root, &id, 1000, 1000);
    let sys = root.read_sys_log(NS, &id);
    one_problem(&sys, &["no-such-host.invalid", "cannot resolve host"], "unresolvable");
    // Everything is in the spool (never acknowledged), in order.
    let spools = log_dir_files(&root, ".spool");
    assert_eq!(spools.len(), 1, "spool files: {spools:?}\n{sys}");
    let payloads = spool_payloads(&spools[0]);
    assert_eq!(seqs_of(&payloads, b'O'), (0..1000).collect::<Vec<_>>());
    assert_eq!(seqs_of(&payloads, b'E'), (0..1000).collect::<Vec<_>>());
}

/// The last argument of every command in a spool file (a 64-byte header whose second
/// u64 is the acknowledged offset, then RESP commands), from that offset on.
fn spool_payloads(path: &Path) -> Vec<Vec<u8>> {
    let data = fs::read(path).unwrap();
    assert!(
        data.len() >= 64 && data.starts_with(b"SHMSPL"),
        "not a spool: {}",
        path.display()
    );
    let acked = u64::from_le_bytes(data[8..16].try_into().unwrap()) as usize;
    let mut r = std::io::BufReader::new(&data[acked.max(64)..]);
    let mut out = Vec::new();
    loop {
        match read_reply(&mut r) {
            Ok(Reply::Array(Some(args))) => match args.last() {
                Some(Reply::Bulk(Some(p))) => out.push(p.clone()),
                other => panic!("spool command ends with {other:?}"),
            },
            Ok(other) => panic!("spool holds {other:?}"),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return out,
            Err(e) => panic!("spool: {e}"),
        }
    }
}

/// A config reached through a symlink is followed when it points to a regular file
/// (the config directory belongs to the node's owner, not to the container); anything
/// that is not a regular file is refused without blocking; a dangling link is a
/// missing config.
#[test]
fn config_symlinks_fifos_and_devices() {
    let target_dir = TempRoot::new();
    let kafka = target_dir.path().join("kafka.json");
    fs::write(&kafka, r#"[{"type":"kafka","data":{}}]"#).unwrap();
    let fifo = target_dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a NUL-terminated path we own.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
    let cases: Vec<(&str, Option<PathBuf>, &str, &str)> = vec![
        (
            "link to a regular file",
            Some(kafka.clone()),
            "warn",
            "unknown type \"kafka\": entry skipped",
        ),
        (
            "link to a directory",
            Some(target_dir.path().to_owned()),
            "error",
            "not a regular file",
        ),
        (
            "link to /dev/zero",
            Some(PathBuf::from("/dev/zero")),
            "error",
            "not a regular file",
        ),
        ("link to a FIFO", Some(fifo.clone()), "error", "not a regular file"),
        (
            "dangling link",
            Some(target_dir.path().join("nothing")),
            "info",
            "no config at",
        ),
        ("a directory in its place", None, "error", "not a regular file"),
    ];
    for (what, target, level, text) in cases {
        let root = TempRoot::new();
        let id = id();
        let p = root.config_path(NS, &id);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        match &target {
            Some(t) => symlink(t, &p).unwrap(),
            None => fs::create_dir(&p).unwrap(),
        }
        let start = Instant::now();
        let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
        assert_eq!(logger.wait_ready(), Ready::Byte, "{what}: readiness");
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{what}: ready took {:?}",
            start.elapsed()
        );
        feed_and_finish(&mut logger, &root, &id, 100, 100);
        let sys = root.read_sys_log(NS, &id);
        check_sys_log(&sys).unwrap();
        let hits: Vec<&str> = sys
            .lines()
            .filter(|l| l.split(' ').nth(1) == Some(level) && l.contains(text))
            .collect();
        assert_eq!(hits.len(), 1, "{what}: one {level} line with {text:?}:\n{sys}");
        assert!(problems(&sys).len() <= 1, "{what}:\n{sys}");
    }
}

// ---------------------------------------------------------------------------------------
// Environment

/// Identities that are not containerd identifiers (beyond those of behaviour.rs): exit
/// 100 before ready, and nothing created under the root or beside it, even for ids
/// built to climb out of it.
#[test]
fn hostile_identities_exit_100_and_write_nothing_anywhere() {
    let long = "n".repeat(200);
    let cases: Vec<(&str, &str, &str)> = vec![
        ("id ..", "..", NS),
        ("id .", ".", NS),
        ("id climbing out", "../../../escape", NS),
        ("id absolute", "/tmp/escape", NS),
        ("id with a newline", "a\nb", NS),
        ("id with a space", "a b", NS),
        ("id non-ASCII", "caf\u{e9}", NS),
        ("id with a colon", "a:b", NS),
        ("namespace empty", "abc", ""),
        ("namespace a/b", "abc", "a/b"),
        ("namespace ..", "abc", ".."),
        ("namespace of 200 bytes", "abc", &long),
        ("namespace climbing out", "abc", "../../escape"),
    ];
    for (what, id, ns) in cases {
        let parent = TempRoot::new();
        let root = parent.path().join("root");
        fs::create_dir(&root).unwrap();
        let mut logger = Logger::spawn_env(&root, &[("CONTAINER_ID", id), ("CONTAINER_NAMESPACE", ns)], &[]);
        assert_eq!(logger.wait_ready(), Ready::Eof, "{what}: readiness");
        assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 100, "{what}: exit code");
        assert_eq!(
            parent.entries(),
            ["root"],
            "{what}: something was created beside the root"
        );
        assert!(
            fs::read_dir(&root).unwrap().next().is_none(),
            "{what}: created {:?} under the root",
            parent.files()
        );
    }
    assert!(!Path::new("/tmp/escape.log").exists(), "a log escaped to /tmp");
}

// ---------------------------------------------------------------------------------------
// Descriptors

/// Start a logger with its stderr in a file outside `root` (where it reports when its
/// own log directory is unusable); return once ready, with that file's path and what
/// keeps the file and the fds alive.
fn ready_with_stderr_file(root: &TempRoot, id: &str) -> (Logger, PathBuf, TempRoot, common::spawn::Kept) {
    let elsewhere = TempRoot::new();
    let stderr = elsewhere.path().join("stderr");
    let plan = Plan {
        stderr_to: Some(stderr.clone()),
        ..Plan::normal()
    };
    let (mut logger, kept) = spawn_plan(root.path(), id, NS, &plan);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    (logger, stderr, elsewhere, kept)
}

/// Start with `plan` and a fresh root; return (root, id, logger, kept fds).
fn start_plan(plan: &Plan) -> (TempRoot, String, Logger, common::spawn::Kept) {
    let root = TempRoot::new();
    let id = id();
    let (logger, kept) = spawn_plan(root.path(), &id, NS, plan);
    (root, id, logger, kept)
}

/// fd 3 or fd 4 missing: that stream counts as ended (one warning), the other is read
/// to its end, and the logger exits 0 when it ends.
#[test]
fn a_missing_stdout_or_stderr_pipe_is_one_warning() {
    for missing in [3, 4] {
        let (root, id, mut logger, _kept) = start_plan(&Plan::normal().fd(missing, FdPlan::Closed));
        assert_eq!(logger.wait_ready(), Ready::Byte, "fd {missing} closed: readiness");
        let (n_out, n_err) = if missing == 3 { (0, 500) } else { (500, 0) };
        if missing == 3 {
            logger.write_stderr(&numbered_lines(b'E', 0..n_err));
        } else {
            logger.write_stdout(&numbered_lines(b'O', 0..n_out));
        }
        root.wait_log_len(
            NS,
            &id,
            numbered_lines(b'O', 0..n_out).len() + numbered_lines(b'E', 0..n_err).len(),
        );
        assert!(
            logger.is_running(),
            "fd {missing} closed: the logger ended with the other pipe open"
        );
        if missing == 3 {
            logger.close_stderr();
        } else {
            logger.close_stdout();
        }
        assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0, "fd {missing} closed: exit code");
        check_merged(&root.read_log(NS, &id), n_out, n_err).unwrap_or_else(|e| panic!("fd {missing}: {e}"));
        let sys = root.read_sys_log(NS, &id);
        one_problem(&sys, &[&format!("fd {missing}")], &format!("fd {missing} closed"));
        assert_eq!(problems(&sys).len(), 1, "fd {missing} closed:\n{sys}");
    }
}

/// Neither pipe: ready, then exit 0 at once with an empty local file.
#[test]

fn no_pipes_at_all_means_ready_then_exit_0() {
    let plan = Plan::normal().fd(3, FdPlan::Closed).fd(4, FdPlan::Closed);
    let (root, id, mut logger, _kept) = start_plan(&plan);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    assert!(root.read_log(NS, &id).is_empty());
    let sys = root.read_sys_log(NS, &id);
    assert_eq!(problems(&sys).len(), 2, "one warning per missing fd:\n{sys}");
}

/// fd 5 closed, or its reader gone (EPIPE, not SIGPIPE): one warning, and the logger
/// goes on as usual.
#[test]
fn a_missing_or_broken_ready_pipe_is_one_warning() {
    for (what, fd5) in [("fd 5 closed", FdPlan::Closed), ("fd 5 reader gone", FdPlan::Widowed)] {
        let (root, id, mut logger, _kept) = start_plan(&Plan::normal().fd(5, fd5));
        feed_and_finish(&mut logger, &root, &id, 300, 300);
        let sys = root.read_sys_log(NS, &id);
        one_problem(&sys, &["fd 5"], what);
        assert_eq!(problems(&sys).len(), 1, "{what}:\n{sys}");
    }
}

/// Pipes handed over in blocking mode (as containerd may): they are switched to
/// non-blocking, so an idle stdout never holds up stderr, and after SIGTERM two open
/// but empty pipes count as drained: exit 0 well within containerd's 12 s.
#[test]
fn blocking_pipes_neither_stall_the_loop_nor_the_exit() {
    let (root, id, mut logger, _kept) = start_plan(&Plan::normal());
    assert_eq!(logger.wait_ready(), Ready::Byte);
    for fd in [3, 4] {
        let flags = fd_flags(logger.pid(), fd).expect("fdinfo");
        assert!(
            flags & libc::O_NONBLOCK as u32 != 0,
            "fd {fd} still blocking: flags {flags:o}"
        );
    }
    // stdout stays open and silent; stderr must flow anyway.
    let err = numbered_lines(b'E', 0..2000);
    logger.write_stderr(&err);
    root.wait_log_len(NS, &id, err.len());
    let start = Instant::now();
    logger.sigterm();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    assert!(
        start.elapsed() < Duration::from_secs(9),
        "exit took {:?}",
        start.elapsed()
    );
    check_merged(&root.read_log(NS, &id), 0, 2000).unwrap();
    assert!(problems(&root.read_sys_log(NS, &id)).is_empty());
}

/// TTY mode: fd 4 is at end of file from the start. The logger keeps reading fd 3 for
/// as long as it is open, without a complaint.
#[test]
fn stderr_at_eof_from_the_start_tty_mode() {
    let (root, id, mut logger, _kept) = start_plan(&Plan::normal().fd(4, FdPlan::Widowed));
    assert_eq!(logger.wait_ready(), Ready::Byte);
    thread::sleep(Duration::from_millis(300));
    assert!(logger.is_running(), "the logger ended on fd 4's EOF");
    let mut len = 0;
    for k in 0..5 {
        let part = numbered_lines(b'O', k * 100..(k + 1) * 100);
        logger.write_stdout(&part);
        len += part.len();
        root.wait_log_len(NS, &id, len);
        thread::sleep(Duration::from_millis(50));
        assert!(logger.is_running());
    }
    logger.close_stdout();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    check_merged(&root.read_log(NS, &id), 500, 0).unwrap();
    let sys = root.read_sys_log(NS, &id);
    assert!(problems(&sys).is_empty(), "EOF on fd 4 is normal in TTY mode:\n{sys}");
}

/// fd 3 a regular file: its content is logged, then it counts as ended.
#[test]
fn a_regular_file_on_fd_3_is_logged_then_ends() {
    let files = TempRoot::new();
    let content = numbered_lines(b'O', 0..3000);
    let f = files.path().join("stdout.txt");
    fs::write(&f, &content).unwrap();
    let (root, id, mut logger, _kept) = start_plan(&Plan::normal().fd(3, FdPlan::File(f)));
    assert_eq!(logger.wait_ready(), Ready::Byte);
    root.wait_log_len(NS, &id, content.len());
    assert!(logger.is_running(), "ended although fd 4 is open");
    logger.write_stderr(&numbered_lines(b'E', 0..100));
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    check_merged(&root.read_log(NS, &id), 3000, 100).unwrap();
    assert!(problems(&root.read_sys_log(NS, &id)).is_empty());
}

/// fd 3 the write end of a pipe (not readable): one error, and the stream counts as
/// ended, so the logger exits when stderr ends.
#[test]

fn a_write_only_fd_3_counts_as_ended() {
    let (root, id, mut logger, _kept) = start_plan(&Plan::normal().fd(3, FdPlan::WrongEnd));
    assert_eq!(logger.wait_ready(), Ready::Byte);
    logger.write_stderr(&numbered_lines(b'E', 0..300));
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    check_merged(&root.read_log(NS, &id), 0, 300).unwrap();
    let sys = root.read_sys_log(NS, &id);
    assert!(problems(&sys).len() <= 1, "{sys}");
    assert!(
        problems(&sys)
            .iter()
            .any(|m| m.contains("stdout") || m.contains("fd 3")),
        "{sys}"
    );
}

// ---------------------------------------------------------------------------------------
// Pipe contents

/// 1 GiB on stdout without a newline: cut into chunks, never held; memory does not grow
/// between 1 MiB and 1 GiB; the (rotated) local files hold only those bytes and the
/// exit line counts all of them.
#[test]
fn one_gib_without_a_newline_keeps_memory_flat() {
    let _serial = heavy();
    let root = TempRoot::new();
    let id = id();
    let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    let chunk = vec![b'x'; 1 << 20];
    logger.write_stdout(&chunk);
    root.wait_log_len(NS, &id, 1 << 20);
    let hwm_1m = vm_hwm_kib(logger.pid());
    for _ in 1..1024 {
        logger.write_stdout(&chunk);
    }
    // Wait until the logger has read it all (`rchar` counts every byte read).
    let pid = logger.pid();
    let mut read = 0;
    let done = wait_progress(|| {
        read = rchar(pid);
        (read >= 1 << 30, read as usize)
    });
    assert!(done, "the logger read only {read} bytes");
    let hwm_1g = vm_hwm_kib(pid);
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    eprintln!("VmHWM: {hwm_1m} KiB after 1 MiB, {hwm_1g} KiB after 1 GiB");
    assert!(
        hwm_1g <= hwm_1m + 8,
        "memory grew: {hwm_1m} KiB after 1 MiB, {hwm_1g} KiB after 1 GiB"
    );
    let mut total = 0u64;
    for p in log_dir_files(&root, "") {
        if p.to_string_lossy().contains("-sys.log") {
            continue;
        }
        let data = fs::read(&p).unwrap();
        // Rotation waits up to 64 KiB past the bound for a line to end; this one never does.
        assert!(
            data.len() as u64 <= (16 << 20) + (64 << 10),
            "{}: {} bytes",
            p.display(),
            data.len()
        );
        assert!(data == vec![b'x'; data.len()], "{} holds other bytes", p.display());
        total += data.len() as u64;
    }
    assert!(total > 16 << 20, "only {total} bytes kept");
    let sys = root.read_sys_log(NS, &id);
    assert!(sys.contains("exit: local file 1073741824 bytes written"), "{sys}");
    assert!(problems(&sys).is_empty(), "{sys}");
}

/// Only newlines, on both streams: every one of them is a line of its own.
#[test]
fn only_newlines() {
    let root = TempRoot::new();
    let id = id();
    let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    let nl = vec![b'\n'; 1 << 20];
    for _ in 0..4 {
        logger.write_stdout(&nl);
        logger.write_stderr(&nl[..1 << 18]);
    }
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    let data = root.read_log(NS, &id);
    assert_eq!(data.len(), 5 << 20, "local file size");
    assert!(data == vec![b'\n'; 5 << 20], "local file holds other bytes");
    assert!(problems(&root.read_sys_log(NS, &id)).is_empty());
}

/// A small deterministic generator (xorshift64*), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Random bytes (NUL, CR, invalid UTF-8, lines from empty to 20 KiB) written in random
/// pieces, ending without a newline: the local file is byte-exact.
#[test]
fn random_bytes_are_kept_byte_exact() {
    let root = TempRoot::new();
    let id = id();
    let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    let mut rng = Rng(0x5eed_1234_abcd_9876);
    let mut data = rng.bytes(8 << 20);
    // Random bytes hold a newline every 256 bytes on average; add long runs without one.
    for _ in 0..50 {
        let at = (rng.next() as usize) % (data.len() - 20_000);
        let len = (rng.next() as usize) % 20_000;
        for b in &mut data[at..at + len] {
            if *b == b'\n' {
                *b = b'N';
            }
        }
    }
    data.extend_from_slice(b"\xff\x00 final fragment");
    let mut rest = &data[..];
    while !rest.is_empty() {
        let n = ((rng.next() as usize) % 70_000 + 1).min(rest.len());
        logger.write_stdout(&rest[..n]);
        rest = &rest[n..];
    }
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    assert!(root.read_log(NS, &id) == data, "local file is not byte-exact");
    assert!(problems(&root.read_sys_log(NS, &id)).is_empty());
}

/// Lines longer than the 4 KiB line buffer on both streams at once: each stream's
/// bytes stay exact, and, as the README promises, the streams interleave only at line
/// boundaries, so every line of the file is one whole line of one stream.
#[test]
fn long_lines_on_both_streams_interleave_only_at_line_boundaries() {
    let root = TempRoot::new();
    let id = id();
    let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    let line = |tag: u8, i: usize| {
        let mut l = vec![tag; 10_000 + i];
        l.push(b'\n');
        l
    };
    for i in 0..20 {
        logger.write_stdout(&line(b'o', i));
        logger.write_stderr(&line(b'e', i));
    }
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    let data = root.read_log(NS, &id);
    let mut next = [0usize; 2];
    for (k, l) in data.split_inclusive(|&b| b == b'\n').enumerate() {
        let s = usize::from(l[0] == b'e');
        let tag = [b'o', b'e'][s];
        assert!(
            l == line(tag, next[s]),
            "file line {k} is not whole line {} of {}: {} bytes starting {:?}",
            next[s],
            tag as char,
            l.len(),
            String::from_utf8_lossy(&l[..l.len().min(8)])
        );
        next[s] += 1;
    }
    assert_eq!(next, [20, 20]);
}

/// With no endpoint and the raw format, a busy pipe is read on past the line buffer
/// (into the scratch buffer). Lines from 11 bytes to the line buffer's 4 KiB, so
/// unfinished tails of every size at the end of a read, on both streams at once
/// (each stream's whole text in its pipe in one write): every line comes out whole,
/// byte-exact and in order, and stdout and stderr meet only at line boundaries. (No
/// line is longer than the buffer, so none is written in pieces and nothing depends
/// on timing.)
#[test]
fn file_only_wide_reads_keep_lines_whole_on_both_streams() {
    let root = TempRoot::new();
    let id = id();
    let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    let mut rng = Rng(0x71de_0000_5eed_0001);
    let line = |tag: u8, seq: usize, len: usize| {
        let mut l = format!("{}{seq:08} ", tag as char).into_bytes();
        while l.len() + 1 < len {
            l.push(b'a' + ((seq + l.len()) % 26) as u8);
        }
        l.push(b'\n');
        l
    };
    let mut text = [Vec::new(), Vec::new()];
    let mut lines = [0usize; 2];
    for (s, tag) in [b'o', b'e'].into_iter().enumerate() {
        while text[s].len() < 900_000 {
            let r = rng.next() as usize;
            let len = match r % 10 {
                0..=5 => 11 + (r >> 8) % 200,
                6..=8 => 11 + (r >> 8) % 2048,
                _ => 2048 + (r >> 8) % 2049,
            };
            text[s].extend(line(tag, lines[s], len));
            lines[s] += 1;
        }
    }
    logger.grow_pipes(1 << 20);
    logger.write_stdout(&text[0]);
    logger.write_stderr(&text[1]);
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    let data = root.read_log(NS, &id);
    let (mut next, mut at) = ([0usize; 2], [0usize; 2]);
    for (k, l) in data.split_inclusive(|&b| b == b'\n').enumerate() {
        let s = usize::from(l[0] == b'e');
        let rest = &text[s][at[s]..];
        let want = &rest[..rest.iter().position(|&b| b == b'\n').map_or(rest.len(), |p| p + 1)];
        assert!(
            l == want,
            "file line {k} ({} bytes, starting {:?}) is not whole line {} of stream {s}",
            l.len(),
            String::from_utf8_lossy(&l[..l.len().min(10)]),
            next[s]
        );
        at[s] += l.len();
        next[s] += 1;
    }
    assert_eq!(next, lines, "lines per stream");
    assert!(problems(&root.read_sys_log(NS, &id)).is_empty());
}

/// A block-buffered writer (C stdio on a pipe writes 4 KiB blocks that end mid-line),
/// with the local file only: a short line whose start waits in the line buffer and
/// whose rest comes in the next block is written whole, never cut where the block
/// ends, so a line of the other stream written meanwhile does not land inside it.
#[test]
fn a_short_line_split_across_writes_stays_whole_in_the_raw_file() {
    let root = TempRoot::new();
    let id = id();
    let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    let filler = |n: usize, tag: u8| {
        let mut v = Vec::new();
        while v.len() < n {
            let l = (n - v.len()).min(100);
            v.extend(std::iter::repeat_n(tag, l - 1));
            v.push(b'\n');
        }
        v
    };
    // Block 1: lines, then the start of a line.
    let mut b1 = filler(3900, b'a');
    b1.extend_from_slice(b"hello");
    // Block 2, 4096 bytes: the rest of it, lines, then 50 bytes of the next line.
    let mut b2 = b" world\n".to_vec();
    b2.extend(filler(4096 - b2.len() - 50, b'b'));
    b2.extend_from_slice(b"PARTIAL");
    b2.resize(4096, b'd');
    let pause = Duration::from_millis(150);
    logger.write_stdout(&b1);
    thread::sleep(pause);
    logger.write_stdout(&b2);
    thread::sleep(pause);
    logger.write_stderr(b"ERR-LINE\n");
    thread::sleep(pause);
    logger.write_stdout(b"_END\n");
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    let data = root.read_log(NS, &id);
    let lines: Vec<&[u8]> = data.split_inclusive(|&b| b == b'\n').collect();
    let mut partial = b"PARTIAL".to_vec();
    partial.resize(50, b'd');
    partial.extend_from_slice(b"_END\n");
    for want in [&b"hello world\n"[..], b"ERR-LINE\n", &partial] {
        assert!(
            lines.contains(&want),
            "{:?} is not a whole line of the file; it ends {:?}",
            String::from_utf8_lossy(want),
            String::from_utf8_lossy(&data[data.len().saturating_sub(80)..])
        );
    }
    let mut out = b1.clone();
    out.extend_from_slice(&b2);
    out.extend_from_slice(b"_END\n");
    assert_eq!(data.len(), out.len() + 9, "every byte once");
}

// ---------------------------------------------------------------------------------------
// The Redis side

/// Start a logger whose stdout and stderr both go to `url` (one endpoint).
fn with_endpoint(root: &TempRoot, id: &str, url: &str) -> Logger {
    root.write_config(NS, id, &redis_config(url, url));
    let mut logger = Logger::spawn(root.path(), id, NS, &[]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    logger
}

/// A peer answering an HTTP page: the connection is dropped and retried with backoff
/// (a handful of connections, not a storm), reported once, and once the peer behaves
/// every line arrives, in order.
#[test]
fn a_peer_answering_garbage_is_retried_with_backoff() {
    let root = TempRoot::new();
    let id = id();
    let peer = Peer::start(Mode::Garbage);
    let mut logger = with_endpoint(&root, &id, &peer.url("c"));
    let len = write_interleaved(&mut logger, 0..300, 0..300);
    root.wait_log_len(NS, &id, len);
    let start = Instant::now();
    assert!(
        wait_until(Duration::from_secs(5), || peer.connections() >= 3),
        "no reconnects"
    );
    thread::sleep(Duration::from_secs(2).saturating_sub(start.elapsed()));
    let n = peer.connections();
    assert!(n <= 12, "{n} connections within about 2 s: no backoff");
    peer.set_mode(Mode::Good);
    wait_published(&peer, 600);
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    check_merged(&root.read_log(NS, &id), 300, 300).unwrap();
    check_delivered(&peer.payloads(b"PUBLISH"), 300, 300);
    let sys = root.read_sys_log(NS, &id);
    one_problem(&sys, &["protocol error"], "garbage");
}

/// A reply announced as 512 MiB and streamed: skipped as it comes, never stored, so
/// memory stays flat; the pipes keep flowing meanwhile; afterwards every line arrives.
#[test]
fn a_512_mib_reply_is_skipped_not_stored() {
    let _serial = heavy();
    let root = TempRoot::new();
    let id = id();
    let peer = Peer::start(Mode::HugeBulk);
    let mut logger = with_endpoint(&root, &id, &peer.url("c"));
    let pid = logger.pid();
    let mut next = 0;
    let mut len = 0;
    let write_some = |logger: &mut Logger, next: &mut usize| {
        let n = write_interleaved(logger, *next..*next + 20, *next..*next + 20);
        *next += 20;
        n
    };
    len += write_some(&mut logger, &mut next);
    assert!(
        wait_until(Duration::from_secs(20), || peer.streamed() >= 8 << 20),
        "the stream did not start"
    );
    // The first command waits for the huge reply, so the lines go to the spool: measure
    // once that path is warm.
    let spooling = wait_progress(|| {
        len += write_some(&mut logger, &mut next);
        (!log_dir_files(&root, ".spool").is_empty(), next)
    });
    assert!(spooling, "no spool while the reply streams");
    let hwm_start = vm_hwm_kib(pid);
    // Keep writing while the reply streams: the pipes must never block.
    let done = wait_progress(|| {
        len += write_some(&mut logger, &mut next);
        (peer.streamed() >= HUGE, peer.streamed() as usize)
    });
    assert!(done, "only {} of {HUGE} bytes streamed", peer.streamed());
    let hwm_end = vm_hwm_kib(pid);
    peer.set_mode(Mode::Good);
    wait_published(&peer, 2 * next);
    root.wait_log_len(NS, &id, len);
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    eprintln!("VmHWM {hwm_start} KiB once spooling, {hwm_end} KiB at 512 MiB; {next} lines per stream");
    assert!(
        hwm_end <= hwm_start + 8,
        "memory grew while skipping: {hwm_start} -> {hwm_end} KiB"
    );
    check_merged(&root.read_log(NS, &id), next, next).unwrap();
    check_delivered(&peer.payloads(b"PUBLISH"), next, next);
}

/// A peer that accepts and never reads: the pipes keep flowing, the lines wait in the
/// spool; when the connection goes, everything is delivered from the spool, in order.
#[test]
fn a_peer_that_never_reads_sends_lines_to_the_spool() {
    let root = TempRoot::new();
    let id = id();
    let peer = Peer::start(Mode::Silent);
    let mut logger = with_endpoint(&root, &id, &peer.url("c"));
    let len = write_interleaved(&mut logger, 0..3000, 0..3000);
    root.wait_log_len(NS, &id, len);
    assert!(
        wait_until(Duration::from_secs(5), || log_dir_files(&root, ".spool")
            .iter()
            .any(|p| fs::metadata(p).map(|m| m.len() > 100_000).unwrap_or(false))),
        "no spool holds the backlog: {:?}",
        log_dir_files(&root, "")
    );
    assert!(logger.is_running());
    peer.set_mode(Mode::Good); // closes the silent connection
    wait_published(&peer, 6000);
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    check_merged(&root.read_log(NS, &id), 3000, 3000).unwrap();
    check_delivered(&peer.payloads(b"PUBLISH"), 3000, 3000);
    assert!(log_dir_files(&root, ".spool").is_empty(), "a drained spool was left");
    let sys = root.read_sys_log(NS, &id);
    one_problem(&sys, &["connection closed by peer"], "silent peer");
}

/// A peer that answers one command and closes, every time: each line arrives once, in
/// order, and the logger never spins.
#[test]
fn a_peer_closing_after_every_reply() {
    let root = TempRoot::new();
    let id = id();
    let peer = Peer::start(Mode::CloseAfterReply);
    let mut logger = with_endpoint(&root, &id, &peer.url("c"));
    let len = write_interleaved(&mut logger, 0..15, 0..15);
    root.wait_log_len(NS, &id, len);
    wait_published(&peer, 30);
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    check_merged(&root.read_log(NS, &id), 15, 15).unwrap();
    check_delivered(&peer.payloads(b"PUBLISH"), 15, 15);
    let sys = root.read_sys_log(NS, &id);
    let closes = problems(&sys).iter().filter(|m| m.contains("closed by peer")).count();
    eprintln!("{} connections, {closes} 'closed by peer' warnings", peer.connections());
    assert!(closes >= 1, "the closes were not reported:\n{sys}");
}

/// A peer that answers a burst of commands and closes, every time, while the lines
/// wait in a spool (far more than the out-buffer holds, so the commands sent leave it
/// and are reloaded from the spool after each reconnect): the replies received before
/// each close count, so the peer acknowledges every line exactly once, in order.
#[test]
fn a_peer_closing_after_each_burst_acknowledges_every_line_once() {
    let root = TempRoot::new();
    let id = id();
    let peer = Peer::start(Mode::CloseAfterBurst);
    let mut logger = with_endpoint(&root, &id, &peer.url("c"));
    let n = 400;
    let len = write_interleaved(&mut logger, 0..n, 0..n);
    root.wait_log_len(NS, &id, len);
    wait_published(&peer, 2 * n);
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    let payloads = peer.payloads(b"PUBLISH");
    for tag in [b'O', b'E'] {
        let got = seqs_of(&payloads, tag);
        assert!(
            got.iter().copied().eq(0..n),
            "stream {}: {} acknowledged, not 0..{n} once each in order",
            tag as char,
            got.len()
        );
    }
    let sys = root.read_sys_log(NS, &id);
    assert!(
        peer.connections() >= 2 * n / common::peer::BURST,
        "{} connections for {} bursts",
        peer.connections(),
        2 * n / common::peer::BURST
    );
    assert!(summary_field(&sys, "spooled") > 0, "the spool was never used:\n{sys}");
}

/// A peer that reads a command and closes without a reply: nothing is ever
/// acknowledged, so the logger retries with growing backoff (no reconnect storm),
/// keeps every line, and delivers them all once the peer behaves.
#[test]
fn a_peer_closing_without_a_reply_gets_backoff_not_a_storm() {
    let root = TempRoot::new();
    let id = id();
    let peer = Peer::start(Mode::CloseWithoutReply);
    let mut logger = with_endpoint(&root, &id, &peer.url("c"));
    let start = Instant::now();
    let len = write_interleaved(&mut logger, 0..200, 0..200);
    root.wait_log_len(NS, &id, len);
    thread::sleep(Duration::from_secs(3).saturating_sub(start.elapsed()));
    let n = peer.connections();
    assert!((2..=9).contains(&n), "{n} connections in 3 s");
    peer.set_mode(Mode::Good);
    wait_published(&peer, 400);
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    check_delivered(&peer.payloads(b"PUBLISH"), 200, 200);
    let sys = root.read_sys_log(NS, &id);
    one_problem(&sys, &["closed by peer"], "close without reply");
}

/// A real redis-server that requires a password the config does not give: `NOAUTH` is
/// reported once, and every line is kept in the endpoint's spool, in order.
#[test]
fn noauth_is_reported_once_and_lines_are_kept_in_the_spool() {
    let root = TempRoot::new();
    let id = id();
    let pw = unique("Nobody").replace('-', "x");
    let redis = RedisServer::start_with_password(&pw);
    let url = format!("redis://127.0.0.1:{}/list?cmd=rpush", redis.port());
    let mut logger = with_endpoint(&root, &id, &url);
    feed_and_finish(&mut logger, &root, &id, 1000, 1000);
    let sys = root.read_sys_log(NS, &id);
    one_problem(&sys, &["NOAUTH"], "noauth");
    assert!(
        summary_field(&sys, "errors") >= 1,
        "the -NOAUTH replies were not counted\n{sys}"
    );
    let spools = log_dir_files(&root, ".spool");
    assert_eq!(spools.len(), 1, "spools: {spools:?}\n{sys}");
    let payloads = spool_payloads(&spools[0]);
    assert_eq!(seqs_of(&payloads, b'O'), (0..1000).collect::<Vec<_>>());
    assert_eq!(seqs_of(&payloads, b'E'), (0..1000).collect::<Vec<_>>());
    assert_eq!(redis.client().cmd(&[b"LLEN", b"list"]), Reply::Int(0));
}

/// After `NOAUTH`, the operator adds the password to the URL: the next logger must
/// resume the spool and deliver the lines kept there.
#[test]
fn adding_the_missing_password_resumes_the_spool() {
    let root = TempRoot::new();
    let id = id();
    let pw = unique("Later").replace('-', "x");
    let redis = RedisServer::start_with_password(&pw);
    let port = redis.port();
    let mut logger = with_endpoint(&root, &id, &format!("redis://127.0.0.1:{port}/list?cmd=rpush"));
    feed_and_finish(&mut logger, &root, &id, 100, 0);
    assert_eq!(log_dir_files(&root, ".spool").len(), 1, "no spool after NOAUTH");
    let mut logger = with_endpoint(&root, &id, &format!("redis://:{pw}@127.0.0.1:{port}/list?cmd=rpush"));
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    let items = match redis.client().cmd(&[b"LRANGE", b"list", b"0", b"-1"]) {
        Reply::Array(Some(v)) => v
            .into_iter()
            .map(|r| match r {
                Reply::Bulk(Some(b)) => b,
                other => panic!("LRANGE element {other:?}"),
            })
            .collect::<Vec<_>>(),
        other => panic!("LRANGE {other:?}"),
    };
    assert_eq!(
        seqs_of(&items, b'O'),
        (0..100).collect::<Vec<_>>(),
        "spooled lines not delivered; spools {:?}\n{}",
        log_dir_files(&root, ".spool"),
        root.read_sys_log(NS, &id)
    );
}

// ---------------------------------------------------------------------------------------
// The local file

/// Things planted at the log path: a symlink (O_NOFOLLOW: refused, its target left
/// alone), a FIFO (refused without blocking), a directory. Each is one located error;
/// the endpoint still gets every line.
#[test]
fn a_symlink_fifo_or_directory_at_the_log_path_is_refused() {
    let outside = TempRoot::new();
    let victim = outside.path().join("victim");
    fs::write(&victim, b"untouched\n").unwrap();
    for what in ["symlink", "fifo", "directory"] {
        let root = TempRoot::new();
        let id = id();
        let log = root.log_path(NS, &id);
        fs::create_dir_all(log.parent().unwrap()).unwrap();
        match what {
            "symlink" => symlink(&victim, &log).unwrap(),
            "fifo" => {
                let c = std::ffi::CString::new(log.to_str().unwrap()).unwrap();
                // SAFETY: mkfifo on a NUL-terminated path we own.
                assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
            }
            _ => fs::create_dir(&log).unwrap(),
        }
        let ep = RealEndpoint::start();
        let start = Instant::now();
        let mut logger = with_endpoint(&root, &id, &ep.url());
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{what}: ready took {:?}",
            start.elapsed()
        );
        write_interleaved(&mut logger, 0..500, 0..500);
        wait_count(&|| ep.count(), 1000);
        logger.close_stdout();
        logger.close_stderr();
        assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0, "{what}");
        check_delivered(&ep.payloads(), 500, 500);
        assert_eq!(
            fs::read(&victim).unwrap(),
            b"untouched\n",
            "{what}: the symlink's target was written"
        );
        let sys = root.read_sys_log(NS, &id);
        one_problem(&sys, &["cannot open the local file", &format!("{id}.log")], what);
        let others: Vec<String> = problems(&sys)
            .into_iter()
            .filter(|m| !m.contains("cannot open the local file"))
            .collect();
        assert!(others.is_empty(), "{what}: {others:?}");
    }
}

/// Run `chattr` on `path`; false if it is not available or not allowed.
fn chattr(flag: &str, path: &Path) -> bool {
    Command::new("chattr")
        .arg(flag)
        .arg(path)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Makes a directory unwritable for the test's lifetime. As root, where permissions do
/// not apply: immutable (`chattr +i`), else a read-only tmpfs mounted over it; as
/// another user: mode 0555. `None` if none of these works here.
enum ReadOnlyDir {
    Immutable(PathBuf),
    /// Held for its `Drop`, which unmounts.
    Mounted(#[allow(dead_code)] Tmpfs),
    Mode(PathBuf),
}

impl ReadOnlyDir {
    fn new(dir: &Path) -> Option<ReadOnlyDir> {
        if !is_root() {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o555)).ok()?;
            return Some(ReadOnlyDir::Mode(dir.to_owned()));
        }
        if chattr("+i", dir) {
            return Some(ReadOnlyDir::Immutable(dir.to_owned()));
        }
        Tmpfs::mount(dir, "ro,size=64k").map(ReadOnlyDir::Mounted)
    }
}

impl Drop for ReadOnlyDir {
    fn drop(&mut self) {
        match self {
            ReadOnlyDir::Immutable(d) => {
                chattr("-i", d);
            }
            ReadOnlyDir::Mounted(_) => {}
            ReadOnlyDir::Mode(d) => {
                use std::os::unix::fs::PermissionsExt;
                let _ = fs::set_permissions(d, fs::Permissions::from_mode(0o755));
            }
        }
    }
}

/// `<root>/logs/<ns>` cannot be written to (see [`ReadOnlyDir`]):
/// neither the local file nor the sys log can be created. The one report goes to
/// stderr (`/dev/null` under containerd, a file here), the endpoint still gets every
/// line, and the pipes never block.
#[test]
fn an_unwritable_log_directory() {
    let root = TempRoot::new();
    let id = id();
    let dir = root.path().join("logs").join(NS);
    fs::create_dir_all(&dir).unwrap();
    let Some(ro) = ReadOnlyDir::new(&dir) else {
        eprintln!("skipped: no way to make a directory read-only here");
        return;
    };
    let ep = RealEndpoint::start();
    root.write_config(NS, &id, &redis_config(&ep.url(), &ep.url()));
    let (mut logger, stderr, _elsewhere, _kept) = ready_with_stderr_file(&root, &id);
    // Paced: the spool cannot be created in that directory either.
    write_paced(&mut logger, &ep, 1000);
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    check_delivered(&ep.payloads(), 1000, 1000);
    drop(ro);
    assert!(
        fs::read_dir(&dir).unwrap().next().is_none(),
        "something was created in the read-only directory"
    );
    let err = fs::read_to_string(&stderr).unwrap();
    one_problem(&err, &["cannot open the local file"], "read-only directory (stderr)");
}

/// A burst the endpoint cannot take while its spool cannot be created (read-only
/// directory): the lines beyond the out-buffer are dropped and counted, and that is
/// reported in a few lines, not in one error line per dropped line.
#[test]

fn an_uncreatable_spool_is_reported_once() {
    let root = TempRoot::new();
    let id = id();
    let dir = root.path().join("logs").join(NS);
    fs::create_dir_all(&dir).unwrap();
    let Some(_ro) = ReadOnlyDir::new(&dir) else {
        eprintln!("skipped: no way to make a directory read-only here");
        return;
    };
    let peer = Peer::start(Mode::Silent);
    root.write_config(NS, &id, &redis_config(&peer.url("c"), &peer.url("c")));
    let (mut logger, stderr, _elsewhere, _kept) = ready_with_stderr_file(&root, &id);
    write_interleaved(&mut logger, 0..2000, 0..2000);
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    let err = fs::read_to_string(&stderr).unwrap();
    let n = err.lines().filter(|l| l.contains("cannot create spool")).count();
    assert!(n <= 2, "{n} 'cannot create spool' lines for one burst");
}

/// Mounts a small tmpfs (root only) and unmounts it on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, options: &str) -> Option<Tmpfs> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Check a local file cut short by a full disk: whole numbered lines, each stream in
/// order from 0, then at most one cut line; return the lines of each stream.
fn check_prefix(data: &[u8]) -> (usize, usize) {
    let mut next = [0usize; 2];
    for l in data.split_inclusive(|&b| b == b'\n') {
        let s = usize::from(l.first() == Some(&b'E'));
        let want = numbered_line([b'O', b'E'][s], next[s]);
        if l.ends_with(b"\n") {
            assert!(
                l == want,
                "line {} of {} altered: {:?}",
                next[s],
                s,
                String::from_utf8_lossy(l)
            );
            next[s] += 1;
        } else {
            assert!(
                want.starts_with(l),
                "the cut tail is not a line's start: {:?}",
                String::from_utf8_lossy(l)
            );
        }
    }
    (next[0], next[1])
}

/// A full disk, as a file-size limit (`RLIMIT_FSIZE`, which also raises `SIGXFSZ`): the
/// logger must survive it, report it once, keep what fits, and still deliver every line
/// to the endpoint.
#[test]
fn a_file_size_limit_is_survived() {
    let root = TempRoot::new();
    let id = id();
    let ep = RealEndpoint::start();
    root.write_config(NS, &id, &redis_config(&ep.url(), &ep.url()));
    let plan = Plan {
        fsize_limit: Some(64 * 1024),
        ..Plan::normal()
    };
    let (mut logger, _kept) = spawn_plan(root.path(), &id, NS, &plan);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    for k in (0..2000).step_by(20) {
        let r = k..k + 20;
        logger
            .try_write_stdout(&numbered_lines(b'O', r.clone()))
            .unwrap_or_else(|e| panic!("stdout pipe: {e} (logger status {:?})", logger.wait_status(TICK)));
        logger
            .try_write_stderr(&numbered_lines(b'E', r))
            .unwrap_or_else(|e| panic!("stderr pipe: {e} (logger status {:?})", logger.wait_status(TICK)));
        thread::sleep(Duration::from_millis(5));
        assert!(logger.is_running(), "the logger died: {:?}", logger.wait_status(TICK));
        wait_count(&|| ep.count(), 2 * (k + 20));
    }
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    check_delivered(&ep.payloads(), 2000, 2000);
    let data = root.read_log(NS, &id);
    assert!(data.len() <= 64 * 1024);
    check_prefix(&data);
    let sys = root.read_sys_log(NS, &id);
    one_problem(&sys, &["local file: write failed", "file too large"], "RLIMIT_FSIZE");
}

/// A full disk, for real: a 256 KiB tmpfs as `<root>/logs/<ns>` (needs root and mount;
/// skipped otherwise). The logger keeps reading, keeps what fits, reports once, and
/// still delivers every line.
#[test]
fn a_full_disk_is_survived() {
    if !is_root() {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    let root = TempRoot::new();
    let id = id();
    let dir = root.path().join("logs").join(NS);
    fs::create_dir_all(&dir).unwrap();
    let Some(_mnt) = Tmpfs::mount(&dir, "size=256k") else {
        eprintln!("skipped: mount -t tmpfs failed");
        return;
    };
    let ep = RealEndpoint::start();
    root.write_config(NS, &id, &redis_config(&ep.url(), &ep.url()));
    let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    // Paced: the spool would be on the full disk too.
    write_paced(&mut logger, &ep, 4000);
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    check_delivered(&ep.payloads(), 4000, 4000);
    let data = root.read_log(NS, &id);
    let (o, e) = check_prefix(&data);
    assert!(
        o + e > 100 && o + e < 8000,
        "{o} + {e} lines kept of 8000 on a 256 KiB disk"
    );
    let sys = root.read_sys_log(NS, &id);
    one_problem(&sys, &["local file: write failed", "no space left"], "ENOSPC");
}

// ---------------------------------------------------------------------------------------
// Secrets

/// `needle` and its percent-decoded form, if different.
fn forms(raw: &str) -> Vec<String> {
    let mut out = vec![raw.to_owned()];
    let decoded = raw.replace("%40", "@").replace("%2F", "/").replace("%3A", ":");
    if decoded != raw {
        out.push(decoded);
    }
    out
}

/// Every file the logger wrote under `root` (the config directory excluded), plus
/// `extra` texts, checked for every form of every password.
fn assert_no_secret(root: &TempRoot, extra: &[(&str, String)], passwords: &[String]) {
    let config_dir = root.path().join("config");
    let files: Vec<PathBuf> = root
        .files()
        .into_iter()
        .filter(|p| !p.starts_with(&config_dir))
        .collect();
    assert!(!files.is_empty(), "the logger wrote nothing?");
    for pw in passwords {
        for f in forms(pw) {
            let leaks: Vec<&PathBuf> = files
                .iter()
                .filter(|p| contains(&fs::read(p).unwrap_or_default(), f.as_bytes()))
                .collect();
            assert!(leaks.is_empty(), "password {f:?} written to {leaks:?}");
            for (what, text) in extra {
                assert!(!text.contains(&f), "password {f:?} in {what}:\n{text}");
            }
        }
    }
}

/// Passwords in working, refused, unreachable and unresolvable endpoints, in percent-
/// encoded form, in a rejected config and through `check`: none reaches the sys log,
/// the spools, the local file, the logger's stderr or the output of `check`.
#[test]
fn passwords_never_reach_any_file_or_output() {
    let u = unique("").replace('-', "");
    let (pw_a, pw_b, pw_c, pw_d) = (
        format!("SecretA{u}"),
        format!("SecretB{u}"),
        format!("SecretC{u}"),
        format!("Secret%40D%2F{u}"),
    );
    let pw_e = format!("SecretE{u}");
    let redis = RedisServer::start_with_password(&pw_a);
    let garbage = Peer::start(Mode::Garbage);
    let root = TempRoot::new();
    let (id, id2) = (id(), id());
    let (r, g) = (redis.port(), garbage.port());
    let config = format!(
        "[{},{}]",
        redis_config(
            &format!("redis://:{pw_a}@127.0.0.1:{r}/out"),
            &format!("redis://default:{pw_b}@127.0.0.1:{r}/err")
        )
        .trim_matches(|c| c == '[' || c == ']'),
        redis_config(
            &format!("redis://:{pw_c}@127.0.0.1:{g}/x"),
            &format!("redis://user:{pw_d}@no-such-host.invalid/x?db=3")
        )
        .trim_matches(|c| c == '[' || c == ']'),
    );
    let config_path = root.write_config(NS, &id, &config);
    let (mut logger, stderr, elsewhere, _kept) = ready_with_stderr_file(&root, &id);
    write_interleaved(&mut logger, 0..3000, 0..3000);
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    let sys = root.read_sys_log(NS, &id);
    assert!(sys.contains(":***@"), "no endpoint printed masked:\n{sys}");
    assert!(
        !log_dir_files(&root, ".spool").is_empty(),
        "expected spools for the failing endpoints:\n{sys}"
    );

    // A rejected config with a password in it, run and checked.
    let bad = redis_config(&format!("redis://:{pw_e}@127.0.0.1:0/c"), "redis://127.0.0.1/c");
    let bad_path = root.write_config(NS, &id2, &bad);
    let mut logger = Logger::spawn(root.path(), &id2, NS, &[]);
    feed_and_finish(&mut logger, &root, &id2, 10, 10);
    let (code, out1, err1) = run_cli(elsewhere.path(), &["check", config_path.to_str().unwrap()]);
    assert_eq!(code, 0, "check: {out1}{err1}");
    assert!(out1.contains(":***@"), "check printed no masked password: {out1}");
    let (code, out2, err2) = run_cli(elsewhere.path(), &["check", bad_path.to_str().unwrap()]);
    assert_eq!(code, 100, "check on the bad config: {out2}{err2}");

    let extra = [
        ("the logger's stderr", fs::read_to_string(&stderr).unwrap()),
        ("check's output", format!("{out1}{err1}{out2}{err2}")),
    ];
    assert_no_secret(&root, &extra, &[pw_a, pw_b, pw_c, pw_d, pw_e]);
}

/// A URL put where a key or a type belongs is quoted back in the "unknown key" and
/// "unknown type" warnings, password included.
#[test]

fn a_misplaced_url_does_not_leak_its_password() {
    let u = unique("").replace('-', "");
    let (pw_g, pw_h) = (format!("SecretG{u}"), format!("SecretH{u}"));
    let root = TempRoot::new();
    let id = id();
    let config = format!(
        r#"[{{"type":"redis","data":{{"stdout":null,"redis://:{pw_g}@10.0.0.1/c":null}}}},{{"type":"redis://:{pw_h}@10.0.0.1/c","data":{{}}}}]"#
    );
    let mut logger = with_config_bytes(&root, &id, config.as_bytes());
    assert_eq!(logger.wait_ready(), Ready::Byte);
    feed_and_finish(&mut logger, &root, &id, 10, 10);
    let sys = root.read_sys_log(NS, &id);
    assert_eq!(problems(&sys).len(), 2, "two warnings expected:\n{sys}");
    assert_no_secret(&root, &[], &[pw_g, pw_h]);
}
