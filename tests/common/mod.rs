//! Harness for the behaviour tests: it runs the real release binary the way containerd's
//! shim does (cleared environment, `/dev/null` on fds 0-2, container stdout/stderr pipes
//! on fds 3/4, readiness pipe on fd 5), next to a real `redis-server` on a free loopback
//! port, and gives the tests a tiny RESP client, a pub/sub collector, temporary roots and
//! checkers for numbered lines. Every wait is bounded (a stall timeout and an overall cap)
//! and every process started here is stopped by PID when its guard is dropped.

#![allow(dead_code)]

pub mod faults;
pub mod peer;
pub mod spawn;

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Polling period of every wait loop.
pub const TICK: Duration = Duration::from_millis(10);
/// How long a wait may go without any progress before it gives up.
pub const STALL: Duration = Duration::from_secs(20);
/// Overall cap of a wait that keeps making progress.
pub const CAP: Duration = Duration::from_secs(180);
/// Bound for the readiness byte (or EOF) of a freshly started logger.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Bound for a logger to exit once both pipes are closed: containerd's 12 s plus margin.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(20);

/// Binary under test: `$SHIM_LOGS_BIN`, else the musl release build of this crate.
pub fn bin_path() -> PathBuf {
    let path = match std::env::var_os("SHIM_LOGS_BIN") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/x86_64-unknown-linux-musl/release/shim-logs"),
    };
    assert!(
        path.is_file(),
        "{} not found: build it first: make build",
        path.display()
    );
    path
}

/// Serialize the heavy tests so that two of them never share the 2 cores.
pub fn heavy() -> MutexGuard<'static, ()> {
    static HEAVY: Mutex<()> = Mutex::new(());
    HEAVY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A name no other test (or test process) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Poll `done` every [`TICK`] until it holds or `timeout` passes; return whether it held.
pub fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(TICK);
    }
}

/// Poll `f` (returning done and a progress figure) until done; give up after [`STALL`]
/// without progress or [`CAP`] overall. Return whether it got done.
pub fn wait_progress(mut f: impl FnMut() -> (bool, usize)) -> bool {
    let start = Instant::now();
    let mut last = (Instant::now(), usize::MAX);
    loop {
        let (done, progress) = f();
        if done {
            return true;
        }
        let now = Instant::now();
        if progress != last.1 {
            last = (now, progress);
        }
        if now - last.0 >= STALL || now - start >= CAP {
            return false;
        }
        thread::sleep(TICK);
    }
}

/// Wait for `fd` to report one of `events` (or an error/hang-up) within `timeout`.
pub fn poll_fd(fd: RawFd, events: libc::c_short, timeout: Duration) -> io::Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd { fd, events, revents: 0 };
        let ms = left.as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: pfd is a valid pollfd for the duration of the call and nfds is 1.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc > 0 {
            return Ok(true);
        }
        if rc == 0 {
            return Ok(false);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: plain kill(2); callers only signal children they have not reaped yet, so the
    // PID still names that child.
    let rc = unsafe { libc::kill(pid as libc::pid_t, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig}): {}", io::Error::last_os_error());
}

// ---------------------------------------------------------------------------------------
// Temporary roots

/// A fresh directory under /tmp, removed on drop; knows the logger's path layout.
pub struct TempRoot {
    path: PathBuf,
}

