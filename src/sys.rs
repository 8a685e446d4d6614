//! The shell around the OS: every libc call of the binary lives here.
//!
//! Everything above this module is safe Rust. Here return codes are turned into
//! `Result<T, Errno>` once, `EINTR` is retried, reads get a three-way answer
//! (data, would-block, end of file) and paths are NUL-terminated in fixed buffers.
//! The C entry point, the panic handler and the one static `State` live here too.
#![allow(unsafe_code)]

use core::mem::MaybeUninit;

/// An `errno` value from a failed system call.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Errno(pub i32);

pub const EAGAIN: Errno = Errno(libc::EAGAIN);
pub const EINPROGRESS: Errno = Errno(libc::EINPROGRESS);
pub const ENOENT: Errno = Errno(libc::ENOENT);
pub const EEXIST: Errno = Errno(libc::EEXIST);
pub const ENAMETOOLONG: Errno = Errno(libc::ENAMETOOLONG);
pub const EINVAL: Errno = Errno(libc::EINVAL);
pub const EIO: Errno = Errno(libc::EIO);
pub const EBADF: Errno = Errno(libc::EBADF);

pub type Result<T> = core::result::Result<T, Errno>;

pub type Fd = i32;

pub const STDOUT: Fd = 1;
pub const STDERR: Fd = 2;

fn errno() -> Errno {
    // SAFETY: __errno_location returns this thread's errno slot, always valid.
    Errno(unsafe { *libc::__errno_location() })
}

/// Turn a libc return value into `Ok(value)` or `Err(errno)`.
fn cvt(r: isize) -> Result<usize> {
    if r < 0 {
        Err(errno())
    } else {
        Ok(r as usize)
    }
}

/// Run `f` until it does not fail with `EINTR`.
fn retry(mut f: impl FnMut() -> isize) -> Result<usize> {
    loop {
        match cvt(f()) {
            Err(Errno(libc::EINTR)) => continue,
            r => return r,
        }
    }
}

/// The answer of a read: bytes, nothing right now, or the end of the stream.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Read {
    Data(usize),
    WouldBlock,
    Eof,
}

/// Read into `buf`; `Eof` only for a 0-byte read into a non-empty buffer.
pub fn read(fd: Fd, buf: &mut [u8]) -> Result<Read> {
    read2(fd, buf, &mut [])
}

/// Read into `a`, then on into `b` (one `readv`); `Eof` only for a 0-byte
/// read into buffers not both empty.
pub fn read2(fd: Fd, a: &mut [u8], b: &mut [u8]) -> Result<Read> {
    let iov = [
        libc::iovec {
            iov_base: a.as_mut_ptr().cast(),
            iov_len: a.len(),
        },
        libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        },
    ];
    let r = loop {
        // SAFETY: both iovecs describe valid writable regions borrowed for the call.
        match unsafe { syscall4(libc::SYS_readv, fd as usize, iov.as_ptr() as usize, 2, 0) } {
            Err(Errno(libc::EINTR)) => continue,
            r => break r,
        }
    };
    match r {
        Ok(0) if a.len() + b.len() > 0 => Ok(Read::Eof),
        Ok(n) => Ok(Read::Data(n)),
        Err(EAGAIN) => Ok(Read::WouldBlock),
        Err(e) => Err(e),
    }
}

/// Read at `off` without moving the file offset.
pub fn pread(fd: Fd, buf: &mut [u8], off: u64) -> Result<usize> {
    // SAFETY: buf is a valid writable region of buf.len() bytes.
    retry(|| unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), off as i64) as isize })
}

/// Write once; a short count is possible.
pub fn write(fd: Fd, buf: &[u8]) -> Result<usize> {
    // SAFETY: buf is a valid readable region of buf.len() bytes.
    retry(|| unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) as isize })
}

