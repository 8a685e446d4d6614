//! Delivery under faults (issue 3): the release binary against a real `redis-server`
//! that the tests kill, freeze, start late or misconfigure. They check at-least-once
//! delivery in order, that the container's pipe writer is never held up, that spools
//! carry lines across loggers, that losses past the spool bound are counted exactly in
//! a marker, that list and stream caps hold, and that memory does not grow.

mod common;

use common::faults::*;
use common::*;
use std::thread;
use std::time::{Duration, Instant};

const NS: &str = "default";

fn id() -> String {
    unique("dlv").replace('-', "_")
}

fn config(stdout: &str, stderr: Option<&str>) -> String {
    match stderr {
        Some(e) => format!(r#"[{{"type":"redis","data":{{"stdout":"{stdout}","stderr":"{e}"}}}}]"#),
        None => format!(r#"[{{"type":"redis","data":{{"stdout":"{stdout}"}}}}]"#),
    }
}

/// Wait until list `key` holds at least `n` elements.
fn wait_list(srv: &Server, key: &str, n: i64) -> bool {
    wait_progress(|| {
        let len = srv.int(&[b"LLEN", key.as_bytes()]);
        (len >= n, len as usize)
    })
}

#[test]
fn rpush_survives_two_redis_kills_at_least_once_in_order() {
    let _serial = heavy();
    const N: usize = 200_000;
    const BATCH: usize = 10_000;
    let root = TempRoot::new();
    let mut srv = Server::start(true);
    let id = id();
    root.write_config(NS, &id, &config(&format!("{}?cmd=rpush", srv.url("k")), None));
    let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    for b in 0..N / BATCH {
        logger.write_stdout(&numbered_lines(b'O', b * BATCH..(b + 1) * BATCH));
        match b {
            5 | 12 => srv.kill(),
            8 | 14 => srv.up(),
            _ => {}
        }
        thread::sleep(Duration::from_millis(100));
    }
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    let got = seqs(&srv.list("k"));
    let dups = check_at_least_once(&got, N).unwrap_or_else(|e| panic!("list: {e}"));
    let sys = root.read_sys_log(NS, &id);
    let reconnects = summary_field(&sys, "reconnects");
    assert!(reconnects >= 1, "two kills, no reconnect counted\n{sys}");
    assert_eq!(summary_field(&sys, "dropped"), 0, "{sys}");
    // Every duplicate in the list is a command sent again after a reconnect.
    let resent = summary_field(&sys, "sent") - summary_field(&sys, "records");
    assert!(
        dups as u64 <= resent,
        "{dups} duplicates but only {resent} commands resent\n{sys}"
    );
    eprintln!("200k lines, 2 kills: {dups} duplicate lines, {reconnects} reconnects");
}

#[test]
fn frozen_redis_never_blocks_the_writer_and_every_line_arrives() {
    let _serial = heavy();
    let root = TempRoot::new();
    let mut srv = Server::start(false);
    let id = id();
    root.write_config(NS, &id, &config(&format!("{}?cmd=rpush", srv.url("k")), None));
    let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    // 14 s of steady output; Redis is frozen from 2 s to 12 s.
    let start = Instant::now();
    let mut worst = Duration::ZERO;
    let mut n = 0;
    let (mut stopped, mut resumed) = (false, false);
    for tick in 0..140 {
        let t = Instant::now();
        logger.write_stdout(&numbered_lines(b'O', n..n + 700));
        worst = worst.max(t.elapsed());
        n += 700;
        if !stopped && start.elapsed() >= Duration::from_secs(2) {
            srv.stop();
            stopped = true;
        }
        if stopped && !resumed && start.elapsed() >= Duration::from_secs(12) {
            srv.cont();
            resumed = true;
        }
        let next = start + Duration::from_millis(100 * (tick + 1));
        thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    if !resumed {
        srv.cont();
    }
    assert!(
        worst < Duration::from_millis(50),
        "a pipe write was blocked for {worst:?}"
    );
    assert!(wait_list(&srv, "k", n as i64), "not every line arrived after SIGCONT");
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    let got = seqs(&srv.list("k"));
    check_at_least_once(&got, n).unwrap_or_else(|e| panic!("list: {e}"));
    eprintln!("{n} lines, 10 s freeze, slowest pipe write {worst:?}");
}

#[test]
fn a_second_logger_delivers_the_first_ones_spool_first() {
    let _serial = heavy();
    const N: usize = 5_000;
    let root = TempRoot::new();
    let mut srv = Server::planned(false); // nothing listens yet
    let id = id();
    root.write_config(NS, &id, &config(&format!("{}?cmd=rpush", srv.url("k")), None));

    let mut first = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(first.wait_ready(), Ready::Byte);
    first.write_stdout(&numbered_lines(b'O', 0..N));
    first.close_stdout();
    first.close_stderr();
    assert_eq!(first.wait_exit(EXIT_TIMEOUT), 0);
    let spools = || -> Vec<_> {
        root.files()
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "spool"))
            .collect()
    };
    assert_eq!(
        spools().len(),
        1,
        "one spool left by the first logger: {:?}",
        root.files()
    );

    let mut second = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(second.wait_ready(), Ready::Byte);
    second.write_stdout(&numbered_lines(b'O', N..2 * N));
    srv.up();
    assert!(wait_list(&srv, "k", 2 * N as i64), "lines missing");
    second.close_stdout();
    second.close_stderr();
    assert_eq!(second.wait_exit(EXIT_TIMEOUT), 0);
    let got = seqs(&srv.list("k"));
    assert_eq!(
        got,
        (0..2 * N).collect::<Vec<_>>(),
        "first run's lines, then the second's, once each"
    );
    assert!(spools().is_empty(), "drained spool removed: {:?}", spools());
    let log = root.read_log(NS, &id);
    assert_eq!(
        log,
        numbered_lines(b'O', 0..2 * N),
        "local file appended across both runs"
    );
}

#[test]
fn loss_past_the_spool_bound_is_counted_exactly_in_a_marker() {
    let _serial = heavy();
    const N: usize = 2_000;
    let root = TempRoot::new();
    let mut srv = Server::planned(false);
    let id = id();
    root.write_config(
        NS,
        &id,
        &config(&format!("{}?cmd=rpush&spool=20000", srv.url("k")), None),
    );
    let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    let input = numbered_lines(b'O', 0..N);
    logger.write_stdout(&input);
    root.wait_log_len(NS, &id, input.len());
    srv.up();
    let has_marker = || srv.list("k").iter().any(|l| l.starts_with(b"shim-logs: lost "));
    assert!(wait_until(Duration::from_secs(40), has_marker), "no marker");
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);

    let items = srv.list("k");
    let (marker, lines) = items.split_last().expect("items");
    let kept = seqs(lines);
    let k = kept.len();
    assert_eq!(kept, (0..k).collect::<Vec<_>>(), "a prefix of the lines, in order");
    assert!(k > 0 && k < N, "the bound should keep some lines and drop others ({k})");
    let lost_bytes: usize = (k..N).map(|i| numbered_line(b'O', i).len()).sum();
    let text = String::from_utf8(marker.clone()).expect("utf8 marker");
    let want = format!("shim-logs: lost {} lines ({lost_bytes} bytes) between ", N - k);
    assert!(text.starts_with(&want), "marker {text:?}, expected {want:?}...");
    let sys = root.read_sys_log(NS, &id);
    assert!(
        sys.contains(&format!("lost {} lines ({lost_bytes} bytes)", N - k)),
        "{sys}"
    );
}

