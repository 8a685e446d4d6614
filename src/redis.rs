//! One Redis endpoint (sink, shell): out-buffer, connection state machine, spool.
//!
//! Records become RESP commands in a fixed out-buffer. Bytes stay there until
//! Redis replies to their command (`head` = first unacknowledged byte, `sent`
//! = next byte to send, `tail` = end), so a reconnect resends everything not
//! acknowledged: at-least-once. Commands are pipelined: all pending bytes go
//! out in one `send`, replies are counted as they come.
//!
//! When the out-buffer cannot take a command, the command goes to the spool
//! file, and so does every later one until the spool is drained (order is
//! kept). Past the spool bound, records are dropped and counted, and a marker
//! record reports the loss in order once there is room again.
//!
//! The connection is an explicit state machine:
//! `Backoff -> Connecting -> Handshake (AUTH, SELECT) -> Ready -> Backoff ...`.

use crate::clock;
use crate::config::EndpointConf;
use crate::diag::{Level, Msg};
use crate::encode::json::{self, Identity};
use crate::encode::resp::{self, Arg, ArgList, End};
use crate::encode::{Out, SliceOut};
use crate::limits::{CONFIG_MAX, INFLIGHT_GROUPS, OUT_BUF, RECV_BUF};
use crate::record::Record;
use crate::reply::{ErrWord, Reader, Reply};
use crate::resolve::{self, Addr};
use crate::spool::{Load, Loss, Spool};
use crate::sys::{self, Errno, Fd, Path};
use crate::url::{Cmd, Format, Host};

/// Give up a connect attempt after this long.
const CONNECT_TIMEOUT_NS: u64 = 5_000_000_000;
/// A connection with commands outstanding and no reply for this long is dropped.
const REPLY_TIMEOUT_NS: u64 = 20_000_000_000;
/// Reconnect delay: first, and the cap.
const BACKOFF_MIN_MS: u64 = 100;
const BACKOFF_MAX_MS: u64 = 30_000;
/// Remove a drained spool file after it has been empty this long.
const SPOOL_IDLE_NS: u64 = 1_000_000_000;
/// With a spool, stop sending while this many bytes wait for their replies
/// (without one, the out-buffer bounds them). It also bounds what a reconnect sends again.
const INFLIGHT_MAX: u64 = 256 * 1024;
/// Sends per endpoint per loop turn.
const FLUSH_ROUNDS: usize = 8;
/// Load spooled commands once this much of the out-buffer is free (or all that is left fits).
const REFILL_MIN: usize = OUT_BUF / 2;
/// Distinct error-reply kinds reported per endpoint.
const ERR_KINDS: usize = 4;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Conn {
    /// Not configured.
    Unused,
    /// Waiting until `until` (monotonic ns) before the next connect.
    Backoff {
        until: u64,
    },
    Connecting {
        fd: Fd,
        deadline: u64,
    },
    /// AUTH/SELECT sent; `pending` replies to go.
    Handshake {
        fd: Fd,
        pending: u8,
        deadline: u64,
    },
    Ready {
        fd: Fd,
    },
    /// Given up at shutdown; everything left is in the spool.
    Abandoned,
}

/// Counters for the summary line.
#[derive(Clone, Copy, Default)]
pub struct Stats {
    pub queued: u64,
    pub acked: u64,
    pub spooled: u64,
    pub dropped: u64,
    pub reconnects: u64,
    pub errors: u64,
    /// Commands written to the socket in full, resends included.
    pub sent: u64,
}

/// Commands sent and not yet acknowledged, oldest first, in groups of whole
/// commands (one group per `send`; merged when the table is full): `(bytes,
/// commands)`. Without a spool each reply releases its own command (its length
/// is read at the buffer's head). With one, the commands have left the buffer:
/// replies are counted against the oldest group (`front_done`) and its bytes
/// are released when its last reply arrives. NOTE(memory): 64 groups, 1 KiB,
/// instead of one length per command.
struct InFlight {
    /// NOTE(memory): 16 bytes each, counted in `limits::LOAD_BYTES`.
    groups: [(u64, u32); INFLIGHT_GROUPS],
    first: usize,
    len: usize,
    /// Bytes of all groups.
    bytes: u64,
    /// Replies counted against the oldest group, its bytes not yet released.
    front_done: u32,
}

const _: () = assert!(core::mem::size_of::<(u64, u32)>() == 16);

impl InFlight {
    const NONE: InFlight = InFlight {
        groups: [(0, 0); INFLIGHT_GROUPS],
        first: 0,
        len: 0,
        bytes: 0,
        front_done: 0,
    };

    /// Add `count` commands of `bytes` bytes, sent after all the others.
    fn push(&mut self, bytes: u64, count: u32) {
        if self.len == INFLIGHT_GROUPS {
            let last = (self.first + self.len - 1) % INFLIGHT_GROUPS;
            self.groups[last].0 += bytes;
            self.groups[last].1 += count;
        } else {
            self.groups[(self.first + self.len) % INFLIGHT_GROUPS] = (bytes, count);
            self.len += 1;
        }
        self.bytes += bytes;
    }

    /// Count one reply; return the bytes it releases (0 until a group is done).
    fn reply(&mut self) -> u64 {
        if self.len == 0 {
            return 0;
        }
        let g = &mut self.groups[self.first];
        g.1 -= 1;
        if g.1 > 0 {
            self.front_done += 1;
            return 0;
        }
        let b = g.0;
        self.pop();
        b
    }

