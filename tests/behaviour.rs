//! Behaviour tests of the real release binary (`make build` first, or point
//! `SHIM_LOGS_BIN` at a build): each test starts the logger the way containerd's shim
//! does, with its own temporary root and, where Redis is involved, its own
//! `redis-server`, feeds the container pipes and checks the local file, the sys log, the
//! Redis channels and the exit code against the contract in DESIGN.md. The harness is in
//! `common/`.

mod common;

use common::*;
use std::time::{Duration, Instant};

const NS: &str = "default";

/// A container id nobody else uses in this root.
fn id() -> String {
    unique("ctr").replace('-', "_")
}

/// Start a logger whose stdout and stderr go to channels `out` and `err` of a new
/// redis-server, with a subscriber on both; return once it is ready.
fn ready_with_redis() -> (TempRoot, RedisServer, Subscriber, String, Logger) {
    let root = TempRoot::new();
    let redis = RedisServer::start();
    let sub = Subscriber::subscribe(&redis, &["out", "err"]);
    let id = id();
    root.write_config(NS, &id, &redis_config(&redis.url("out"), &redis.url("err")));
    let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    (root, redis, sub, id, logger)
}

/// Which pipe a test closes first.
#[derive(Clone, Copy)]
enum First {
    Stdout,
    Stderr,
}

/// Feed 300 lines on one stream and 200 on the other, close `first` after 200 lines
/// each, check that the logger still reads the other pipe and stays up, close it and
/// expect exit 0 with exactly those lines in the local file. Return the file content.
fn feed_and_finish(logger: &mut Logger, root: &TempRoot, id: &str, first: First) -> Vec<u8> {
    let mut len = write_interleaved(logger, 0..200, 0..200);
    let (n_out, n_err) = match first {
        First::Stdout => {
            logger.close_stdout();
            let more = numbered_lines(b'E', 200..300);
            logger.write_stderr(&more);
            len += more.len();
            (200, 300)
        }
        First::Stderr => {
            logger.close_stderr();
            let more = numbered_lines(b'O', 200..300);
            logger.write_stdout(&more);
            len += more.len();
            (300, 200)
        }
    };
    root.wait_log_len(NS, id, len);
    assert!(logger.is_running(), "the logger ended after EOF on one pipe only");
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0, "exit code after EOF");
    let data = root.read_log(NS, id);
    check_merged(&data, n_out, n_err).unwrap_or_else(|e| panic!("local file: {e}"));
    data
}

/// Run a logger whose config is `config` (None: no file) through `feed_and_finish`, and
/// return the root (for the caller's checks) and the sys log, whose format is checked.
fn run_with_config(config: Option<&str>) -> (TempRoot, String, String) {
    let root = TempRoot::new();
    let id = id();
    if let Some(c) = config {
        root.write_config(NS, &id, c);
    }
    let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    feed_and_finish(&mut logger, &root, &id, First::Stdout);
    let sys = root.read_sys_log(NS, &id);
    check_sys_log(&sys).unwrap_or_else(|e| panic!("{e}\n{sys}"));
    (root, id, sys)
}

/// Assert that some sys log message names `file` and carries a `LINE:COL` with `line`.
fn assert_located(sys: &str, file: &str, line: u64) {
    let found = sys_messages(sys)
        .iter()
        .any(|m| m.contains(file) && line_cols(m).iter().any(|&(l, c)| l == line && c >= 1));
    assert!(
        found,
        "no sys log message naming {file} with a {line}:COL location:\n{sys}"
    );
}

#[test]
fn ready_byte_arrives_with_missing_config() {
    let root = TempRoot::new();
    let id = id();
    let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    assert!(
        root.log_path(NS, &id).is_file(),
        "ready came before the local file was opened"
    );
    assert!(
        logger.ready_closed_after_byte(),
        "fd 5 not closed after the ready byte (or a second byte came)"
    );
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
}

