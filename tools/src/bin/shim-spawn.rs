//! `shim-spawn`: runs a logging binary the way containerd's shim does, around any command.
//! The logger gets a cleared environment (only `CONTAINER_ID` and `CONTAINER_NAMESPACE`),
//! `/dev/null` on fds 0-2, the read ends of blocking stdout/stderr pipes on fds 3 and 4 and
//! the write end of the readiness pipe on fd 5. shim-spawn does one blocking 1-byte read
//! on the readiness pipe (no timeout), runs the command with its stdout/stderr on the
//! pipes, waits for it, then plays "task delete": it closes the write ends, sends SIGTERM
//! and sends SIGKILL if the logger is still alive after the grace period (12 s).

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{exit, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// `eprintln!` that cannot panic: stderr may be the very pipe that broke.
macro_rules! warn {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

const USAGE: &str = "\
usage: shim-spawn [--id ID] [--ns NS] [--grace SECS] [--no-term] [--quiet]
                  --logger PATH [LOGGER_ARG ...] -- CMD [ARG ...]

Runs the logger PATH like containerd's shim does (env CONTAINER_ID/CONTAINER_NAMESPACE
only, fds 0-2 /dev/null, fd 3 stdout pipe, fd 4 stderr pipe, fd 5 readiness pipe), waits
for its ready byte, runs CMD with stdout/stderr on the pipes, then closes the pipes,
sends SIGTERM and, after the grace period, SIGKILL.

  --id ID       CONTAINER_ID (default spawn-demo)
  --ns NS       CONTAINER_NAMESPACE (default default)
  --grace SECS  wait this long for the logger to exit before SIGKILL (default 12)
  --no-term     do not send SIGTERM: wait for the logger to exit on EOF (same deadline)
  --quiet       do not print the informational lines
  LOGGER_ARG    passed verbatim, e.g. `--root /tmp/x` (containerd passes `key value` pairs)

Exit status: the container's (128+N if killed by signal N) when the logger exited 0;
3 if the logger exited non-zero, was killed or could not start; 2 for usage errors.";

/// The command line.
#[derive(Debug, PartialEq)]
struct Opts {
    id: OsString,
    ns: OsString,
    grace: Duration,
    term: bool,
    quiet: bool,
    logger: OsString,
    logger_args: Vec<OsString>,
    cmd: Vec<OsString>,
}

enum Parsed {
    Run(Opts),
    Help,
}

/// Parses the arguments after argv[0]. Options come before `--logger`; everything from
/// `--logger PATH` up to `--` belongs to the logger, everything after `--` is the command.
fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Parsed, String> {
    let mut args = args.into_iter();
    let mut o = Opts {
        id: "spawn-demo".into(),
        ns: "default".into(),
        grace: Duration::from_secs(12),
        term: true,
        quiet: false,
        logger: OsString::new(),
        logger_args: Vec::new(),
        cmd: Vec::new(),
    };
    loop {
        let arg = args.next().ok_or("missing --logger PATH")?;
        let text = arg.to_string_lossy().into_owned();
        let (name, inline) = match text.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(OsString::from(v))),
            _ => (text, None),
        };
        let mut value = |what: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{what} needs a value"))
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--id" => o.id = value("--id")?,
            "--ns" => o.ns = value("--ns")?,
            "--grace" => {
                let v = value("--grace")?;
                let secs: f64 = v.to_string_lossy().parse().map_err(|_| "bad --grace")?;
                o.grace = Duration::try_from_secs_f64(secs).map_err(|_| "bad --grace")?;
            }
            "--no-term" => o.term = false,
            "--quiet" => o.quiet = true,
            "--logger" => {
                o.logger = value("--logger")?;
                break;
            }
            _ => return Err(format!("unknown option {name:?} (options go before --logger)")),
        }
    }
    for arg in args.by_ref() {
        if arg == "--" {
            o.cmd = args.collect();
            if o.cmd.is_empty() {
                return Err("missing CMD after --".into());
            }
            return Ok(Parsed::Run(o));
        }
        o.logger_args.push(arg);
    }
    Err("missing -- CMD".into())
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// A pipe with both ends O_CLOEXEC and blocking: (read end, write end).
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Marks every fd above 2 inherited from our own parent close-on-exec, so the logger and
/// the command see only the fds containerd would give them (Go opens everything CLOEXEC).
fn cloexec_inherited_fds() {
    let flags = libc::CLOSE_RANGE_CLOEXEC as libc::c_long;
    if unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, flags) } == 0 {
        return;
    }
    // Kernels before 5.11: walk /proc/self/fd (collect first: read_dir holds an fd itself).
    let fds: Vec<RawFd> = match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect(),
        Err(_) => return,
    };
    for fd in fds.into_iter().filter(|&fd| fd > 2) {
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
}