    /// Release the oldest command alone, of `n` bytes.
    fn release_one(&mut self, n: u64) {
        if self.len == 0 {
            return;
        }
        let g = &mut self.groups[self.first];
        g.0 -= n;
        g.1 -= 1;
        self.bytes -= n;
        if g.1 == 0 {
            self.pop();
        }
    }

    fn pop(&mut self) {
        self.bytes -= self.groups[self.first].0;
        self.first = (self.first + 1) % INFLIGHT_GROUPS;
        self.len -= 1;
        self.front_done = 0;
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn clear(&mut self) {
        self.first = 0;
        self.len = 0;
        self.bytes = 0;
        self.front_done = 0;
    }
}

/// The commands of one endpoint: out-buffer and spool, in order.
///
/// Kept apart from the endpoint's config so that a record's command can be
/// built from borrowed config fields while the queue is changed.
///
/// Without a spool, the out-buffer holds every command not acknowledged
/// (`head..sent` in flight). With one, the spool file holds them all and the
/// out-buffer is a window on it: `buf[head..tail]` is
/// `file[loaded - (tail - head) .. loaded]`, and commands sent in full leave
/// the window at once (they can be read again from the file), so the bytes in
/// flight are bounded by `INFLIGHT_MAX`, not by the buffer.
#[repr(C)]
pub struct Queue {
    /// First byte not acknowledged (with a spool: first byte of the window).
    head: usize,
    /// Next byte to send.
    sent: usize,
    /// End of the queued bytes.
    tail: usize,
    /// End of the last command written in full (`head <= counted <= sent`).
    counted: usize,
    /// Dropped lines not yet reported to the endpoint by a marker.
    lost: Loss,
    /// A failed spool creation was reported; quiet until one succeeds again.
    spool_refused: bool,
    inflight: InFlight,
    /// Commands at the spool's acknowledged offset whose replies came before
    /// the connection went: dropped as they are loaded again (see `rewind`).
    skip: u32,
    pub stats: Stats,
    /// NOTE(memory): the spool (its write-behind buffer last in it) and the
    /// out-buffer come last, so the fields above share a page with the
    /// endpoint's config, and the buffers are touched only when used.
    pub spool: Spool,
    buf: [u8; OUT_BUF],
}

#[repr(C)]
pub struct Endpoint {
    used: bool,
    /// The last failure was reported; report recovery.
    down_reported: bool,
    /// Shutdown has begun (1), and a connection failed since (2): give up.
    shutdown_tries: u8,
    failures: u32,
    /// Bumped by every `fail`, so reply handling notices a dropped connection.
    generation: u32,
    conn: Conn,
    /// Since when the spool file has been open and empty (0: it is not).
    spool_idle_since: u64,
    /// When the oldest outstanding command started waiting for its reply.
    waiting_since: u64,
    rng: u64,
    err_kinds: [ErrWord; ERR_KINDS],
    pub conf: EndpointConf,
    reader: Reader,
    /// NOTE(memory): last (with its buffers last in it), so that an endpoint's
    /// small state is on one page, and its buffers are touched only when used.
    q: Queue,
}

impl Queue {
    pub fn lose(&mut self, conf: &EndpointConf, bytes: usize, t: u64) {
        if self.lost.lines == 0 {
            self.lost.first_ns = t;
            msg(conf, Level::Warn)
                .s(b": backlog full or unavailable, dropping lines (counted)")
                .emit();
        }
        self.lost.lines += 1;
        self.lost.bytes += bytes as u64;
        self.lost.last_ns = t;
        self.stats.dropped += 1;
    }

    /// Queue the loss marker; return false if there is no room yet.
    pub fn queue_marker(&mut self, conf: &EndpointConf, ident: &Identity, scratch: &mut [u8]) -> bool {
        let (mut a, mut b) = ([0u8; clock::NANOS_LEN], [0u8; clock::NANOS_LEN]);
        clock::rfc3339_nanos(self.lost.first_ns, &mut a);
        clock::rfc3339_nanos(self.lost.last_ns, &mut b);
        let (lines, bytes) = (itoa::Buffer::new(), itoa::Buffer::new());
        let (mut lines, mut bytes) = (lines, bytes);
        let (lines, bytes) = (
            lines.format(self.lost.lines).as_bytes(),
            bytes.format(self.lost.bytes).as_bytes(),
        );
        let mut text = [0u8; 512];
        let mut out = SliceOut { buf: &mut text, pos: 0 };
        let json = conf.url.format == Format::Json && conf.url.cmd != Cmd::Xadd;
        if json {
            let mut now = [0u8; clock::NANOS_LEN];
            clock::rfc3339_nanos(self.lost.last_ns, &mut now);
            out.put(b"{\"log\":\"");
        }
        for p in [
            &b"shim-logs: lost "[..],
            lines,
            b" lines (",
            bytes,
            b" bytes) between ",
            &a,
            b" and ",
            &b,
        ] {
            out.put(p);
        }
        if json {
            for p in [
                &br#"\n","stream":"shim-logs","time":""#[..],
                &b,
                br#"","lost_lines":"#,
                lines,
            ] {
                out.put(p);
            }
            for p in [
                &br#","lost_bytes":"#[..],
                bytes,
                br#","lost_from":""#,
                &a,
                br#"","lost_until":""#,
                &b,
            ] {
                out.put(p);
            }
            for p in [
                &br#"","id":""#[..],
                ident.id,
                br#"","namespace":""#,
                ident.namespace,
                b"\"}",
            ] {
                out.put(p);
            }
        } else {
            out.put(b"\n");
        }
        let n = out.pos;
        let line = &text[..n];
        let target = conf.url.target.as_bytes();
        let ok = match conf.url.cmd {
            Cmd::Publish => self.enqueue(conf, &[Arg::B(b"PUBLISH"), Arg::B(target), Arg::B(line)], None, scratch),
            Cmd::Rpush => self.enqueue(conf, &[Arg::B(b"RPUSH"), Arg::B(target), Arg::B(line)], None, scratch),
            Cmd::Xadd => {
                let args = [
                    Arg::B(b"XADD"),
                    Arg::B(target),
                    Arg::B(b"*"),
                    Arg::B(b"log"),
                    Arg::B(line),
                ];
                let json_fields = [Arg::B(b"stream"), Arg::B(b"shim-logs")];
                let mut all = [Arg::B(b""); 7];
                all[..5].copy_from_slice(&args);
                let k = if conf.url.format == Format::Json {
                    all[5..7].copy_from_slice(&json_fields);
                    7
                } else {
                    5
                };
                self.enqueue(conf, &all[..k], None, scratch)
            }
        };
        if ok {
            msg(conf, Level::Warn)
                .s(b": lost ")
                .n(self.lost.lines)
                .s(b" lines (")
                .n(self.lost.bytes)
                .s(b" bytes) between ")
                .s(&a)
                .s(b" and ")
                .s(&b)
                .emit();
            self.lost.lines = 0;
            self.lost.bytes = 0;
        }
        ok
    }