impl TempRoot {
    pub fn new() -> TempRoot {
        let path = PathBuf::from("/tmp").join(unique("shim-logs-test"));
        fs::create_dir(&path).expect("create temp root");
        TempRoot { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn config_path(&self, ns: &str, id: &str) -> PathBuf {
        self.path.join(format!("config/{ns}/{id}-logs.json"))
    }

    pub fn log_path(&self, ns: &str, id: &str) -> PathBuf {
        self.path.join(format!("logs/{ns}/{id}.log"))
    }

    pub fn sys_log_path(&self, ns: &str, id: &str) -> PathBuf {
        self.path.join(format!("logs/{ns}/{id}-sys.log"))
    }

    /// Write `<root>/config/<ns>/<id>-logs.json`.
    pub fn write_config(&self, ns: &str, id: &str, text: &str) -> PathBuf {
        let p = self.config_path(ns, id);
        fs::create_dir_all(p.parent().unwrap()).expect("create config dir");
        fs::write(&p, text).expect("write config");
        p
    }

    /// The local copy, empty when it does not exist (yet).
    pub fn read_log(&self, ns: &str, id: &str) -> Vec<u8> {
        read_or_empty(&self.log_path(ns, id))
    }

    /// The diagnostics file, lossily decoded, empty when it does not exist.
    pub fn read_sys_log(&self, ns: &str, id: &str) -> String {
        String::from_utf8_lossy(&read_or_empty(&self.sys_log_path(ns, id))).into_owned()
    }

    /// Wait until the local copy is `len` bytes long (stall-bounded); return its content.
    pub fn wait_log_len(&self, ns: &str, id: &str, len: usize) -> Vec<u8> {
        let path = self.log_path(ns, id);
        let mut now = 0;
        let ok = wait_progress(|| {
            now = fs::metadata(&path).map(|m| m.len() as usize).unwrap_or(0);
            (now >= len, now)
        });
        let data = read_or_empty(&path);
        assert!(
            ok,
            "{}: {now} bytes, expected {len} (no progress for {STALL:?})",
            path.display()
        );
        data
    }

    /// Every regular file below the root (symlinks are not followed).
    pub fn files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut todo = vec![self.path.clone()];
        while let Some(dir) = todo.pop() {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                match fs::symlink_metadata(&p) {
                    Ok(m) if m.is_dir() => todo.push(p),
                    Ok(m) if m.is_file() => out.push(p),
                    _ => {}
                }
            }
        }
        out
    }

    /// Names of the root's direct entries.
    pub fn entries(&self) -> Vec<String> {
        fs::read_dir(&self.path)
            .expect("read root")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }

    /// Files below the root whose bytes contain `needle`.
    pub fn files_containing(&self, needle: &[u8]) -> Vec<PathBuf> {
        self.files()
            .into_iter()
            .filter(|p| contains(&read_or_empty(p), needle))
            .collect()
    }
}

impl Drop for TempRoot {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

fn read_or_empty(p: &Path) -> Vec<u8> {
    match fs::read(p) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("read {}: {e}", p.display()),
    }
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

// ---------------------------------------------------------------------------------------
// redis-server

/// A `redis-server` on a free loopback port, SIGKILLed on drop.
pub struct RedisServer {
    port: u16,
    password: Option<String>,
    dir: TempRoot,
    child: Option<Child>,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        Self::start_opt(None)
    }

    pub fn start_with_password(password: &str) -> RedisServer {
        Self::start_opt(Some(password))
    }

    fn start_opt(password: Option<&str>) -> RedisServer {
        let mut r = RedisServer {
            port: 0,
            password: password.map(str::to_owned),
            dir: TempRoot::new(),
            child: None,
        };
        // Another process may grab the port between free_port() and the bind: retry.
        for _ in 0..5 {
            r.port = free_port();
            if r.launch() {
                return r;
            }
            r.kill();
        }
        panic!("redis-server did not come up; see {}/redis.log", r.dir.path().display());
    }

