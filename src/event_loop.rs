//! Start-up and the one `poll(2)` loop that drives everything (shell).
//!
//! Start-up: identity, signals, diagnostics file, config, local file, then the
//! ready byte on fd 5: nothing waits for the network before it. The loop
//! rebuilds its poll set from state every turn: the signalfd, the pipes that
//! are still open, and each endpoint's socket with the events its state
//! needs. Pipes are read whenever they have data; their records go to the
//! local file and to every endpoint, which never refuse (they spool or
//! drop). Shutdown: both pipes at EOF, or SIGTERM and the pipes drained; then
//! endpoints flush until acknowledged or a deadline below containerd's 12 s.

use crate::args::{self, RunArgs};
use crate::config;
use crate::diag::{self, Level, Msg};
use crate::encode::json::Identity;
use crate::file::LocalFile;
use crate::frame::Frame;
use crate::limits::{self, LINE_MAX, MAX_ENDPOINTS, SCRATCH};
use crate::record::{Record, Stream};
use crate::source::Source;
use crate::spool;
use crate::sys::{self, Path};
use crate::{read_file, ConfigReport, State, EXIT_OK, EXIT_SYSTEM, EXIT_USAGE, VERSION};

/// From SIGTERM (or both EOFs) to exit, at most this long (containerd kills at 12 s).
const SHUTDOWN_NS: u64 = 9_000_000_000;
/// After SIGTERM the pipes are read to end of file, but a pipe that stays empty
/// this long counts as drained: containerd closes its write ends before it
/// signals, so end of file follows at once, and a writer that outlived the task
/// (a daemonised child holding stdout) must not hold the delete for long.
const DRAIN_QUIET_NS: u64 = 1_000_000_000;
/// While draining, how often silent pipes are looked at again.
const DRAIN_TICK_NS: u64 = 50_000_000;
/// Reads per stream per turn, so one busy stream cannot starve the other.
const READS_PER_TURN: usize = 4;
/// A raw local file has no record boundaries, so when a line of one stream has
/// been cut (longer than the line buffer), that stream alone is read until
/// the line ends, for at most this long; then the other stream gets its turn
/// (and the file a join), so a silent half-line never holds the other pipe.
const STICK_NS: u64 = 20_000_000;
/// Rotate the diagnostics file past this size (one old copy is kept).
const DIAG_MAX: u64 = 1 << 20;

struct Paths {
    /// `<root>/logs/<ns>/<id>` — suffixes are added and removed.
    base: Path,
    base_len: usize,
}

impl Paths {
    fn with(&mut self, suffix: &[u8]) -> &Path {
        self.base.truncate(self.base_len);
        self.base.push(suffix);
        &self.base
    }
}

/// Run the logger; return the exit code.
pub fn start(a: &RunArgs, st: &mut State) -> i32 {
    let id = sys::getenv(b"CONTAINER_ID").unwrap_or(b"");
    let ns = sys::getenv(b"CONTAINER_NAMESPACE").unwrap_or(b"");
    if !args::valid_id(id) || !args::valid_id(ns) {
        Msg::plain()
            .s(b"shim-logs: CONTAINER_ID and CONTAINER_NAMESPACE must be containerd identifiers (try --help)")
            .emit_to(sys::STDERR);
        return EXIT_USAGE;
    }
    let closed = sys::guard_fds();
    let sigfd = match sys::signals_init() {
        Ok(fd) => fd,
        Err(_) => return EXIT_SYSTEM,
    };

    // <root>/logs/<ns>/ and the diagnostics file.
    let mut paths = Paths {
        base: Path::new(),
        base_len: 0,
    };
    paths.base.push(a.root).push(b"/logs/").push(ns);
    let dir_err = sys::mkdir_p(&mut paths.base, 0o755).err();
    paths.base.push(b"/").push(id);
    paths.base_len = paths.base.len();
    let diag_fd = open_diag(&mut paths);
    if diag_fd < 0 {
        diag::set_fd(sys::STDERR, 0);
    }
    report_start(a, id, ns, dir_err);
    load_config(a.root, ns, id, st);

    // The local file.
    let log_path = paths.with(b".log");
    if let Err(e) = st.file.open(log_path, st.config.file) {
        Msg::new(Level::Error)
            .s(b"cannot open the local file ")
            .q(log_path.as_bytes())
            .s(b": ")
            .errno(e)
            .emit();
    }

    // The pipes, then readiness.
    let (out, out_err) = Source::open(3, Stream::Stdout, closed & 1 << 3 != 0);
    let (err, err_err) = Source::open(4, Stream::Stderr, closed & 1 << 4 != 0);
    if closed & 1 << 5 != 0 {
        Msg::new(Level::Warn)
            .s(b"fd 5 (ready) was not open; nobody waits for the ready byte")
            .emit();
    }
    for (what, e) in [(&b"fd 3 (stdout)"[..], out_err), (b"fd 4 (stderr)", err_err)] {
        if let Some(e) = e {
            Msg::new(Level::Warn)
                .s(what)
                .s(b" is not open for reading: ")
                .errno(e)
                .s(b"; treated as end of file")
                .emit();
        }
    }
    let mut sources = [out, err];
    signal_ready();

    init_endpoints(st, &mut paths);
    let ident = Identity { id, namespace: ns };
    run_loop(st, &mut sources, sigfd, &mut paths, &ident);

    finish(st);
    EXIT_OK
}

