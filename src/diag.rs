//! Diagnostics: `<id>-sys.log`, one line per event (support module, shell).
//!
//! A line is `<UTC time> <level> <text>`, assembled from static fragments,
//! numbers and sanitised bytes in a fixed buffer (no `core::fmt`). Writes are
//! one `write(2)` per line on an `O_APPEND` fd; before the file is open (and
//! for the command-line modes) lines go to stderr instead. Passwords never
//! reach this module: URLs are printed masked by their owner.

use crate::clock;
use crate::limits::DIAG_LINE;
use crate::sys;
use core::sync::atomic::{AtomicI32, AtomicU64, Ordering};

static FD: AtomicI32 = AtomicI32::new(sys::STDERR);
static WRITTEN: AtomicU64 = AtomicU64::new(0);

/// Send diagnostics to `fd`, which already holds `size` bytes, from now on.
pub fn set_fd(fd: sys::Fd, size: u64) {
    FD.store(fd, Ordering::Relaxed);
    WRITTEN.store(size, Ordering::Relaxed);
}

/// Return the fd diagnostics go to.
pub fn fd() -> sys::Fd {
    FD.load(Ordering::Relaxed)
}

/// Return the bytes written to the current diagnostics file.
pub fn written() -> u64 {
    WRITTEN.load(Ordering::Relaxed)
}

#[derive(Clone, Copy)]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// One message being assembled.
pub struct Msg {
    buf: [u8; DIAG_LINE],
    len: usize,
}

impl Msg {
    /// Start a line with the current time and `level`.
    pub fn new(level: Level) -> Msg {
        let mut m = Msg {
            buf: [0; DIAG_LINE],
            len: 0,
        };
        let mut t = [0u8; clock::MILLIS_LEN];
        clock::rfc3339_millis(sys::realtime_ns(), &mut t);
        m.s(&t);
        m.s(match level {
            Level::Info => b" info ",
            Level::Warn => b" warn ",
            Level::Error => b" error ",
        });
        m
    }

    /// Start a line with no prefix (command-line output).
    pub fn plain() -> Msg {
        Msg {
            buf: [0; DIAG_LINE],
            len: 0,
        }
    }

    /// Append trusted text.
    pub fn s(&mut self, b: &[u8]) -> &mut Msg {
        let room = DIAG_LINE - 1 - self.len;
        let n = b.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&b[..n]);
        self.len += n;
        self
    }

    /// Append a number.
    pub fn n(&mut self, v: u64) -> &mut Msg {
        self.s(itoa::Buffer::new().format(v).as_bytes())
    }

    /// Append untrusted bytes: printable ASCII as is, the rest as `\xNN`.
    pub fn q(&mut self, b: &[u8]) -> &mut Msg {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for &c in b {
            if (0x20..0x7f).contains(&c) && c != b'\\' {
                self.s(&[c]);
            } else {
                self.s(&[b'\\', b'x', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]]);
            }
            if self.len >= DIAG_LINE - 8 {
                self.s(b"...");
                break;
            }
        }
        self
    }

    /// Append an errno's text.
    pub fn errno(&mut self, e: sys::Errno) -> &mut Msg {
        self.s(sys::strerror(e)).s(b" (errno ").n(e.0 as u64).s(b")")
    }

    /// Return the text so far (for tests and `check`).
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Finish the line and write it to the diagnostics file.
    pub fn emit(&mut self) {
        self.emit_to(FD.load(Ordering::Relaxed));
    }

    /// Finish the line and write it to `fd`.
    pub fn emit_to(&mut self, fd: sys::Fd) {
        self.buf[self.len] = b'\n';
        if sys::write_all(fd, &self.buf[..self.len + 1]).is_ok() {
            WRITTEN.fetch_add(self.len as u64 + 1, Ordering::Relaxed);
        }
    }
}

impl crate::encode::Out for Msg {
    fn put(&mut self, b: &[u8]) {
        self.s(b);
    }
}

/// Record that the binary hit a bug (called from the panic handler).
pub fn bug() {
    Msg::new(Level::Error)
        .s(b"internal error: exiting with code 101")
        .emit();
}