#[test]
fn many_lines_reach_the_file_and_redis_exactly_once_in_order() {
    let _serial = heavy();
    const N: usize = 100_000;
    let (root, _redis, sub, id, mut logger) = ready_with_redis();

    let len = write_interleaved(&mut logger, 0..N, 0..N);
    logger.close_stdout();
    logger.close_stderr();
    for ch in ["out", "err"] {
        assert!(
            sub.wait_count(ch, N),
            "{} of {N} messages on {ch} ({:?})",
            sub.count(ch),
            sub.ended()
        );
    }
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);

    let data = root.read_log(NS, &id);
    assert_eq!(data.len(), len, "local file size");
    check_merged(&data, N, N).unwrap_or_else(|e| panic!("local file: {e}"));
    // After a clean exit everything was acknowledged: a marker published now comes after
    // every line, so what precedes it must be exactly the lines, once each.
    check_messages(&sub.barrier("out"), b'O', N).unwrap_or_else(|e| panic!("out: {e}"));
    check_messages(&sub.barrier("err"), b'E', N).unwrap_or_else(|e| panic!("err: {e}"));
}

#[test]
fn long_line_nul_bytes_invalid_utf8_and_final_fragment_are_byte_exact() {
    let _serial = heavy();
    let (root, _redis, sub, id, mut logger) = ready_with_redis();

    let mut long: Vec<u8> = (0..100 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
    long.push(b'\n');
    let mut data = b"first\n".to_vec();
    data.extend_from_slice(&long);
    data.extend_from_slice(b"nul\0in\0the\0middle\0\n");
    data.extend_from_slice(b"invalid utf8 \xff\xfe \xc3\x28 \xed\xa0\x80 end\n");
    data.extend_from_slice(b"carriage\rreturn\r\n");
    data.extend_from_slice(b"\n");
    data.extend_from_slice(b"last\0fragment \xff without newline");
    // Uneven writes, so that framing sees lines cut across reads.
    for c in data.chunks(3001) {
        logger.write_stdout(c);
    }
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);

    assert!(root.read_log(NS, &id) == data, "local file is not byte-exact");
    let msgs = sub.barrier("out");
    let joined: Vec<u8> = msgs.concat();
    assert!(
        joined == data,
        "the stdout channel's messages do not concatenate to the bytes written \
         ({} messages, {} bytes, expected {} bytes)",
        msgs.len(),
        joined.len(),
        data.len()
    );
    for (i, m) in msgs.iter().enumerate() {
        assert!(!m.is_empty(), "message {i} is empty");
        let nl = m.iter().position(|&b| b == b'\n');
        assert!(
            nl.is_none() || nl == Some(m.len() - 1),
            "message {i} holds more than one line"
        );
    }
    // Seven lines and the fragment: at least one message each, more if the long one is cut.
    assert!(msgs.len() >= 7, "only {} messages", msgs.len());
    assert!(sub.barrier("err").is_empty(), "stderr channel got data");
}

#[test]
fn local_file_is_appended_across_runs() {
    let root = TempRoot::new();
    let id = id();
    let first = numbered_lines(b'O', 0..1000);
    let second = numbered_lines(b'O', 1000..1500);
    for part in [&first, &second] {
        let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
        assert_eq!(logger.wait_ready(), Ready::Byte);
        logger.write_stdout(part);
        logger.close_stdout();
        logger.close_stderr();
        assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    }
    let data = root.read_log(NS, &id);
    check_merged(&data, 1500, 0).unwrap_or_else(|e| panic!("after two runs: {e}"));
}

#[test]
fn missing_config_means_local_file_only() {
    let (_root, id, sys) = run_with_config(None);
    let said: Vec<&str> = sys.lines().filter(|l| l.contains("no config at")).collect();
    assert_eq!(said.len(), 1, "one line about the missing config:\n{sys}");
    assert!(
        said[0].contains(" info ")
            && said[0].contains(&format!("{id}-logs.json"))
            && said[0].contains("local file only"),
        "{}",
        said[0]
    );
}

#[test]
fn invalid_json_config_is_reported_with_its_location() {
    let config = "[\n  {\"type\": \"redis\", \"data\": {\"stdout\": }]\n";
    let (_root, id, sys) = run_with_config(Some(config));
    assert_located(&sys, &format!("{id}-logs.json"), 2);
}