/// Write all of `buf` (regular files, blocking fds).
pub fn write_all(fd: Fd, mut buf: &[u8]) -> Result<()> {
    while !buf.is_empty() {
        let n = write(fd, buf)?;
        if n == 0 {
            return Err(Errno(libc::EIO));
        }
        buf = &buf[n..];
    }
    Ok(())
}

/// Write at `off` without moving the file offset.
pub fn pwrite(fd: Fd, buf: &[u8], off: u64) -> Result<usize> {
    // SAFETY: buf is a valid readable region of buf.len() bytes.
    retry(|| unsafe { libc::pwrite(fd, buf.as_ptr().cast(), buf.len(), off as i64) as isize })
}

/// Send on a socket without ever raising SIGPIPE.
pub fn send(fd: Fd, buf: &[u8]) -> Result<usize> {
    // SAFETY: buf is a valid readable region of buf.len() bytes.
    retry(|| unsafe {
        libc::send(
            fd,
            buf.as_ptr().cast(),
            buf.len(),
            libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
        ) as isize
    })
}

/// Close a descriptor, ignoring errors (nothing useful can be done with them).
pub fn close(fd: Fd) {
    if fd >= 0 {
        // SAFETY: closing an fd we own; a bad fd only yields EBADF.
        unsafe { libc::close(fd) };
    }
}

/// A NUL-terminated path assembled in a fixed buffer.
pub struct Path {
    buf: [u8; PATH_MAX],
    len: usize,
    overflow: bool,
}

/// Longest path we build; longer paths are refused with `ENAMETOOLONG`.
pub const PATH_MAX: usize = 512;