    /// Queue one command (and an optional second, as a unit): buffer, spool, or refuse.
    ///
    /// Without a spool, a command that fits goes into the out-buffer; one that
    /// does not starts the spool, with everything not acknowledged before it.
    /// While the spool holds anything, every command is appended to it (order kept).
    pub fn enqueue(&mut self, conf: &EndpointConf, a: &[Arg], b: Option<&[Arg]>, scratch: &mut [u8]) -> bool {
        let la = resp::args_len(a);
        let total = la + b.map_or(0, resp::args_len);
        if total > OUT_BUF || total > scratch.len() {
            return false;
        }
        if !self.spool.active() {
            if OUT_BUF - (self.tail - self.head) >= total {
                self.compact(total);
                let t = self.tail;
                let _ = resp::write_args(a, &mut self.buf[t..]);
                if let Some(b) = b {
                    let _ = resp::write_args(b, &mut self.buf[t + la..]);
                }
                self.tail += total;
                return true;
            }
            if self.spool.max == 0 || self.spool.max < (self.tail - self.head + total) as u64 {
                return false;
            }
            if let Err(e) = self.start_spool() {
                if !self.spool_refused {
                    self.spool_refused = true;
                    msg(conf, Level::Error)
                        .s(b": cannot create spool ")
                        .q(self.spool.path.as_bytes())
                        .s(b": ")
                        .errno(e)
                        .s(b" (reported once)")
                        .emit();
                }
                return false;
            }
            self.spool_refused = false;
        }
        if self.spool.backlog() + total as u64 > self.spool.max {
            return false;
        }
        let r = match self.spool.reserve(total) {
            Ok(Some(room)) => {
                let _ = resp::write_args(a, room);
                if let Some(b) = b {
                    let _ = resp::write_args(b, &mut room[la..]);
                }
                self.spool.commit(total);
                Ok(())
            }
            Ok(None) => {
                let _ = resp::write_args(a, scratch);
                if let Some(b) = b {
                    let _ = resp::write_args(b, &mut scratch[la..]);
                }
                self.spool.append(&scratch[..total])
            }
            Err(e) => Err(e),
        };
        match r {
            Ok(()) => {
                self.stats.spooled += 1;
                self.refill(conf);
                true
            }
            Err(e) => {
                msg(conf, Level::Error).s(b": spool write failed: ").errno(e).emit();
                false
            }
        }
    }

    /// Put everything not acknowledged into a new spool file; the commands
    /// already sent in full then leave the out-buffer (the file has them).
    fn start_spool(&mut self) -> Result<(), Errno> {
        self.spool.create(&self.buf[self.head..self.tail])?;
        self.head = self.counted;
        self.reset_if_drained();
        Ok(())
    }

    /// Start the buffer over at its front once it holds nothing.
    #[inline(never)]
    fn reset_if_drained(&mut self) {
        if self.head == self.tail {
            self.head = 0;
            self.sent = 0;
            self.counted = 0;
            self.tail = 0;
        }
    }

    /// Count the reply to the oldest command in flight (there is one).
    fn ack(&mut self) {
        if self.spool.active() {
            let n = self.inflight.reply();
            if n > 0 {
                self.spool.ack(n as usize);
            }
            return;
        }
        // The command is at the head of the buffer.
        let n = match resp::command_end(&self.buf[self.head..self.counted]) {
            End::Complete(n) => n,
            _ => return,
        };
        self.inflight.release_one(n as u64);
        self.head += n;
        self.reset_if_drained();
    }

    /// Record `n` bytes just handed to the socket: count the commands now sent
    /// in full, and with a spool let them leave the out-buffer.
    fn sent_bytes(&mut self, n: usize) {
        self.sent += n;
        let (mut bytes, mut count) = (0u64, 0u32);
        while let End::Complete(l) = resp::command_end(&self.buf[self.counted..self.sent]) {
            self.counted += l;
            bytes += l as u64;
            count += 1;
            self.stats.sent += 1;
        }
        if count > 0 {
            self.inflight.push(bytes, count);
        }
        if self.spool.active() {
            self.head = self.counted;
        }
    }