#[test]
fn unknown_type_is_reported_and_skipped() {
    let (_root, _id, sys) = run_with_config(Some(r#"[{"type":"kafka","data":{}}]"#));
    assert!(
        sys_messages(&sys).iter().any(|m| m.contains("kafka")),
        "no sys log message mentions kafka:\n{sys}"
    );
}

#[test]
fn bad_url_is_reported_with_its_location() {
    let config = redis_config("http://127.0.0.1:6379/out", "redis://127.0.0.1:6379/err");
    let (_root, id, sys) = run_with_config(Some(&config));
    assert_located(&sys, &format!("{id}-logs.json"), 1);
}

#[test]
fn redis_down_at_start_delays_neither_ready_nor_the_file() {
    let root = TempRoot::new();
    let id = id();
    let port = free_port(); // nothing listens there
    let url = |ch: &str| format!("redis://127.0.0.1:{port}/{ch}");
    root.write_config(NS, &id, &redis_config(&url("out"), &url("err")));
    let start = Instant::now();
    let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    let took = start.elapsed();
    // A correctness bound (the C version waited 2 s per endpoint), not a benchmark.
    assert!(took < Duration::from_secs(1), "ready took {took:?}");
    feed_and_finish(&mut logger, &root, &id, First::Stdout);
}

#[test]
fn frozen_redis_neither_blocks_the_pipes_nor_the_exit() {
    let root = TempRoot::new();
    let mut redis = RedisServer::start();
    let id = id();
    root.write_config(NS, &id, &redis_config(&redis.url("out"), &redis.url("err")));
    // Accepting connections (the kernel completes them) but answering nothing.
    redis.stop();
    let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    feed_and_finish(&mut logger, &root, &id, First::Stderr);
    redis.cont();
}

#[test]
fn sigterm_drains_what_is_left_in_the_pipes() {
    let root = TempRoot::new();
    let id = id();
    let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    logger.sigstop();
    // Both stay under the 64 KiB pipe capacity, so nothing needs the logger to read.
    let out = numbered_lines(b'O', 0..1400);
    let err = numbered_lines(b'E', 0..300);
    assert!(out.len() > 50 * 1024 && out.len() < 62 * 1024, "{}", out.len());
    logger.write_stdout(&out);
    logger.write_stderr(&err);
    logger.close_stdout();
    logger.close_stderr();
    logger.sigterm();
    logger.sigcont();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    let data = root.read_log(NS, &id);
    check_merged(&data, 1400, 300).unwrap_or_else(|e| panic!("after SIGTERM: {e}"));
}

/// SIGTERM while the writers are still open (not containerd's order, but a user's
/// `kill`): the logger keeps reading to end of file, so lines written after the signal
/// by a writer that then closes all arrive, in the file and on Redis, and the writes
/// never fail. A writer that stays open but silent counts as drained after about a
/// second, so it does not hold the exit.
#[test]
fn sigterm_reads_on_to_end_of_file_and_a_silent_writer_does_not_hold_the_exit() {
    let (root, _redis, sub, id, mut logger) = ready_with_redis();
    write_interleaved(&mut logger, 0..1000, 0..1000);
    logger.sigterm();
    std::thread::sleep(Duration::from_millis(150));
    assert!(logger.is_running(), "exited 150 ms after SIGTERM with its writers open");
    let late_out = numbered_lines(b'O', 1000..2000);
    let late_err = numbered_lines(b'E', 1000..1500);
    logger
        .try_write_stdout(&late_out)
        .expect("a write after SIGTERM failed: the logger stopped reading");
    logger
        .try_write_stderr(&late_err)
        .expect("a write after SIGTERM failed: the logger stopped reading");
    logger.close_stdout();
    // stderr stays open and silent from here on.
    let start = Instant::now();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "a silent open pipe held the exit for {took:?}"
    );
    check_merged(&root.read_log(NS, &id), 2000, 1500).unwrap_or_else(|e| panic!("local file: {e}"));
    check_messages(&sub.barrier("out"), b'O', 2000).unwrap_or_else(|e| panic!("out: {e}"));
    check_messages(&sub.barrier("err"), b'E', 1500).unwrap_or_else(|e| panic!("err: {e}"));
}

/// A writer that keeps pouring after SIGTERM never keeps the logger alive past its
/// shutdown deadline (9 s, below containerd's 12 s): it exits 0 on time, and what it
/// wrote to the file is an in-order prefix of what was sent.
#[test]
fn a_writer_pouring_after_sigterm_is_left_at_the_deadline() {
    let root = TempRoot::new();
    let id = id();
    let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    logger.sigterm();
    let start = Instant::now();
    let mut sent = 0;
    while start.elapsed() < Duration::from_secs(15) {
        let part = numbered_lines(b'O', sent..sent + 100);
        if logger.try_write_stdout(&part).is_err() {
            break;
        }
        sent += 100;
        std::thread::sleep(Duration::from_millis(5));
    }
    let code = logger.wait_exit(EXIT_TIMEOUT);
    let took = start.elapsed();
    assert_eq!(code, 0);
    assert!(
        took >= Duration::from_secs(8) && took < Duration::from_secs(11),
        "exit {took:?} after SIGTERM: not read on until the 9 s deadline, or past it"
    );
    assert!(sent >= 1000, "only {sent} lines were written before the logger left");
    let data = root.read_log(NS, &id);
    let whole = data.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let lines = data[..whole].iter().filter(|&&b| b == b'\n').count();
    // A batch cut short by the logger leaving may have been read in part.
    assert!(
        lines > 0 && lines <= sent + 100,
        "{lines} lines in the file, {sent} sent"
    );
    check_merged(&data[..whole], lines, 0).unwrap_or_else(|e| panic!("local file: {e}"));
    let sys = root.read_sys_log(NS, &id);
    assert!(
        sys.contains("warn stdout still open at the shutdown deadline; reading stopped"),
        "{sys}"
    );
}

/// The diagnostics file stays bounded across restarts: what earlier loggers of the
/// same container wrote counts, so a logger that finds it at 1 MiB rotates it to
/// `-sys.log.1` (the old lines kept whole) and goes on in a new file.
#[test]
fn diagnostics_file_stays_bounded_across_restarts() {
    let root = TempRoot::new();
    let id = id();
    let sys_path = root.sys_log_path(NS, &id);
    std::fs::create_dir_all(sys_path.parent().unwrap()).unwrap();
    let old: Vec<u8> = (0..18000)
        .flat_map(|i| format!("2026-01-01T00:00:00.000Z info earlier logger line {i:08}\n").into_bytes())
        .collect();
    assert!(old.len() >= 1 << 20, "{}", old.len());
    std::fs::write(&sys_path, &old).unwrap();
    let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    logger.write_stdout(b"one line\n");
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    let rotated = std::fs::read(sys_path.with_file_name(format!("{id}-sys.log.1"))).expect("no -sys.log.1");
    assert!(rotated.starts_with(&old), "the earlier lines were not kept whole");
    assert!(
        rotated.len() < old.len() + 4096,
        "{} bytes went on into the full file",
        rotated.len() - old.len()
    );
    let now = root.read_sys_log(NS, &id);
    assert!(
        now.len() < 4096 && now.contains("exit:"),
        "new diagnostics file:\n{now}"
    );
    assert_eq!(root.read_log(NS, &id), b"one line\n");
}

/// Keys of the log URI's query that the logger does not know arrive as argv pairs in
/// any order (an empty value for a key without `=`): each is one warning in the
/// diagnostics file, and the logger runs as usual.
#[test]
fn unknown_argv_keys_are_one_warning_each_and_not_fatal() {
    let root = TempRoot::new();
    let id = id();
    let mut logger = Logger::spawn(root.path(), &id, NS, &["--debug", "", "--level", "info"]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    write_interleaved(&mut logger, 0..200, 0..100);
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    check_merged(&root.read_log(NS, &id), 200, 100).unwrap();
    let sys = root.read_sys_log(NS, &id);
    for key in ["--debug", "--level"] {
        let said: Vec<&str> = sys
            .lines()
            .filter(|l| l.contains(&format!("unknown argument {key} ignored")))
            .collect();
        assert!(said.len() == 1 && said[0].contains(" warn "), "{key}:\n{sys}");
    }
    assert!(!sys.contains("argument info"), "a value taken for a key:\n{sys}");
}

#[test]
fn password_in_the_url_is_used_and_never_written() {
    let pw = unique("Pw").replace('-', "x");
    let root = TempRoot::new();
    let redis = RedisServer::start_with_password(&pw);
    let sub = Subscriber::subscribe(&redis, &["out", "err"]);
    let id = id();
    // stdout: password-only AUTH; stderr: ACL AUTH as the default user.
    let err_url = format!("redis://default:{pw}@127.0.0.1:{}/err", redis.port());
    root.write_config(NS, &id, &redis_config(&redis.url("out"), &err_url));
    let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    write_interleaved(&mut logger, 0..500, 0..500);
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    check_messages(&sub.barrier("out"), b'O', 500).unwrap_or_else(|e| panic!("out: {e}"));
    check_messages(&sub.barrier("err"), b'E', 500).unwrap_or_else(|e| panic!("err: {e}"));
    let leaks = root.files_containing(pw.as_bytes());
    // The config file holds it by design; nothing the logger writes may.
    let config = root.config_path(NS, &id);
    let leaks: Vec<_> = leaks.into_iter().filter(|p| *p != config).collect();
    assert!(leaks.is_empty(), "password written to {leaks:?}");
}

#[test]
fn wrong_password_is_reported_and_never_written() {
    let root = TempRoot::new();
    let redis = RedisServer::start_with_password(&unique("Right").replace('-', "x"));
    let wrong = unique("Wrong").replace('-', "x");
    let id = id();
    let url = |ch: &str| format!("redis://:{wrong}@127.0.0.1:{}/{ch}", redis.port());
    root.write_config(NS, &id, &redis_config(&url("out"), &url("err")));
    let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    feed_and_finish(&mut logger, &root, &id, First::Stdout);
    let sys = root.read_sys_log(NS, &id);
    check_sys_log(&sys).unwrap_or_else(|e| panic!("{e}\n{sys}"));
    assert!(
        sys.lines()
            .any(|l| matches!(l.split(' ').nth(1), Some("warn" | "error"))),
        "the refused AUTH was not reported:\n{sys}"
    );
    let config = root.config_path(NS, &id);
    let leaks: Vec<_> = root
        .files_containing(wrong.as_bytes())
        .into_iter()
        .filter(|p| *p != config)
        .collect();
    assert!(leaks.is_empty(), "password written to {leaks:?}");
}

#[test]
fn invalid_identities_exit_100_before_ready_and_create_nothing() {
    let long = "a".repeat(200);
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("CONTAINER_ID missing", vec![("CONTAINER_NAMESPACE", NS)]),
        (
            "CONTAINER_ID empty",
            vec![("CONTAINER_ID", ""), ("CONTAINER_NAMESPACE", NS)],
        ),
        (
            "CONTAINER_ID ../x",
            vec![("CONTAINER_ID", "../x"), ("CONTAINER_NAMESPACE", NS)],
        ),
        (
            "CONTAINER_ID a/b",
            vec![("CONTAINER_ID", "a/b"), ("CONTAINER_NAMESPACE", NS)],
        ),
        (
            "CONTAINER_ID of 200 bytes",
            vec![("CONTAINER_ID", long.as_str()), ("CONTAINER_NAMESPACE", NS)],
        ),
        (
            "CONTAINER_ID of 77 bytes",
            vec![("CONTAINER_ID", &long[..77]), ("CONTAINER_NAMESPACE", NS)],
        ),
        (
            "CONTAINER_ID .hidden",
            vec![("CONTAINER_ID", ".hidden"), ("CONTAINER_NAMESPACE", NS)],
        ),
        (
            "CONTAINER_ID a..b",
            vec![("CONTAINER_ID", "a..b"), ("CONTAINER_NAMESPACE", NS)],
        ),
        (
            "CONTAINER_ID trailing -",
            vec![("CONTAINER_ID", "abc-"), ("CONTAINER_NAMESPACE", NS)],
        ),
        ("CONTAINER_NAMESPACE missing", vec![("CONTAINER_ID", "abc")]),
        (
            "CONTAINER_NAMESPACE ../x",
            vec![("CONTAINER_ID", "abc"), ("CONTAINER_NAMESPACE", "../x")],
        ),
    ];
    for (what, env) in cases {
        let root = TempRoot::new();
        let mut logger = Logger::spawn_env(root.path(), &env, &[]);
        assert_eq!(logger.wait_ready(), Ready::Eof, "{what}: readiness");
        assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 100, "{what}: exit code");
        assert!(
            root.entries().is_empty(),
            "{what}: created {:?} under the root",
            root.files()
        );
    }
}