impl Path {
    pub const fn new() -> Path {
        Path {
            buf: [0; PATH_MAX],
            len: 0,
            overflow: false,
        }
    }
    /// Append bytes; a path that would not fit is marked and later refused.
    pub fn push(&mut self, s: &[u8]) -> &mut Path {
        if self.len + s.len() >= PATH_MAX || s.contains(&0) {
            self.overflow = true;
        } else {
            self.buf[self.len..self.len + s.len()].copy_from_slice(s);
            self.len += s.len();
            self.buf[self.len] = 0;
        }
        self
    }
    pub fn clear(&mut self) {
        self.len = 0;
        self.overflow = false;
        self.buf[0] = 0;
    }
    pub fn truncate(&mut self, len: usize) {
        if len <= self.len {
            self.len = len;
            self.buf[len] = 0;
        }
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
    pub fn len(&self) -> usize {
        self.len
    }
    fn cstr(&self) -> Result<*const libc::c_char> {
        if self.overflow {
            Err(ENAMETOOLONG)
        } else {
            Ok(self.buf.as_ptr().cast())
        }
    }
}

/// Open a file; `O_CLOEXEC` is always added.
pub fn open(path: &Path, flags: i32, mode: u32) -> Result<Fd> {
    let p = path.cstr()?;
    // SAFETY: p points to a NUL-terminated string inside `path`.
    retry(|| unsafe { libc::open(p, flags | libc::O_CLOEXEC, mode) as isize }).map(|fd| fd as Fd)
}

/// Create one directory; an existing one is fine.
pub fn mkdir(path: &Path, mode: u32) -> Result<()> {
    let p = path.cstr()?;
    // SAFETY: p points to a NUL-terminated string inside `path`.
    match cvt(unsafe { libc::mkdir(p, mode) } as isize) {
        Ok(_) | Err(EEXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Create a directory and its parents (`mkdir -p`).
pub fn mkdir_p(path: &mut Path, mode: u32) -> Result<()> {
    let full = path.len();
    let mut i = 1;
    while i <= full {
        if i == full || path.as_bytes()[i] == b'/' {
            let save = path.buf[i];
            path.buf[i] = 0;
            let saved_len = path.len;
            path.len = i;
            let r = mkdir(path, mode);
            path.len = saved_len;
            path.buf[i] = save;
            r?;
        }
        i += 1;
    }
    Ok(())
}

pub fn unlink(path: &Path) -> Result<()> {
    let p = path.cstr()?;
    // SAFETY: p points to a NUL-terminated string inside `path`.
    cvt(unsafe { libc::unlink(p) } as isize).map(|_| ())
}

pub fn rename(from: &Path, to: &Path) -> Result<()> {
    let (f, t) = (from.cstr()?, to.cstr()?);
    // SAFETY: both point to NUL-terminated strings inside their `Path`s.
    cvt(unsafe { libc::rename(f, t) } as isize).map(|_| ())
}

/// One system call of up to four arguments, made directly: `Err` with its errno.
///
/// NOTE(memory): musl's wrappers for the calls made this way carry fallbacks
/// for old kernels and cases this binary never has (`fstat` goes through
/// `fstatat`: 460 bytes; `fcntl`: 340; `signal`, `sigprocmask` and `signalfd`
/// with their helpers: 800); the bare instruction is a few bytes.
///
/// # Safety
/// The arguments must be valid for system call `nr`: a pointer among them
/// must point to memory that the call may read or write, as it defines.
unsafe fn syscall4(nr: i64, a: usize, b: usize, c: usize, d: usize) -> Result<usize> {
    let r: isize;
    // SAFETY: the caller vouches for the arguments; rcx and r11 are clobbered
    // by `syscall`, as declared, and memory is assumed read and written.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") nr as isize => r,
            in("rdi") a,
            in("rsi") b,
            in("rdx") c,
            in("r10") d,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    if r < 0 {
        Err(Errno(-r as i32))
    } else {
        Ok(r as usize)
    }
}

/// `fcntl(fd, cmd, arg)`, for the commands that take an integer.
fn fcntl(fd: Fd, cmd: i32, arg: i32) -> Result<usize> {
    // SAFETY: integer arguments only; the call touches no memory of ours.
    unsafe { syscall4(libc::SYS_fcntl, fd as usize, cmd as usize, arg as usize, 0) }
}

/// Return the status of an open file.
fn fstat(fd: Fd) -> Result<libc::stat> {
    let mut st = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat(2) writes at most one struct stat through the valid
    // out-pointer `st` and touches no other memory.
    unsafe { syscall4(libc::SYS_fstat, fd as usize, st.as_mut_ptr() as usize, 0, 0)? };
    // SAFETY: the call succeeded, so it filled the struct.
    Ok(unsafe { st.assume_init() })
}

/// Size of an open file in bytes.
pub fn file_size(fd: Fd) -> Result<u64> {
    fstat(fd).map(|st| st.st_size as u64)
}

/// Is `fd` a regular file (not a symlink target check; fstat on the open fd)?
pub fn is_regular(fd: Fd) -> bool {
    fstat(fd).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFREG)
}

pub fn ftruncate(fd: Fd, len: u64) -> Result<()> {
    // SAFETY: plain syscall on an fd we own.
    retry(|| unsafe { libc::ftruncate(fd, len as i64) } as isize).map(|_| ())
}

/// Free the disk blocks of `[off, off+len)` while keeping the file size.
pub fn punch_hole(fd: Fd, off: u64, len: u64) {
    // SAFETY: plain syscall on an fd we own; failure only means no space is freed.
    unsafe {
        libc::fallocate(
            fd,
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            off as i64,
            len as i64,
        )
    };
}

/// Is `fd` an open descriptor?
pub fn fd_is_open(fd: Fd) -> bool {
    fcntl(fd, libc::F_GETFD, 0).is_ok()
}

/// Put `fd` in non-blocking mode and mark it close-on-exec.
pub fn set_nonblock_cloexec(fd: Fd) -> Result<()> {
    let fl = fcntl(fd, libc::F_GETFL, 0)?;
    fcntl(fd, libc::F_SETFL, fl as i32 | libc::O_NONBLOCK)?;
    let _ = fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
    Ok(())
}

/// Whether `fd` was opened for writing only (the wrong end of a pipe, say):
/// poll would never report it readable.
pub fn write_only(fd: Fd) -> bool {
    fcntl(fd, libc::F_GETFL, 0).is_ok_and(|fl| fl as i32 & libc::O_ACCMODE == libc::O_WRONLY)
}

/// Make sure fds 0, 1 and 2 are open, so no file we open lands on them.
///
/// Also fds 3, 4 and 5: a missing pipe must not let the signalfd or a log
/// file take its number (the logger would read its own signals as the
/// container's output, or write the ready byte into its diagnostics).
/// Return a bit per fd of 0..=5 that was closed and is now `/dev/null`.
pub fn guard_fds() -> u8 {
    let mut filled = 0;
    for fd in 0..6 {
        if !fd_is_open(fd) {
            let mut p = Path::new();
            p.push(b"/dev/null");
            // Lower numbers are open, so the lowest free number is `fd` itself.
            if let Ok(got) = open(&p, libc::O_RDWR, 0) {
                if got != fd {
                    // SAFETY: dup2 onto a free number we just checked.
                    unsafe { libc::dup2(got, fd) };
                    close(got);
                }
                filled |= 1 << fd;
            }
        }
    }
    filled
}

/// Monotonic clock in nanoseconds.
pub fn monotonic_ns() -> u64 {
    clock(libc::CLOCK_MONOTONIC)
}

/// Wall clock (UTC) in nanoseconds since the Unix epoch.
pub fn realtime_ns() -> u64 {
    clock(libc::CLOCK_REALTIME)
}

fn clock(id: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid out-pointer; these clocks always exist on Linux.
    unsafe { libc::clock_gettime(id, &mut ts) };
    (ts.tv_sec as u64).wrapping_mul(1_000_000_000) + ts.tv_nsec as u64
}

pub fn getpid() -> u32 {
    // SAFETY: getpid cannot fail.
    unsafe { libc::getpid() as u32 }
}

/// Block the termination signals and return a signalfd that reports them.
/// SIGPIPE is ignored: a closed socket must give EPIPE, not kill us. SIGXFSZ
/// too: a file-size limit must give EFBIG (reported), not end the logger.
pub fn signals_init() -> Result<Fd> {
    // The kernel's struct sigaction on x86_64: handler, flags, restorer, mask.
    // SIG_IGN runs no handler, so it needs no restorer.
    let ignore: [usize; 4] = [libc::SIG_IGN, 0, 0, 0];
    let set: u64 = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP]
        .iter()
        .fold(0, |m, &s| m | 1 << (s - 1));
    // SAFETY: each call reads (only) the live locals passed by pointer, with
    // the kernel's sigset size of 8 bytes; no old value is asked for.
    unsafe {
        for sig in [libc::SIGPIPE, libc::SIGXFSZ] {
            let _ = syscall4(libc::SYS_rt_sigaction, sig as usize, ignore.as_ptr() as usize, 0, 8);
        }
        syscall4(
            libc::SYS_rt_sigprocmask,
            libc::SIG_BLOCK as usize,
            &set as *const u64 as usize,
            0,
            8,
        )?;
        let flags = (libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) as usize;
        syscall4(libc::SYS_signalfd4, usize::MAX, &set as *const u64 as usize, 8, flags).map(|f| f as Fd)
    }
}

/// Take one pending signal from a signalfd, if any.
pub fn signal_take(fd: Fd) -> Option<i32> {
    // SAFETY: signalfd_siginfo is plain old data; we read exactly its size.
    let mut info: libc::signalfd_siginfo = unsafe { core::mem::zeroed() };
    let n = unsafe {
        libc::read(
            fd,
            (&mut info as *mut libc::signalfd_siginfo).cast(),
            core::mem::size_of::<libc::signalfd_siginfo>(),
        )
    };
    if n == core::mem::size_of::<libc::signalfd_siginfo>() as isize {
        Some(info.ssi_signo as i32)
    } else {
        None
    }
}

pub const SIGTERM: i32 = libc::SIGTERM;
pub const SIGINT: i32 = libc::SIGINT;

/// One entry of the poll set.
pub type PollFd = libc::pollfd;
pub const POLLIN: i16 = libc::POLLIN;
pub const POLLOUT: i16 = libc::POLLOUT;
pub const POLLERR: i16 = libc::POLLERR;
pub const POLLHUP: i16 = libc::POLLHUP;
pub const POLLNVAL: i16 = libc::POLLNVAL;

pub const fn pollfd(fd: Fd, events: i16) -> PollFd {
    libc::pollfd { fd, events, revents: 0 }
}

/// Wait for events; `timeout_ms < 0` waits forever. EINTR counts as no event.
pub fn poll(fds: &mut [PollFd], timeout_ms: i32) -> Result<usize> {
    // SAFETY: fds is a valid array of fds.len() pollfd structs.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    match cvt(r as isize) {
        Err(Errno(libc::EINTR)) => Ok(0),
        r => r,
    }
}

/// An IPv4 or IPv6 socket address.
#[derive(Clone, Copy)]
pub enum SockAddr {
    V4([u8; 4], u16),
    V6([u8; 16], u16),
}

/// Start a non-blocking TCP connect; `Ok(true)` if it completed at once.
pub fn tcp_connect(addr: &SockAddr) -> Result<(Fd, bool)> {
    let family = match addr {
        SockAddr::V4(..) => libc::AF_INET,
        SockAddr::V6(..) => libc::AF_INET6,
    };
    // SAFETY: socket() with constant arguments.
    let fd =
        cvt(unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) } as isize)?
            as Fd;
    let one: i32 = 1;
    // SAFETY: option value points to a live i32 of the given size.
    unsafe {
        let p = (&one as *const i32).cast();
        let l = core::mem::size_of::<i32>() as libc::socklen_t;
        libc::setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, p, l);
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, p, l);
    }
    // SAFETY: the sockaddr structs are fully initialised and sized correctly.
    let r = unsafe {
        match *addr {
            SockAddr::V4(ip, port) => {
                let mut sa: libc::sockaddr_in = core::mem::zeroed();
                sa.sin_family = libc::AF_INET as libc::sa_family_t;
                sa.sin_port = port.to_be();
                sa.sin_addr.s_addr = u32::from_ne_bytes(ip);
                libc::connect(
                    fd,
                    (&sa as *const libc::sockaddr_in).cast(),
                    core::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            }
            SockAddr::V6(ip, port) => {
                let mut sa: libc::sockaddr_in6 = core::mem::zeroed();
                sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sa.sin6_port = port.to_be();
                sa.sin6_addr.s6_addr = ip;
                libc::connect(
                    fd,
                    (&sa as *const libc::sockaddr_in6).cast(),
                    core::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                )
            }
        }
    };
    match cvt(r as isize) {
        Ok(_) => Ok((fd, true)),
        Err(EINPROGRESS) | Err(Errno(libc::EINTR)) => Ok((fd, false)),
        Err(e) => {
            close(fd);
            Err(e)
        }
    }
}

