//! The container's output: fd 3 (stdout) and fd 4 (stderr) (source, shell).
//!
//! containerd may hand the pipes over in blocking mode, so they are switched
//! to non-blocking at start. A stream ends at end of file, or, after SIGTERM,
//! once it has stayed empty for a moment (see `event_loop`). One stream ending
//! never ends the other (in TTY mode fd 4 may be at EOF from the start).

use crate::record::Stream;
use crate::sys::{self, Fd};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Status {
    Open,
    /// End of file seen (or the fd was never usable).
    Eof,
}

pub struct Source {
    pub fd: Fd,
    pub stream: Stream,
    pub status: Status,
}

impl Source {
    /// Take over `fd` for `stream`; a closed fd (`was_closed`: it was filled
    /// with /dev/null at start) counts as a stream already at EOF.
    pub fn open(fd: Fd, stream: Stream, was_closed: bool) -> (Source, Option<sys::Errno>) {
        // A write-only fd is left open (its number stays taken) but never read.
        if was_closed || !sys::fd_is_open(fd) || sys::write_only(fd) {
            return (
                Source {
                    fd: -1,
                    stream,
                    status: Status::Eof,
                },
                Some(sys::EBADF),
            );
        }
        match sys::set_nonblock_cloexec(fd) {
            Ok(()) => (
                Source {
                    fd,
                    stream,
                    status: Status::Open,
                },
                None,
            ),
            Err(e) => (
                Source {
                    fd,
                    stream,
                    status: Status::Open,
                },
                Some(e),
            ),
        }
    }

    pub fn is_open(&self) -> bool {
        self.status == Status::Open
    }

    /// Mark the stream finished and release the fd.
    pub fn close(&mut self) {
        if self.status == Status::Open {
            sys::close(self.fd);
        }
        self.status = Status::Eof;
        self.fd = -1;
    }
}
