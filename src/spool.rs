//! An endpoint's on-disk backlog `<id>.<hash>.spool` (sink, shell).
//!
//! The file is a 32-byte header (magic, acknowledged offset) followed by RESP
//! commands exactly as they will be sent. While a spool exists, the
//! endpoint's out-buffer always mirrors `file[acked..loaded]`: new records are
//! appended at `end`, whole commands are loaded into the out-buffer as it
//! frees up, and each reply moves `acked` on. When `acked` reaches `end` the
//! file is removed. The header's offset is rewritten as acknowledgements come,
//! so the next logger for the same container resumes where this one stopped
//! (at-least-once: a few commands may be sent twice). Acknowledged ranges are
//! punched out of the file, so the disk holds only the backlog.
//!
//! Appends are gathered in a small write-behind buffer and written once per
//! loop turn (`sync`) or when it is full: the last `wb_len` bytes before `end`
//! live there until then, and loading takes them from memory.

use crate::encode::resp::{self, End};
use crate::limits::SPOOL_WB;
use crate::sys::{self, Errno, Fd, Path};

pub const MAGIC: &[u8; 8] = b"SHMSPL02";
/// Header: magic, acknowledged offset, then the loss not yet reported to the
/// endpoint (lines, bytes, first and last time), all u64 little-endian.
pub const HEADER: u64 = 64;

/// Lines dropped and not yet reported to the endpoint by a marker.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Loss {
    pub lines: u64,
    pub bytes: u64,
    pub first_ns: u64,
    pub last_ns: u64,
}

impl Loss {
    pub const NONE: Loss = Loss {
        lines: 0,
        bytes: 0,
        first_ns: 0,
        last_ns: 0,
    };
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(v)
}
/// Rewrite the header after this many acknowledged bytes.
const PERSIST_EVERY: u64 = 64 * 1024;
/// Free disk blocks after this many acknowledged bytes.
const PUNCH_EVERY: u64 = 1 << 20;

// NOTE(memory): `repr(C)` keeps the fields touched at start (and at rest)
// together, before the path and the write-behind buffer, which is touched only
// while spooling; the default layout put two flags after it, on a page of
// their own.
#[repr(C)]
pub struct Spool {
    /// Valid only while `open`. NOTE(memory): no -1 sentinel, so the
    /// initial state is all zero bytes and the static state stays in .bss.
    fd: Fd,
    open: bool,
    /// Keep the file at close even when empty: it records a loss.
    keep: bool,
    /// Append position (file offset).
    pub end: u64,
    /// Next byte to load into the out-buffer.
    pub loaded: u64,
    /// First byte not yet acknowledged.
    pub acked: u64,
    persisted: u64,
    punched: u64,
    /// Bound on the backlog (`end - acked`), in bytes; 0 = spooling off.
    pub max: u64,
    /// Loss an earlier logger recorded and could not report (read by `resume`).
    pub loss: Loss,
    /// Appended commands not written yet: file bytes `end - wb_len .. end`.
    wb_len: usize,
    pub path: Path,
    wb: [u8; SPOOL_WB],
}

/// What loading found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Load {
    /// This many bytes of whole commands were loaded.
    Bytes(usize),
    /// The file holds something that is not a command from this offset on.
    Corrupt(u64),
}

impl Spool {
    pub const NONE: Spool = Spool {
        fd: 0,
        open: false,
        keep: false,
        end: 0,
        loaded: 0,
        acked: 0,
        persisted: 0,
        punched: 0,
        max: 0,
        loss: Loss::NONE,
        wb_len: 0,
        path: Path::new(),
        wb: [0; SPOOL_WB],
    };

    /// Does the spool hold records (so new ones must queue behind them)?
    pub fn active(&self) -> bool {
        self.open && self.end > self.acked
    }

    /// Is the spool file open (possibly empty)?
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Return the backlog in bytes.
    pub fn backlog(&self) -> u64 {
        self.end - self.acked
    }

    /// Open the spool an earlier logger left, if any; `Ok(false)` if there is none.
    pub fn resume(&mut self) -> Result<bool, Errno> {
        let fd = match sys::open(&self.path, sys::O_RDWR | sys::O_NOFOLLOW, 0) {
            Ok(fd) => fd,
            Err(sys::ENOENT) => return Ok(false),
            Err(e) => return Err(e),
        };
        let mut hdr = [0u8; HEADER as usize];
        let size = sys::file_size(fd).unwrap_or(0);
        let ok = sys::is_regular(fd) && sys::pread(fd, &mut hdr, 0) == Ok(HEADER as usize) && &hdr[..8] == MAGIC;
        if !ok {
            sys::close(fd);
            return Err(sys::EINVAL);
        }
        let acked = u64_at(&hdr, 8);
        self.loss = Loss {
            lines: u64_at(&hdr, 16),
            bytes: u64_at(&hdr, 24),
            first_ns: u64_at(&hdr, 32),
            last_ns: u64_at(&hdr, 40),
        };
        self.fd = fd;
        self.open = true;
        self.end = size;
        self.acked = acked.clamp(HEADER, size.max(HEADER));
        self.loaded = self.acked;
        self.persisted = self.acked;
        self.punched = self.acked;
        if self.acked >= self.end {
            self.remove();
            return Ok(false);
        }
        Ok(true)
    }

