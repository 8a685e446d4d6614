#!/usr/bin/env python3
"""pipebench.py: timed pipe runs for bench/throughput.sh (stdlib only).

Every mode measures from the moment the writer (`cat INPUT`) is started to the moment
the last byte is where it belongs, with CLOCK_MONOTONIC (time.monotonic()).

  cat             writer `cat INPUT` | reader `cat > OUT`; ends when the reader exits
                  (the limit for the local file).
  logger-file     the logger started the way containerd's shim starts it (env cleared but
                  CONTAINER_ID/CONTAINER_NAMESPACE, fds 0-2 /dev/null, fd 3 stdout pipe,
                  fd 4 stderr pipe, fd 5 readiness pipe, argv `--root ROOT`); after its
                  ready byte, `cat INPUT` writes to fd 3's pipe; both pipes are closed by
                  us, so the logger sees EOF and exits once the file is written; ends
                  when it exits.
  logger-redis    same logger start, plus `sub.py --mode check` subscribed before it; our
                  ends of the pipes stay open until the subscriber has every line (so the
                  logger's 9 s shutdown deadline plays no part); ends at the subscriber's
                  last line. Then the pipes are closed and the logger exits by itself.
  redis-benchmark `sub.py --mode count` subscribed, then `redis-benchmark -c 1 -P 64 -n
                  LINES --csv PUBLISH CH <SIZE bytes>` (Redis's own rate on one
                  connection); prints its rps and the time to the subscriber's last message.

Prints one line of key=value pairs; exit status 0 if the run completed.
Children are killed by PID on any exit (SIGTERM included).
"""
import argparse
import fcntl
import os
import re
import select
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
children = []


def on_term(signum, frame):
    sys.exit(128 + signum)


def spawn(*args, **kw):
    p = subprocess.Popen(*args, **kw)
    children.append(p)
    return p


def reap(p, timeout):
    """Wait for p at most timeout seconds; kill it (by PID) if it is still there.

    The exit is seen the moment it happens: a pidfd becomes readable then.
    (Popen.wait(timeout=...) polls with sleeps of up to 50 ms, which would
    round every timed run up by as much, tens of percent of a 0.2 s run.)
    """
    try:
        fd = os.pidfd_open(p.pid)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        try:
            select.select([fd], [], [], timeout)
        finally:
            os.close(fd)
    try:
        return p.wait(timeout=0 if fd is not None else timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return None


def high(fd):
    """A close-on-exec copy of fd above 9, so dup2 onto 3..5 cannot clobber a source."""
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)


