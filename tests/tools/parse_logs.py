#!/usr/bin/env python3
"""Independent parsers for the local file's cri and json formats (used by tests/formats.rs).

usage: parse_logs.py cri|json FILE OUT_DIR

Rebuilds the container's two streams from the log file and writes them to
OUT_DIR/stdout and OUT_DIR/stderr, and the sequence numbers (json only) to
OUT_DIR/seq, one per line. Exits non-zero with a message on any line that does
not follow the format.

cri, from kubelet's documented format (CRI logging, "log format"):
    <timestamp RFC3339Nano> <stream stdout|stderr> <tag P|F> <content>\n
  P marks a partial line; F the end of a line, after which a newline is restored.
json, Docker's json-file: one JSON object per line with "log", "stream", "time";
  "log" carries the newline itself; our "seq" and "partial" are checked too.
"""
import json
import re
import sys

TS = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")


def cri(data):
    streams = {b"stdout": bytearray(), b"stderr": bytearray()}
    if data and not data.endswith(b"\n"):
        raise SystemExit("cri: file does not end with a newline")
    for n, line in enumerate(data.split(b"\n")[:-1], 1):
        parts = line.split(b" ", 3)
        if len(parts) != 4:
            raise SystemExit(f"cri line {n}: expected 4 fields: {line[:80]!r}")
        ts, stream, tag, content = parts
        if not TS.match(ts):
            raise SystemExit(f"cri line {n}: bad timestamp {ts!r}")
        if stream not in streams:
            raise SystemExit(f"cri line {n}: bad stream {stream!r}")
        if tag not in (b"P", b"F"):
            raise SystemExit(f"cri line {n}: bad tag {tag!r}")
        streams[stream] += content
        if tag == b"F":
            streams[stream] += b"\n"
    return streams, None


def js(data):
    streams = {"stdout": bytearray(), "stderr": bytearray()}
    seqs = []
    for n, line in enumerate(data.split(b"\n"), 1):
        if not line:
            continue
        obj = json.loads(line.decode("utf-8"))  # strict: invalid UTF-8 or JSON raises
        for k in ("log", "stream", "time", "seq"):
            if k not in obj:
                raise SystemExit(f"json line {n}: no {k!r}")
        if not TS.match(obj["time"].encode()):
            raise SystemExit(f"json line {n}: bad time {obj['time']!r}")
        if obj.get("partial", False) != (not obj["log"].endswith("\n")):
            raise SystemExit(f"json line {n}: partial flag does not match the log's newline")
        streams[obj["stream"]] += obj["log"].encode("utf-8")
        seqs.append(obj["seq"])
    return {k.encode(): v for k, v in streams.items()}, seqs


def main():
    fmt, path, out = sys.argv[1], sys.argv[2], sys.argv[3]
    data = open(path, "rb").read()
    streams, seqs = cri(data) if fmt == "cri" else js(data)
    for name, content in streams.items():
        open(f"{out}/{name.decode()}", "wb").write(content)
    if seqs is not None:
        open(f"{out}/seq", "w").write("".join(f"{s}\n" for s in seqs))


if __name__ == "__main__":
    main()