    /// Start the process on `self.port` and wait for PING; false if it did not answer.
    fn launch(&mut self) -> bool {
        let mut cmd = Command::new("/usr/bin/redis-server");
        cmd.arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--protected-mode", "no", "--dir"])
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(self.dir.path().join("redis.log"))
            // A subscriber that falls behind during a burst must not be disconnected.
            .args(["--client-output-buffer-limit", "pubsub", "0", "0", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(pw) = &self.password {
            cmd.arg("--requirepass").arg(pw);
        }
        self.child = Some(cmd.spawn().expect("spawn /usr/bin/redis-server"));
        let password = self.password.clone();
        let port = self.port;
        wait_until(Duration::from_secs(10), || {
            if let Some(Ok(Some(_))) = self.child.as_mut().map(Child::try_wait) {
                return true; // exited: checked below
            }
            Conn::connect(port, password.as_deref())
                .and_then(|mut c| c.try_cmd(&[b"PING"]))
                .map(|r| r == Reply::Simple("PONG".into()))
                .unwrap_or(false)
        }) && matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// `redis://[:password@]127.0.0.1:PORT/channel`.
    pub fn url(&self, channel: &str) -> String {
        match &self.password {
            Some(pw) => format!("redis://:{pw}@127.0.0.1:{}/{channel}", self.port),
            None => format!("redis://127.0.0.1:{}/{channel}", self.port),
        }
    }

    /// A new authenticated connection.
    pub fn client(&self) -> Conn {
        Conn::connect(self.port, self.password.as_deref()).expect("connect to redis")
    }

    /// SIGKILL the server and reap it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            if let Ok(None) = c.try_wait() {
                signal(c.id(), libc::SIGKILL);
            }
            let _ = c.wait();
        }
    }

    /// Freeze the server (SIGSTOP): connections stay open, nothing is answered.
    pub fn stop(&mut self) {
        signal(self.child.as_ref().expect("redis running").id(), libc::SIGSTOP);
    }

    /// Resume a frozen server (SIGCONT).
    pub fn cont(&mut self) {
        signal(self.child.as_ref().expect("redis running").id(), libc::SIGCONT);
    }

    /// Kill the server and start a fresh one on the same port (same password).
    pub fn restart(&mut self) {
        self.kill();
        assert!(self.launch(), "redis-server did not come back on port {}", self.port);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------------------
// RESP

/// One RESP2 reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

/// Encode a command as a RESP array of bulk strings.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn bad(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Read one reply (nesting is bounded by what the server sends).
pub fn read_reply(r: &mut impl BufRead) -> io::Result<Reply> {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    if !line.ends_with(b"\r\n") {
        return Err(bad(format!("unterminated reply line {line:?}")));
    }
    let body = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
    let num = || -> io::Result<i64> { body.parse().map_err(|_| bad(format!("bad number {body:?}"))) };
    Ok(match line[0] {
        b'+' => Reply::Simple(body),
        b'-' => Reply::Error(body),
        b':' => Reply::Int(num()?),
        b'$' => match num()? {
            n if n < 0 => Reply::Bulk(None),
            n => {
                let mut buf = vec![0; n as usize + 2];
                r.read_exact(&mut buf)?;
                if !buf.ends_with(b"\r\n") {
                    return Err(bad("bulk string without CRLF".into()));
                }
                buf.truncate(n as usize);
                Reply::Bulk(Some(buf))
            }
        },
        b'*' => match num()? {
            n if n < 0 => Reply::Array(None),
            n => Reply::Array(Some((0..n).map(|_| read_reply(r)).collect::<io::Result<_>>()?)),
        },
        t => return Err(bad(format!("unknown reply type {t:?}"))),
    })
}

/// A plain request/reply connection.
pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    /// Connect to 127.0.0.1:`port` and AUTH when a password is given.
    pub fn connect(port: u16, password: Option<&str>) -> io::Result<Conn> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        s.set_read_timeout(Some(STALL))?;
        s.set_write_timeout(Some(STALL))?;
        s.set_nodelay(true)?;
        let mut c = Conn {
            reader: BufReader::with_capacity(1 << 16, s.try_clone()?),
            writer: s,
        };
        if let Some(pw) = password {
            match c.try_cmd(&[b"AUTH", pw.as_bytes()])? {
                Reply::Simple(ok) if ok == "OK" => {}
                other => return Err(bad(format!("AUTH: {other:?}"))),
            }
        }
        Ok(c)
    }

    pub fn try_cmd(&mut self, args: &[&[u8]]) -> io::Result<Reply> {
        self.writer.write_all(&encode(args))?;
        read_reply(&mut self.reader)
    }

    /// Send a command and return its reply; panic on I/O errors.
    pub fn cmd(&mut self, args: &[&[u8]]) -> Reply {
        self.try_cmd(args).unwrap_or_else(|e| panic!("redis command: {e}"))
    }
}