    /// Forget what was sent (the connection is gone): send it all again.
    fn rewind(&mut self) {
        // Added: a skip not yet applied (nothing loaded since) still holds.
        self.skip += self.inflight.front_done;
        self.inflight.clear();
        if self.spool.active() {
            // The file has every command not acknowledged: reload from there.
            self.head = self.tail;
            self.reset_if_drained();
            self.spool.loaded = self.spool.acked;
        } else {
            self.sent = self.head;
            self.counted = self.head;
        }
    }

    /// Return how many bytes of the out-buffer are not in the spool file.
    fn unspooled(&self) -> usize {
        if self.spool.active() {
            0
        } else {
            self.tail - self.head
        }
    }

    /// Make room for `need` bytes at the tail by moving the live bytes to the front.
    pub fn compact(&mut self, need: usize) {
        if self.head > 0 && (self.tail + need > OUT_BUF || self.head == self.tail) {
            self.buf.copy_within(self.head..self.tail, 0);
            self.tail -= self.head;
            self.sent -= self.head;
            self.counted -= self.head;
            self.head = 0;
        }
    }

    /// Load spooled commands into the out-buffer's free space.
    pub fn refill(&mut self, conf: &EndpointConf) {
        // More than one load only while acknowledged commands are skipped: at
        // most `INFLIGHT_MAX` plus one send of them, in loads of half a buffer or more.
        for _ in 0..(2 * INFLIGHT_MAX as usize / OUT_BUF + 4) {
            if !self.spool.active() || self.spool.loaded >= self.spool.end {
                return;
            }
            // NOTE(speed): load in large reads, not one command per acknowledgement.
            let free = OUT_BUF - (self.tail - self.head);
            if (free as u64) < (self.spool.end - self.spool.loaded).min(REFILL_MIN as u64) {
                return;
            }
            self.compact(crate::limits::CMD_MAX);
            let t = self.tail;
            match self.spool.load(&mut self.buf[t..]) {
                Load::Bytes(n) => self.tail += n,
                Load::Corrupt(at) => {
                    let lost = self.spool.end - at;
                    msg(conf, Level::Error)
                        .s(b": spool is damaged at offset ")
                        .n(at)
                        .s(b"; ")
                        .n(lost)
                        .s(b" bytes after it are lost")
                        .emit();
                    self.spool.truncate(at);
                    // Kept while commands before the damage wait for replies: a
                    // reconnect must be able to read them again.
                    if self.head == self.tail && self.inflight.is_empty() && self.spool.acked >= self.spool.end {
                        self.spool.remove();
                    }
                    return;
                }
            }
            if self.skip == 0 {
                return;
            }
            // Nothing was sent since the rewind, so the skipped commands are at the head.
            while self.skip > 0 && self.sent == self.head {
                let n = match resp::command_end(&self.buf[self.head..self.tail]) {
                    End::Complete(n) => n,
                    _ => break,
                };
                self.head += n;
                self.sent = self.head;
                self.counted = self.head;
                self.skip -= 1;
                self.spool.ack(n);
            }
            self.reset_if_drained();
        }
    }
}

/// Start a diagnostics line naming endpoint `conf` (password masked).
fn msg(conf: &EndpointConf, level: Level) -> Msg {
    let mut m = Msg::new(level);
    m.s(b"redis ");
    conf.url.write_masked(&mut m);
    m
}

/// Error words that say "not now" rather than "never": the command is kept and retried.
fn transient(w: &[u8]) -> bool {
    matches!(
        w,
        b"NOAUTH"
            | b"WRONGPASS"
            | b"NOPERM"
            | b"LOADING"
            | b"BUSY"
            | b"MASTERDOWN"
            | b"READONLY"
            | b"TRYAGAIN"
            | b"CLUSTERDOWN"
            | b"OOM"
            | b"MISCONF"
    )
}

impl Endpoint {
    pub const UNUSED: Endpoint = Endpoint {
        used: false,
        conf: EndpointConf::EMPTY,
        conn: Conn::Unused,
        q: Queue {
            buf: [0; OUT_BUF],
            head: 0,
            sent: 0,
            tail: 0,
            counted: 0,
            spool_refused: false,
            inflight: InFlight::NONE,
            skip: 0,
            spool: Spool::NONE,
            lost: Loss::NONE,
            stats: Stats {
                queued: 0,
                acked: 0,
                spooled: 0,
                dropped: 0,
                reconnects: 0,
                errors: 0,
                sent: 0,
            },
        },
        reader: Reader::NEW,
        failures: 0,
        spool_idle_since: 0,
        generation: 0,
        shutdown_tries: 0,
        waiting_since: 0,
        down_reported: false,
        err_kinds: [ErrWord::NONE; ERR_KINDS],
        rng: 0,
    };

