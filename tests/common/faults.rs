//! Fault injection for the delivery tests: a `redis-server` that can be started on a
//! chosen port (so it can come up after the logger), killed and restarted there, and,
//! when `persistent`, keeps every acknowledged write across a SIGKILL (AOF with
//! `appendfsync always`), so "every line is in the list" is a fair question after a crash.

use super::*;

pub struct Server {
    pub port: u16,
    persistent: bool,
    dir: TempRoot,
    child: Option<Child>,
    password: Option<String>,
}

impl Server {
    /// Reserve a port with nothing listening on it yet.
    pub fn planned(persistent: bool) -> Server {
        Server {
            port: free_port(),
            persistent,
            dir: TempRoot::new(),
            child: None,
            password: None,
        }
    }

    /// Start on a fresh port.
    pub fn start(persistent: bool) -> Server {
        let mut s = Server::planned(persistent);
        s.up();
        s
    }

    /// Start with `requirepass`.
    pub fn start_with_password(pw: &str) -> Server {
        let mut s = Server::planned(false);
        s.password = Some(pw.to_owned());
        s.up();
        s
    }

    /// Start the process on `self.port` and wait until PING answers.
    pub fn up(&mut self) {
        assert!(self.child.is_none(), "already running");
        let mut cmd = Command::new("/usr/bin/redis-server");
        cmd.arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--protected-mode", "no"])
            .args(["--client-output-buffer-limit", "pubsub", "0", "0", "0"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(self.dir.path().join("redis.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if self.persistent {
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            cmd.args(["--appendonly", "no"]);
        }
        if let Some(pw) = &self.password {
            cmd.arg("--requirepass").arg(pw);
        }
        self.child = Some(cmd.spawn().expect("spawn redis-server"));
        let (port, pw) = (self.port, self.password.clone());
        let up = wait_until(Duration::from_secs(20), || {
            Conn::connect(port, pw.as_deref())
                .and_then(|mut c| c.try_cmd(&[b"PING"]))
                .map(|r| r == Reply::Simple("PONG".into()))
                .unwrap_or(false)
        });
        assert!(
            up,
            "redis-server did not come up on {port}: {}/redis.log",
            self.dir.path().display()
        );
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            if let Ok(None) = c.try_wait() {
                signal(c.id(), libc::SIGKILL);
            }
            let _ = c.wait();
        }
    }

    pub fn stop(&mut self) {
        signal(self.child.as_ref().expect("running").id(), libc::SIGSTOP);
    }

    pub fn cont(&mut self) {
        signal(self.child.as_ref().expect("running").id(), libc::SIGCONT);
    }

    pub fn url(&self, target: &str) -> String {
        match &self.password {
            Some(pw) => format!("redis://:{pw}@127.0.0.1:{}/{target}", self.port),
            None => format!("redis://127.0.0.1:{}/{target}", self.port),
        }
    }

    pub fn client(&self) -> Conn {
        Conn::connect(self.port, self.password.as_deref()).expect("connect")
    }

    /// All elements of list `key`.
    pub fn list(&self, key: &str) -> Vec<Vec<u8>> {
        match self.client().cmd(&[b"LRANGE", key.as_bytes(), b"0", b"-1"]) {
            Reply::Array(Some(items)) => items
                .into_iter()
                .map(|r| match r {
                    Reply::Bulk(Some(b)) => b,
                    other => panic!("LRANGE element {other:?}"),
                })
                .collect(),
            other => panic!("LRANGE {other:?}"),
        }
    }

    /// An integer reply of a command (LLEN, XLEN, ...).
    pub fn int(&self, args: &[&[u8]]) -> i64 {
        match self.client().cmd(args) {
            Reply::Int(n) => n,
            other => panic!("{other:?}"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Peak resident memory (VmHWM) of a live process, in KiB.
pub fn vm_hwm_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc status")
}

/// The stdout sequence numbers of `items` (lines made by `numbered_line(b'O', i)`),
/// checked byte for byte.
pub fn seqs(items: &[Vec<u8>]) -> Vec<usize> {
    items
        .iter()
        .map(|l| {
            let i: usize = std::str::from_utf8(&l[2..12])
                .ok()
                .and_then(|s| s.parse().ok())
                .expect("numbered line");
            assert_eq!(*l, numbered_line(b'O', i), "line {i} altered");
            i
        })
        .collect()
}

/// Check that `got` is `0..n` in order, allowing only re-sent runs (a step back to a
/// number already seen, then counting up again); return how many lines were repeats.
pub fn check_at_least_once(got: &[usize], n: usize) -> Result<usize, String> {
    let mut next = 0; // the first number not yet seen
    let mut dups = 0;
    let mut prev: Option<usize> = None;
    for (k, &i) in got.iter().enumerate() {
        if i == next {
            next += 1;
        } else if i < next {
            // A repeat must continue a run from its own predecessor or start a step back.
            if let Some(p) = prev {
                if i != p + 1 && i > p {
                    return Err(format!("element {k}: {i} after {p} skips"));
                }
            }
            dups += 1;
        } else {
            return Err(format!("element {k}: {i}, expected {next} (a gap)"));
        }
        prev = Some(i);
    }
    if next != n {
        return Err(format!("only {next} of {n} lines"));
    }
    Ok(dups)
}