type Messages = Arc<Mutex<Vec<(Vec<u8>, Vec<u8>)>>>;

/// A SUBSCRIBEd connection whose `message` pushes a background thread collects.
pub struct Subscriber {
    port: u16,
    password: Option<String>,
    msgs: Messages,
    ended: Arc<Mutex<Option<String>>>,
    sock: TcpStream,
    thread: Option<JoinHandle<()>>,
}

impl Subscriber {
    /// Subscribe to `channels` and return once the server confirmed every one of them.
    pub fn subscribe(redis: &RedisServer, channels: &[&str]) -> Subscriber {
        let mut conn = redis.client();
        let mut args: Vec<&[u8]> = vec![b"SUBSCRIBE"];
        args.extend(channels.iter().map(|c| c.as_bytes()));
        conn.writer.write_all(&encode(&args)).expect("SUBSCRIBE");
        for ch in channels {
            let r = read_reply(&mut conn.reader).expect("SUBSCRIBE confirmation");
            let ok = matches!(&r, Reply::Array(Some(v)) if v.len() == 3
                && v[0] == Reply::Bulk(Some(b"subscribe".to_vec()))
                && v[1] == Reply::Bulk(Some(ch.as_bytes().to_vec())));
            assert!(ok, "unexpected SUBSCRIBE confirmation for {ch}: {r:?}");
        }
        // The reader blocks until a message comes; drop() shuts the socket down to end it.
        conn.writer.set_read_timeout(None).expect("clear read timeout");
        let msgs: Messages = Arc::default();
        let ended: Arc<Mutex<Option<String>>> = Arc::default();
        let (m, e) = (msgs.clone(), ended.clone());
        let mut reader = conn.reader;
        let thread = thread::spawn(move || loop {
            match read_reply(&mut reader) {
                Ok(Reply::Array(Some(mut v))) if v.len() == 3 && v[0] == Reply::Bulk(Some(b"message".to_vec())) => {
                    let payload = v.pop();
                    let channel = v.pop();
                    if let (Some(Reply::Bulk(Some(c))), Some(Reply::Bulk(Some(p)))) = (channel, payload) {
                        m.lock().unwrap().push((c, p));
                    }
                }
                Ok(other) => {
                    *e.lock().unwrap() = Some(format!("unexpected push {other:?}"));
                    return;
                }
                Err(err) => {
                    *e.lock().unwrap() = Some(format!("subscriber connection ended: {err}"));
                    return;
                }
            }
        });
        Subscriber {
            port: redis.port,
            password: redis.password.clone(),
            msgs,
            ended,
            sock: conn.writer,
            thread: Some(thread),
        }
    }

    /// Every message so far, as (channel, payload).
    pub fn messages(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.msgs.lock().unwrap().clone()
    }

    /// Payloads received on `channel`, in order.
    pub fn payloads(&self, channel: &str) -> Vec<Vec<u8>> {
        let m = self.msgs.lock().unwrap();
        m.iter()
            .filter(|(c, _)| c == channel.as_bytes())
            .map(|(_, p)| p.clone())
            .collect()
    }

    pub fn count(&self, channel: &str) -> usize {
        let m = self.msgs.lock().unwrap();
        m.iter().filter(|(c, _)| c == channel.as_bytes()).count()
    }

    /// Why the collecting thread stopped, if it did.
    pub fn ended(&self) -> Option<String> {
        self.ended.lock().unwrap().clone()
    }

    /// Poll `pred` over the collected messages every 10 ms for up to `timeout`.
    pub fn wait_for(&self, pred: impl Fn(&[(Vec<u8>, Vec<u8>)]) -> bool, timeout: Duration) -> bool {
        wait_until(timeout, || pred(&self.msgs.lock().unwrap()))
    }

    /// Wait (stall-bounded) until `channel` got at least `n` messages.
    pub fn wait_count(&self, channel: &str, n: usize) -> bool {
        wait_progress(|| {
            let c = self.count(channel);
            (c >= n, c)
        })
    }

