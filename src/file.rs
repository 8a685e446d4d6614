//! The local copy `<root>/logs/<ns>/<id>.log` (sink, shell).
//!
//! Opened with `O_APPEND|O_NOFOLLOW` and never truncated, so a new logger for
//! the same container continues the file. Formats: `raw` (the original's bytes;
//! the bytes of a whole read go out in one `write(2)`), `cri` and `json`
//! (encoded per record through a small buffer). Rotation is rename-based
//! (`.log` → `.log.1` → ...), done before a record that would take the file
//! past `max-size`, so `tail -F` keeps following. A failed write (disk full,
//! file size limit) loses those bytes, counts them and is reported once per
//! cause; the pipes keep being read.

use crate::config::{FileConf, FileFormat};
use crate::diag::{Level, Msg};
use crate::encode::{cri, json, Out};
use crate::limits::FILE_BUF;
use crate::record::Record;
use crate::sys::{self, Errno, Fd, Path};

/// How far past `max-size` a raw file may grow to finish a line begun before it.
pub const OVERRUN: u64 = 64 * 1024;

#[repr(C)]
pub struct LocalFile {
    pub w: Writer,
    pub conf: FileConf,
    len: usize,
    pub rotations: u64,
    /// Raw format: the file ends inside a line (its last byte is not `\n`).
    mid_line: bool,
    path: Path,
    /// Encoded records waiting for one write (cri and json formats).
    /// NOTE(memory): last: untouched with the raw format.
    buf: [u8; FILE_BUF],
}

/// The open file and what happened to the bytes given to it.
pub struct Writer {
    /// Valid only while `open` (no -1 sentinel: the initial state is all zeros).
    fd: Fd,
    open: bool,
    /// Current size of the file, for rotation.
    size: u64,
    pub written: u64,
    /// Bytes that could not be written.
    pub lost_bytes: u64,
    last_err: Option<Errno>,
}

impl LocalFile {
    pub const NONE: LocalFile = LocalFile {
        path: Path::new(),
        conf: FileConf::ZERO,
        w: Writer {
            fd: 0,
            open: false,
            size: 0,
            written: 0,
            lost_bytes: 0,
            last_err: None,
        },
        buf: [0; FILE_BUF],
        len: 0,
        rotations: 0,
        mid_line: false,
    };

    /// Open (creating) the log file at `path` for appending.
    pub fn open(&mut self, path: &Path, conf: FileConf) -> Result<(), Errno> {
        self.path.clear();
        self.path.push(path.as_bytes());
        self.conf = conf;
        self.reopen()
    }

    fn reopen(&mut self) -> Result<(), Errno> {
        let fd = sys::open(
            &self.path,
            // O_NONBLOCK: a FIFO planted at the path cannot block the open.
            sys::O_WRONLY | sys::O_APPEND | sys::O_CREAT | sys::O_NOFOLLOW | sys::O_NONBLOCK,
            0o644,
        )?;
        if !sys::is_regular(fd) {
            sys::close(fd);
            return Err(sys::EINVAL);
        }
        self.w.size = sys::file_size(fd).unwrap_or(0);
        self.w.fd = fd;
        self.w.open = true;
        Ok(())
    }

    /// Does this format encode each record (rather than copy the raw bytes)?
    pub fn encodes(&self) -> bool {
        self.conf.format != FileFormat::Raw
    }

    /// Rotate first if `n` more bytes would take a non-empty file past `max-size`.
    fn make_room(&mut self, n: usize) {
        let max = self.conf.max_size;
        if max > 0 && self.w.size > 0 && self.w.size + self.len as u64 + n as u64 > max {
            self.flush();
            self.rotate();
        }
    }

    /// Can `n` more bytes be written without a rotation?
    pub fn room_for(&self, n: usize) -> bool {
        self.conf.max_size == 0 || self.w.size + n as u64 <= self.conf.max_size
    }

    /// Append the raw bytes of whole chunks (one read's worth).
    pub fn write_raw(&mut self, region: &[u8]) {
        let max = self.conf.max_size;
        if max == 0 || self.w.size + region.len() as u64 <= max {
            self.w.write(region);
            if let Some(&b) = region.last() {
                self.mid_line = b != b'\n';
            }
        } else {
            // Near the bound: go line by line so a rotation falls between
            // lines; a line begun before the bound (cut into chunks by the
            // line buffer) is finished in its file, up to `OVERRUN` past it.
            for piece in region.split_inclusive(|&b| b == b'\n') {
                if !self.mid_line || self.w.size + piece.len() as u64 > max + OVERRUN {
                    self.make_room(piece.len());
                }
                self.w.write(piece);
                self.mid_line = piece.last() != Some(&b'\n');
            }
        }
    }

    /// Encode one record in the configured format (cri or json).
    pub fn record(&mut self, rec: &Record) {
        match self.conf.format {
            FileFormat::Raw => self.write_raw(rec.line),
            FileFormat::Cri => {
                self.make_room(cri::line_len(rec));
                cri::line(rec, self);
            }
            FileFormat::Json => {
                self.make_room(json::record_len(rec, None) + 1);
                json::record(rec, None, self);
                self.put(b"\n");
            }
        }
    }

    /// Write out what the encoders buffered.
    pub fn flush(&mut self) {
        if self.len > 0 {
            self.w.write(&self.buf[..self.len]);
            self.len = 0;
        }
    }

    /// Rename `<id>.log` to `.1`, shifting older ones up to `max-files`, and start anew.
    fn rotate(&mut self) {
        sys::close(self.w.fd);
        self.w.open = false;
        let base = self.path.len();
        let keep = self.conf.max_files.max(1) as u64;
        let mut from = Path::new();
        for i in (1..keep).rev() {
            from.clear();
            from.push(self.path.as_bytes());
            if i > 1 {
                from.push(b".").push(itoa::Buffer::new().format(i - 1).as_bytes());
            }
            self.path.push(b".").push(itoa::Buffer::new().format(i).as_bytes());
            let _ = sys::rename(&from, &self.path);
            self.path.truncate(base);
        }
        if keep == 1 {
            let _ = sys::unlink(&self.path);
        }
        self.rotations += 1;
        if let Err(e) = self.reopen() {
            // Closed for good, like a file refused at start: no size, so no
            // further rotation shifts the kept files out for nothing.
            self.w.size = 0;
            Msg::new(Level::Error)
                .s(b"local file: cannot reopen after rotation: ")
                .errno(e)
                .emit();
        }
    }
}

impl Writer {
    /// Append `bytes`; on failure count them as lost and report the cause once.
    pub fn write(&mut self, bytes: &[u8]) {
        if !self.open || bytes.is_empty() {
            if !bytes.is_empty() {
                self.lost_bytes += bytes.len() as u64;
            }
            return;
        }
        let mut rest = bytes;
        while !rest.is_empty() {
            match sys::write(self.fd, rest) {
                Ok(0) => break,
                Ok(n) => {
                    rest = &rest[n..];
                    self.written += n as u64;
                    self.size += n as u64;
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
                    .s(b" bytes lost so far")
                    .emit();
            }
        } else {
            self.lost_bytes += rest.len() as u64;
        }
    }
}

impl Out for LocalFile {
    fn put(&mut self, mut b: &[u8]) {
        while !b.is_empty() {
            if self.len == FILE_BUF {
                self.flush();
            }
            let n = b.len().min(FILE_BUF - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&b[..n]);
            self.len += n;
            b = &b[n..];
        }
    }
}