/// The outcome of a non-blocking connect, once the socket is writable.
pub fn socket_error(fd: Fd) -> Result<()> {
    let mut err: i32 = 0;
    let mut len = core::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: err and len are valid out-pointers of the declared sizes.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut i32).cast(),
            &mut len,
        )
    };
    cvt(r as isize)?;
    if err != 0 {
        Err(Errno(err))
    } else {
        Ok(())
    }
}

/// Terminate the process at once with `code`.
pub fn exit(code: i32) -> ! {
    // SAFETY: _exit never returns and needs no invariant.
    unsafe { libc::_exit(code) }
}

/// Give the text of an errno value (static, no allocation).
pub fn strerror(e: Errno) -> &'static [u8] {
    match e.0 {
        libc::ENOENT => b"no such file or directory",
        libc::EACCES => b"permission denied",
        libc::EPERM => b"operation not permitted",
        libc::EEXIST => b"file exists",
        libc::ENOSPC => b"no space left on device",
        libc::EFBIG => b"file too large",
        libc::EDQUOT => b"disk quota exceeded",
        libc::EROFS => b"read-only file system",
        libc::ELOOP => b"symbolic link not followed",
        libc::ENAMETOOLONG => b"name too long",
        libc::ENOTDIR => b"not a directory",
        libc::EISDIR => b"is a directory",
        libc::ECONNREFUSED => b"connection refused",
        libc::ECONNRESET => b"connection reset",
        libc::ETIMEDOUT => b"timed out",
        libc::EHOSTUNREACH => b"host unreachable",
        libc::ENETUNREACH => b"network unreachable",
        libc::EPIPE => b"broken pipe",
        libc::EBADF => b"bad file descriptor",
        libc::EMFILE => b"too many open files",
        libc::EIO => b"input/output error",
        libc::EINVAL => b"invalid argument",
        libc::EADDRNOTAVAIL => b"address not available",
        libc::EAFNOSUPPORT => b"address family not supported",
        _ => b"system error",
    }
}