#[test]
fn wrong_password_spools_then_a_fixed_config_delivers() {
    let _serial = heavy();
    let root = TempRoot::new();
    let srv = Server::start_with_password("right-secret-42");
    let id = id();
    let wrong = format!("redis://:wrong-secret-17@127.0.0.1:{}/k?cmd=rpush", srv.port);
    root.write_config(NS, &id, &config(&wrong, None));
    let mut first = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(first.wait_ready(), Ready::Byte);
    first.write_stdout(&numbered_lines(b'O', 0..1000));
    first.close_stdout();
    first.close_stderr();
    assert_eq!(first.wait_exit(EXIT_TIMEOUT), 0);
    let sys = root.read_sys_log(NS, &id);
    assert!(sys.contains("WRONGPASS"), "the refusal is reported:\n{sys}");
    assert_eq!(
        root.read_log(NS, &id),
        numbered_lines(b'O', 0..1000),
        "local file complete"
    );

    root.write_config(NS, &id, &config(&format!("{}?cmd=rpush", srv.url("k")), None));
    let mut second = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(second.wait_ready(), Ready::Byte);
    second.write_stdout(&numbered_lines(b'O', 1000..2000));
    second.close_stdout();
    second.close_stderr();
    assert_eq!(second.wait_exit(EXIT_TIMEOUT), 0);
    assert_eq!(seqs(&srv.list("k")), (0..2000).collect::<Vec<_>>());
    for pw in ["right-secret-42", "wrong-secret-17"] {
        let found = root.files_containing(pw.as_bytes());
        let found: Vec<_> = found
            .into_iter()
            .filter(|p| !p.ends_with(format!("{id}-logs.json")))
            .collect();
        assert!(found.is_empty(), "password {pw} written to {found:?}");
    }
}

