//! The local copy `<root>/logs/<ns>/<id>.log` (sink, shell).
//!
//! Opened once with `O_APPEND|O_NOFOLLOW` and never truncated, so a new logger
//! for the same container continues the file. In the raw format the bytes of
//! a whole read go out in one `write(2)`. A failed write (disk full, file size
//! limit) loses those bytes, counts them and is reported once per cause; the
//! pipes keep being read.

use crate::diag::{Level, Msg};
use crate::sys::{self, Errno, Fd, Path};

pub struct LocalFile {
    /// Valid only while `open` (no -1 sentinel: the initial state is all zeros).
    fd: Fd,
    open: bool,
    /// Bytes that could not be written, and the last errno reported.
    pub lost_bytes: u64,
    last_err: Option<Errno>,
    pub written: u64,
}

impl LocalFile {
    pub const NONE: LocalFile = LocalFile {
        fd: 0,
        open: false,
        lost_bytes: 0,
        last_err: None,
        written: 0,
    };

    /// Open (creating) the log file at `path` for appending.
    pub fn open(&mut self, path: &Path) -> Result<(), Errno> {
        let fd = sys::open(
            path,
            sys::O_WRONLY | sys::O_APPEND | sys::O_CREAT | sys::O_NOFOLLOW | sys::O_NONBLOCK,
            0o644, // O_NONBLOCK: a FIFO planted at the path cannot block the open.
        )?;
        if !sys::is_regular(fd) {
            sys::close(fd);
            return Err(sys::EINVAL);
        }
        self.fd = fd;
        self.open = true;
        Ok(())
    }

    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Append `bytes`; on failure count them as lost and report the cause once.
    pub fn write(&mut self, bytes: &[u8]) {
        if !self.open || bytes.is_empty() {
            return;
        }
        let mut rest = bytes;
        while !rest.is_empty() {
            match sys::write(self.fd, rest) {
                Ok(0) => break,
                Ok(n) => {
                    rest = &rest[n..];
                    self.written += n as u64;
                }
                Err(e) => {
                    if self.last_err != Some(e) {
                        self.last_err = Some(e);
                        Msg::new(Level::Error)
                            .s(b"local file: write failed: ")
                            .errno(e)
                            .s(b"; lines are lost until it recovers")
                            .emit();
                    }
                    break;
                }
            }
        }
        if rest.is_empty() {
            if self.last_err.take().is_some() {
                Msg::new(Level::Info)
                    .s(b"local file: writes work again; ")
                    .n(self.lost_bytes)
                    .s(b" bytes lost")
                    .emit();
            }
        } else {
            self.lost_bytes += rest.len() as u64;
        }
    }
}
