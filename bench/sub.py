#!/usr/bin/env python3
"""sub.py: a Redis pub/sub subscriber that counts and checks loggen lines (bench/).

Subscribes to one channel over a raw socket (stdlib only), prints `ready` once the
subscription is confirmed, then reads PUBLISHed messages until it has LINES lines.

  --mode check  every message must be a loggen line (`<O|E> <seq:010> <filler>\\n`, exactly
                --size bytes): per stream, seq contiguous from 0, filler intact. A line
                cut into chunks by the logger (no `\\n` at the end of a message) is
                joined with the next message(s) first. `shim-logs: lost ...` markers are
                counted, not checked.
  --mode count  count messages only (for redis-benchmark's payloads).

Ends with one line on stdout:
  `done lines=N gaps=G dups=D corrupt=C markers=M messages=K bytes=B t_first=T0 t_last=T1`
(T0, T1: time.monotonic(), CLOCK_MONOTONIC, comparable across processes) or the same
with `timeout` instead of `done` if no message came for --idle seconds or --timeout
passed. Exit status 0 only for `done` with no gaps, dups or corrupt lines.
"""
import argparse
import socket
import sys
import time

HEADER = 13  # "O 0000000042 "


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--channel", default="out")
    ap.add_argument("--lines", type=int, required=True)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--mode", choices=("check", "count"), default="check")
    ap.add_argument("--idle", type=float, default=20.0)
    ap.add_argument("--timeout", type=float, default=600.0)
    a = ap.parse_args()

    ch = a.channel.encode()
    s = socket.create_connection(("127.0.0.1", a.port), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$%d\r\n%s\r\n" % (len(ch), ch))
    confirm = b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:1\r\n" % (len(ch), ch)
    buf = b""
    while len(buf) < len(confirm):
        d = s.recv(4096)
        if not d:
            sys.exit("sub.py: connection closed before the subscription was confirmed")
        buf += d
    if not buf.startswith(confirm):
        sys.exit("sub.py: unexpected answer to SUBSCRIBE: %r" % buf[:80])
    buf = buf[len(confirm):]
    print("ready", flush=True)

    prefix = b"*3\r\n$7\r\nmessage\r\n$%d\r\n%s\r\n$" % (len(ch), ch)
    plen = len(prefix)
    size = a.size
    check = a.mode == "check"
    # Filler of (stream, seq) depends on stream and seq % 26 only: 52 possible tails.
    alphabet = bytes(b"abcdefghijklmnopqrstuvwxyz"[j % 26] for j in range(size + 26))
    tails = [[alphabet[((r * 7) + 13 * st) % 26:][: size - HEADER - 1] + b"\n" for r in range(26)]
             for st in (0, 1)]
    expect = [0, 0]
    lines = gaps = dups = corrupt = markers = messages = nbytes = 0
    pending = b""
    first_err = None
    t_first = t_last = 0.0
    target = a.lines
    deadline = time.monotonic() + a.timeout
    s.settimeout(min(a.idle, 1.0))
    idle_since = time.monotonic()
    chunks = []
    status = "timeout"
    while True:
        if lines >= target:
            status = "done"
            break
        now = time.monotonic()
        if now > deadline or now - idle_since > a.idle:
            break
        try:
            d = s.recv(1 << 20)
        except socket.timeout:
            continue
        if not d:
            break
        now = time.monotonic()
        idle_since = now
        if not t_first:
            t_first = now
        buf = buf + d if buf else d
        pos = 0
        end_buf = len(buf)
        while True:
            if end_buf - pos < plen + 3:
                break
            if not buf.startswith(prefix, pos):
                sys.exit("sub.py: unexpected data at message %d: %r" % (messages, buf[pos:pos + 60]))
            j = pos + plen
            k = buf.find(b"\r\n", j, j + 14)
            if k < 0:
                break
            n = int(buf[j:k])
            start = k + 2
            stop = start + n
            if stop + 2 > end_buf:
                break
            pos = stop + 2
            messages += 1
            nbytes += n
            if not check:
                lines += 1
                continue
            if pending or buf[stop - 1] != 10:
                # A line cut into chunks: join them (copies; rare, lines over 4 KiB).
                pending += buf[start:stop]
                if pending[-1:] != b"\n":
                    continue
                data, off, n, pending = pending, 0, len(pending), b""
            else:
                data, off = buf, start  # checked in place, without copying the line
            t = data[off]
            st = 0 if t == 79 else 1 if t == 69 else -1
            if st < 0 and data.startswith(b"shim-logs: lost ", off):
                markers += 1
                continue
            lines += 1
            try:
                seq = int(data[off + 2:off + 12])
            except ValueError:
                seq = -1
            if (st < 0 or seq < 0 or n != size or data[off + 1] != 32
                    or not data.startswith(tails[st][seq % 26], off + HEADER)):
                corrupt += 1
                if first_err is None:
                    first_err = "corrupt line %r" % data[off:off + 40]
                continue
            e = expect[st]
            if seq == e:
                expect[st] = e + 1
            elif seq > e:
                gaps += seq - e
                if first_err is None:
                    first_err = "gap: stream %d expected %d got %d" % (st, e, seq)
                expect[st] = seq + 1
            else:
                dups += 1
        buf = buf[pos:]
        if lines >= target:
            t_last = time.monotonic()
    print("%s lines=%d gaps=%d dups=%d corrupt=%d markers=%d messages=%d bytes=%d t_first=%.6f t_last=%.6f%s"
          % (status, lines, gaps, dups, corrupt, markers, messages, nbytes, t_first, t_last,
             (" first_error=" + first_err.replace(" ", "_")) if first_err else ""), flush=True)
    ok = status == "done" and gaps == 0 and dups == 0 and corrupt == 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