#[test]
fn maxlen_caps_lists_and_streams() {
    let _serial = heavy();
    let root = TempRoot::new();
    let srv = Server::start(false);
    let id = id();
    let out = format!("{}?cmd=rpush&maxlen=100", srv.url("l"));
    let err = format!("{}?cmd=xadd&maxlen=100", srv.url("s"));
    root.write_config(NS, &id, &config(&out, Some(&err)));
    let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    write_interleaved(&mut logger, 0..1000, 0..1000);
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    let list = srv.list("l");
    assert_eq!(seqs(&list), (900..1000).collect::<Vec<_>>(), "the last 100 lines");
    let xlen = srv.int(&[b"XLEN", b"s"]);
    assert!((100..=200).contains(&xlen), "stream capped near 100 (MAXLEN ~): {xlen}");
    match srv.client().cmd(&[b"XREVRANGE", b"s", b"+", b"-", b"COUNT", b"1"]) {
        Reply::Array(Some(entries)) => {
            let fields = match &entries[0] {
                Reply::Array(Some(e)) => e[1].clone(),
                other => panic!("{other:?}"),
            };
            let want = Reply::Array(Some(vec![
                Reply::Bulk(Some(b"log".to_vec())),
                Reply::Bulk(Some(numbered_line(b'E', 999))),
            ]));
            assert_eq!(fields, want);
        }
        other => panic!("XREVRANGE {other:?}"),
    }
}