#[test]
fn valid_identities_are_accepted() {
    let max = "b".repeat(76);
    for (id, ns) in [
        (max.as_str(), NS),
        ("a.b-c_d", "k8s.io"),
        ("A9", "Z-0"),
        ("0", max.as_str()),
    ] {
        let root = TempRoot::new();
        let mut logger = Logger::spawn(root.path(), id, ns, &[]);
        assert_eq!(logger.wait_ready(), Ready::Byte, "{id} in {ns}");
        logger.write_stdout(b"hello\n");
        logger.close_stdout();
        logger.close_stderr();
        assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0, "{id} in {ns}");
        assert_eq!(root.read_log(ns, id), b"hello\n", "{id} in {ns}");
    }
}

#[test]
fn version_and_help_exit_0() {
    let root = TempRoot::new();
    let (code, out, err) = run_cli(root.path(), &["--version"]);
    assert_eq!(code, 0, "--version: {out}{err}");
    assert!(
        out.contains(env!("CARGO_PKG_VERSION")),
        "--version printed {out:?} to stdout"
    );
    let (code, out, err) = run_cli(root.path(), &["--help"]);
    assert_eq!(code, 0, "--help: {out}{err}");
    assert!(
        format!("{out}{err}").contains("--root"),
        "--help does not mention --root: {out}{err}"
    );
}

