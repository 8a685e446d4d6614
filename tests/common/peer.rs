//! A scripted Redis peer for what a real `redis-server` cannot be made to do: answer
//! garbage, announce a 512 MiB reply and stream it, accept and never read, close after
//! every command. It listens on 127.0.0.1:0; each connection gets a thread; every loop
//! checks a stop flag and uses short socket timeouts, and `Drop` stops and joins all.
//! The behaviour can be switched while the logger runs (e.g. garbage, then a good
//! server), so a test can end with everything delivered instead of waiting for the
//! logger's shutdown deadline.

use super::*;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8};

/// How the peer treats a connection (read when it accepts, and before each reply).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// A well-behaved server: `+OK` to AUTH/SELECT, `:1` to anything else.
    Good = 0,
    /// An HTTP error page instead of RESP.
    Garbage = 1,
    /// `$536870912\r\n` then 512 MiB of bytes (and the CRLF) as the first reply of a
    /// connection; `:1` to the commands after it.
    HugeBulk = 2,
    /// Accept and never read or write; the connection is closed when the mode changes.
    Silent = 3,
    /// Reply to one command, then close.
    CloseAfterReply = 4,
    /// Read one command, then close without a reply.
    CloseWithoutReply = 5,
    /// Reply to `BURST` commands, then close.
    CloseAfterBurst = 6,
}

/// Replies per connection in `Mode::CloseAfterBurst`.
pub const BURST: usize = 50;

impl Mode {
    fn from(v: u8) -> Mode {
        match v {
            1 => Mode::Garbage,
            2 => Mode::HugeBulk,
            3 => Mode::Silent,
            4 => Mode::CloseAfterReply,
            5 => Mode::CloseWithoutReply,
            6 => Mode::CloseAfterBurst,
            _ => Mode::Good,
        }
    }
}

/// Size of the announced bulk reply.
pub const HUGE: u64 = 512 << 20;

#[derive(Default)]
struct Shared {
    /// Commands answered with a success reply, in order, per connection order.
    acked: Mutex<Vec<Args>>,
    /// Connections accepted, with the time of each.
    accepted: Mutex<Vec<Instant>>,
    /// Bytes of the huge reply written so far.
    streamed: AtomicU64,
    /// Commands received in any mode.
    received: AtomicU64,
    stop: AtomicBool,
    mode: AtomicU8,
}