    /// Start spooling: the file's first bytes are `unacked` (the out-buffer's content).
    pub fn create(&mut self, unacked: &[u8]) -> Result<(), Errno> {
        if self.open {
            // Kept open and empty since the last drain.
            self.append(unacked)?;
            self.loaded = self.end;
            return Ok(());
        }
        let fd = sys::open(&self.path, sys::O_RDWR | sys::O_CREAT | sys::O_NOFOLLOW, 0o600)?;
        if !sys::is_regular(fd) {
            sys::close(fd);
            return Err(sys::EINVAL);
        }
        let mut hdr = [0u8; HEADER as usize];
        hdr[..8].copy_from_slice(MAGIC);
        hdr[8..16].copy_from_slice(&HEADER.to_le_bytes());
        let r = sys::ftruncate(fd, 0)
            .and_then(|_| write_at(fd, &hdr, 0))
            .and_then(|_| write_at(fd, unacked, HEADER));
        if let Err(e) = r {
            sys::close(fd);
            let _ = sys::unlink(&self.path);
            return Err(e);
        }
        self.fd = fd;
        self.open = true;
        self.acked = HEADER;
        self.persisted = HEADER;
        self.punched = HEADER;
        self.end = HEADER + unacked.len() as u64;
        self.loaded = self.end;
        Ok(())
    }

    /// Append one whole command; on failure nothing of it is kept.
    pub fn append(&mut self, cmd: &[u8]) -> Result<(), Errno> {
        if self.wb_len + cmd.len() > SPOOL_WB {
            self.sync()?;
        }
        if cmd.len() > SPOOL_WB {
            // Too large to gather (and the write-behind is empty now).
            if let Err(e) = write_at(self.fd, cmd, self.end) {
                let _ = sys::ftruncate(self.fd, self.end);
                return Err(e);
            }
        } else {
            self.wb[self.wb_len..self.wb_len + cmd.len()].copy_from_slice(cmd);
            self.wb_len += cmd.len();
        }
        self.end += cmd.len() as u64;
        Ok(())
    }

    /// Return room for a command of `n` bytes in the write-behind buffer (written
    /// out first if need be), to be kept by `commit`; `None` if `n` is too large
    /// to gather. NOTE(memory): commands are encoded straight into it, so the
    /// scratch buffer stays untouched while small lines are spooled.
    pub fn reserve(&mut self, n: usize) -> Result<Option<&mut [u8]>, Errno> {
        if n > SPOOL_WB {
            return Ok(None);
        }
        if self.wb_len + n > SPOOL_WB {
            self.sync()?;
        }
        Ok(Some(&mut self.wb[self.wb_len..self.wb_len + n]))
    }

    /// Keep the `n` bytes just written into the room `reserve` gave.
    pub fn commit(&mut self, n: usize) {
        self.wb_len += n;
        self.end += n as u64;
    }

    /// Write the gathered commands to the file; on failure they stay gathered.
    pub fn sync(&mut self) -> Result<(), Errno> {
        if self.wb_len == 0 {
            return Ok(());
        }
        let at = self.end - self.wb_len as u64;
        if let Err(e) = write_at(self.fd, &self.wb[..self.wb_len], at) {
            let _ = sys::ftruncate(self.fd, at);
            return Err(e);
        }
        self.wb_len = 0;
        Ok(())
    }

    /// Load whole commands from `loaded` into `into`.
    pub fn load(&mut self, into: &mut [u8]) -> Load {
        let want = ((self.end - self.loaded) as usize).min(into.len());
        if want == 0 {
            return Load::Bytes(0);
        }
        // The file's part first, then what is still gathered in memory.
        let file_end = self.end - self.wb_len as u64;
        let mut got = 0;
        if self.loaded < file_end {
            let n = ((file_end - self.loaded) as usize).min(want);
            got = match sys::pread(self.fd, &mut into[..n], self.loaded) {
                Ok(n) => n,
                Err(_) => return Load::Bytes(0),
            };
        }
        let at = self.loaded + got as u64;
        if at >= file_end && got < want {
            let off = (at - file_end) as usize;
            let k = (want - got).min(self.wb_len - off);
            into[got..got + k].copy_from_slice(&self.wb[off..off + k]);
            got += k;
        }
        let mut used = 0;
        loop {
            match resp::command_end(&into[used..got]) {
                End::Complete(n) => used += n,
                End::Incomplete
                    if used > 0 || (got < into.len() && got == want && self.loaded + (got as u64) < self.end) =>
                {
                    break
                }
                End::Incomplete if got == into.len() => break,
                End::Incomplete | End::Invalid => {
                    if used == 0 {
                        return Load::Corrupt(self.loaded);
                    }
                    break;
                }
            }
        }
        self.loaded += used as u64;
        Load::Bytes(used)
    }