/// Name each endpoint's spool and resume what an earlier logger left.
#[inline(never)]
fn init_endpoints(st: &mut State, paths: &mut Paths) {
    let seed = sys::realtime_ns() ^ ((sys::getpid() as u64) << 32);
    for i in 0..st.config.count {
        {
            let conf = st.config.endpoints[i];
            let mut h = spool::Fnv::NEW;
            conf.url.identity(&mut h);
            let hex = spool::hex16(h.0);
            let p = paths.with(b".");
            let mut sp = Path::new();
            sp.push(p.as_bytes()).push(&hex).push(b".spool");
            st.endpoints[i].init(conf, &sp, seed.wrapping_add(i as u64 * 0x9e37_79b9));
        }
    }
}

/// Flush what can be flushed, keep the rest in the spools, and summarise.
#[inline(never)]
fn finish(st: &mut State) {
    for ep in st.endpoints.iter_mut() {
        ep.finish();
    }
    let mut m = Msg::new(Level::Info);
    m.s(b"exit: local file ").n(st.file.w.written).s(b" bytes written");
    if st.file.w.lost_bytes > 0 {
        m.s(b", ").n(st.file.w.lost_bytes).s(b" bytes lost");
    }
    if st.file.rotations > 0 {
        m.s(b", ").n(st.file.rotations).s(b" rotations");
    }
    m.emit();
}

/// Say who we are and what was odd about the arguments.
#[inline(never)]
fn report_start(a: &RunArgs, id: &[u8], ns: &[u8], dir_err: Option<sys::Errno>) {
    let mut m = Msg::new(Level::Info);
    m.s(b"shim-logs ").s(VERSION).s(b" start pid ").n(sys::getpid() as u64);
    m.s(b" id ").s(id).s(b" namespace ").s(ns).emit();
    if let Some(e) = dir_err {
        Msg::new(Level::Error)
            .s(b"cannot create the log directory: ")
            .errno(e)
            .emit();
    }
    if a.bad_root {
        Msg::new(Level::Warn)
            .s(b"--root must be an absolute path; using the default")
            .emit();
    }
    for k in a.unknown.iter().take(a.unknown_count.min(a.unknown.len())) {
        let mut m = Msg::new(Level::Warn);
        m.s(b"unknown argument ");
        // A URL with a password put where a key belongs is not echoed.
        if k.contains(&b'@') {
            m.s(b"(not shown: it may hold a password)");
        } else {
            m.q(k);
        }
        m.s(b" ignored").emit();
    }
}

