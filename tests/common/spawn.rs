//! Start the logger with chosen descriptors on fds 3, 4 and 5 (for the bad-input
//! suite): a normal pipe, nothing at all, a pipe whose other end is gone, a file, or
//! the wrong end of a pipe; optionally with a file-size limit and with its stderr
//! captured. The result is the harness's [`Logger`], so every bounded write, wait and
//! the kill-on-drop work as for the other tests.

use super::*;

/// What the logger finds on one of fds 3, 4 and 5.
#[derive(Clone, Debug)]
pub enum FdPlan {
    /// A fresh pipe whose other end the test keeps (the normal case).
    Pipe,
    /// Nothing: the descriptor is closed.
    Closed,
    /// A pipe whose other end is already closed: EOF at once on 3/4, EPIPE on 5.
    Widowed,
    /// A file opened read-only (for 3/4).
    File(PathBuf),
    /// The wrong end of a pipe: the write end on 3/4 (the test keeps the read end).
    WrongEnd,
}

/// How to start the logger.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Fds 3, 4 and 5.
    pub fds: [FdPlan; 3],
    /// `RLIMIT_FSIZE` in bytes.
    pub fsize_limit: Option<u64>,
    /// Where the logger's stderr goes (else `/dev/null`, as under containerd).
    pub stderr_to: Option<PathBuf>,
}

impl Plan {
    pub fn normal() -> Plan {
        Plan {
            fds: [FdPlan::Pipe, FdPlan::Pipe, FdPlan::Pipe],
            fsize_limit: None,
            stderr_to: None,
        }
    }

    pub fn fd(mut self, fd: usize, what: FdPlan) -> Plan {
        self.fds[fd - 3] = what;
        self
    }
}

/// Descriptors the test must keep open while the logger runs (the far ends of
/// `WrongEnd` pipes); dropping it closes them.
pub struct Kept(Vec<OwnedFd>);

/// Start the logger with `--root ROOT`, `CONTAINER_ID=id`, `CONTAINER_NAMESPACE=ns`
/// and the descriptors of `plan`.
pub fn spawn_plan(root: &Path, id: &str, ns: &str, plan: &Plan) -> (Logger, Kept) {
    let mut to_logger: [Option<OwnedFd>; 3] = [None, None, None];
    let (mut stdout, mut stderr, mut ready) = (None, None, None);
    let mut kept = Vec::new();
    for (k, what) in plan.fds.iter().enumerate() {
        let fd = 3 + k;
        match what {
            FdPlan::Pipe => {
                let (r, w) = pipe();
                if fd == 5 {
                    to_logger[k] = Some(w);
                    ready = Some(File::from(r));
                } else {
                    to_logger[k] = Some(r);
                    set_nonblocking(w.as_raw_fd());
                    let w = Some(File::from(w));
                    if fd == 3 {
                        stdout = w;
                    } else {
                        stderr = w;
                    }
                }
            }
            FdPlan::Closed => {}
            FdPlan::Widowed => {
                let (r, w) = pipe();
                to_logger[k] = Some(if fd == 5 { w } else { r });
            }
            FdPlan::File(p) => {
                let f = File::open(p).unwrap_or_else(|e| panic!("open {}: {e}", p.display()));
                to_logger[k] = Some(f.into());
            }
            FdPlan::WrongEnd => {
                let (r, w) = pipe();
                to_logger[k] = Some(w);
                kept.push(r);
            }
        }
    }
    let sources: [RawFd; 3] = [0, 1, 2].map(|k| to_logger[k].as_ref().map_or(-1, |f| f.as_raw_fd()));
    let fsize = plan.fsize_limit;
    let mut cmd = Command::new(bin_path());
    cmd.arg("--root")
        .arg(root)
        .env_clear()
        .env("CONTAINER_ID", id)
        .env("CONTAINER_NAMESPACE", ns)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    match &plan.stderr_to {
        Some(p) => cmd.stderr(File::create(p).expect("create the stderr file")),
        None => cmd.stderr(Stdio::null()),
    };
    // SAFETY: the closure runs between fork and exec and only calls fcntl, dup2, close
    // and setrlimit, which are async-signal-safe, on descriptors that stay open in the
    // parent until spawn() returns. Copies go to >= 10 first so that dup2 onto 3/4/5
    // never clobbers a source; dup2 clears CLOEXEC on the targets while the copies
    // close at exec.
    unsafe {
        cmd.pre_exec(move || {
            let mut high = [-1; 3];
            for (h, &fd) in high.iter_mut().zip(&sources) {
                if fd >= 0 {
                    *h = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10);
                    if *h < 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
            }
            for (&h, target) in high.iter().zip(3..) {
                if h >= 0 {
                    if libc::dup2(h, target) < 0 {
                        return Err(io::Error::last_os_error());
                    }
                } else {
                    libc::close(target);
                }
            }
            if let Some(limit) = fsize {
                let rl = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: limit,
                };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &rl) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let child = cmd.spawn().expect("spawn the logger");
    drop(to_logger);
    let logger = Logger {
        child,
        status: None,
        stdout,
        stderr,
        ready,
    };
    (logger, Kept(kept))
}

/// The `flags:` of descriptor `fd` of process `pid` (octal in /proc), if it is open.
pub fn fd_flags(pid: u32, fd: i32) -> Option<u32> {
    let info = fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).ok()?;
    let flags = info.lines().find_map(|l| l.strip_prefix("flags:"))?;
    u32::from_str_radix(flags.trim(), 8).ok()
}

/// What descriptor `fd` of process `pid` points to (`pipe:[123]`, a path, ...).
pub fn fd_target(pid: u32, fd: i32) -> Option<PathBuf> {
    fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()
}