pub use libc::{O_APPEND, O_CREAT, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY};

// ---- process entry, panic handler, the one static state ----

#[cfg(all(not(test), target_env = "musl"))]
#[link(name = "c", kind = "static", modifiers = "-bundle")]
extern "C" {}

/// `cargo test` builds the binary for the host with unwinding panics, which
/// asks for this symbol; the shipped musl build aborts and never needs it.
#[cfg(all(not(test), not(target_env = "musl")))]
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}

#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    crate::diag::bug();
    exit(crate::EXIT_BUG)
}

/// Arguments of the process, as byte strings without their NUL.
pub struct Args {
    argc: usize,
    argv: *const *const u8,
}

impl Args {
    pub fn len(&self) -> usize {
        self.argc
    }
    /// Return argument `i` (0 is the program name).
    pub fn get(&self, i: usize) -> &'static [u8] {
        if i >= self.argc {
            return b"";
        }
        // SAFETY: i < argc, and argv[i] is a NUL-terminated string that lives
        // for the whole process (the kernel put it on the initial stack).
        unsafe { cstr_bytes(*self.argv.add(i)) }
    }
}

/// Return the value of environment variable `name`, if set.
pub fn getenv(name: &[u8]) -> Option<&'static [u8]> {
    let mut key = Path::new();
    key.push(name);
    let p = key.cstr().ok()?;
    // SAFETY: p is NUL-terminated; getenv returns NULL or a string that lives
    // as long as the environment, which we never modify.
    let v = unsafe { libc::getenv(p) };
    if v.is_null() {
        None
    } else {
        // SAFETY: non-null getenv result is NUL-terminated.
        Some(unsafe { cstr_bytes(v.cast()) })
    }
}

/// SAFETY: `p` must be a valid NUL-terminated string living for 'static.
unsafe fn cstr_bytes(p: *const u8) -> &'static [u8] {
    if p.is_null() {
        return b"";
    }
    let n = libc::strlen(p.cast());
    core::slice::from_raw_parts(p, n)
}

#[cfg(not(test))]
#[no_mangle]
pub extern "C" fn main(argc: i32, argv: *const *const u8) -> i32 {
    let args = Args {
        argc: argc.max(0) as usize,
        argv,
    };
    crate::run(&args, state())
}

static mut STATE: crate::State = crate::State::INIT;
static TAKEN: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Hand out the process's one `State` (all fixed buffers, in .bss).
pub fn state() -> &'static mut crate::State {
    if TAKEN.swap(true, core::sync::atomic::Ordering::Relaxed) {
        exit(crate::EXIT_BUG);
    }
    // SAFETY: the TAKEN flag guarantees this is the only reference ever made,
    // and the process is single-threaded.
    unsafe { &mut *core::ptr::addr_of_mut!(STATE) }
}