fn open_diag(paths: &mut Paths) -> sys::Fd {
    let p = paths.with(b"-sys.log");
    match sys::open(
        p,
        sys::O_WRONLY | sys::O_APPEND | sys::O_CREAT | sys::O_NOFOLLOW | sys::O_NONBLOCK,
        0o644,
    ) {
        Ok(fd) if sys::is_regular(fd) => {
            // What earlier loggers of this container wrote counts towards the bound.
            diag::set_fd(fd, sys::file_size(fd).unwrap_or(0));
            fd
        }
        Ok(fd) => {
            sys::close(fd);
            -1
        }
        Err(_) => -1,
    }
}

/// Keep the diagnostics file bounded: rename it to `-sys.log.1` and start anew.
fn rotate_diag(paths: &mut Paths, fd: &mut sys::Fd) {
    if diag::written() < DIAG_MAX || *fd < 0 {
        return;
    }
    let mut old = Path::new();
    old.push(paths.with(b"-sys.log.1").as_bytes());
    let _ = sys::rename(paths.with(b"-sys.log"), &old);
    let prev = *fd;
    *fd = open_diag(paths);
    if *fd < 0 {
        diag::set_fd(sys::STDERR, 0); // never the closed fd, whose number is reused
    }
    sys::close(prev);
}

/// Write the ready byte on fd 5 and close it.
fn signal_ready() {
    match sys::write(5, b"r") {
        Ok(_) => {}
        Err(e) => {
            Msg::new(Level::Warn).s(b"fd 5 (ready): ").errno(e).emit();
        }
    }
    sys::close(5);
}

/// Read and parse the config; on any error keep the local file only.
#[inline(never)]
fn load_config(root: &[u8], ns: &[u8], id: &[u8], st: &mut State) {
    st.config = config::Config::EMPTY;
    let mut p = Path::new();
    p.push(root)
        .push(b"/config/")
        .push(ns)
        .push(b"/")
        .push(id)
        .push(b"-logs.json");
    let n = match read_file(&p, &mut st.scratch[..limits::CONFIG_MAX]) {
        Ok(Some(n)) => n,
        Ok(None) => {
            Msg::new(Level::Info)
                .s(b"no config at ")
                .q(p.as_bytes())
                .s(b"; local file only")
                .emit();
            return;
        }
        Err(e) => {
            let mut m = Msg::new(Level::Error);
            m.s(b"config ").q(p.as_bytes()).s(b": ");
            e.describe(&mut m);
            m.s(b"; local file only").emit();
            return;
        }
    };
    let text = &st.scratch[..n];
    let mut rep = ConfigReport {
        name: p.as_bytes(),
        text,
        fd: diag::fd(),
        level: Level::Warn,
        plain: false,
    };
    match config::parse(text, &mut st.config, &mut rep) {
        Ok(()) => {
            for e in st.config.endpoints() {
                let mut m = Msg::new(Level::Info);
                m.s(b"endpoint ");
                e.url.write_masked(&mut m);
                m.s(b" for ").s(match e.streams {
                    config::STDOUT_BIT => b"stdout",
                    config::STDERR_BIT => b"stderr",
                    _ => b"stdout and stderr",
                });
                m.emit();
            }
        }
        Err(e) => {
            st.config = config::Config::EMPTY;
            rep.level = Level::Error;
            let mut m = rep.at(e.pos);
            m.s(e.kind.text()).s(b"; config ignored, local file only").emit();
        }
    }
}