    /// Start using this slot for `conf`; `spool_path` names its spool file.
    pub fn init(&mut self, conf: EndpointConf, spool_path: &Path, seed: u64) {
        self.conf = conf;
        self.used = true;
        self.conn = Conn::Backoff { until: 0 };
        self.rng = seed | 1;
        self.q.spool.path.clear();
        self.q.spool.path.push(spool_path.as_bytes());
        self.q.spool.max = conf.url.spool;
        let resumed = self.q.spool.resume();
        if self.q.spool.loss.lines > 0 {
            self.q.lost = self.q.spool.loss;
            self.msg(Level::Warn)
                .s(b": an earlier logger dropped ")
                .n(self.q.lost.lines)
                .s(b" lines; a marker will say so")
                .emit();
        }
        match resumed {
            Ok(true) => {
                self.msg(Level::Info)
                    .s(b": resuming spool ")
                    .q(self.q.spool.path.as_bytes())
                    .s(b" with ")
                    .n(self.q.spool.backlog())
                    .s(b" bytes")
                    .emit();
                self.q.refill(&self.conf);
            }
            Ok(false) => {}
            Err(e) => {
                self.msg(Level::Warn)
                    .s(b": cannot resume spool ")
                    .q(self.q.spool.path.as_bytes())
                    .s(b": ")
                    .errno(e)
                    .emit();
            }
        }
    }

    pub fn in_use(&self) -> bool {
        self.used
    }

    /// Start a diagnostics line naming this endpoint (password masked).
    fn msg(&self, level: Level) -> Msg {
        msg(&self.conf, level)
    }

    fn fd(&self) -> Option<Fd> {
        match self.conn {
            Conn::Connecting { fd, .. } | Conn::Handshake { fd, .. } | Conn::Ready { fd } => Some(fd),
            _ => None,
        }
    }

    // ---- queueing ----

    /// Offer one record; it is queued, spooled, or dropped and counted.
    pub fn offer(&mut self, rec: &Record, ident: &Identity, scratch: &mut [u8]) {
        if !self.used || self.conf.streams & rec.stream.bit() == 0 {
            return;
        }
        let url = &self.conf.url;
        if url.format != Format::Json || url.cmd == Cmd::Xadd {
            return self.offer_one(rec, ident, scratch);
        }
        // Escaping can make a chunk several times larger: a record whose JSON
        // would not fit one command goes as several, all with the record's
        // `seq`, every one but the last flagged partial.
        let empty = Record {
            line: b"",
            partial: true,
            ..*rec
        };
        let fixed = json::record_len(&empty, Some(ident)) + 2 * url.target.as_bytes().len() + 160;
        let budget = OUT_BUF.saturating_sub(fixed).max(6);
        let mut rest = rec.line;
        loop {
            let take = json::prefix_within(rest, budget).max(rest.len().min(1));
            let last = take == rest.len();
            let piece = Record {
                line: &rest[..take],
                partial: rec.partial || !last,
                ..*rec
            };
            self.offer_one(&piece, ident, scratch);
            rest = &rest[take..];
            if last {
                return;
            }
        }
    }

    fn offer_one(&mut self, rec: &Record, ident: &Identity, scratch: &mut [u8]) {
        if self.q.lost.lines > 0 && !self.q.queue_marker(&self.conf, ident, scratch) {
            self.q.lose(&self.conf, rec.line.len(), rec.time_ns);
            return;
        }
        let url = &self.conf.url;
        let target = Arg::B(url.target.as_bytes());
        let payload = match url.format {
            Format::Raw => Arg::B(rec.line),
            Format::Json => Arg::Json(rec, Some(ident)),
        };
        let ok = match url.cmd {
            Cmd::Publish => self
                .q
                .enqueue(&self.conf, &[Arg::B(b"PUBLISH"), target, payload], None, scratch),
            Cmd::Rpush => {
                let mut n = itoa::Buffer::new();
                let trim = [
                    Arg::B(b"LTRIM"),
                    target,
                    Arg::B(neg_len(&mut n, url.maxlen)),
                    Arg::B(b"-1"),
                ];
                let second = if url.maxlen > 0 { Some(&trim[..]) } else { None };
                self.q
                    .enqueue(&self.conf, &[Arg::B(b"RPUSH"), target, payload], second, scratch)
            }
            Cmd::Xadd => {
                let (mut max, mut seq) = (itoa::Buffer::new(), itoa::Buffer::new());
                let mut time = [0u8; clock::NANOS_LEN];
                clock::rfc3339_nanos(rec.time_ns, &mut time);
                let mut args = ArgList::new();
                let mut push = |a| args.push(a);
                push(Arg::B(b"XADD"));
                push(target);
                if url.maxlen > 0 {
                    push(Arg::B(b"MAXLEN"));
                    push(Arg::B(b"~"));
                    push(Arg::B(max.format(url.maxlen).as_bytes()));
                }
                push(Arg::B(b"*"));
                push(Arg::B(b"log"));
                push(Arg::B(rec.line));
                if url.format == Format::Json {
                    push(Arg::B(b"stream"));
                    push(Arg::B(rec.stream.name()));
                    push(Arg::B(b"time"));
                    push(Arg::B(&time));
                    push(Arg::B(b"seq"));
                    push(Arg::B(seq.format(rec.seq).as_bytes()));
                    if rec.partial {
                        push(Arg::B(b"partial"));
                        push(Arg::B(b"true"));
                    }
                }
                self.q.enqueue(&self.conf, args.as_slice(), None, scratch)
            }
        };
        if ok {
            self.q.stats.queued += 1;
        } else {
            self.q.lose(&self.conf, rec.line.len(), rec.time_ns);
        }
    }

    // ---- connection ----

    /// Return the fd and events to poll for, if any.
    pub fn poll_events(&self) -> Option<(Fd, i16)> {
        match self.conn {
            Conn::Connecting { fd, .. } => Some((fd, sys::POLLOUT)),
            Conn::Handshake { fd, .. } => Some((fd, sys::POLLIN)),
            Conn::Ready { fd } => {
                let more = self.q.sent < self.q.tail && self.q.inflight.bytes < INFLIGHT_MAX && self.q.skip == 0;
                let out = if more { sys::POLLOUT } else { 0 };
                Some((fd, sys::POLLIN | out))
            }
            _ => None,
        }
    }