/// In the logger's child process, after fork: puts `src[0..3]` on fds 3, 4, 5 without
/// CLOEXEC. Only async-signal-safe calls. Each source is first copied above 9 so that a
/// dup2 onto 3..5 cannot overwrite a source that is still to be placed.
fn place_fds(src: [RawFd; 3]) -> io::Result<()> {
    let mut high = [0; 3];
    for (h, &fd) in high.iter_mut().zip(&src) {
        *h = cvt(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) })?;
    }
    for (target, &fd) in (3..).zip(&high) {
        // dup2 clears FD_CLOEXEC on the target; the copies above 9 close at exec.
        cvt(unsafe { libc::dup2(fd, target) })?;
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn describe(s: ExitStatus) -> String {
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => format!("ended with {s}"),
    }
}

fn main() {
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let o = match parse_args(std::env::args_os().skip(1)) {
        Ok(Parsed::Run(o)) => o,
        Ok(Parsed::Help) => {
            println!("{USAGE}");
            exit(0);
        }
        Err(e) => {
            warn!("shim-spawn: {e}\n{USAGE}");
            exit(2);
        }
    };
    exit(run(&o).unwrap_or_else(|e| {
        warn!("shim-spawn: {e}");
        3
    }));
}

fn run(o: &Opts) -> io::Result<i32> {
    let info = |msg: String| {
        if !o.quiet {
            warn!("shim-spawn: {msg}");
        }
    };
    cloexec_inherited_fds();
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (ready_r, ready_w) = pipe()?;

    // The logger, like containerd's shim starts it.
    let mut logger = Command::new(&o.logger);
    logger
        .args(&o.logger_args)
        .env_clear()
        .env("CONTAINER_ID", &o.id)
        .env("CONTAINER_NAMESPACE", &o.ns)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let src = [out_r.as_raw_fd(), err_r.as_raw_fd(), ready_w.as_raw_fd()];
    unsafe { logger.pre_exec(move || place_fds(src)) };
    let started = Instant::now();
    let mut logger = logger
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot start logger {:?}: {e}", o.logger)))?;
    drop((out_r, err_r, ready_w));

    // One blocking 1-byte read, no timeout. EOF is "ready" for binary:// (not binary-v2://).
    let mut ready = File::from(ready_r);
    let mut byte = [0u8; 1];
    let n = loop {
        match ready.read(&mut byte) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => break r?,
        }
    };
    let how = if n == 1 { "byte" } else { "EOF" };
    info(format!("logger ready in {:.3} ms ({how})", ms(started.elapsed())));
    drop(ready);

    // The container.
    let container = Command::new(&o.cmd[0])
        .args(&o.cmd[1..])
        .stdin(Stdio::null())
        .stdout(out_w.try_clone()?)
        .stderr(err_w.try_clone()?)
        .status();
    let code = match container {
        Ok(s) => {
            info(format!("container {}", describe(s)));
            s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))
        }
        Err(e) => {
            warn!("shim-spawn: cannot start {:?}: {e}", o.cmd[0]);
            127
        }
    };

    // Task delete: close the pipes, SIGTERM, wait up to the grace period, SIGKILL.
    drop((out_w, err_w));
    let closed = Instant::now();
    if o.term {
        unsafe { libc::kill(logger.id() as libc::pid_t, libc::SIGTERM) };
    }
    let status = loop {
        if let Some(s) = logger.try_wait()? {
            break s;
        }
        if closed.elapsed() >= o.grace {
            info(format!("logger still running after {:?}, SIGKILL", o.grace));
            logger.kill()?;
            break logger.wait()?;
        }
        sleep(Duration::from_millis(10));
    };
    info(format!(
        "logger {} after {:.1} ms",
        describe(status),
        ms(closed.elapsed())
    ));
    Ok(if status.success() { code } else { 3 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &str) -> Result<Opts, String> {
        match parse_args(args.split(' ').map(OsString::from))? {
            Parsed::Run(o) => Ok(o),
            Parsed::Help => Err("help".into()),
        }
    }

    #[test]
    fn defaults_and_verbatim_logger_args() {
        let o = parse("--logger /bin/l --root /tmp/x --id y -- sh -c true").unwrap();
        assert_eq!(o.id, "spawn-demo");
        assert_eq!(o.ns, "default");
        assert_eq!(o.grace, Duration::from_secs(12));
        assert!(o.term && !o.quiet);
        assert_eq!(o.logger, "/bin/l");
        assert_eq!(o.logger_args, ["--root", "/tmp/x", "--id", "y"]);
        assert_eq!(o.cmd, ["sh", "-c", "true"]);
    }

    #[test]
    fn options() {
        let o = parse("--id c1 --ns=zos --grace 0.5 --no-term --quiet --logger l -- x").unwrap();
        assert_eq!((o.id.as_os_str(), o.ns.as_os_str()), ("c1".as_ref(), "zos".as_ref()));
        assert_eq!(o.grace, Duration::from_millis(500));
        assert!(!o.term && o.quiet);
        assert!(o.logger_args.is_empty());
        assert_eq!(o.cmd, ["x"]);
    }

    #[test]
    fn usage_errors() {
        for bad in [
            "--logger l",
            "--logger l --",
            "--logger",
            "--bogus --logger l -- x",
            "--grace -1 --logger l -- x",
            "-- x",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(parse("--help").unwrap_err(), "help");
    }
}