/// The main loop; returns when it is time to exit.
#[inline(never)]
fn run_loop(st: &mut State, sources: &mut [Source; 2], sigfd: sys::Fd, paths: &mut Paths, ident: &Identity) {
    let mut seq: u64 = 0;
    // When SIGTERM came, and when each stream last brought data (or SIGTERM came).
    let mut term_at: Option<u64> = None;
    let mut last_data = [0u64; 2];
    let mut deadline: Option<u64> = None;
    let mut diag_fd = diag::fd();
    let mut first = 0usize;
    // Stream `i`'s last chunk in the file was cut mid-line.
    let mut cut = [false; 2];
    // Reading only this stream until its cut line ends, or until the instant given.
    let mut stick: Option<(usize, u64)> = None;
    // The stick for this stream ran out; none again until its line ends.
    let mut spent = [false; 2];
    loop {
        let now = sys::monotonic_ns();
        // Time to go?
        // (A pipe still pouring after SIGTERM is left at the deadline.)
        if !sources[0].is_open() && !sources[1].is_open() || deadline.is_some_and(|d| now >= d) {
            let d = *deadline.get_or_insert(now + SHUTDOWN_NS);
            for ep in st.endpoints.iter_mut() {
                ep.hurry(now);
            }
            let settled = st.endpoints.iter().all(|e| e.settled());
            if settled || now >= d {
                for (i, src) in sources.iter_mut().enumerate() {
                    if src.is_open() {
                        // Still pouring at the deadline: what is pending goes out, reading stops.
                        Msg::new(Level::Warn)
                            .s(src.stream.name())
                            .s(b" still open at the shutdown deadline; reading stopped")
                            .emit();
                        deliver(st, i, src.stream, &mut seq, true, ident, &mut cut[i]);
                        src.close();
                    }
                }
                if !settled {
                    Msg::new(Level::Warn)
                        .s(b"shutdown deadline reached; the rest stays in the spools")
                        .emit();
                }
                return;
            }
        }
        if let Some((m, until)) = stick {
            if now >= until || !cut[m] || !sources[m].is_open() {
                spent[m] = cut[m];
                stick = None;
            }
        }
        // Poll set, rebuilt from state.
        let mut pfd = [sys::pollfd(-1, 0); 3 + MAX_ENDPOINTS];
        pfd[0] = sys::pollfd(sigfd, sys::POLLIN);
        for (i, s) in sources.iter().enumerate() {
            if s.is_open() && stick.is_none_or(|(m, _)| m == i) {
                pfd[1 + i] = sys::pollfd(s.fd, sys::POLLIN);
            }
        }
        let mut timeout: Option<u64> = match (deadline, stick) {
            (Some(d), Some((_, u))) => Some(d.min(u)),
            (d, s) => d.or(s.map(|(_, u)| u)),
        };
        if term_at.is_some() {
            // Look at the pipes' silence again soon (shutdown only).
            let d = now + DRAIN_TICK_NS;
            timeout = Some(timeout.map_or(d, |x| x.min(d)));
        }
        for (i, ep) in st.endpoints.iter().enumerate() {
            if let Some((fd, ev)) = ep.poll_events() {
                pfd[3 + i] = sys::pollfd(fd, ev);
            }
            if let Some(d) = ep.deadline() {
                timeout = Some(timeout.map_or(d, |t| t.min(d)));
            }
        }
        let ms = match timeout {
            None => -1,
            Some(t) if t <= now => 0,
            Some(t) => ((t - now) / 1_000_000 + 1).min(60_000) as i32,
        };
        if let Err(e) = sys::poll(&mut pfd, ms) {
            Msg::new(Level::Error).s(b"poll failed: ").errno(e).emit();
            return;
        }
        let now = sys::monotonic_ns();

        if pfd[0].revents != 0 {
            while let Some(sig) = sys::signal_take(sigfd) {
                if (sig == sys::SIGTERM || sig == sys::SIGINT) && term_at.is_none() {
                    Msg::new(Level::Info)
                        .s(b"signal ")
                        .n(sig as u64)
                        .s(b": draining the pipes, then exiting")
                        .emit();
                    deadline = Some(now + SHUTDOWN_NS);
                    term_at = Some(now);
                    last_data = [now; 2];
                }
            }
        }

        // The pipes, alternating which goes first (a stuck stream alone).
        for k in 0..2 {
            let i = (first + k) % 2;
            if stick.is_some_and(|(m, _)| m != i) {
                continue;
            }
            if pfd[1 + i].revents != 0 || (term_at.is_some() && sources[i].is_open()) {
                if pfd[1 + i].revents != 0 {
                    last_data[i] = now;
                }
                let drained = term_at.is_some() && now >= last_data[i] + DRAIN_QUIET_NS;
                read_stream(st, &mut sources[i], i, &mut seq, drained, ident, &mut cut[i]);
                if !cut[i] {
                    spent[i] = false;
                } else if stick.is_none() && !spent[i] && !st.file.encodes() && sources[i].is_open() {
                    stick = Some((i, now + STICK_NS));
                }
            }
        }
        first ^= 1;

        // The endpoints.
        for (i, ep) in st.endpoints.iter_mut().enumerate() {
            if !ep.in_use() {
                continue;
            }
            if pfd[3 + i].fd >= 0 {
                ep.handle(pfd[3 + i].revents, now, &mut st.recv);
            }
            ep.tick(now, ident, &mut st.scratch);
            ep.flush(now);
        }
        rotate_diag(paths, &mut diag_fd);
    }
}