    /// Publish a unique marker on `channel` from another connection, wait for it, and
    /// return the payloads that came on `channel` before it. Redis delivers in order per
    /// connection, so once the marker is in, everything published before it is too.
    pub fn barrier(&self, channel: &str) -> Vec<Vec<u8>> {
        let marker = unique("barrier").into_bytes();
        let mut c = Conn::connect(self.port, self.password.as_deref()).expect("connect");
        c.cmd(&[b"PUBLISH", channel.as_bytes(), &marker]);
        let seen = self.wait_for(
            |m| m.iter().any(|(c, p)| c == channel.as_bytes() && *p == marker),
            STALL,
        );
        assert!(seen, "barrier marker never came back on {channel} ({:?})", self.ended());
        let mut out = self.payloads(channel);
        let at = out.iter().position(|p| *p == marker).unwrap();
        out.truncate(at);
        out
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.sock.shutdown(Shutdown::Both);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------------
// The logger

/// What the readiness pipe gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ready {
    Byte,
    Eof,
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: fds has room for the two descriptors pipe2 writes.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", io::Error::last_os_error());
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

fn set_nonblocking(fd: RawFd) {
    // SAFETY: fcntl on a descriptor this process owns; no memory is passed.
    let rc = unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK)
    };
    assert_eq!(rc, 0, "fcntl O_NONBLOCK: {}", io::Error::last_os_error());
}

/// The binary under test, started like containerd's shim starts it.
pub struct Logger {
    child: Child,
    status: Option<ExitStatus>,
    stdout: Option<File>,
    stderr: Option<File>,
    ready: Option<File>,
}

impl Logger {
    /// Start with `--root ROOT EXTRA...`, `CONTAINER_ID=id` and `CONTAINER_NAMESPACE=ns`.
    pub fn spawn(root: &Path, id: &str, ns: &str, extra_args: &[&str]) -> Logger {
        Self::spawn_env(root, &[("CONTAINER_ID", id), ("CONTAINER_NAMESPACE", ns)], extra_args)
    }

    /// Start with `--root ROOT EXTRA...` and exactly the environment `env`.
    pub fn spawn_env(root: &Path, env: &[(&str, &str)], extra_args: &[&str]) -> Logger {
        let mut args: Vec<OsString> = vec!["--root".into(), root.into()];
        args.extend(extra_args.iter().map(OsString::from));
        Self::spawn_raw(&args, env)
    }