pub struct Peer {
    port: u16,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Peer {
    pub fn start(mode: Mode) -> Peer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("nonblocking listener");
        let port = listener.local_addr().expect("local_addr").port();
        let shared = Arc::new(Shared::default());
        shared.mode.store(mode as u8, Ordering::SeqCst);
        let s = shared.clone();
        let thread = thread::spawn(move || {
            let mut conns = Vec::new();
            while !s.stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((sock, _)) => {
                        s.accepted.lock().unwrap().push(Instant::now());
                        let s2 = s.clone();
                        conns.push(thread::spawn(move || serve(sock, &s2)));
                    }
                    Err(_) => thread::sleep(TICK),
                }
            }
            for c in conns {
                let _ = c.join();
            }
        });
        Peer {
            port,
            shared,
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self, target: &str) -> String {
        format!("redis://127.0.0.1:{}/{target}", self.port)
    }

    pub fn set_mode(&self, mode: Mode) {
        self.shared.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.accepted.lock().unwrap().len()
    }

    /// Commands received so far (answered or not).
    pub fn received(&self) -> u64 {
        self.shared.received.load(Ordering::SeqCst)
    }

    /// Bytes of the huge reply written so far.
    pub fn streamed(&self) -> u64 {
        self.shared.streamed.load(Ordering::SeqCst)
    }

    /// The last argument of every acknowledged command whose first is `cmd`, in order.
    pub fn payloads(&self, cmd: &[u8]) -> Vec<Vec<u8>> {
        let acked = self.shared.acked.lock().unwrap();
        acked
            .iter()
            .filter(|c| c.first().is_some_and(|w| w.eq_ignore_ascii_case(cmd)))
            .filter_map(|c| c.last().cloned())
            .collect()
    }

    /// Every acknowledged command.
    pub fn acked(&self) -> Vec<Vec<Vec<u8>>> {
        self.shared.acked.lock().unwrap().clone()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One command: its arguments.
type Args = Vec<Vec<u8>>;

/// Parse one command (an array of bulk strings) at the start of `buf`; return it and
/// the bytes it used. `Ok(None)`: incomplete; `Err`: not a command.
fn parse_command(buf: &[u8]) -> Result<Option<(Args, usize)>, ()> {
    fn line(buf: &[u8], at: usize, kind: u8) -> Result<Option<(usize, usize)>, ()> {
        let Some(end) = buf[at..].windows(2).position(|w| w == b"\r\n") else {
            return if buf.len() - at > 24 { Err(()) } else { Ok(None) };
        };
        if buf[at] != kind {
            return Err(());
        }
        let n = std::str::from_utf8(&buf[at + 1..at + end])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(())?;
        Ok(Some((n, at + end + 2)))
    }
    if buf.is_empty() {
        return Ok(None);
    }
    let Some((n, mut at)) = line(buf, 0, b'*')? else {
        return Ok(None);
    };
    let mut args = Vec::with_capacity(n);
    for _ in 0..n {
        if at >= buf.len() {
            return Ok(None);
        }
        let Some((len, start)) = line(buf, at, b'$')? else {
            return Ok(None);
        };
        if buf.len() < start + len + 2 {
            return Ok(None);
        }
        if &buf[start + len..start + len + 2] != b"\r\n" {
            return Err(());
        }
        args.push(buf[start..start + len].to_vec());
        at = start + len + 2;
    }
    Ok(Some((args, at)))
}

/// Write all of `data`, retrying on timeouts until the peer stops; false if it could not.
fn send(sock: &mut TcpStream, mut data: &[u8], s: &Shared) -> bool {
    while !data.is_empty() {
        if s.stop.load(Ordering::SeqCst) {
            return false;
        }
        match sock.write(data) {
            Ok(0) => return false,
            Ok(n) => data = &data[n..],
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}

/// Stream the huge bulk reply; false if the connection or the peer went away.
fn stream_huge(sock: &mut TcpStream, s: &Shared) -> bool {
    let chunk = vec![b'z'; 64 * 1024];
    if !send(sock, format!("${HUGE}\r\n").as_bytes(), s) {
        return false;
    }
    let mut left = HUGE;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        if !send(sock, &chunk[..n], s) {
            return false;
        }
        left -= n as u64;
        s.streamed.fetch_add(n as u64, Ordering::SeqCst);
    }
    send(sock, b"\r\n", s)
}

/// Close after a FIN, reading until the logger closes too (bounded): closing with its
/// commands unread would send a reset, which can destroy replies it has not read yet
/// and turns "closed by peer" into "connection reset".
fn close_gently(sock: &mut TcpStream, tmp: &mut [u8], s: &Shared) {
    let _ = sock.shutdown(Shutdown::Write);
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < until && !s.stop.load(Ordering::SeqCst) {
        match sock.read(tmp) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}

fn serve(mut sock: TcpStream, s: &Shared) {
    let _ = sock.set_read_timeout(Some(Duration::from_millis(50)));
    let _ = sock.set_write_timeout(Some(Duration::from_millis(200)));
    let _ = sock.set_nodelay(true);
    let mode = Mode::from(s.mode.load(Ordering::SeqCst));
    if mode == Mode::Silent {
        while !s.stop.load(Ordering::SeqCst) && Mode::from(s.mode.load(Ordering::SeqCst)) == Mode::Silent {
            thread::sleep(TICK);
        }
        let _ = sock.shutdown(Shutdown::Both);
        return;
    }
    let mut buf = Vec::new();
    let mut tmp = vec![0u8; 64 * 1024];
    let mut first = true;
    let mut replies = 0;
    while !s.stop.load(Ordering::SeqCst) {
        match sock.read(&mut tmp) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        }
        loop {
            let (cmd, used) = match parse_command(&buf) {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(()) => return,
            };
            buf.drain(..used);
            s.received.fetch_add(1, Ordering::SeqCst);
            let mode = Mode::from(s.mode.load(Ordering::SeqCst));
            let word = cmd.first().map(|w| w.to_ascii_uppercase()).unwrap_or_default();
            let ok: &[u8] = if word == b"AUTH" || word == b"SELECT" {
                b"+OK\r\n"
            } else {
                b":1\r\n"
            };
            match mode {
                Mode::Good | Mode::Silent => {
                    if !send(&mut sock, ok, s) {
                        return;
                    }
                    s.acked.lock().unwrap().push(cmd);
                }
                Mode::Garbage => {
                    let page = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 9\r\n\r\ngarbage\r\n";
                    let _ = send(&mut sock, page, s);
                }
                Mode::HugeBulk => {
                    if first {
                        if !stream_huge(&mut sock, s) {
                            return;
                        }
                    } else if !send(&mut sock, ok, s) {
                        return;
                    }
                    s.acked.lock().unwrap().push(cmd);
                }
                Mode::CloseAfterReply => {
                    if send(&mut sock, ok, s) {
                        s.acked.lock().unwrap().push(cmd);
                    }
                    return close_gently(&mut sock, &mut tmp, s);
                }
                Mode::CloseWithoutReply => return close_gently(&mut sock, &mut tmp, s),
                Mode::CloseAfterBurst => {
                    if !send(&mut sock, ok, s) {
                        return;
                    }
                    s.acked.lock().unwrap().push(cmd);
                    replies += 1;
                    if replies == BURST {
                        close_gently(&mut sock, &mut tmp, s);
                        return;
                    }
                }
            }
            first = false;
        }
    }
}