/// Read what a pipe has (bounded per turn) and hand its records to every sink;
/// `drained`: an empty pipe counts as ended (after SIGTERM and a silence).
#[inline(never)]
fn read_stream(
    st: &mut State,
    src: &mut Source,
    i: usize,
    seq: &mut u64,
    drained: bool,
    ident: &Identity,
    cut: &mut bool,
) {
    let mut got = false;
    // NOTE(speed): with no endpoint and the raw format the local file needs no
    // records, so a read goes on past the line buffer into the scratch buffer
    // (free after start-up): a busy pipe moves up to 20 KiB per read, not 4.
    // Not near a rotation, which must fall between lines.
    let raw_only = st.config.count == 0 && !st.file.encodes();
    for _ in 0..READS_PER_TURN {
        let wide = raw_only && st.file.room_for(LINE_MAX + SCRATCH);
        let frame = &mut st.frames[i];
        let space = frame.space();
        let free = space.len();
        let more = if wide {
            &mut st.scratch[..]
        } else {
            &mut st.scratch[..0]
        };
        let (eof, stop) = match sys::read2(src.fd, space, more) {
            Ok(sys::Read::Data(n)) if n > free => {
                frame.commit(free);
                got = true;
                *cut = spill(frame, &st.scratch[..n - free], &mut st.file);
                continue;
            }
            Ok(sys::Read::Data(n)) => {
                frame.commit(n);
                got = true;
                (false, false)
            }
            Ok(sys::Read::WouldBlock) => {
                // Data in this very call means the writer is not silent after all.
                if !drained || got {
                    return;
                }
                (true, true)
            }
            Ok(sys::Read::Eof) => (true, true),
            Err(e) => {
                Msg::new(Level::Error)
                    .s(b"reading ")
                    .s(src.stream.name())
                    .s(b": ")
                    .errno(e)
                    .emit();
                (true, true)
            }
        };
        deliver(st, i, src.stream, seq, eof, ident, cut);
        if stop {
            src.close();
            return;
        }
    }
}

/// The end of a wide read: the line buffer `frame` is full and `more` follows
/// it. Return whether the file is left mid-line (`cut`); see `spill_at`.
#[inline(never)]
fn spill(frame: &mut Frame, more: &[u8], file: &mut LocalFile) -> bool {
    let held = frame.held();
    let (end, cut) = spill_at(held, more);
    let split = end.min(held.len());
    file.write_raw(&held[..split]);
    file.write_raw(&more[..end - split]);
    frame.keep(split, &more[end - split..]);
    cut
}

/// Where a wide read (`held`, then `more`) is cut: what precedes the last
/// newline, in either, goes to the raw file; the unfinished line after it stays
/// pending if it fits the line buffer, as it would on the narrow path, else it
/// is written too. Return the bytes written, and whether they end mid-line.
fn spill_at(held: &[u8], more: &[u8]) -> (usize, bool) {
    let total = held.len() + more.len();
    let start = match more.iter().rposition(|&b| b == b'\n') {
        Some(p) => held.len() + p + 1,
        None => held.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1),
    };
    let end = if total - start <= LINE_MAX { start } else { total };
    (end, end > start)
}