    /// Return the next time (monotonic ns) this endpoint needs a turn, if any.
    pub fn deadline(&self) -> Option<u64> {
        let conn = match self.conn {
            Conn::Backoff { until } => Some(until),
            Conn::Connecting { deadline, .. } | Conn::Handshake { deadline, .. } => Some(deadline),
            Conn::Ready { .. } if !self.q.inflight.is_empty() => Some(self.waiting_since + REPLY_TIMEOUT_NS),
            _ => None,
        };
        let idle = (self.spool_idle_since != 0).then(|| self.spool_idle_since + SPOOL_IDLE_NS);
        match (conn, idle) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Drop the connection and schedule a retry with exponential backoff and jitter.
    fn fail(&mut self, now: u64, what: &[u8], e: Option<Errno>, word: Option<&[u8]>) {
        if let Some(fd) = self.fd() {
            sys::close(fd);
        }
        if matches!(self.conn, Conn::Ready { .. }) {
            self.q.stats.reconnects += 1;
        }
        self.reader.reset();
        self.generation = self.generation.wrapping_add(1);
        self.q.rewind();
        let exp = self.failures.min(10);
        let max = (BACKOFF_MIN_MS << exp).min(BACKOFF_MAX_MS);
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let delay_ms = max / 2 + self.rng % (max / 2 + 1);
        self.failures += 1;
        self.conn = Conn::Backoff {
            until: now + delay_ms * 1_000_000,
        };
        if self.shutdown_tries > 0 {
            self.shutdown_tries = 2;
            self.conn = Conn::Abandoned;
        }
        let seen = word.is_some_and(|w| self.seen_error(w));
        if !self.down_reported && !seen {
            let mut m = self.msg(Level::Warn);
            m.s(b": ").s(what);
            if let Some(e) = e {
                m.s(b": ").errno(e);
            }
            if let Some(w) = word {
                m.s(b": ").q(w);
            }
            m.s(b"; retrying with backoff, lines are kept").emit();
        }
        self.down_reported = true;
    }

    /// Remember error word `w`; return whether it had been seen (and reported) before.
    fn seen_error(&mut self, w: &[u8]) -> bool {
        for k in self.err_kinds.iter_mut() {
            if k.as_bytes() == w {
                return true;
            }
            if k.as_bytes().is_empty() {
                *k = ErrWord::from(w);
                return false;
            }
        }
        true // the table is full: stay quiet
    }

    fn start_connect(&mut self, now: u64, scratch: &mut [u8]) {
        let url = self.conf.url;
        let addr = match url.host {
            Host::V4(ip) => sys::SockAddr::V4(ip, url.port),
            Host::V6(ip) => sys::SockAddr::V6(ip, url.port),
            Host::Name => match hosts_file(url.host_text.as_bytes(), scratch) {
                Some(Addr::V4(ip)) => sys::SockAddr::V4(ip, url.port),
                Some(Addr::V6(ip)) => sys::SockAddr::V6(ip, url.port),
                None => return self.fail(now, b"cannot resolve host (only /etc/hosts is read)", None, None),
            },
        };
        match sys::tcp_connect(&addr) {
            Ok((fd, true)) => self.connected(fd, now),
            Ok((fd, false)) => {
                self.conn = Conn::Connecting {
                    fd,
                    deadline: now + CONNECT_TIMEOUT_NS,
                }
            }
            Err(e) => self.fail(now, b"connect failed", Some(e), None),
        }
    }

    /// The TCP connection is up: authenticate and select, or go straight to Ready.
    fn connected(&mut self, fd: Fd, now: u64) {
        let url = self.conf.url;
        let mut hs = [0u8; 512];
        let mut n = 0;
        let mut pending = 0u8;
        if url.has_pass {
            let r = if url.user.is_empty() {
                resp::write(&[b"AUTH", url.pass.as_bytes()], &mut hs)
            } else {
                resp::write(&[b"AUTH", url.user.as_bytes(), url.pass.as_bytes()], &mut hs)
            };
            n += r.unwrap_or(0);
            pending += 1;
        }
        if let Some(db) = url.db {
            let mut d = itoa::Buffer::new();
            n += resp::write(&[b"SELECT", d.format(db).as_bytes()], &mut hs[n..]).unwrap_or(0);
            pending += 1;
        }
        if pending == 0 {
            return self.ready(fd);
        }
        self.conn = Conn::Handshake {
            fd,
            pending,
            deadline: now + CONNECT_TIMEOUT_NS,
        };
        match sys::send(fd, &hs[..n]) {
            Ok(w) if w == n => {}
            Ok(_) => self.fail(now, b"handshake did not fit the socket buffer", None, None),
            Err(e) => self.fail(now, b"send failed", Some(e), None),
        }
        hs.fill(0);
    }

    fn ready(&mut self, fd: Fd) {
        self.conn = Conn::Ready { fd };
        self.q.rewind();
        self.q.refill(&self.conf);
        if self.q.head == self.q.tail && !self.q.spool.active() {
            self.recovered();
        }
    }

    /// Report recovery once the endpoint takes lines again (or has none to take).
    fn recovered(&mut self) {
        if self.down_reported {
            self.down_reported = false;
            self.failures = 0;
            self.msg(Level::Info).s(b": connected, delivering").emit();
        }
    }

    /// Handle poll results for this endpoint's socket.
    pub fn handle(&mut self, revents: i16, now: u64, recv: &mut [u8; RECV_BUF]) {
        if revents == 0 {
            return;
        }
        match self.conn {
            Conn::Connecting { fd, .. } => match sys::socket_error(fd) {
                Ok(()) => self.connected(fd, now),
                Err(e) => self.fail(now, b"connect failed", Some(e), None),
            },
            Conn::Handshake { fd, .. } | Conn::Ready { fd } => {
                if revents & sys::POLLIN != 0 || revents & (sys::POLLERR | sys::POLLHUP) != 0 {
                    self.receive(fd, now, recv);
                }
                if revents & sys::POLLNVAL != 0 {
                    self.fail(now, b"socket invalid", None, None);
                }
            }
            _ => {}
        }
    }

    fn receive(&mut self, fd: Fd, now: u64, recv: &mut [u8; RECV_BUF]) {
        for _ in 0..64 {
            match sys::read(fd, recv) {
                Ok(sys::Read::Data(n)) => {
                    if let Err(why) = self.replies(&recv[..n], now) {
                        return self.fail(now, why, None, None);
                    }
                    if self.fd() != Some(fd) {
                        return; // the connection was dropped while handling replies
                    }
                }
                Ok(sys::Read::WouldBlock) => return,
                Ok(sys::Read::Eof) => return self.fail(now, b"connection closed by peer", None, None),
                Err(e) => return self.fail(now, b"receive failed", Some(e), None),
            }
        }
    }

    /// Match replies to the oldest commands.
    fn replies(&mut self, data: &[u8], now: u64) -> Result<(), &'static [u8]> {
        let mut reader = core::mem::replace(&mut self.reader, Reader::NEW);
        let mut fault: Option<&'static [u8]> = None;
        let generation = self.generation;
        let r = reader.feed(data, &mut |reply| {
            if fault.is_none() && self.generation == generation {
                fault = self.on_reply(reply, now).err();
            }
        });
        if self.generation != generation {
            return Ok(()); // dropped mid-batch: the rest of the bytes are stale
        }
        self.reader = reader;
        if let Err(e) = r {
            return Err(e.text());
        }
        match fault {
            Some(f) => Err(f),
            None => Ok(()),
        }
    }

