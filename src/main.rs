//! shim-logs: a containerd logging binary for Zero-OS.
//!
//! containerd starts it once per container with the container's stdout on
//! fd 3, stderr on fd 4 and a readiness pipe on fd 5. It delivers every line
//! to a local file and to the Redis endpoints of the container's config.
//!
//! Pipeline, one module per stage:
//! `sys` (every libc call) → `source` (fds 3/4, poll) → `frame` (lines) →
//! `record` → `encode` (RESP) → sinks `file`, `redis` (+ `spool`), driven by
//! `event_loop`; with `config`, `json`, `url`, `args`, `resolve`, `clock`,
//! `diag` and `reply` as support. There is no heap: every buffer is a named
//! constant in `limits` and lives in the one static `State`.
#![cfg_attr(not(test), no_std)]
#![cfg_attr(not(test), no_main)]
#![deny(unsafe_code)]
// The unit-test build has no entry point, so the shell looks unused there.
#![cfg_attr(test, allow(dead_code))]

mod args;
mod clock;
mod config;
mod diag;
mod encode;
mod event_loop;
mod file;
mod frame;
mod json;
mod limits;
mod record;
mod redis;
mod reply;
mod resolve;
mod source;
mod spool;
mod sys;
mod url;

use diag::{Level, Msg};
use sys::Path;

/// Exit codes (a documented contract, see README).
pub const EXIT_OK: i32 = 0;
pub const EXIT_USAGE: i32 = 100;
pub const EXIT_BUG: i32 = 101;
pub const EXIT_SYSTEM: i32 = 111;

pub const VERSION: &[u8] = env!("CARGO_PKG_VERSION").as_bytes();

/// Everything the process holds, in one static (`.bss`, zero-initialised).
///
/// NOTE(memory): a page of it counts in the logger's resident memory from the
/// first byte written to it, so the order (kept by `repr(C)`) puts what is
/// touched at start, and at rest, together at the front: the reply buffer, the
/// config, the local file's state; then the buffers touched only under load
/// (line buffers, scratch past the config text); then the endpoints, each with
/// its small state ahead of its buffers (unused ones are only ever read, so
/// they stay on the shared zero page).
#[repr(C)]
pub struct State {
    pub recv: [u8; limits::RECV_BUF],
    pub config: config::Config,
    pub file: file::LocalFile,
    pub frames: [frame::Frame; 2],
    pub scratch: [u8; limits::SCRATCH],
    pub endpoints: [redis::Endpoint; limits::MAX_ENDPOINTS],
}

impl State {
    pub const INIT: State = State {
        recv: [0; limits::RECV_BUF],
        config: config::Config::ZERO,
        file: file::LocalFile::NONE,
        frames: [frame::Frame::NEW, frame::Frame::NEW],
        scratch: [0; limits::SCRATCH],
        endpoints: [
            redis::Endpoint::UNUSED,
            redis::Endpoint::UNUSED,
            redis::Endpoint::UNUSED,
            redis::Endpoint::UNUSED,
        ],
    };
}

const HELP: &[u8] = b"shim-logs: containerd logging binary (fd 3 stdout, fd 4 stderr, fd 5 ready)

usage:
  shim-logs [--root DIR]   run as containerd's logger (env: CONTAINER_ID, CONTAINER_NAMESPACE)
  shim-logs check FILE     validate a config and print its endpoints
  shim-logs --version | --help

files (root: /var/cache/modules/contd):
  <root>/config/<ns>/<id>-logs.json  config (JSON array; missing = [])
  <root>/logs/<ns>/<id>.log          local copy of every line
  <root>/logs/<ns>/<id>-sys.log      diagnostics

exit: 0 ok, 100 usage or identity error, 111 system error at start, 101 bug
";

/// The process entry, called by `sys` with the arguments and the state.
pub fn run(argv: &sys::Args, st: &'static mut State) -> i32 {
    let mut list: [&[u8]; 32] = [b""; 32];
    let n = argv.len().saturating_sub(1).min(list.len());
    for (i, slot) in list.iter_mut().enumerate().take(n) {
        *slot = argv.get(i + 1);
    }
    match args::parse(&list[..n]) {
        args::Mode::Version => {
            Msg::plain().s(b"shim-logs ").s(VERSION).emit_to(sys::STDOUT);
            EXIT_OK
        }
        args::Mode::Help => {
            let _ = sys::write_all(sys::STDOUT, HELP);
            EXIT_OK
        }
        args::Mode::Check(file) => check(file, st),
        args::Mode::Run(r) => event_loop::start(&r, st),
    }
}