/// Hand every chunk now complete in frame `i` to the sinks; `cut` tells whether
/// the last one ends mid-line (cut at the buffer size, more to come).
fn deliver(st: &mut State, i: usize, stream: Stream, seq: &mut u64, eof: bool, ident: &Identity, cut: &mut bool) {
    let time_ns = sys::realtime_ns();
    let frame = &mut st.frames[i];
    let mut region: Option<(usize, usize)> = None;
    while let Some(c) = frame.next(eof) {
        region = Some((region.map_or(c.start, |r| r.0), c.end));
        *cut = c.partial && !eof;
        let rec = Record {
            stream,
            time_ns,
            seq: *seq,
            partial: c.partial,
            line: &frame.buf[c.start..c.end],
        };
        *seq += 1;
        for ep in st.endpoints.iter_mut() {
            if ep.in_use() {
                ep.offer(&rec, ident, &mut st.scratch);
            }
        }
        if st.file.encodes() {
            st.file.record(&rec);
        }
    }
    if st.file.encodes() {
        st.file.flush();
    } else if let Some((a, b)) = region {
        st.file.write_raw(&frame.buf[a..b]);
    }
}

#[cfg(test)]
mod tests {
    use super::spill_at;
    use crate::frame::Frame;
    use crate::limits::LINE_MAX;

    /// A full line buffer: lines, then `tail` bytes of an unfinished one.
    fn held(tail: usize) -> Vec<u8> {
        let mut v = vec![b'a'; LINE_MAX - tail];
        v[LINE_MAX - tail - 1] = b'\n';
        v.resize(LINE_MAX, b'h');
        v
    }

    #[test]
    fn a_newline_in_the_rest_ends_what_is_written() {
        assert_eq!(spill_at(&held(10), b"xx\nyyy"), (LINE_MAX + 3, false));
        assert_eq!(spill_at(&held(10), b"xx\n"), (LINE_MAX + 3, false));
    }

    #[test]
    fn a_short_line_begun_in_the_buffer_is_kept_whole() {
        // No newline after the buffer: the line that began in it waits, whole.
        assert_eq!(spill_at(&held(50), b"zzzzz"), (LINE_MAX - 50, false));
        // Its tail may fill the line buffer exactly.
        assert_eq!(spill_at(&held(LINE_MAX - 5), b"zzzzz"), (5, false));
    }

    /// Random full buffers and reads: what is written and what stays pending are
    /// the input, in order; the pending part fits and holds no newline; `cut`
    /// says whether the written part ends mid-line.
    #[test]
    fn written_and_kept_are_the_input() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut byte = |nl: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x.is_multiple_of(nl) {
                b'\n'
            } else {
                b'a' + (x % 26) as u8
            }
        };
        for round in 0..3000u64 {
            // Newlines from dense to absent.
            let nl = [2, 50, 3000, 20_000, u64::MAX][(round % 5) as usize];
            let mut frame = Frame::NEW;
            let space = frame.space();
            for b in space.iter_mut() {
                *b = byte(nl);
            }
            frame.commit(LINE_MAX);
            let more: Vec<u8> = (0..1 + round as usize * 7 % 16_384).map(|_| byte(nl)).collect();
            let mut input = frame.held().to_vec();
            input.extend_from_slice(&more);
            let held = frame.held();
            let (end, cut) = spill_at(held, &more);
            let split = end.min(held.len());
            let mut written = held[..split].to_vec();
            written.extend_from_slice(&more[..end - split]);
            frame.keep(split, &more[end - split..]);
            let kept = frame.held();
            assert!(kept.len() <= LINE_MAX && !kept.contains(&b'\n'), "round {round}");
            written.extend_from_slice(kept);
            assert!(written == input, "round {round}: bytes lost or moved");
            assert_eq!(cut, end > 0 && input[end - 1] != b'\n', "round {round}");
        }
    }

    #[test]
    fn a_line_longer_than_the_buffer_is_written_and_cut() {
        assert_eq!(spill_at(&held(LINE_MAX - 4), b"zzzzz"), (LINE_MAX + 5, true));
        assert_eq!(spill_at(&[b'x'; LINE_MAX], b"yy"), (LINE_MAX + 2, true));
        let mut more = b"end\n".to_vec();
        more.resize(4 + LINE_MAX + 1, b'q');
        assert_eq!(spill_at(&held(3), &more), (LINE_MAX + more.len(), true));
    }
}