    fn on_reply(&mut self, reply: Reply, now: u64) -> Result<(), &'static [u8]> {
        if let Reply::Err(_) = reply {
            self.q.stats.errors += 1; // every error reply, reported once per kind
        }
        if let Conn::Handshake { fd, pending, deadline } = self.conn {
            if let Reply::Err(w) = reply {
                self.fail(now, b"authentication or SELECT refused", None, Some(w.as_bytes()));
                return Ok(());
            }
            if pending > 1 {
                self.conn = Conn::Handshake {
                    fd,
                    pending: pending - 1,
                    deadline,
                };
            } else {
                self.ready(fd);
            }
            return Ok(());
        }
        if !matches!(self.conn, Conn::Ready { .. }) {
            return Ok(()); // replies after a failure in the same batch
        }
        if self.q.inflight.is_empty() {
            return Err(b"reply without a command");
        }
        if let Reply::Err(w) = reply {
            if transient(w.as_bytes()) {
                // Not acknowledged: sent again after the reconnect, with every command after it.
                self.fail(now, b"command refused for now", None, Some(w.as_bytes()));
                return Ok(());
            }
            self.note_error(w);
        }
        self.q.ack();
        self.q.stats.acked += 1;
        self.recovered();
        self.waiting_since = now;
        Ok(())
    }

    /// Report an error-reply kind the first time it is seen.
    fn note_error(&mut self, w: ErrWord) {
        if !self.seen_error(w.as_bytes()) {
            self.msg(Level::Warn)
                .s(b": Redis answered ")
                .q(w.as_bytes())
                .s(b"; the line is not stored there (reported once per kind)")
                .emit();
        }
    }

    /// Run timers: retries, connect and reply timeouts, spool refill, pending marker.
    pub fn tick(&mut self, now: u64, ident: &Identity, scratch: &mut [u8]) {
        match self.conn {
            Conn::Backoff { until } if now >= until => self.start_connect(now, scratch),
            Conn::Connecting { deadline, .. } if now >= deadline => self.fail(now, b"connect timed out", None, None),
            Conn::Handshake { deadline, .. } if now >= deadline => {
                self.fail(now, b"no answer to AUTH/SELECT", None, None)
            }
            Conn::Ready { .. } if !self.q.inflight.is_empty() && now >= self.waiting_since + REPLY_TIMEOUT_NS => {
                self.fail(now, b"no reply for 20 s", None, None)
            }
            _ => {}
        }
        self.q.refill(&self.conf);
        if self.q.lost.lines > 0 {
            self.q.queue_marker(&self.conf, ident, scratch);
        }
        // A drained spool stays open for the next burst, and goes after a quiet second.
        if self.q.spool.is_open() && !self.q.spool.active() {
            if self.spool_idle_since == 0 {
                self.spool_idle_since = now;
            } else if now >= self.spool_idle_since + SPOOL_IDLE_NS {
                let _ = self.q.spool.close(); // drained: nothing gathered
                self.spool_idle_since = 0;
            }
        } else {
            self.spool_idle_since = 0;
        }
    }