#[test]
fn check_prints_endpoints_with_the_password_masked() {
    let root = TempRoot::new();
    let (pw1, pw2) = ("hunter2Secret", "Acl2Secret");
    let file = root.path().join("good.json");
    let config = redis_config(
        &format!("redis://:{pw1}@127.0.0.1:6379/out"),
        &format!("redis://someuser:{pw2}@localhost:6380/err"),
    );
    std::fs::write(&file, config).unwrap();
    let (code, out, err) = run_cli(root.path(), &["check", file.to_str().unwrap()]);
    let all = format!("{out}{err}");
    assert_eq!(code, 0, "check on a good config: {all}");
    assert!(all.contains("***"), "no masked password in: {all}");
    assert!(!all.contains(pw1) && !all.contains(pw2), "password printed: {all}");
    assert!(
        all.contains("127.0.0.1") && all.contains("localhost"),
        "both endpoints should be printed: {all}"
    );
}

#[test]
fn check_reports_a_located_error_on_a_bad_config() {
    let root = TempRoot::new();
    let file = root.path().join("bad.json");
    std::fs::write(&file, "[\n  {\"type\": \"redis\", \"data\": {\"stdout\": }]\n").unwrap();
    let (code, out, err) = run_cli(root.path(), &["check", file.to_str().unwrap()]);
    let all = format!("{out}{err}");
    assert_eq!(code, 100, "check on a bad config: {all}");
    assert!(
        line_cols(&all).iter().any(|&(l, c)| l == 2 && c >= 1),
        "no 2:COL location in: {all}"
    );
}