    /// Start with exactly `args` and `env`, the pipes on fds 3/4/5.
    pub fn spawn_raw(args: &[OsString], env: &[(&str, &str)]) -> Logger {
        let (out_r, out_w) = pipe();
        let (err_r, err_w) = pipe();
        let (ready_r, ready_w) = pipe();
        let targets = [out_r.as_raw_fd(), err_r.as_raw_fd(), ready_w.as_raw_fd()];
        let mut cmd = Command::new(bin_path());
        cmd.args(args)
            .env_clear()
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: the closure runs between fork and exec and only calls fcntl/dup2, which
        // are async-signal-safe, on descriptors that stay open in the parent until spawn()
        // returns. Copies go to >= 10 first so that dup2 onto 3/4/5 never clobbers a
        // source; dup2 clears CLOEXEC on 3/4/5 while the copies close at exec.
        unsafe {
            cmd.pre_exec(move || {
                let mut high = [0; 3];
                for (h, fd) in high.iter_mut().zip(targets) {
                    *h = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10);
                    if *h < 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                for (h, target) in high.iter().zip(3..) {
                    if libc::dup2(*h, target) < 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn the logger");
        drop((out_r, err_r, ready_w));
        // Our write ends are non-blocking so that every write can be bounded in time; the
        // logger's read ends are separate open file descriptions and stay blocking.
        set_nonblocking(out_w.as_raw_fd());
        set_nonblocking(err_w.as_raw_fd());
        Logger {
            child,
            status: None,
            stdout: Some(out_w.into()),
            stderr: Some(err_w.into()),
            ready: Some(ready_r.into()),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Read the readiness pipe: one byte, or EOF. Panic after [`READY_TIMEOUT`].
    pub fn wait_ready(&mut self) -> Ready {
        self.wait_ready_within(READY_TIMEOUT)
            .unwrap_or_else(|| panic!("no readiness byte or EOF within {READY_TIMEOUT:?}"))
    }

    /// Read the readiness pipe within `timeout`; None if nothing came.
    pub fn wait_ready_within(&mut self, timeout: Duration) -> Option<Ready> {
        let f = self.ready.as_mut().expect("ready pipe already consumed");
        if !poll_fd(f.as_raw_fd(), libc::POLLIN, timeout).expect("poll ready pipe") {
            return None;
        }
        let mut b = [0u8; 1];
        match f.read(&mut b).expect("read ready pipe") {
            0 => Some(Ready::Eof),
            _ => Some(Ready::Byte),
        }
    }

    /// After the byte: true if the readiness pipe reaches EOF (closed, no further byte).
    pub fn ready_closed_after_byte(&mut self) -> bool {
        matches!(self.wait_ready_within(READY_TIMEOUT), Some(Ready::Eof))
    }

    fn write(f: &mut Option<File>, mut data: &[u8], what: &str) -> io::Result<()> {
        let f = f.as_mut().unwrap_or_else(|| panic!("{what} already closed"));
        while !data.is_empty() {
            match f.write(data) {
                Ok(n) => data = &data[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if !poll_fd(f.as_raw_fd(), libc::POLLOUT, STALL)? {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("the logger did not read {what} for {STALL:?}"),
                        ));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    pub fn try_write_stdout(&mut self, data: &[u8]) -> io::Result<()> {
        Self::write(&mut self.stdout, data, "stdout")
    }

    pub fn try_write_stderr(&mut self, data: &[u8]) -> io::Result<()> {
        Self::write(&mut self.stderr, data, "stderr")
    }

    /// Write all of `data` to the container-stdout pipe (bounded; panics on error).
    pub fn write_stdout(&mut self, data: &[u8]) {
        self.try_write_stdout(data)
            .unwrap_or_else(|e| panic!("write stdout pipe: {e}"));
    }

    /// Write all of `data` to the container-stderr pipe (bounded; panics on error).
    pub fn write_stderr(&mut self, data: &[u8]) {
        self.try_write_stderr(data)
            .unwrap_or_else(|e| panic!("write stderr pipe: {e}"));
    }

    /// Give both container pipes a capacity of `bytes` (F_SETPIPE_SZ), so a
    /// write that fits goes into the pipe whole, in one call.
    pub fn grow_pipes(&self, bytes: usize) {
        for f in [&self.stdout, &self.stderr].into_iter().flatten() {
            // SAFETY: fcntl on a descriptor this process owns; no memory is passed.
            let rc = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETPIPE_SZ, bytes as libc::c_int) };
            assert!(
                rc >= bytes as i32,
                "F_SETPIPE_SZ {bytes}: {}",
                io::Error::last_os_error()
            );
        }
    }

    pub fn close_stdout(&mut self) {
        self.stdout = None;
    }

    pub fn close_stderr(&mut self) {
        self.stderr = None;
    }

    fn send(&mut self, sig: libc::c_int) {
        assert!(self.is_running(), "the logger already exited");
        signal(self.child.id(), sig);
    }

    pub fn sigterm(&mut self) {
        self.send(libc::SIGTERM);
    }

    pub fn sigstop(&mut self) {
        self.send(libc::SIGSTOP);
    }

    pub fn sigcont(&mut self) {
        self.send(libc::SIGCONT);
    }

    /// Whether the process is still alive (reaps it when it is not).
    pub fn is_running(&mut self) -> bool {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
        }
        self.status.is_none()
    }

    /// Wait up to `timeout` for the exit status.
    pub fn wait_status(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_until(timeout, || !self.is_running());
        self.status
    }

    /// Wait up to `timeout` for the exit code; panic on a timeout or a death by signal.
    pub fn wait_exit(&mut self, timeout: Duration) -> i32 {
        let st = self
            .wait_status(timeout)
            .unwrap_or_else(|| panic!("the logger is still running after {timeout:?}"));
        st.code()
            .unwrap_or_else(|| panic!("the logger died by signal {:?}", st.signal()))
    }
}

impl Drop for Logger {
    fn drop(&mut self) {
        self.stdout = None;
        self.stderr = None;
        if self.is_running() {
            signal(self.child.id(), libc::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// Run the binary as a plain command (no fds 3/4/5, cleared environment) with output
/// captured in files under `dir`; return (exit code, stdout, stderr).
pub fn run_cli(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let name = unique("cli");
    let out_p = dir.join(format!("{name}.out"));
    let err_p = dir.join(format!("{name}.err"));
    let mut child = Command::new(bin_path())
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(File::create(&out_p).expect("create stdout file"))
        .stderr(File::create(&err_p).expect("create stderr file"))
        .spawn()
        .expect("spawn the binary");
    let mut status = None;
    wait_until(EXIT_TIMEOUT, || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{args:?} still running after {EXIT_TIMEOUT:?}");
    };
    let text = |p: &Path| String::from_utf8_lossy(&read_or_empty(p)).into_owned();
    let (out, err) = (text(&out_p), text(&err_p));
    let _ = fs::remove_file(&out_p);
    let _ = fs::remove_file(&err_p);
    let code = status
        .code()
        .unwrap_or_else(|| panic!("{args:?} died by signal {:?}", status.signal()));
    (code, out, err)
}

// ---------------------------------------------------------------------------------------
// Numbered lines

/// Line `i` of stream `tag` (`b'O'` or `b'E'`): `O 0000000042 <filler>\n`, where the
/// filler's length (0..61) and content depend on `i`, so a swapped, cut or repeated line
/// never looks right.
pub fn numbered_line(tag: u8, i: usize) -> Vec<u8> {
    let mut l = format!("{} {i:010} ", tag as char).into_bytes();
    let n = (i * 7) % 61;
    l.extend((0..n).map(|k| b"abcdefghijklmnopqrstuvwxyz0123456789"[(i + k) % 36]));
    l.push(b'\n');
    l
}

/// Lines `range` of stream `tag`, concatenated.
pub fn numbered_lines(tag: u8, range: std::ops::Range<usize>) -> Vec<u8> {
    range.flat_map(|i| numbered_line(tag, i)).collect()
}

/// Write stdout lines `out` and stderr lines `err`, alternating chunks of 7919 and 6007
/// bytes, which cut lines at arbitrary points on both streams. Return bytes written.
pub fn write_interleaved(logger: &mut Logger, out: std::ops::Range<usize>, err: std::ops::Range<usize>) -> usize {
    let o = numbered_lines(b'O', out);
    let e = numbered_lines(b'E', err);
    let (mut oc, mut ec) = (o.chunks(7919), e.chunks(6007));
    loop {
        let (a, b) = (oc.next(), ec.next());
        if a.is_none() && b.is_none() {
            break;
        }
        if let Some(a) = a {
            logger.write_stdout(a);
        }
        if let Some(b) = b {
            logger.write_stderr(b);
        }
    }
    o.len() + e.len()
}

fn show(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(120)]).into_owned();
    if b.len() > 120 {
        format!("{s:?}... ({} bytes)", b.len())
    } else {
        format!("{s:?}")
    }
}

/// Check that `data` holds exactly stdout lines 0..n_out and stderr lines 0..n_err, each
/// stream in order, interleaved only at line boundaries.
pub fn check_merged(data: &[u8], n_out: usize, n_err: usize) -> Result<(), String> {
    let (mut no, mut ne) = (0, 0);
    let mut off = 0;
    for (k, line) in data.split_inclusive(|&b| b == b'\n').enumerate() {
        let (next, n) = match line.first() {
            Some(b'O') => (&mut no, n_out),
            Some(b'E') => (&mut ne, n_err),
            _ => return Err(format!("line {k} at byte {off}: unknown {}", show(line))),
        };
        let want = numbered_line(line[0], *next);
        if *next >= n || line != want {
            return Err(format!(
                "line {k} at byte {off}: got {}, expected {}",
                show(line),
                if *next >= n { "nothing more".into() } else { show(&want) }
            ));
        }
        *next += 1;
        off += line.len();
    }
    if (no, ne) != (n_out, n_err) {
        return Err(format!("{no} of {n_out} stdout and {ne} of {n_err} stderr lines"));
    }
    Ok(())
}

/// Check that `payloads` are exactly lines 0..n of stream `tag`, one per message.
pub fn check_messages(payloads: &[Vec<u8>], tag: u8, n: usize) -> Result<(), String> {
    for (i, p) in payloads.iter().enumerate() {
        let want = numbered_line(tag, i);
        if i >= n || *p != want {
            return Err(format!(
                "message {i}: got {}, expected {}",
                show(p),
                if i >= n { "nothing more".into() } else { show(&want) }
            ));
        }
    }
    if payloads.len() != n {
        return Err(format!("{} of {n} messages", payloads.len()));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Diagnostics

/// Check that every line is `<UTC RFC3339 time> <info|warn|error> <text>`.
pub fn check_sys_log(text: &str) -> Result<(), String> {
    for line in text.lines() {
        let mut f = line.splitn(3, ' ');
        let (t, level, msg) = (f.next(), f.next(), f.next());
        let ok = t.is_some_and(is_utc_rfc3339)
            && matches!(level, Some("info" | "warn" | "error"))
            && msg.is_some_and(|m| !m.trim().is_empty());
        if !ok {
            return Err(format!("badly formed sys log line {line:?}"));
        }
    }
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("sys log does not end with a newline".into());
    }
    Ok(())
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+00:00)`.
pub fn is_utc_rfc3339(t: &str) -> bool {
    let b = t.as_bytes();
    let pat = b"dddd-dd-ddTdd:dd:dd";
    if b.len() < pat.len() {
        return false;
    }
    let head = b.iter().zip(pat).all(|(&c, &p)| {
        if p == b'd' {
            c.is_ascii_digit()
        } else {
            c == p || (p == b'T' && c == b't')
        }
    });
    let mut rest = &t[pat.len()..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        rest = &frac[digits..];
    }
    head && matches!(rest, "Z" | "z" | "+00:00")
}

/// Every `LINE:COL` pair (two digit runs around one colon) in `text`.
pub fn line_cols(text: &str) -> Vec<(u64, u64)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_digit()) {
            let a_end = i + b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            if b.get(a_end) == Some(&b':') {
                let c_len = b[a_end + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                if c_len > 0 {
                    let l = text[i..a_end].parse().unwrap_or(u64::MAX);
                    let c = text[a_end + 1..a_end + 1 + c_len].parse().unwrap_or(u64::MAX);
                    out.push((l, c));
                }
            }
            i = a_end;
        } else {
            i += 1;
        }
    }
    out
}

/// The sys log's messages (time and level stripped).
pub fn sys_messages(text: &str) -> Vec<&str> {
    text.lines().filter_map(|l| l.splitn(3, ' ').nth(2)).collect()
}

/// A one-entry config sending stdout to `out` and stderr to `err`.
pub fn redis_config(out: &str, err: &str) -> String {
    format!(r#"[{{"type": "redis", "data": {{"stdout": "{out}", "stderr": "{err}"}}}}]"#)
}

/// Return field `field` (`sent`, `spooled`, ...) of the last endpoint summary line in `sys`.
pub fn summary_field(sys: &str, field: &str) -> u64 {
    let line = sys
        .lines()
        .rev()
        .find(|l| l.contains(" records "))
        .expect("summary line");
    let mut words = line.split_whitespace();
    words.find(|w| *w == field).expect("field");
    words.next().and_then(|v| v.parse().ok()).expect("number")
}