    /// Write the spool's gathered commands, and send whatever is pending, if connected.
    pub fn flush(&mut self, now: u64) {
        if self.q.spool.is_open() {
            // A failure keeps them gathered; appends report it, exit counts it.
            let _ = self.q.spool.sync();
        }
        let fd = match self.conn {
            Conn::Ready { fd } => fd,
            _ => return,
        };
        // With a spool, what is sent leaves the buffer and more is loaded, a
        // few rounds per turn, up to the in-flight bound.
        for _ in 0..FLUSH_ROUNDS {
            if self.q.sent >= self.q.tail || self.q.inflight.bytes >= INFLIGHT_MAX || self.q.skip > 0 {
                return;
            }
            match sys::send(fd, &self.q.buf[self.q.sent..self.q.tail]) {
                Ok(n) => {
                    if self.q.inflight.is_empty() && self.q.counted == self.q.sent {
                        self.waiting_since = now;
                    }
                    self.q.sent_bytes(n);
                    self.q.refill(&self.conf);
                }
                Err(sys::EAGAIN) => return,
                Err(e) => return self.fail(now, b"send failed", Some(e), None),
            }
        }
    }

    /// Is everything acknowledged (or is the endpoint given up)?
    pub fn settled(&self) -> bool {
        match self.conn {
            Conn::Unused | Conn::Abandoned => true,
            _ => self.q.head == self.q.tail && !self.q.spool.active() && self.q.lost.lines == 0,
        }
    }

    /// Shutting down: retry soon, whatever the backoff had reached.
    ///
    /// A down endpoint gets one immediate attempt; if that fails too it is
    /// given up at once (its lines are safe in the spool), rather than holding
    /// containerd's delete or restart for the whole deadline.
    pub fn hurry(&mut self, now: u64) {
        // NOTE(memory): an unused slot is not written, so its pages stay untouched.
        if self.used && self.shutdown_tries == 0 {
            self.shutdown_tries = 1;
            if let Conn::Backoff { .. } = self.conn {
                self.conn = Conn::Backoff { until: now };
            }
        }
    }

    /// At exit: keep what is not acknowledged in the spool, close, and summarise.
    pub fn finish(&mut self) {
        if !self.in_use() {
            return;
        }
        if let Some(fd) = self.fd() {
            sys::close(fd);
        }
        self.conn = Conn::Abandoned;
        let mut left = 0u64;
        let pending = self.q.unspooled();
        if pending > 0 {
            let rest = &self.q.buf[self.q.tail - pending..self.q.tail];
            if self.q.spool.max > 0 {
                let n = count_commands(rest);
                if let Err(e) = self.q.start_spool() {
                    self.msg(Level::Error)
                        .s(b": cannot write the spool at exit: ")
                        .errno(e)
                        .emit();
                    left = n;
                }
            } else {
                left = count_commands(rest);
            }
        }
        if self.q.spool.is_open() || self.q.lost.lines > 0 {
            if let Err(e) = self.q.spool.save_loss(&self.q.lost) {
                self.msg(Level::Error)
                    .s(b": cannot record the loss in the spool: ")
                    .errno(e)
                    .emit();
            }
        }
        let backlog = if self.q.spool.active() {
            self.q.spool.backlog()
        } else {
            0
        };
        if let Err((e, rest)) = self.q.spool.close() {
            let n = count_commands(rest);
            left += n;
            self.msg(Level::Error)
                .s(b": cannot write the spool at exit: ")
                .errno(e)
                .s(b"; ")
                .n(n)
                .s(b" lines lost")
                .emit();
        }
        let s = self.q.stats;
        let mut m = self.msg(Level::Info);
        m.s(b": records ")
            .n(s.queued)
            .s(b" sent ")
            .n(s.sent)
            .s(b" acked ")
            .n(s.acked)
            .s(b" spooled ")
            .n(s.spooled)
            .s(b" dropped ")
            .n(s.dropped + left)
            .s(b" errors ")
            .n(s.errors)
            .s(b" reconnects ")
            .n(s.reconnects)
            .s(b" backlog ")
            .n(backlog)
            .s(b" bytes");
        if self.q.lost.lines > 0 {
            m.s(b"; ")
                .n(self.q.lost.lines)
                .s(b" dropped lines not yet reported to Redis (kept in the spool header for the next logger)");
        }
        m.emit();
    }
}

/// Render `-n` for LTRIM.
fn neg_len(buf: &mut itoa::Buffer, n: u64) -> &[u8] {
    buf.format(-(n.min(i64::MAX as u64) as i64)).as_bytes()
}

fn count_commands(mut s: &[u8]) -> u64 {
    let mut n = 0;
    while let End::Complete(l) = resp::command_end(s) {
        s = &s[l..];
        n += 1;
    }
    n
}

/// Look `name` up in /etc/hosts, reading its first `CONFIG_MAX` bytes into `scratch`.
pub fn hosts_file(name: &[u8], scratch: &mut [u8]) -> Option<Addr> {
    let n = scratch.len().min(CONFIG_MAX);
    let scratch = &mut scratch[..n];
    let mut p = Path::new();
    p.push(b"/etc/hosts");
    let fd = sys::open(&p, sys::O_RDONLY | sys::O_NONBLOCK, 0).ok()?;
    let mut n = 0;
    while n < scratch.len() {
        match sys::read(fd, &mut scratch[n..]) {
            Ok(sys::Read::Data(k)) => n += k,
            _ => break,
        }
    }
    sys::close(fd);
    resolve::hosts_lookup(&scratch[..n], name)
}