/// Feed `total` bytes of 1000-byte lines; with `outage`, Redis is down for that long in
/// the middle. Return VmHWM (KiB) once everything is read, before the pipes close.
fn hwm_after(total: usize, outage: Option<Duration>) -> u64 {
    let root = TempRoot::new();
    let mut srv = Server::start(false);
    let id = id();
    // Rotation off, so the local file's size tells how far the logger got.
    let cfg = config(&srv.url("c"), Some(&srv.url("c2")));
    let cfg = cfg.replacen('[', r#"[{"type":"file","data":{"max-size":0}},"#, 1);
    root.write_config(NS, &id, &cfg);
    let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    let line = {
        let mut l = vec![b'x'; 999];
        l.push(b'\n');
        l
    };
    let chunk: Vec<u8> = line.iter().copied().cycle().take(64 * 1000).collect();
    let chunks = total / chunk.len();
    let mut killed_at = None;
    for c in 0..chunks {
        if c == chunks / 10 && outage.is_some() {
            srv.kill();
            killed_at = Some(Instant::now());
        }
        if c % 2 == 0 {
            logger.write_stdout(&chunk);
        } else {
            logger.write_stderr(&chunk);
        }
    }
    if let (Some(o), Some(k)) = (outage, killed_at) {
        // The outage lasts `o` from the kill, whatever the writing took.
        thread::sleep((k + o).saturating_duration_since(Instant::now()));
        srv.up();
    }
    let written = (chunks * chunk.len()) as u64;
    let log = root.log_path(NS, &id);
    let all = wait_progress(|| {
        let n = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
        (n >= written, n as usize)
    });
    assert!(all, "local file incomplete");
    thread::sleep(Duration::from_secs(2)); // let the spool drain a little
    let hwm = vm_hwm_kib(logger.pid());
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    hwm
}

#[test]
fn memory_does_not_grow_with_input_size_or_outage_length() {
    let _serial = heavy();
    let small = hwm_after(1 << 20, None);
    let big = hwm_after(1 << 30, Some(Duration::from_secs(60)));
    eprintln!("VmHWM: 1 MiB run {small} KiB, 1 GiB run with a 60 s outage {big} KiB");
    assert!(big <= small + 8, "VmHWM grew from {small} KiB to {big} KiB");
}

#[test]
fn acl_user_and_db_selection() {
    let _serial = heavy();
    let root = TempRoot::new();
    let srv = Server::start(false);
    let mut admin = srv.client();
    let setuser = admin.cmd(&[b"ACL", b"SETUSER", b"logger", b"on", b">acl-secret-9", b"~*", b"+@all"]);
    assert_eq!(setuser, Reply::Simple("OK".into()));
    admin.cmd(&[b"ACL", b"SETUSER", b"default", b"off"]);
    let id = id();
    let url = format!("redis://logger:acl-secret-9@127.0.0.1:{}/k?cmd=rpush&db=3", srv.port);
    root.write_config(NS, &id, &config(&url, None));
    let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    logger.write_stdout(&numbered_lines(b'O', 0..500));
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    let mut c = Conn::connect(srv.port, None).expect("connect");
    assert_eq!(
        c.cmd(&[b"AUTH", b"logger", b"acl-secret-9"]),
        Reply::Simple("OK".into())
    );
    assert_eq!(c.cmd(&[b"LLEN", b"k"]), Reply::Int(0), "nothing in db 0");
    assert_eq!(c.cmd(&[b"SELECT", b"3"]), Reply::Simple("OK".into()));
    assert_eq!(c.cmd(&[b"LLEN", b"k"]), Reply::Int(500), "everything in db 3");
    let sys = root.read_sys_log(NS, &id);
    assert!(!sys.contains("acl-secret-9"), "{sys}");
    assert!(
        sys.contains("redis://logger:***@127.0.0.1:"),
        "masked URL in the sys log:\n{sys}"
    );
}

/// How many `-WRONGTYPE` replies the server has sent (INFO errorstats).
fn wrongtype_count(srv: &Server) -> u64 {
    match srv.client().cmd(&[b"INFO", b"errorstats"]) {
        Reply::Bulk(Some(b)) => String::from_utf8_lossy(&b)
            .lines()
            .find_map(|l| l.strip_prefix("errorstat_WRONGTYPE:count="))
            .map_or(0, |v| v.trim().parse().unwrap()),
        other => panic!("INFO errorstats: {other:?}"),
    }
}

/// An error reply that a retry cannot fix (`-WRONGTYPE`: the key is not a list) is
/// counted for every line and reported once, with the endpoint; it never stops the
/// logger or the local file, and delivery goes on once the key is usable again.
#[test]
fn wrongtype_replies_are_counted_reported_once_and_delivery_goes_on() {
    let _serial = heavy();
    let root = TempRoot::new();
    let srv = Server::start(false);
    assert_eq!(
        srv.client().cmd(&[b"SET", b"k", b"a string"]),
        Reply::Simple("OK".into())
    );
    let id = id();
    root.write_config(NS, &id, &config(&format!("{}?cmd=rpush", srv.url("k")), None));
    let mut logger = Logger::spawn(root.path(), &id, NS, &[]);
    assert_eq!(logger.wait_ready(), Ready::Byte);
    logger.write_stdout(&numbered_lines(b'O', 0..300));
    assert!(
        wait_until(Duration::from_secs(10), || wrongtype_count(&srv) >= 300),
        "only {} WRONGTYPE replies",
        wrongtype_count(&srv)
    );
    assert!(logger.is_running());
    assert_eq!(srv.int(&[b"DEL", b"k"]), 1);
    logger.write_stdout(&numbered_lines(b'O', 300..600));
    logger.close_stdout();
    logger.close_stderr();
    assert_eq!(logger.wait_exit(EXIT_TIMEOUT), 0);
    assert_eq!(wrongtype_count(&srv), 300, "a refused line was sent again");
    let got = seqs(&srv.list("k"));
    assert_eq!(got, (300..600).collect::<Vec<_>>());
    check_merged(&root.read_log(NS, &id), 600, 0).unwrap_or_else(|e| panic!("local file: {e}"));
    let sys = root.read_sys_log(NS, &id);
    assert_eq!(summary_field(&sys, "errors"), 300, "{sys}");
    assert_eq!(summary_field(&sys, "acked"), 600, "{sys}");
    let reports: Vec<&str> = sys.lines().filter(|l| l.contains("WRONGTYPE")).collect();
    assert_eq!(reports.len(), 1, "reported once per kind:\n{sys}");
    assert!(
        reports[0].contains(" warn ") && reports[0].contains(&format!("redis://127.0.0.1:{}/k", srv.port)),
        "{}",
        reports[0]
    );
}