    /// Cut the file at `at` (dropping a corrupt tail).
    pub fn truncate(&mut self, at: u64) {
        let file_end = self.end - self.wb_len as u64;
        if at <= file_end {
            self.wb_len = 0;
            let _ = sys::ftruncate(self.fd, at);
        } else {
            self.wb_len = (at - file_end) as usize;
        }
        self.end = at;
        self.loaded = self.loaded.min(at);
    }

    /// Acknowledge `n` bytes; return true when the spool is drained.
    ///
    /// A drained spool is emptied but kept open, and stays the target of new
    /// records only while it holds some (bursts come and go many times a
    /// second); the endpoint removes it after a quiet second, or at exit.
    pub fn ack(&mut self, n: usize) -> bool {
        self.acked += n as u64;
        if self.acked >= self.end {
            self.reset();
            return true;
        }
        if self.acked - self.persisted >= PERSIST_EVERY {
            self.persist();
        }
        if self.acked - self.punched >= PUNCH_EVERY {
            sys::punch_hole(self.fd, self.punched, self.acked - self.punched);
            self.punched = self.acked;
        }
        false
    }

    /// Empty the file back to its header, keeping it open.
    fn reset(&mut self) {
        self.wb_len = 0;
        if sys::ftruncate(self.fd, HEADER).is_err() {
            return self.remove();
        }
        self.end = HEADER;
        self.loaded = HEADER;
        self.acked = HEADER;
        self.punched = HEADER;
        self.persisted = 0;
        self.persist();
    }

    /// Write the acknowledged offset into the header.
    pub fn persist(&mut self) {
        if self.open && self.persisted != self.acked {
            let _ = write_at(self.fd, &self.acked.to_le_bytes(), 8);
            self.persisted = self.acked;
        }
    }

    /// Delete the drained file.
    pub fn remove(&mut self) {
        self.wb_len = 0;
        let _ = sys::unlink(&self.path);
        if self.open {
            sys::close(self.fd);
        }
        self.open = false;
        self.end = 0;
        self.loaded = 0;
        self.acked = 0;
    }

    /// Record `loss` in the header (created empty if need be), for the next logger.
    pub fn save_loss(&mut self, loss: &Loss) -> Result<(), Errno> {
        if !self.open {
            if loss.lines == 0 {
                return Ok(());
            }
            self.create(&[])?;
        }
        let mut b = [0u8; 32];
        for (i, v) in [loss.lines, loss.bytes, loss.first_ns, loss.last_ns].iter().enumerate() {
            b[8 * i..8 * i + 8].copy_from_slice(&v.to_le_bytes());
        }
        write_at(self.fd, &b, 16)?;
        self.keep = loss.lines > 0;
        Ok(())
    }

    /// Write what is gathered, persist and close; an empty spool is removed.
    /// On a failed write, return the gathered bytes that are lost.
    pub fn close(&mut self) -> Result<(), (Errno, &[u8])> {
        if self.open && self.end <= self.acked && !self.keep {
            self.remove();
            return Ok(());
        }
        if !self.open {
            return Ok(());
        }
        let r = self.sync();
        self.persist();
        sys::close(self.fd);
        self.open = false;
        match r {
            Ok(()) => Ok(()),
            Err(e) => {
                let n = core::mem::take(&mut self.wb_len);
                Err((e, &self.wb[..n]))
            }
        }
    }
}

fn write_at(fd: Fd, mut b: &[u8], mut off: u64) -> Result<(), Errno> {
    while !b.is_empty() {
        let n = sys::pwrite(fd, b, off)?;
        if n == 0 {
            return Err(sys::EIO);
        }
        b = &b[n..];
        off += n as u64;
    }
    Ok(())
}

/// FNV-1a, 64 bits: names a spool after its endpoint's identity.
pub struct Fnv(pub u64);

impl Fnv {
    pub const NEW: Fnv = Fnv(0xcbf2_9ce4_8422_2325);
}

impl crate::encode::Out for Fnv {
    fn put(&mut self, b: &[u8]) {
        for &c in b {
            self.0 ^= c as u64;
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Write `v` as 16 lowercase hex digits.
pub fn hex16(v: u64) -> [u8; 16] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = HEX[((v >> (60 - 4 * i)) & 15) as usize];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::Out;

    #[test]
    fn fnv_known_value() {
        let mut h = Fnv::NEW;
        h.put(b"a");
        assert_eq!(h.0, 0xaf63dc4c8601ec8c);
        assert_eq!(&hex16(0x0123456789abcdef), b"0123456789abcdef");
    }
}