#[test]
fn eof_on_both_pipes_exits_0_without_a_signal() {
    let root = TempRoot::new();
    for first in [First::Stdout, First::Stderr] {
        let id = id();
        let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
        assert_eq!(logger.wait_ready(), Ready::Byte);
        feed_and_finish(&mut logger, &root, &id, first);
    }
}

#[test]
fn harness_self_check() {
    // The checkers must reject what the tests rely on them to reject.
    let good = [numbered_lines(b'O', 0..3), numbered_lines(b'E', 0..2)].concat();
    assert!(check_merged(&good, 3, 2).is_ok());
    assert!(check_merged(&good, 3, 3).is_err());
    assert!(check_merged(&good[..good.len() - 1], 3, 2).is_err());
    let mut swapped = numbered_lines(b'O', 0..3);
    swapped.extend(numbered_line(b'O', 2));
    assert!(check_merged(&swapped, 4, 0).is_err());
    assert!(is_utc_rfc3339("2026-12-03T18:41:00.123456789Z"));
    assert!(is_utc_rfc3339("2026-12-03T18:41:00Z"));
    assert!(!is_utc_rfc3339("2026-12-03 18:41:00Z"));
    assert!(!is_utc_rfc3339("2026-12-03T18:41:00+01:00"));
    assert!(check_sys_log("2026-12-03T18:41:00Z warn x y\n").is_ok());
    assert!(check_sys_log("2026-12-03T18:41:00Z debug x\n").is_err());
    assert_eq!(line_cols("a.json:2:17: bad"), vec![(2, 17)]);
}