def start_logger(a):
    """Start the logger like containerd's shim; return (proc, stdout w, stderr w, ready ms)."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    rdy_r, rdy_w = os.pipe()
    src = [high(out_r), high(err_r), high(rdy_w)]
    for fd in (out_r, err_r, rdy_w):
        os.close(fd)

    def place():
        for target, fd in zip((3, 4, 5), src):
            os.dup2(fd, target)

    env = {"CONTAINER_ID": a.id, "CONTAINER_NAMESPACE": a.ns}
    t = time.monotonic()
    p = spawn([a.logger, "--root", a.root], env=env, stdin=subprocess.DEVNULL,
              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
              preexec_fn=place, pass_fds=(3, 4, 5), close_fds=True)
    for fd in src:
        os.close(fd)
    b = os.read(rdy_r, 1)
    ready_ms = (time.monotonic() - t) * 1000
    os.close(rdy_r)
    if b != b"r":
        raise SystemExit("pipebench: logger exited before ready (status %s)" % p.poll())
    return p, out_w, err_w, ready_ms


def start_sub(a, mode):
    p = spawn([sys.executable, os.path.join(HERE, "sub.py"), "--port", str(a.port),
               "--channel", a.channel, "--lines", str(a.lines), "--size", str(a.size),
               "--mode", mode, "--idle", str(a.idle), "--timeout", str(a.timeout)],
              stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip()
    if line != "ready":
        raise SystemExit("pipebench: subscriber did not start (%r)" % line)
    return p


def sub_result(p):
    line = p.stdout.readline().strip()
    reap(p, 10)
    kv = dict(x.split("=", 1) for x in line.split()[1:] if "=" in x)
    return (line.split() or ["none"])[0], kv, line


def main():
    signal.signal(signal.SIGTERM, on_term)
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("cat", "logger-file", "logger-redis", "redis-benchmark"))
    ap.add_argument("--input")
    ap.add_argument("--out")
    ap.add_argument("--logger")
    ap.add_argument("--root")
    ap.add_argument("--id", default="bench")
    ap.add_argument("--ns", default="bench")
    ap.add_argument("--port", type=int)
    ap.add_argument("--channel", default="out")
    ap.add_argument("--lines", type=int, default=0)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--idle", type=float, default=20.0)
    ap.add_argument("--timeout", type=float, default=300.0)
    a = ap.parse_args()

    if a.mode == "cat":
        r, w = os.pipe()
        with open(a.out, "wb") as out:
            reader = spawn(["cat"], stdin=r, stdout=out)
        os.close(r)
        t0 = time.monotonic()
        writer = spawn(["cat", a.input], stdout=w)
        os.close(w)
        rc = reap(reader, a.timeout)
        t1 = time.monotonic()
        reap(writer, 10)
        print("status=%s secs=%.6f" % ("ok" if rc == 0 else "fail", t1 - t0))
        return 0 if rc == 0 else 1

    if a.mode == "logger-file":
        logger, out_w, err_w, ready_ms = start_logger(a)
        t0 = time.monotonic()
        writer = spawn(["cat", a.input], stdout=out_w)
        os.close(out_w)
        os.close(err_w)
        rc = reap(logger, a.timeout)
        t1 = time.monotonic()
        reap(writer, 10)
        print("status=%s secs=%.6f ready_ms=%.3f logger_rc=%s"
              % ("ok" if rc == 0 else "fail", t1 - t0, ready_ms, rc))
        return 0 if rc == 0 else 1

    if a.mode == "logger-redis":
        sub = start_sub(a, "check")
        logger, out_w, err_w, ready_ms = start_logger(a)
        t0 = time.monotonic()
        writer = spawn(["cat", a.input], stdout=out_w)
        status, kv, line = sub_result(sub)
        os.close(out_w)
        os.close(err_w)
        rc = reap(logger, 15)
        reap(writer, 10)
        secs = float(kv.get("t_last", 0)) - t0 if status == "done" else 0.0
        print("status=%s secs=%.6f ready_ms=%.3f logger_rc=%s sub=[%s]"
              % ("ok" if status == "done" and rc == 0 else "fail", secs, ready_ms, rc, line))
        return 0 if status == "done" else 1

    if a.mode == "redis-benchmark":
        sub = start_sub(a, "count")
        payload = ("x" * (a.size - 1)) + "\n"  # the same bytes per message as a logged line
        t0 = time.monotonic()
        rb = spawn(["redis-benchmark", "-h", "127.0.0.1", "-p", str(a.port), "-c", "1",
                    "-P", "64", "-n", str(a.lines), "--csv", "PUBLISH", a.channel, payload],
                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        out, _ = rb.communicate(timeout=a.timeout)
        status, kv, line = sub_result(sub)
        # The test name is the command line, newline included: match across lines.
        m = re.search(r'"PUBLISH [^"]*","([0-9.]+)"', out)
        rps = float(m.group(1)) if m else 0.0
        secs = float(kv.get("t_last", 0)) - t0 if status == "done" else 0.0
        ok = status == "done" and rps > 0
        print("status=%s rps=%.1f secs=%.6f sub=[%s]" % ("ok" if ok else "fail", rps, secs, line))
        return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        for c in children:
            if c.poll() is None:
                c.kill()
                c.wait()