/// Read a whole (small) file into `buf`; `Ok(None)` if it does not exist.
pub fn read_file(path: &Path, buf: &mut [u8]) -> Result<Option<usize>, ReadError> {
    let fd = match sys::open(path, sys::O_RDONLY | sys::O_NONBLOCK, 0) {
        Ok(fd) => fd,
        Err(sys::ENOENT) => return Ok(None),
        Err(e) => return Err(ReadError::Sys(e)),
    };
    if !sys::is_regular(fd) {
        sys::close(fd);
        return Err(ReadError::NotRegular);
    }
    let mut n = 0;
    let r = loop {
        if n == buf.len() {
            let mut probe = [0u8; 1];
            break match sys::read(fd, &mut probe) {
                Ok(sys::Read::Data(_)) => Err(ReadError::TooLarge),
                _ => Ok(Some(n)),
            };
        }
        match sys::read(fd, &mut buf[n..]) {
            Ok(sys::Read::Data(k)) => n += k,
            Ok(_) => break Ok(Some(n)),
            Err(e) => break Err(ReadError::Sys(e)),
        }
    };
    sys::close(fd);
    r
}

#[derive(Clone, Copy)]
pub enum ReadError {
    Sys(sys::Errno),
    NotRegular,
    TooLarge,
}

impl ReadError {
    pub fn describe(self, m: &mut Msg) {
        match self {
            ReadError::Sys(e) => m.errno(e),
            ReadError::NotRegular => m.s(b"not a regular file"),
            ReadError::TooLarge => m.s(b"larger than ").n(limits::CONFIG_MAX as u64).s(b" bytes"),
        };
    }
}

/// Warnings and errors of a config, located as `file:line:col`.
pub struct ConfigReport<'a> {
    pub name: &'a [u8],
    pub text: &'a [u8],
    pub fd: sys::Fd,
    pub level: Level,
    pub plain: bool,
}

impl ConfigReport<'_> {
    /// Start a message located at byte `pos`.
    pub fn at(&self, pos: usize) -> Msg {
        let (line, col) = json::line_col(self.text, pos);
        let mut m = if self.plain { Msg::plain() } else { Msg::new(self.level) };
        if !self.plain {
            m.s(b"config ");
        }
        m.q(self.name).s(b":").n(line as u64).s(b":").n(col as u64).s(b": ");
        m
    }
}

impl config::Warn for ConfigReport<'_> {
    fn warn(&mut self, pos: usize, parts: &[&[u8]]) {
        let mut m = self.at(pos);
        if self.plain {
            m.s(b"warning: ");
        }
        for p in parts {
            m.s(p);
        }
        m.emit_to(self.fd);
    }
}

/// `shim-logs check FILE`: validate a config and print its endpoints.
#[inline(never)]
fn check(file: &[u8], st: &mut State) -> i32 {
    let mut path = Path::new();
    path.push(file);
    let n = match read_file(&path, &mut st.scratch[..limits::CONFIG_MAX]) {
        Ok(Some(n)) => n,
        Ok(None) => {
            Msg::plain().q(file).s(b": no such file").emit_to(sys::STDERR);
            return EXIT_USAGE;
        }
        Err(e) => {
            let mut m = Msg::plain();
            m.q(file).s(b": ");
            e.describe(&mut m);
            m.emit_to(sys::STDERR);
            return EXIT_USAGE;
        }
    };
    let text = &st.scratch[..n];
    let mut rep = ConfigReport {
        name: file,
        text,
        fd: sys::STDERR,
        level: Level::Error,
        plain: true,
    };
    match config::parse(text, &mut st.config, &mut rep) {
        Ok(()) => {
            for e in st.config.endpoints() {
                let mut m = Msg::plain();
                m.s(match e.streams {
                    config::STDOUT_BIT => b"stdout        -> ",
                    config::STDERR_BIT => b"stderr        -> ",
                    _ => b"stdout+stderr -> ",
                });
                e.url.write_masked(&mut m);
                m.emit_to(sys::STDOUT);
            }
            Msg::plain()
                .q(file)
                .s(b": ok, ")
                .n(st.config.count as u64)
                .s(b" endpoint(s), local file format ")
                .s(match st.config.file.format {
                    config::FileFormat::Raw => b"raw",
                    config::FileFormat::Cri => b"cri",
                    config::FileFormat::Json => b"json",
                })
                .emit_to(sys::STDOUT);
            EXIT_OK
        }
        Err(e) => {
            rep.at(e.pos).s(e.kind.text()).emit_to(sys::STDERR);
            EXIT_USAGE
        }
    }
}
